"""Count one log file per UTC minute: lines, errors, warnings; list its alarms and markers.

One pass in line-aligned blocks. Python never loops over all lines: a range of a block within
one minute (its first and last timed lines agree) has its newlines counted at C speed
(`bytes.count`); a range that spans minutes is halved down to samples of SAMPLE_BYTES, and only
a sample that spans a minute boundary (a few per minute of log) is walked line by line, so the
counts are exact for lines in time order. Errors,
warnings, alarms and markers are found in one Hyperscan pass over the block (bytes.find without
it); only those lines are decoded.

Each block is counted on its own (count_block: the analysis pass runs it in its matcher
threads, next to the signature matcher) and the blocks are added up in file order
(FileTally), which resolves the minute of a block's first lines and the line numbers. The
analysis saves the result per file (counts_to_json); count_file does the same from a stored
file, for analyses saved before the pass counted.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.bundle.stored import open_raw
from app.parsing.expressway import parse_fields, timestamp_of
from app.report import FileKind
from app.search.blocks import BLOCK_SIZE, line_blocks
from app.search.position import MAX_PROBE_LINES, TIMED_FIRST_BYTES, first_time_after

try:
    import hyperscan
except ImportError:  # no wheel off x86-64: bytes.find per literal
    hyperscan = None  # type: ignore[assignment]

SAMPLE_BYTES = 16 * 1024
MAX_EVENTS = 2000  # alarms and markers listed per file (all are counted)
MAX_EVENT_TEXT = 300
ALARM_RAISED = b'Event="Alarm Raised"'
ALARM_LOWERED = b'Event="Alarm Lowered"'
MARKER = b"DEBUG_MARKER"


# literal forms of an error or warning line: module lines, event lines, Traffic Server lines
ERRORS = (b'Level="ERROR"', b'Level="CRITICAL"', b"] ERROR:", b"]ERROR:")
WARNINGS = (b'Level="WARN', b"] WARNING:")  # WARN and WARNING
NEEDLES: tuple[tuple[str, bytes], ...] = (
    *(("error", needle) for needle in ERRORS),
    *(("warning", needle) for needle in WARNINGS),
    ("raised", ALARM_RAISED),
    ("lowered", ALARM_LOWERED),
    ("marker", MARKER),
)


MAX_WALKED_LINES = 4_000
"""Times parsed per block while walking samples line by line (a line's time is parsed only
where its minute's bytes change: about one per minute boundary in a log in time order); in a
block whose lines jump between minutes all the time, the samples after that count in the
minute they start in."""
MAX_MINUTES = 20_000
"""Different minutes counted per file (two weeks of log): a log naming more is not complete."""
MAX_LINE_MATCHES = 8
"""Needles found on one line before the rest of that line is skipped: a line holding a needle
a million times costs a few calls, not a million."""


class LiteralFinder:
    """The lines of a block holding each kind of NEEDLES: one Hyperscan pass where it is
    installed, one bytes.find pass per needle otherwise. A Finder is used by one thread."""

    def __init__(self) -> None:
        self._database = None
        if hyperscan is not None:
            self._database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            self._database.compile(
                expressions=[needle for _, needle in NEEDLES],
                ids=list(range(len(NEEDLES))),
                elements=len(NEEDLES),
                flags=0,
                literal=True,
            )

    def occurrences(self, block: bytes | bytearray, length: int) -> list[tuple[str, int]]:
        """(kind, line start) of each line of block[:length] holding a needle of that kind,
        once per kind and line, in file order."""
        if self._database is None:
            return self._found(block, length)
        found: list[tuple[str, int]] = []
        kinds = [kind for kind, _ in NEEDLES]
        line = [0, -1, 0]  # start and end of the line of the last match, matches on it
        seen: set[str] = set()  # kinds found on that line
        base = 0  # where the current scan started

        def on_match(index: int, first: int, last: int, flags: int, context: object) -> bool:
            offset = base + last - 1
            if offset > line[1]:
                line[0] = block.rfind(b"\n", 0, offset) + 1
                end = block.find(b"\n", offset, length)
                line[1], line[2] = (length if end == -1 else end), 0
                seen.clear()
            line[2] += 1
            kind = kinds[index]
            if kind not in seen:
                seen.add(kind)
                found.append((kind, line[0]))
            return line[2] >= MAX_LINE_MATCHES  # True stops the scan: resumed past this line

        with memoryview(block) as view:
            while base < length:
                with view[base:length] as part:
                    try:
                        # the binding reads any buffer; its stubs name only bytes
                        self._database.scan(part, match_event_handler=on_match)  # type: ignore[type-var]
                        break
                    except hyperscan.ScanTerminated:
                        base = line[1] + 1
        return found

    @staticmethod
    def _found(block: bytes | bytearray, length: int) -> list[tuple[str, int]]:
        found: set[tuple[str, int]] = set()
        for kind, needle in NEEDLES:
            hit = block.find(needle, 0, length)
            while hit != -1:
                line_start = block.rfind(b"\n", 0, hit) + 1
                found.add((kind, line_start))
                line_end = block.find(b"\n", hit, length)
                if line_end == -1:
                    break
                hit = block.find(needle, line_end + 1, length)
        return sorted(found, key=lambda item: item[1])


def minute_of(moment: datetime) -> int:
    """Minutes since the epoch of a moment, in UTC."""
    return int(moment.timestamp() // 60)


@dataclass(frozen=True, slots=True)
class LogEvent:
    """An alarm raised or lowered, or a marker: where and when, and what it says."""

    kind: str  # "raised", "lowered" or "marker"
    line: int
    time: datetime | None
    alarm_id: str
    text: str


@dataclass(slots=True)
class FileCounts:
    minutes: dict[int, list[int]] = field(default_factory=dict)  # minute → [lines, errors, warns]
    events: list[LogEvent] = field(default_factory=list)
    alarms: int = 0
    markers: int = 0
    complete: bool = True

    def add(self, minute: int, column: int, count: int) -> None:
        self.minutes.setdefault(minute, [0, 0, 0])[column] += count


def _decode(raw: bytes | bytearray) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def _last_minute(block: bytes | bytearray, start: int, end: int) -> int | None:
    """The minute of the last timed line in block[start:end], walking back a bounded way."""
    position = end
    for _ in range(MAX_PROBE_LINES):
        if position <= start:
            return None
        line_start = max(start, block.rfind(b"\n", start, position - 1) + 1)
        if block[line_start] in TIMED_FIRST_BYTES:
            moment = timestamp_of(_decode(block[line_start : position - 1]))
            if moment is not None:
                return minute_of(moment)
        position = line_start
    return None


class _Budget:
    """Lines one block may still walk (MAX_WALKED_LINES): logs whose lines jump between minutes
    all the time would otherwise have every line parsed."""

    __slots__ = ("lines",)

    def __init__(self, lines: int) -> None:
        self.lines = lines


def _marks(
    block: bytes | bytearray,
    start: int,
    end: int,
    current: int | None,
    budget: _Budget | None = None,
) -> list[tuple[int, int | None]]:
    """(offset, minute) from which on lines of block[start:end] count in that minute.

    A sample inside one minute needs two probes; only a sample that spans a minute boundary
    (a few per minute of log) is walked line by line, while the block's `budget` lasts (then
    the sample counts in its first minute)."""
    marks: list[tuple[int, int | None]] = [(start, current)]
    found = first_time_after(block, start)
    if found is None or found[0] >= end:
        return marks
    first = minute_of(found[1])
    marks.append((found[0], first))
    if _last_minute(block, found[0], end) in (first, None):
        return marks
    position = found[0]
    known = b""  # the key of the last line whose time was parsed
    while position < end:
        line_end = block.find(b"\n", position, end)
        line_end = end if line_end == -1 else line_end
        if block[position] in TIMED_FIRST_BYTES:
            key = _minute_key(block, position, line_end)
            if key != known:  # the minute may have changed: parse the line's time
                if budget is not None:
                    if budget.lines <= 0:
                        return marks  # the rest of the sample counts in the last minute seen
                    budget.lines -= 1
                moment = timestamp_of(_decode(block[position:line_end]))
                if moment is not None:
                    known = key
                    if minute_of(moment) != marks[-1][1]:
                        marks.append((position, minute_of(moment)))
        position = line_end + 1
    return marks


def _minute_key(block: bytes | bytearray, start: int, end: int) -> bytes:
    """The bytes of a line that name its minute: UTCTime's date, hour and minute, else the
    syslog prefix's with its offset. Two lines with the same key are in the same minute, so a
    walk parses a line's time only where the key changes."""
    utc = block.find(b'UTCTime="', start, end)
    if utc != -1:
        return bytes(block[utc + 9 : utc + 25])
    if block[start] == 0x3C:  # <PRI>
        start = block.find(b">", start, min(end, start + 5)) + 1
    space = block.find(b" ", start, min(end, start + 40))
    if space <= start:
        return bytes(block[start:end])  # no prefix time: parsed (and found untimed) each time
    zone = block[space - 1 : space] if block[space - 1] == 0x5A else block[space - 6 : space]  # Z
    return bytes(block[start : start + 16]) + bytes(zone)


