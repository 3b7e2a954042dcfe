"""Turning raw log lines into structured Events (no I/O, no FastAPI, no SQLAlchemy)."""

from app.parsing.events import Event
from app.parsing.expressway import is_continuation, parse_line, timestamp_of

__all__ = ["Event", "is_continuation", "parse_line", "timestamp_of"]
