"""Count one log file per UTC minute: lines, errors, warnings; list its alarms and markers.

One pass in line-aligned blocks. Python never loops over all lines: each block is cut into
samples of SAMPLE_BYTES; a sample within one minute (its first and last timed lines agree)
has its newlines counted at C speed (`bytes.count`), and only a sample that spans a minute
boundary (a few per minute of log) is walked line by line, so the counts are exact. Errors,
warnings, alarms and markers are found in one Hyperscan pass over the block (bytes.find without
it); only those lines are decoded.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.bundle.stored import open_raw
from app.parsing.expressway import parse_fields, timestamp_of
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


class LiteralFinder:
    """Every occurrence of the NEEDLES in a block: one Hyperscan pass where it is installed,
    one bytes.find pass per needle otherwise. A Finder is used by one thread."""

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

    def occurrences(self, block: bytearray, length: int) -> list[tuple[int, int]]:
        """(needle index, offset inside the line) pairs, in no particular order."""
        found: list[tuple[int, int]] = []
        if self._database is not None:

            def on_match(index: int, first: int, last: int, flags: int, context: object) -> None:
                found.append((index, last - 1))

            with memoryview(block) as view, view[:length] as part:
                # the binding reads any buffer; its stubs name only bytes (a copy per call)
                self._database.scan(part, match_event_handler=on_match)  # type: ignore[type-var]
            return found
        for index, (_, needle) in enumerate(NEEDLES):
            hit = block.find(needle, 0, length)
            while hit != -1:
                found.append((index, hit))
                hit = block.find(needle, hit + 1, length)
        return found


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


def _last_minute(block: bytearray, start: int, end: int) -> int | None:
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


def _marks(
    block: bytearray, start: int, end: int, current: int | None
) -> list[tuple[int, int | None]]:
    """(offset, minute) from which on lines of block[start:end] count in that minute.

    A sample inside one minute needs two probes; only a sample that spans a minute boundary
    (a few per minute of log) is walked line by line."""
    marks: list[tuple[int, int | None]] = [(start, current)]
    found = first_time_after(block, start)
    if found is None or found[0] >= end:
        return marks
    first = minute_of(found[1])
    marks.append((found[0], first))
    if _last_minute(block, found[0], end) in (first, None):
        return marks
    position = found[0]
    while position < end:
        line_end = block.find(b"\n", position, end)
        line_end = end if line_end == -1 else line_end
        if block[position] in TIMED_FIRST_BYTES:
            moment = timestamp_of(_decode(block[position:line_end]))
            if moment is not None and minute_of(moment) != marks[-1][1]:
                marks.append((position, minute_of(moment)))
        position = line_end + 1
    return marks


def count_file(
    path: Path,
    *,
    deadline: float,
    block_size: int = BLOCK_SIZE,
    clock: Callable[[], float] = time.monotonic,
) -> FileCounts:
    """The per-minute counts and the events of one file, until `deadline` (then incomplete)."""
    counts = FileCounts()
    finder = LiteralFinder()
    current: int | None = None  # the minute the last timed line was in
    lines_before = 0
    with open_raw(path) as handle:
        for _base, block, length in line_blocks(handle, block_size):
            if clock() > deadline:
                counts.complete = False
                return counts
            starts: list[int] = []  # sample starts (line starts) in this block
            samples: list[list[tuple[int, int | None]]] = []
            newlines_at: list[int] = []
            position = 0
            while position < length:
                next_start = block.find(b"\n", position + SAMPLE_BYTES, length)
                end = length if next_start == -1 else next_start + 1
                marks = _marks(block, position, end, current)
                current = marks[-1][1]
                starts.append(position)
                samples.append(marks)
                newlines_at.append(lines_before)
                for index, (offset, minute) in enumerate(marks):
                    until = marks[index + 1][0] if index + 1 < len(marks) else end
                    lines = block.count(b"\n", offset, until)
                    if until == length and block[length - 1] != 0x0A:
                        lines += 1  # the file's last line without a newline
                    lines_before += lines
                    if minute is not None:
                        counts.add(minute, 0, lines)
                position = end

            def sample_of(offset: int, starts: list[int] = starts) -> int:
                return max(0, bisect_right(starts, offset) - 1)

            def minute_at(
                offset: int, samples: list[list[tuple[int, int | None]]] = samples
            ) -> int | None:
                marks = samples[sample_of(offset)]
                return marks[max(0, bisect_right(marks, offset, key=lambda m: m[0]) - 1)][1]

            seen: set[tuple[str, int]] = set()  # (kind, line start): a line counts once a kind
            for index, offset in finder.occurrences(block, length):
                kind = NEEDLES[index][0]
                line_start = block.rfind(b"\n", 0, offset) + 1
                if (kind, line_start) in seen:
                    continue
                seen.add((kind, line_start))
                if kind in ("error", "warning"):
                    minute = minute_at(line_start)
                    if minute is not None:
                        counts.add(minute, 1 if kind == "error" else 2, 1)
                else:
                    sample = sample_of(line_start)
                    line = newlines_at[sample] + block.count(b"\n", starts[sample], line_start)
                    _event(block, length, line_start, line + 1, kind, counts)
    counts.events.sort(key=lambda event: event.line)
    return counts


def _event(
    block: bytearray, length: int, line_start: int, line: int, kind: str, counts: FileCounts
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
