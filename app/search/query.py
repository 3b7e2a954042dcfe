"""What a user searches for, compiled once: a bytes prefilter over blocks and record filters.

The text is a literal (found with bytes.find, or RE2 when case is ignored) or an RE2 regular
expression (linear time whatever the input). Patterns never match across a line end. Filters
(module, level, Call-ID, UTC time range) are checked on the record of a candidate line only:
its header line, plus the continuation lines of a SIPMSG/HTTPMSG block for the Call-ID.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

import re2

from app.parsing.expressway import SyslogClock, parse_line, timestamp_of

try:
    import hyperscan
except ImportError:  # no wheel off x86-64: RE2 does the case-insensitive literal
    hyperscan = None  # type: ignore[assignment]

MAX_QUERY_CHARS = 1000
RE2_MAX_MEM = 64 * 2**20
LEVEL_ALIASES = {"WARNING": "WARN", "ERR": "ERROR", "CRIT": "CRITICAL"}


class BadQuery(ValueError):
    """The search cannot run as asked; the message says why, for people."""


def normalise_level(level: str) -> str:
    upper = level.strip().upper()
    return LEVEL_ALIASES.get(upper, upper)


def normalise_module(module: str) -> str:
    """`Module="network.sip"`, `network.sip` or `"network.sip"` → `network.sip`."""
    value = module.strip()
    if value.lower().startswith("module="):
        value = value[len("module=") :]
    return value.strip().strip('"').strip()


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A search as asked: text (may be empty when a filter is given) and filters."""

    text: str = ""
    regex: bool = False
    case_sensitive: bool = True
    module: str = ""
    level: str = ""
    call_id: str = ""
    time_from: datetime | None = None
    time_to: datetime | None = None

    @property
    def has_filters(self) -> bool:
        return bool(self.module or self.level or self.call_id or self.time_from or self.time_to)


def _options(case_sensitive: bool) -> re2.Options:
    options = re2.Options()
    options.never_nl = True  # a match never spans two lines
    options.case_sensitive = case_sensitive
    options.log_errors = False
    options.max_mem = RE2_MAX_MEM
    return options


def _compile(pattern: str, case_sensitive: bool, what: str) -> tuple[re2._Regexp, re2._Regexp]:
    """The pattern for bytes blocks and for decoded lines; BadQuery with RE2's reason."""
    options = _options(case_sensitive)
    try:
        return (
            re2.compile(pattern.encode("utf-8"), options),
            re2.compile(pattern, options),
        )
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", errors="replace")
        raise BadQuery(f"The {what} is not a valid regular expression: {reason}.") from exc


class CaselessLiteral:
    """An ASCII literal found case-insensitively with Hyperscan (far faster than RE2 here).

    Each call scans from `start` and stops at the first match; the Database (and its scratch
    space) belongs to one query, used by one thread."""

    def __init__(self, needle: bytes) -> None:
        self._length = len(needle)
        self._database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._database.compile(
            expressions=[needle],
            ids=[0],
            elements=1,
            flags=[hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH],
            literal=True,
        )

    def find(self, block: bytearray | bytes, start: int, end: int) -> int:
        ends: list[int] = []

        def on_match(index: int, first: int, last: int, flags: int, context: object) -> bool:
            ends.append(last)
            return True  # the first match is enough: stop the scan

        with memoryview(block) as view, view[start:end] as part, suppress(hyperscan.ScanTerminated):
            # the binding reads any buffer; its stubs name only bytes (a copy per call)
            self._database.scan(part, match_event_handler=on_match)  # type: ignore[type-var]
        return start + ends[0] - self._length if ends else -1


class CompiledQuery:
    """A SearchQuery ready to run: `find` proposes candidate lines, `accepts` confirms them."""

    def __init__(self, query: SearchQuery) -> None:
        if len(query.text) > MAX_QUERY_CHARS:
            raise BadQuery(f"The search text is longer than {MAX_QUERY_CHARS} characters.")
        if query.time_from and query.time_to and query.time_from > query.time_to:
            raise BadQuery("The time range ends before it starts: swap 'from' and 'to'.")
        self.query = query
        self.module = normalise_module(query.module)
        self.level = normalise_level(query.level) if query.level.strip() else ""
        self.call_id = query.call_id.strip()
        self._needle: bytes | None = None
        self._caseless: CaselessLiteral | None = None
        self._block_pattern: re2._Regexp | None = None
        self.line_pattern: re2._Regexp | None = None
        text = query.text
        if text:
            if query.regex:
                self._block_pattern, self.line_pattern = _compile(
                    text, query.case_sensitive, "search text"
                )
            else:
                escaped = re2.escape(text)
                self._block_pattern, self.line_pattern = _compile(
                    escaped, query.case_sensitive, "search text"
                )
                if query.case_sensitive:
                    self._needle = text.encode("utf-8")
                elif hyperscan is not None and text.isascii():
                    self._caseless = CaselessLiteral(text.encode("ascii"))
        elif self.call_id:
            self._needle = self.call_id.encode("utf-8")
        elif self.module:
            self._needle = f'Module="{self.module}'.encode()
        elif self.level:
            self._block_pattern, _ = _compile(
                rf'Level="{re2.escape(self.level)}\w*"|\]\s*{re2.escape(self.level)}\w*:',
                False,
                "level",
            )
        else:
            raise BadQuery(
                "Type something to search for, or choose a module, a level or a Call-ID."
            )
        self.needs_record = query.has_filters

    def find(self, block: bytearray | bytes, start: int, end: int) -> int:
        """Offset of the next candidate in block[start:end], or -1."""
        if self._needle is not None:
            return block.find(self._needle, start, end)
        if self._caseless is not None:
            return self._caseless.find(block, start, end)
        assert self._block_pattern is not None
        match = self._block_pattern.search(block, start, end)
        return -1 if match is None else int(match.start())

    def accepts(
        self,
        header: str,
        record: str,
        clock: Callable[[], SyslogClock | None] | None = None,
    ) -> bool:
        """Whether a candidate passes the filters; `header` is its record's first line,
        `record` the record's text (header and continuation lines). `clock` gives the year and
        zone of the file's BSD syslog timestamps (used only if the header has no other time)."""
        if self.module or self.level:
            event = parse_line(header)
            if event is None:
                return False
            if self.module:
                module = event.module or ""
                if module != self.module and not module.startswith(self.module + "."):
                    return False
            if self.level and normalise_level(event.level or "") != self.level:
                return False
        if self.call_id and self.call_id not in record:
            return False
        if self.query.time_from or self.query.time_to:
            moment = timestamp_of(header, clock() if clock is not None else None)
            if moment is None:
                return False
            if self.query.time_from and moment < self.query.time_from:
                return False
            if self.query.time_to and moment > self.query.time_to:
                return False
        return True

    def spans(self, text: str, limit: int = 50) -> list[tuple[int, int]]:
        """Where the search text occurs in a decoded line (for highlighting), at most `limit`."""
        if self.line_pattern is None:
            return []
        found: list[tuple[int, int]] = []
        position = 0
        while len(found) < limit and position <= len(text):
            match = self.line_pattern.search(text, position)
            if match is None:
                break
            start, end = match.span()
            if end > start:
                found.append((start, end))
            position = end if end > start else end + 1
        return found