def _split(
    block: bytes | bytearray,
    start: int,
    end: int,
    current: int | None,
    sample_bytes: int,
    marks: list[tuple[int, int | None]],
    budget: _Budget,
) -> int | None:
    """Append the (offset, minute) marks of block[start:end] (lines) to `marks`, the minute at
    `start` being `current`; returns the minute at `end`.

    A range whose first and last timed lines are in one minute is one minute (two probes);
    one that spans minutes is halved until its pieces are samples (SAMPLE_BYTES), which
    _marks walks line by line: the probes are a few per block and per minute boundary."""
    if end - start <= sample_bytes:
        found = _marks(block, start, end, current, budget)
        marks.extend(found)
        return found[-1][1]
    first = first_time_after(block, start)
    if first is not None and first[0] < end:
        minute = minute_of(first[1])
        if _last_minute(block, first[0], end) == minute:
            marks += [(start, current), (first[0], minute)]
            return minute
    middle = block.find(b"\n", (start + end) // 2, end) + 1
    if middle <= start or middle >= end:  # one long line
        found = _marks(block, start, end, current, budget)
        marks.extend(found)
        return found[-1][1]
    before = _split(block, start, middle, current, sample_bytes, marks, budget)
    return _split(block, middle, end, before, sample_bytes, marks, budget)


CARRY = -(2**62)
"""The minute of a block's lines before its first timed line, when the block is counted on its
own (in a matcher thread): the minute the file was in when the block began, known only when
the blocks are added up in file order (FileTally)."""


@dataclass(slots=True)
class BlockCounts:
    """What one line-aligned block holds, counted without knowing the blocks before it.

    `minutes` may hold CARRY (the lines before the block's first timed line); events carry
    their line number inside the block (1-based). `last` is the minute the block ends in
    (CARRY: the block has no timed line)."""

    minutes: dict[int, list[int]]
    last: int | None
    events: list[LogEvent]
    alarms: int
    markers: int
    newlines: int
    open_end: bool  # the block does not end with a newline
    head: bytes  # its first HEAD_BYTES (whether the file looks binary)


HEAD_BYTES = 8192
"""A file whose first HEAD_BYTES hold a NUL byte is not a log (app.web.logview.SNIFF_BYTES)."""


def count_block(
    block: bytes | bytearray,
    length: int,
    finder: LiteralFinder | None = None,
    *,
    found: list[tuple[int, int, int]] | None = None,
    newlines: int | None = None,
    sample_bytes: int = 0,
) -> BlockCounts:
    """Count block[:length] (whole lines, but for a file's last line) on its own.

    The lines holding the NEEDLES come from `found` when the signature scan's matcher found
    them in its own pass ((needle index, line start, newlines before), in line order), else
    from `finder`. `newlines`, the block's newline count when the caller has it (the scan
    counts them for its line numbers), spares counting the lines of its longest minute.
    Thread-safe as long as each thread has its own `finder`."""
    sample_bytes = sample_bytes or SAMPLE_BYTES
    # (offset, minute) where each run of lines of one minute starts, in block order
    runs: list[tuple[int, int | None]] = []
    marks: list[tuple[int, int | None]] = []
    current = _split(block, 0, length, CARRY, sample_bytes, marks, _Budget(MAX_WALKED_LINES))
    for offset, minute in marks:
        if runs and runs[-1][1] == minute:
            continue  # the same minute goes on
        if runs and runs[-1][0] == offset:
            runs[-1] = (offset, minute)  # no line in between
            continue
        runs.append((offset, minute))
    bounds = [offset for offset, _ in runs] + [length]
    longest = max(range(len(runs)), key=lambda i: bounds[i + 1] - bounds[i], default=-1)
    lines = [
        -1
        if i == longest and newlines is not None
        else block.count(b"\n", bounds[i], bounds[i + 1])
        for i in range(len(runs))
    ]
    if longest >= 0 and newlines is not None:
        lines[longest] = newlines - sum(lines) - 1
    minutes: dict[int, list[int]] = {}
    for (_, minute), count in zip(runs, lines, strict=True):
        if minute is not None:
            minutes.setdefault(minute, [0, 0, 0])[0] += count
    offsets = bounds[:-1]

    def minute_at(offset: int) -> int | None:
        return runs[max(0, bisect_right(offsets, offset) - 1)][1]

    counts = FileCounts()
    line, counted_to = 1, 0  # the line number at offset counted_to
    lines_of: Iterable[tuple[str, int, int | None]]
    if found is not None:
        lines_of = _found_lines(found)
    else:
        assert finder is not None, "count_block needs the lines found or a finder"
        lines_of = ((kind, start, None) for kind, start in finder.occurrences(block, length))
    # in file order, so that the events listed (at most MAX_EVENTS) are the first ones
    for kind, line_start, before in lines_of:
        if kind in ("error", "warning"):
            minute = minute_at(line_start)
            if minute is not None:
                minutes.setdefault(minute, [0, 0, 0])[1 if kind == "error" else 2] += 1
            continue
        if before is not None:
            line = before + 1
        elif len(counts.events) < MAX_EVENTS:  # the line number only of a line listed
            line += block.count(b"\n", counted_to, line_start)
            counted_to = line_start
        _event(block, length, line_start, line, kind, counts)
    return BlockCounts(
        minutes=minutes,
        last=current,
        events=counts.events,
        alarms=counts.alarms,
        markers=counts.markers,
        newlines=sum(lines),
        open_end=length > 0 and block[length - 1] != 0x0A,
        head=bytes(block[: min(length, HEAD_BYTES)]),
    )


def _found_lines(found: list[tuple[int, int, int]]) -> Iterator[tuple[str, int, int]]:
    """(kind, line start, newlines before) of the needles' lines, once per kind and line."""
    last: tuple[str, int] | None = None
    seen: set[tuple[str, int]] = set()
    for index, start, before in found:
        kind = NEEDLES[index][0]
        if last is None or last[1] != start:
            seen.clear()
        last = (kind, start)
        if last not in seen:
            seen.add(last)
            yield kind, start, before


class FileTally:
    """Adds up the BlockCounts of one file's blocks, given in file order, into FileCounts."""

    def __init__(self) -> None:
        self.counts = FileCounts()
        self.current: int | None = None  # the minute the last timed line was in
        self.lines_before = 0
        self.open_end = False
        self.head = b""
        self.binary = False  # a NUL byte in the first HEAD_BYTES: not a log

    def add(self, block: BlockCounts) -> None:
        counts = self.counts
        for minute, values in block.minutes.items():
            resolved = self.current if minute == CARRY else minute
            if resolved is None:
                continue  # lines before the file's first timed line
            if resolved not in counts.minutes and len(counts.minutes) >= MAX_MINUTES:
                counts.complete = False
                continue
            total = counts.minutes.setdefault(resolved, [0, 0, 0])
            for column in range(3):
                total[column] += values[column]
        if block.last != CARRY:
            self.current = block.last
        counts.alarms += block.alarms
        counts.markers += block.markers
        room = MAX_EVENTS - len(counts.events)
        for event in block.events[: max(0, room)]:
            counts.events.append(
                LogEvent(
                    event.kind,
                    event.line + self.lines_before,
                    event.time,
                    event.alarm_id,
                    event.text,
                )
            )
        if len(self.head) < HEAD_BYTES and block.head:
            self.head += block.head[: HEAD_BYTES - len(self.head)]
            self.binary = self.binary or b"\x00" in self.head
        self.lines_before += block.newlines
        if block.newlines or block.open_end:
            self.open_end = block.open_end

    def finish(self) -> FileCounts:
        """The counts of the whole file (its last line counts even without a newline)."""
        if self.open_end and self.current is not None:
            self.counts.add(self.current, 0, 1)
            self.open_end = False
        self.counts.events.sort(key=lambda event: event.line)
        return self.counts


def count_file(
    path: Path,
    *,
    deadline: float,
    block_size: int = BLOCK_SIZE,
    clock: Callable[[], float] = time.monotonic,
) -> FileCounts:
    """The per-minute counts and the events of one file, until `deadline` (then incomplete).

    The same counting as the analysis pass does (count_block, FileTally), from the stored file.
    """
    tally = FileTally()
    finder = LiteralFinder()
    with open_raw(path) as handle:
        for _base, block, length in line_blocks(handle, block_size):
            if clock() > deadline:
                tally.counts.complete = False
                return tally.counts
            tally.add(count_block(block, length, finder))
    return tally.finish()


def _event(
    block: bytes | bytearray,
    length: int,
    line_start: int,
    line: int,
    kind: str,
    counts: FileCounts,
) -> None:
    """Count an alarm or marker line; list it while fewer than MAX_EVENTS are listed."""
    if kind == "marker":
        counts.markers += 1
    else:
        counts.alarms += 1
    if len(counts.events) >= MAX_EVENTS:
        return
    line_end = block.find(b"\n", line_start, length)
    text = _decode(block[line_start : length if line_end == -1 else line_end])
    moment = timestamp_of(text)
    fields = parse_fields(text)
    if kind == "marker":
        detail = fields.get("Detail") or text[text.find("DEBUG_MARKER") :]
    else:
        detail = fields.get("Detail", "")
    counts.events.append(
        LogEvent(
            kind=kind,
            line=line,
            time=moment.astimezone(UTC) if moment else None,
            alarm_id=fields.get("Id", "") if kind != "marker" else "",
            text=detail[:MAX_EVENT_TEXT],
        )
    )


def counts_to_json(counts: FileCounts) -> dict[str, Any]:
    """FileCounts as saved with an analysis (read back by counts_from_json)."""
    return {
        "minutes": [[minute, *values] for minute, values in sorted(counts.minutes.items())],
        "events": [
            [e.kind, e.line, e.time.isoformat() if e.time else None, e.alarm_id, e.text]
            for e in counts.events
        ],
        "alarms": counts.alarms,
        "markers": counts.markers,
        "complete": counts.complete,
    }


def counts_from_json(data: Mapping[str, Any]) -> FileCounts:
    """The FileCounts that counts_to_json wrote; ValueError (or KeyError, TypeError) if not."""
    minutes = {int(m): [int(a), int(b), int(c)] for m, a, b, c in data["minutes"]}
    events = [
        LogEvent(
            kind=str(kind),
            line=int(line),
            time=datetime.fromisoformat(when) if when else None,
            alarm_id=str(alarm_id),
            text=str(text),
        )
        for kind, line, when, alarm_id, text in data["events"]
    ]
    return FileCounts(
        minutes=minutes,
        events=events,
        alarms=int(data["alarms"]),
        markers=int(data["markers"]),
        complete=bool(data["complete"]),
    )


LOG_KINDS = frozenset({FileKind.LOGGINGSNAPSHOT, FileKind.LOG})
"""The files a timeline counts."""


class TimelineCollector:
    """The timeline counts of every log file an analysis scans, made in the scan itself.

    `tally` is the signature scan's Tally (app.signatures.engine): each log file gets a
    counter whose `count` runs in the matcher threads next to the matcher (one LiteralFinder per
    thread) and whose blocks are added up in file order. `results` holds each file's counts by
    name once its scan ended; a file scanned again (its kind was not the one first seen)
    replaces them."""

    def __init__(self) -> None:
        self.results: dict[str, FileTally] = {}
        self._local = threading.local()

    def tally(self, name: str, kind: FileKind) -> _FileCounter | None:
        return _FileCounter(self, name) if kind in LOG_KINDS else None

    def finder(self) -> LiteralFinder:
        """This thread's LiteralFinder (a Hyperscan database is used by one thread at a time)."""
        finder: LiteralFinder | None = getattr(self._local, "finder", None)
        if finder is None:
            finder = self._local.finder = LiteralFinder()
        return finder

    def to_json(self, names: Iterable[str]) -> dict[str, Any]:
        """The counts of these files as saved with the analysis: by name, None for a file that
        is not a log (a NUL byte near its start, as the log viewer decides)."""
        files: dict[str, Any] = {}
        for name in names:
            tally = self.results.get(name)
            if tally is not None:
                files[name] = None if tally.binary else counts_to_json(tally.counts)
        return files


class _FileCounter:
    """One file's BlockTally (see TimelineCollector)."""

    def __init__(self, owner: TimelineCollector, name: str) -> None:
        self.owner = owner
        self.name = name
        self.tally = FileTally()

    literals = tuple(needle for _, needle in NEEDLES)  # found by the signature matcher

    def count(self, block: bytes, newlines: int, found: list[tuple[int, int, int]]) -> object:
        return count_block(block, len(block), found=found, newlines=newlines)

    def add(self, counted: object) -> None:
        assert isinstance(counted, BlockCounts)
        self.tally.add(counted)

    def close(self) -> None:
        self.tally.finish()
        self.owner.results[self.name] = self.tally
