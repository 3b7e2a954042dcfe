"""The log viewer's "back" link: a `from=` URL kept only when it is a page of the same analysis.

Only a relative path on this site under `/a/<id>` (the overview, a finding anchor, a search) is
kept; anything else (another origin, `//host`, a backslash, a scheme, control characters) is
dropped, so the link can never send a reader somewhere else (no open redirect).
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_BACK_CHARS = 4000


def safe_back_link(value: str | None, analysis_id: str) -> str | None:
    """`value` if it is a same-site link into this analysis' pages, else None."""
    if not value or len(value) > MAX_BACK_CHARS:
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F or char == "\\" for char in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return None
    root = f"/a/{analysis_id}"
    if parts.path != root and not parts.path.startswith(root + "/"):
        return None
    if "/files/" in parts.path or "/raw/" in parts.path:
        return None  # back to a page of results, not to another file view
    return value


def back_label(link: str, analysis_id: str) -> str:
    path = urlsplit(link).path
    if path == f"/a/{analysis_id}/search":
        return "Back to the search"
    if path == f"/a/{analysis_id}/timeline":
        return "Back to the timeline"
    return "Back to the finding" if "#" in link else "Back to the overview"
