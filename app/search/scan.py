"""Find the lines of many files that match a compiled query, within a hit limit and a deadline.

Python touches only candidate lines (those the prefilter found); it decodes them, finds their
record's header line when a filter needs it, and keeps only the hits of the requested page. Hits
are reported by byte offset; line numbers are worked out later for the few that are shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from app.bundle.stored import open_raw
from app.parsing.expressway import (
    CLOCK_WINDOW,
    SyslogClock,
    clock_near,
    infer_clock,
    is_continuation,
    timestamp_of,
)
from app.search.blocks import BLOCK_SIZE, line_blocks
from app.search.query import CompiledQuery

MAX_HIT_CHARS = 2000  # a hit's text is cut here (the log viewer shows the whole line)
MAX_HEADER_WALK = 2000  # lines walked back to find a continuation line's header
MAX_RECORD_WALK = 2000  # continuation lines read forward for the Call-ID filter
CHECK_CLOCK_EVERY = 512  # candidates between two looks at the deadline


@dataclass(frozen=True, slots=True)
class SearchFile:
    """One stored file to search: where it is, its name in the analysis, its node."""

    path: Path
    name: str
    node: str | None


@dataclass(frozen=True, slots=True)
class RawHit:
    """A matching line: which file, where it starts (bytes), its text, its record's header."""

    file: SearchFile
    offset: int
    text: str
    header: str | None  # the record's first line when the hit is a continuation line
    clock: SyslogClock | None = None  # dates the record's BSD syslog time, if it has no other


@dataclass(slots=True)
class Outcome:
    """How a search ended: hits counted (up to the limit), the page's hits, why it stopped."""

    total: int = 0
    hits: list[RawHit] = field(default_factory=list)
    stopped: str | None = None  # "limit" (more hits than counted) or "time" (deadline)
    bytes_searched: int = 0
    files_searched: int = 0

    @property
    def truncated(self) -> bool:
        return self.stopped is not None


def _decode(raw: bytes | bytearray) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def _bsd_first(line: str) -> bool:
    """Whether a line may start with a BSD syslog time (`<PRI>` or a month's name)."""
    return line[:1] == "<" or line[:1].isalpha()


class _BlockClock:
    """The year and zone of the BSD syslog times (no year, no zone) of one block's lines: those
    of a neighbouring line telling both (the offset moves with daylight saving time), else of
    the first line of the block that tells them. Bounded reads, as the signature scan's
    (CLOCK_WINDOW bytes either side of a line), and once per CLOCK_WINDOW of the block: a
    search whose candidates all lack a UTCTime reads a few clocks per block, not one a line."""

    __slots__ = ("block", "length", "first", "read", "near")

    def __init__(self, block: bytearray, length: int) -> None:
        self.block, self.length = block, length
        self.first: SyslogClock | None = None
        self.read = False
        self.near: dict[int, SyslogClock | None] = {}

    def at(self, line_start: int) -> SyslogClock | None:
        bucket = line_start // CLOCK_WINDOW
        if bucket in self.near:
            near = self.near[bucket]
        else:
            low = max(0, line_start - CLOCK_WINDOW)
            window = bytes(self.block[low : min(self.length, line_start + CLOCK_WINDOW)])
            near = self.near[bucket] = clock_near(window, line_start - low)
        if near is not None:
            return near
        if not self.read:
            self.read = True
            self.first = infer_clock(bytes(self.block[: self.length]))
        return self.first


def header_before(block: bytearray, start: int, carried: str | None) -> str | None:
    """The nearest non-continuation line above the line at `start`; `carried` (the previous
    block's last header) when the walk reaches the block's start."""
    position = start
    for _ in range(MAX_HEADER_WALK):
        if position <= 0:
            return carried
        line_start = block.rfind(b"\n", 0, position - 1) + 1
        text = _decode(block[line_start : position - 1])
        if not is_continuation(text):
            return text
        position = line_start
    return None


def record_text(block: bytearray, line_start: int, line_end: int, length: int) -> str:
    """The text of the record holding the line block[line_start:line_end]: back to its header
    line and on over the continuation lines that follow (within this block, bounded)."""
    start = line_start
    for _ in range(MAX_RECORD_WALK):
        this_end = block.find(b"\n", start, length)
        this_end = length if this_end == -1 else this_end
        if start <= 0 or not is_continuation(_decode(block[start:this_end])):
            break
        start = block.rfind(b"\n", 0, start - 1) + 1
    end = line_end
    for _ in range(MAX_RECORD_WALK):
        if end >= length:
            break
        next_end = block.find(b"\n", end + 1, length)
        next_end = length if next_end == -1 else next_end
        if not is_continuation(_decode(block[end + 1 : next_end])):
            break
        end = next_end
    return _decode(block[start:end])


def search(
    files: Sequence[SearchFile],
    query: CompiledQuery,
    *,
    skip: int,
    take: int,
    max_hits: int,
    deadline: float,
    block_size: int = BLOCK_SIZE,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Count the hits over `files` in order (up to `max_hits`) and keep hits skip..skip+take."""
    outcome = Outcome()
    seen = 0
    for file in files:
        if clock() > deadline:
            outcome.stopped = "time"
            return outcome
        outcome.files_searched += 1
        carried: str | None = None
        with open_raw(file.path) as handle:
            for base, block, length in line_blocks(handle, block_size):
                if clock() > deadline:
                    outcome.stopped = "time"
                    return outcome
                position = 0
                clocks = _BlockClock(block, length)
                while position < length:
                    found = query.find(block, position, length)
                    if found < 0:
                        break
                    line_start = block.rfind(b"\n", 0, found) + 1
                    line_end = block.find(b"\n", found, length)
                    line_end = length if line_end == -1 else line_end
                    position = line_end + 1
                    seen += 1
                    if seen % CHECK_CLOCK_EVERY == 0 and clock() > deadline:
                        outcome.stopped = "time"
                        return outcome
                    wanted = skip <= outcome.total < skip + take
                    text = header = None
                    if query.needs_record or wanted:
                        text = _decode(block[line_start:line_end])
                        if is_continuation(text):
                            header = header_before(block, line_start, carried)
                    if query.needs_record:
                        assert text is not None
                        head = header if header is not None else text
                        record = (
                            f"{head}\n{record_text(block, line_start, line_end, length)}"
                            if query.call_id
                            else ""
                        )
                        dates = partial(clocks.at, line_start) if _bsd_first(head) else None
                        if not query.accepts(head, record, dates):
                            continue
                    if outcome.total >= max_hits:
                        outcome.stopped = "limit"
                        return outcome
                    outcome.total += 1
                    if wanted:
                        assert text is not None
                        shown = header if header is not None else text
                        dated = None
                        if _bsd_first(shown) and timestamp_of(shown) is None:
                            dated = clocks.at(line_start)
                        outcome.hits.append(
                            RawHit(file, base + line_start, text[:MAX_HIT_CHARS], header, dated)
                        )
                outcome.bytes_searched += length
                if length:
                    carried = header_before(block, length, carried)
    return outcome
