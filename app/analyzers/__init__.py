"""Analyzers that need more than log lines: TLS certificates from pcaps, the PEM trust store."""
