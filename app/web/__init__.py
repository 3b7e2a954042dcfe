"""HTTP layer: JSON API and HTML pages over the same service calls."""
