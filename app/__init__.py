"""logloupe: upload Cisco Expressway diagnostic bundles, find known problems, explain them."""

__version__ = "0.1.0"
