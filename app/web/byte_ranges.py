"""Which bytes a download request asks for: its `Range` and `If-Range` (RFC 9110 §13.1.5, §14).

One range is served (`bytes=a-b`, `bytes=a-`, `bytes=-n`); a request for several is answered
with the whole file, as the RFC allows (a server MAY ignore Range), and so is a Range this
module cannot read (another unit, bad syntax). A range that starts past the end, or an empty
suffix (`bytes=-0`), is unsatisfiable (416). `If-Range` keeps the range only while the file is
still the one the client saw: its strong ETag, or its Last-Modified date when that date is
strong (§8.8.2.2: at least a second before now); anything else gives the whole file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formatdate

_RANGE = re.compile(r"([0-9]*)-([0-9]*)")


@dataclass(frozen=True, slots=True)
class Span:
    """Bytes start..end-1 of a file of `size` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end - 1}/{self.size}"


class Unsatisfiable:
    """A range none of whose bytes exist (416, with `Content-Range: bytes */size`)."""

    def __init__(self, size: int) -> None:
        self.size = size


def requested(range_header: str | None, size: int) -> Span | Unsatisfiable | None:
    """The one range `range_header` asks of a file of `size` bytes; None: send the whole file."""
    if range_header is None:
        return None
    unit, equals, specs = range_header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None  # another unit (§14.2: MUST be ignored) or no unit at all
    listed = [spec.strip() for spec in specs.split(",") if spec.strip()]
    if len(listed) != 1:
        return None  # several ranges (or none): the whole file, never multipart
    matched = _RANGE.fullmatch(listed[0])
    if matched is None or not (matched[1] or matched[2]):
        return None
    if not matched[1]:  # bytes=-n: the last n bytes
        suffix = int(matched[2])
        if suffix == 0:
            return Unsatisfiable(size)
        if size == 0:
            return None  # nothing to name in a Content-Range: the whole (empty) file
        return Span(max(0, size - suffix), size, size)
    start = int(matched[1])
    last = int(matched[2]) if matched[2] else None
    if last is not None and last < start:
        return None  # not a valid range-spec (§14.1.1): ignored
    if start >= size:
        return Unsatisfiable(size)
    end = size if last is None else min(last + 1, size)
    return Span(start, end, size)


def if_range_holds(if_range: str | None, etag: str, mtime: float, now: float) -> bool:
    """Whether a Range may be served: no If-Range, or one naming the file as it is now."""
    if if_range is None:
        return True
    validator = if_range.strip()
    if validator.startswith(('"', "W/")):
        return validator == etag  # a weak tag never matches (§13.1.5: strong comparison)
    return validator == last_modified(mtime) and mtime <= now - 1


def last_modified(mtime: float) -> str:
    """The Last-Modified value of a file changed at `mtime` (an IMF-fixdate)."""
    return formatdate(mtime, usegmt=True)
