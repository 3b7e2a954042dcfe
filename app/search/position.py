"""Byte offsets ↔ line numbers (with the log viewer's sparse line index) and time → offset.

`line_at` counts newlines only from the nearest indexed line, so it reads at most one page of
the file. `offset_at_time` is a binary search over byte offsets, reading a small window at each
step: the first line at or after a UTC moment, in O(log size) reads, for time-ordered logs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from app.bundle.stored import open_stored, original_size
from app.parsing.expressway import timestamp_of

COUNT_CHUNK = 1 * 2**20
PROBE_BYTES = 64 * 1024  # read at each step of the time search: enough to reach a timed line
MAX_PROBE_LINES = 400


def line_at(path: Path, page_offsets: Sequence[int], lines_per_page: int, offset: int) -> int:
    """The 1-based number of the line holding byte `offset`, given where each page starts."""
    page = max(0, bisect_right(page_offsets, offset) - 1)
    position = page_offsets[page] if page_offsets else 0
    newlines = 0
    with open_stored(path) as handle:
        handle.seek(position)
        while position < offset:
            chunk = handle.read(min(COUNT_CHUNK, offset - position))
            if not chunk:
                break
            newlines += chunk.count(b"\n")
            position += len(chunk)
    return page * lines_per_page + newlines + 1


TIMED_FIRST_BYTES = frozenset(b"0123456789<ADFJMNOS")
"""A timed line starts with its time, a <PRI> or (BSD syslog) a month's first letter."""


def first_time_after(data: bytes | bytearray, start: int) -> tuple[int, datetime] | None:
    """The first line in data[start:] (a line start) that carries a timestamp, and that time.

    Lines that cannot start with a time (continuation lines, blank lines) are skipped
    without being decoded."""
    position = start
    size = len(data)
    for _ in range(MAX_PROBE_LINES):
        if position >= size:
            return None
        end = data.find(b"\n", position)
        if end == -1:
            return None  # the line goes on past the window: not a whole line
        if data[position] in TIMED_FIRST_BYTES:
            moment = timestamp_of(data[position:end].decode("utf-8", errors="replace"))
            if moment is not None:
                return position, moment
        position = end + 1
    return None


def _probe(path: Path, offset: int) -> tuple[int, datetime] | None:
    """The first timed line starting after `offset` (at it when offset is 0): where, when."""
    with open_stored(path) as handle:
        handle.seek(max(0, offset - 1))
        data = handle.read(PROBE_BYTES + 1)
    if offset == 0:
        start = 0
        base = 0
    else:
        cut = data.find(b"\n")
        if cut == -1:
            return None
        start, base = cut + 1, offset - 1
    found = first_time_after(data, start)
    return None if found is None else (base + found[0], found[1])


def offset_at_time(path: Path, moment: datetime) -> int:
    """Byte offset of the first timed line at or after `moment`, or the file size if none.

    Assumes the lines are in time order (a diagnostic log is); a window without any timed
    line counts as "before" so the search moves on.
    """
    size = original_size(path)
    low, high = 0, size  # the answer lies in [low, high]
    best = size
    steps = 0
    while low < high and steps < 64:
        steps += 1
        middle = (low + high) // 2
        found = _probe(path, middle)
        if found is None or found[0] >= high:
            high = middle
            continue
        where, when = found
        if when >= moment:
            best = min(best, where)
            high = middle
        else:
            low = where + 1
    first = _probe(path, 0)
    if first is not None and first[1] >= moment:
        return first[0]
    return best
