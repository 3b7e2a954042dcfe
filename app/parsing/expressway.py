"""Line grammar of Expressway/VCS logs (loggingsnapshot, remote syslog): one line in, one Event out.

Shapes handled (domain.md §2.4): module lines (`UTCTime` first), event and alarm lines (`UTCTime`
last), Traffic Server bracket lines (`[ET_NET 0] WARNING: …`, `[ET_NET 1]ERROR:SSL …`), ClusterDB
lines without a process tag, the multi-line `SIPMSG:`/`HTTPMSG:` payloads whose continuation lines
`is_continuation` recognises, and the prefixes a remote syslog server writes (`split_prefix`):
`<PRI>`, an RFC 5424 header (`<166>1 2022-11-18T19:55:58.123Z vcse1 tvcs - - - …`), a BSD
timestamp (`Nov 18 19:55:58`, no year and no zone), with or without the host field, and the
process tag written again (`tvcs: tvcs:`).
The engine calls this only on the rare lines where a signature hit, so clarity beats speed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from app.native import loops
from app.parsing.events import Event
from app.parsing.linear_regex import compile_linear

# Linear time on any line (no newline inside: `_one_line`). The `re` patterns below are only
# used with `match` (anchored, one attempt) or after a literal (`UTCTime="`), and every
# repetition in them is followed by something its class cannot match (`[\w.\-]*` then `:`,
# `\s+` then `\S`), so a failed attempt gives back each character once: no backtracking blow-up.
# `_FIELD` is searched at every position of a message, which `re` would do in quadratic time on
# a long run of word characters: it runs on RE2 (app/parsing/linear_regex.py).
# Lines copied without a timestamp (doc 117811): "ExpresswayE traffic_server[15550]: Event=…".
_NO_TS = re.compile(
    r"^(?P<host>[A-Za-z0-9][\w.\-]*)\s+(?P<rest>[A-Za-z_][\w.\-/]*(?:\[\d+\])?:.*)$"
)
# A process tag is "name:", "name[pid]:" or (edgeconfigprovisioning quirk) "name" before key="…".
_PROCESS = re.compile(
    r"^(?P<proc>[A-Za-z_][\w.\-/]*)(?:\[(?P<pid>\d+)\])?(?::|(?=\s+[A-Za-z][\w.\-]*=\"))\s*"
)
_SUBTAG = re.compile(r"^(?P<tag>[A-Za-z_][\w.\-]*):\s+(?=[A-Za-z][\w.\-]*=)")
_BRACKET = re.compile(r"^\[(?P<thread>[^\]]+)\]\s*(?:(?P<level>[A-Z]+):\s*)?(?P<msg>.*)$")
_FIELD = compile_linear(r'(?P<key>[A-Za-z][\w.\-]*)="(?P<value>[^"]*)"')
_UTCTIME = re.compile(
    r'UTCTime="\s*(?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}:\d{2})'
    r'(?:,(?P<frac>\d{1,6}))?\s*"'
)
_CONTINUATION_MARKERS = ("SIPMSG:", "HTTPMSG:")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_BSD_STAMP = re.compile(
    rf"(?P<month>{'|'.join(MONTHS)}) (?P<day> [1-9]|[0-3]?\d) "
    r"(?P<hour>[0-2]\d):(?P<minute>[0-5]\d):(?P<second>[0-6]\d)(?:\.(?P<frac>\d{1,6}))?(?= )"
)
_MAX_TAGS = 8  # the same process tag written again at most this often is removed


class Prefix(NamedTuple):
    """The syslog prefix of a line (`split_prefix`): what came before the process tag.

    `stamp` is the timestamp as written; `bsd` says it is `Mmm dd hh:mm:ss` (no year, no zone).
    `rest` is the line after the host field (process tag and message, the tag once). `logged`
    says the line already reads `stamp host rest` (as the Expressway writes it).
    """

    priority: int | None
    stamp: str
    bsd: bool
    host: str | None
    rest: str
    logged: bool = False


def split_prefix(line: str) -> Prefix | None:
    """The syslog prefix of a header line, None when it has none (or is not a header line).

    Forms: `[<PRI>]ISO host rest` (the Expressway's own), `[<PRI>]Mmm dd hh:mm:ss [host] rest`
    (BSD, RFC 3164; the host field may be missing), `<PRI>1 ISO host app procid msgid sd msg`
    (RFC 5424, read as `host app[procid]: msg`). A process tag written again right after itself
    (`tvcs: tvcs:`, `traffic_server[3936]: traffic_server:`) is kept once. One anchored match
    per part on one line: linear in the line's length.
    """
    if "\n" in line or line.endswith("\r"):
        line = _one_line(line)
    position = 0
    priority: int | None = None
    if line.startswith("<"):
        close = line.find(">", 1, 5)
        if close > 1 and line[1:close].isdigit():
            priority, position = int(line[1:close]), close + 1
    rfc5424 = priority is not None and line.startswith("1 ", position)
    if rfc5424:
        position += 2
    while line.startswith((" ", "\t"), position):
        position += 1
    found = _stamp(line, position, iso_only=rfc5424)
    if found is None:
        return None
    bsd, end = found
    stamp_start = position
    stamp, position = line[position:end], end
    position = _skip_blanks(line, position)
    if rfc5424:
        return _rfc5424(priority, stamp, line[position:])
    host: str | None = None
    word_end = _word_end(line, position)
    if word_end > position and (not bsd or _is_host(line[position:word_end])):
        host = line[position:word_end]
        rest_start = _skip_blanks(line, word_end)
        single = rest_start == word_end + 1 and line[word_end] == " "
    elif not bsd:
        return None  # an ISO timestamp and nothing after it
    else:
        rest_start, single = position, True
    rest = line[rest_start:]
    once = _tag_once(rest)
    logged = stamp_start == 0 and host is not None and single and once is rest
    logged = logged and line[end] == " " and position == end + 1
    return Prefix(priority, stamp, bsd, host, once, logged)


def _skip_blanks(line: str, position: int) -> int:
    while line.startswith((" ", "\t"), position):
        position += 1
    return position


def _word_end(line: str, position: int) -> int:
    """Where the word at `position` ends (a space, a tab or the end of the line)."""
    space = line.find(" ", position)
    end = len(line) if space == -1 else space
    tab = line.find("\t", position, end)
    return end if tab == -1 else tab


_ISO_CHARS = frozenset("0123456789.:+-Z")
_MONTH_SET = frozenset(MONTHS)
_NOT_IN_HOST = (":", "=", '"', "[", "]")


def _stamp(line: str, position: int, *, iso_only: bool) -> tuple[bool, int] | None:
    """(BSD?, end) of the timestamp at `position` of `line`, followed by a space or tab.

    ISO: `YYYY-MM-DDThh:mm:ss` then fraction and zone characters; BSD: `Mmm dd hh:mm:ss`
    (day padded with a space or a zero) and an optional fraction. The shape only: reading
    the time is left to whoever needs it (`_parse_prefix_time`, SyslogClock).
    """
    head = line[position : position + 19]
    if (
        len(head) == 19
        and head[4] == "-"
        and head[7] == "-"
        and head[10] == "T"
        and head[13] == ":"
        and head[16] == ":"
        and head[:4].isdigit()
    ):
        end = position + 19
        size = min(len(line), end + 16)
        while end < size and line[end] in _ISO_CHARS:
            end += 1
        return (False, end) if line.startswith((" ", "\t"), end) else None
    if iso_only:
        return None
    head = line[position : position + 15]
    if (
        len(head) == 15
        and head[:3] in _MONTH_SET
        and head[3] == " "
        and head[6] == " "
        and head[9] == ":"
        and head[12] == ":"
        and head[4:6].lstrip(" ").isdigit()
        and (head[7:9] + head[10:12] + head[13:15]).isdigit()
        and head.isascii()
    ):
        end = position + 15
        if line.startswith(".", end):
            end += 1
            while end < len(line) and end < position + 22 and line[end].isdigit():
                end += 1
        return (True, end) if line.startswith((" ", "\t"), end) else None
    return None


def _is_host(word: str) -> bool:
    """Whether the word after a BSD timestamp is a host name, not a process tag or a field."""
    return word[0].isascii() and word[0].isalnum() and not any(c in word for c in _NOT_IN_HOST)


def _tag_name(rest: str) -> tuple[str, int] | None:
    """(name, end) of the process tag `name:` or `name[pid]:` that `rest` starts with."""
    colon = rest.find(":", 0, 256)
    if colon < 1:
        return None
    name, bracket, pid = rest[:colon].partition("[")
    if bracket and not (pid.endswith("]") and pid[:-1].isdigit()):
        return None
    first = name[:1]
    if not (first.isalpha() or first == "_") or any(c in name for c in ' \t="'):
        return None
    return name, colon + 1


def _rfc5424(priority: int | None, stamp: str, fields: str) -> Prefix | None:
    """`host app procid msgid sd msg` after an RFC 5424 timestamp, as a Prefix."""
    parts = fields.split(" ", 4)
    if len(parts) < 4:
        return None
    host, app, procid, msgid = parts[:4]
    after = parts[4] if len(parts) > 4 else ""
    if after.startswith("-"):
        message = after[1:]
    elif after.startswith("["):  # structured data: [id k="v" ...]..., `]` escaped as `\]`
        end = 0
        while after.startswith("[", end):
            close = after.find("]", end)
            while close > 0 and after[close - 1] == "\\":
                close = after.find("]", close + 1)
            if close == -1:
                return None
            end = close + 1
        message = after[end:]
    else:
        message = after
    message = message.removeprefix(" ").removeprefix("\ufeff")
    if app != "-" and _tag_name(f"{app}:") is not None:
        tag = f"{app}[{procid}]:" if procid.isdigit() else f"{app}:"
        message = f"{tag} {message}"
    del msgid
    return Prefix(priority, stamp, False, None if host == "-" else host, _tag_once(message))


def _tag_once(rest: str) -> str:
    """`rest` with its leading process tag written once (`tvcs: tvcs: X` → `tvcs: X`)."""
    tag = _tag_name(rest)
    if tag is None:
        return rest
    name, tag_end = tag
    position = tag_end
    for _ in range(_MAX_TAGS):
        spaces = position
        while rest.startswith(" ", spaces):
            spaces += 1
        after = _after_tag(rest, name, spaces)
        if after is None:
            break
        position = after
    if position == tag_end:
        return rest
    return f"{rest[:tag_end]}{rest[position:]}"


def is_continuation(line: str) -> bool:
    """True for lines that belong to the record above: payload of SIPMSG/HTTPMSG blocks and dumps.

    Continuation lines start with a space, a tab or `|`, are blank, or are the bare
    `SIPMSG:`/`HTTPMSG:` markers. Snippets for hits on them point at the header line.
    """
    if not line.strip():
        return True
    return line[0] in " \t|" or line.startswith(_CONTINUATION_MARKERS)


def as_logged(line: str) -> str:
    """The line as the Expressway logged it, from the form a remote syslog server received.

    Remote syslog (domain.md §2.4) puts a `<PRI>` (and for RFC 5424 a version and the
    `app procid msgid sd` fields) before the message, may write a BSD timestamp and leave out
    the host, and repeats the process tag (`tvcs: tvcs: UTCTime=…`,
    `traffic_server[3936]: traffic_server:[ET_NET 1]…`); the result is `stamp host tag message`
    with the tag once, so signature patterns written for the loggingsnapshot read it. Any
    other line is returned unchanged (a `<PRI>` alone is removed).
    """
    if "\n" in line or line.endswith("\r"):
        line = _one_line(line)
    if line[:1].isdigit():  # the Expressway's own `ISO host tag rest`: kept unless tag twice
        # (line.split(" ", 3) read by offsets: this runs for every candidate line of a scan)
        at_host = line.find(" ")
        tag = line.find(" ", at_host + 1) if at_host >= 0 else -1
        rest = line.find(" ", tag + 1) if tag >= 0 else -1
        if rest < 0 or line[rest - 1] != ":":
            return line
        name = line[tag + 1 : rest - 1]
        if _after_tag(line, name.split("[", 1)[0], rest + 1) is None:
            return line
    prefix = split_prefix(line)
    if prefix is None:
        if line.startswith("<"):
            close = line.find(">", 1, 5)
            if close > 1 and line[1:close].isdigit():
                return line[close + 1 :]
        return line
    if prefix.logged:
        return line
    host = f" {prefix.host}" if prefix.host is not None else ""
    return f"{prefix.stamp}{host} {prefix.rest}"


def _after_tag(text: str, name: str, start: int = 0) -> int | None:
    """Where `text` continues after a process tag `name:` or `name[pid]:` at `start`, else None."""
    if not name or not text.startswith(name, start):
        return None
    position = start + len(name)
    if text.startswith("[", position):
        close = text.find("]", position)
        if close == -1 or not text[position + 1 : close].isdigit():
            return None
        position = close + 1
    return position + 1 if text.startswith(":", position) else None


def parse_utctime(value: str) -> datetime | None:
    """`2016-04-19 07:09:13,982` (also `,92` and no fraction) → aware UTC datetime.

    The part after the comma is a millisecond count printed without zero padding, so `,92`
    means 92 ms; more than three digits are read as a decimal fraction.
    """
    match = _UTCTIME.search(f'UTCTime="{value}"')
    return _utctime_from_match(match) if match else None


def _utctime_from_match(match: re.Match[str]) -> datetime | None:
    frac = match["frac"]
    micro = 0
    if frac:
        micro = int(frac) * 1000 if len(frac) <= 3 else int(frac.ljust(6, "0"))
    try:
        base = datetime.fromisoformat(f"{match['date']}T{match['time']}")
    except ValueError:
        return None
    return base.replace(microsecond=micro, tzinfo=UTC)


_UTCTIME_KEY = 'UTCTime="'


def _plain_utctime(line: str) -> datetime | None:
    """What `_UTCTIME` and `_utctime_from_match` give for a line whose first `UTCTime="` holds
    exactly `YYYY-MM-DD HH:MM:SS` and at most six digits after a comma (the form Expressway
    writes), made in C (app._native.utc_datetime); None for any other line, which the regex
    then reads. The thread feeding the scan times each signature hit: with the 773-signature
    bench library 0.24 -> 0.205 s of its CPU (GIL held) per GiB of the bench log."""
    if loops is None:
        return None
    at = line.find(_UTCTIME_KEY)
    if at < 0:
        return None
    start = at + len(_UTCTIME_KEY)
    end = line.find('"', start)
    if not 19 <= end - start <= 26:  # (a comma and 1-6 digits, or none)
        return None
    # False for spaces around it, other digits than ASCII, a date out of range: the regex's
    when = loops.utc_datetime(line[start:end], False)
    return when if isinstance(when, datetime) else None


def _parse_prefix_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def timestamp_of(line: str, clock: SyslogClock | None = None) -> datetime | None:
    """Best timestamp of a line as an aware datetime: `UTCTime` first, then the syslog prefix.

    A BSD prefix (`Nov 18 19:55:58`) has no year and no zone: it gives a time only with the
    `clock` of its file (`infer_clock`); without one the time is unknown (None), never a guess.
    """
    line = _one_line(line)
    found = _plain_utctime(line)
    if found is not None:
        return found
    match = _UTCTIME.search(line)
    if match:
        found = _utctime_from_match(match)
        if found is not None:
            return found
    prefix = split_prefix(line)
    if prefix is None:
        return None
    if not prefix.bsd:
        return _parse_prefix_time(prefix.stamp)
    return clock.resolve(prefix.stamp) if clock is not None else None


@dataclass(frozen=True, slots=True)
class SyslogClock:
    """The year and UTC offset of a file's BSD timestamps, from a line of the same file that
    tells both: a BSD-prefixed line with its `UTCTime`, or a line with an ISO prefix.

    `local` is that line's local time (naive), `offset` its local minus UTC time.
    """

    local: datetime
    offset: timedelta

    def resolve(self, stamp: str) -> datetime | None:
        """A BSD `Mmm dd hh:mm:ss[.f]` as UTC: the year that puts it nearest to `local`."""
        options = [
            moment
            for year in (self.local.year - 1, self.local.year, self.local.year + 1)
            if (moment := _bsd_naive(stamp, year)) is not None
        ]
        if not options:
            return None
        nearest = min(options, key=lambda moment: abs(moment - self.local))
        return (nearest - self.offset).replace(tzinfo=UTC)


def _bsd_naive(stamp: str, year: int) -> datetime | None:
    match = _BSD_STAMP.match(f"{stamp} ")
    if match is None:
        return None
    frac = match["frac"] or ""
    try:
        return datetime(
            year,
            MONTHS.index(match["month"]) + 1,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            min(int(match["second"]), 59),
            int(frac.ljust(6, "0")) if frac else 0,
        )
    except ValueError:  # 29 February of another year, 31 April, hour 25
        return None


_QUARTER_HOUR = 15 * 60
_MAX_OFFSET = timedelta(hours=14)


def clock_of(line: str) -> SyslogClock | None:
    """The SyslogClock one line gives, if it tells a year and a zone (see SyslogClock)."""
    prefix = split_prefix(line)
    if prefix is None:
        return None
    if not prefix.bsd:
        moment = _parse_prefix_time(prefix.stamp)
        offset = moment.utcoffset() if moment is not None else None
        if moment is None or offset is None:
            return None
        return SyslogClock(moment.replace(tzinfo=None), offset)
    match = _UTCTIME.search(prefix.rest)
    utc = _utctime_from_match(match) if match else None
    if utc is None:
        return None
    naive_utc = utc.replace(tzinfo=None)
    options = [
        moment
        for year in (utc.year - 1, utc.year, utc.year + 1)
        if (moment := _bsd_naive(prefix.stamp, year)) is not None
    ]
    if not options:
        return None
    local = min(options, key=lambda moment: abs(moment - naive_utc))
    quarters = round((local - naive_utc).total_seconds() / _QUARTER_HOUR)
    offset = timedelta(seconds=quarters * _QUARTER_HOUR)
    if abs(offset) > _MAX_OFFSET:  # not one moment: no clock from this line
        return None
    return SyslogClock(local, offset)


CLOCK_WINDOW = 16 * 1024
"""Bytes around a hit that `clock_near` searches for a line telling the year and zone."""
_NEAR_PROBES = 4


def clock_near(block: bytes, start: int) -> SyslogClock | None:
    """The SyslogClock of the nearest line above (else below) the line at `start` of `block`
    that has a BSD prefix and its `UTCTime`, within CLOCK_WINDOW bytes and a few lines read.

    A file's zone offset changes with daylight saving time: the clock of a neighbouring line
    dates a BSD timestamp by its own hour, not by one from hours or months away.
    """
    needle = b'UTCTime="'
    position = start
    lowest = max(0, start - CLOCK_WINDOW)
    for _ in range(_NEAR_PROBES):
        found = block.rfind(needle, lowest, position)
        if found == -1:
            break
        line_start = block.rfind(b"\n", 0, found) + 1
        clock = _clock_at(block, line_start)
        if clock is not None:
            return clock
        position = line_start
    position = block.find(b"\n", start) + 1
    highest = min(len(block), start + CLOCK_WINDOW)
    for _ in range(_NEAR_PROBES):
        if position <= 0:
            break
        found = block.find(needle, position, highest)
        if found == -1:
            break
        clock = _clock_at(block, block.rfind(b"\n", 0, found) + 1)
        if clock is not None:
            return clock
        position = block.find(b"\n", found) + 1
    return None


def _clock_at(block: bytes, line_start: int) -> SyslogClock | None:
    end = block.find(b"\n", line_start)
    line = block[line_start : len(block) if end == -1 else end]
    return clock_of(line.decode("utf-8", "replace")) if line[:1] in _BSD_FIRST else None


_BSD_FIRST = frozenset(bytes([b]) for b in b"<ADFJMNOS")

MAX_CLOCK_PROBES = 64
"""Lines of a block `infer_clock` reads at most (each one decoded and parsed)."""


def infer_clock(block: bytes) -> SyslogClock | None:
    """A SyslogClock from the first line of `block` (whole lines) that gives one.

    Reads the lines holding `UTCTime="` and the first lines of the block, at most
    MAX_CLOCK_PROBES in all: a few microseconds whatever the block's size.
    """
    probes = 0
    position = block.find(b'UTCTime="')
    while position != -1 and probes < MAX_CLOCK_PROBES:
        probes += 1
        start = block.rfind(b"\n", 0, position) + 1
        end = block.find(b"\n", position)
        end = len(block) if end == -1 else end
        found = clock_of(block[start:end].decode("utf-8", "replace"))
        if found is not None:
            return found
        position = block.find(b'UTCTime="', end)
    start = 0
    while probes < MAX_CLOCK_PROBES and start < len(block):
        probes += 1
        end = block.find(b"\n", start)
        end = len(block) if end == -1 else end
        if block[start : start + 1] in (b"<", b"1", b"2"):
            found = clock_of(block[start:end].decode("utf-8", "replace"))
            if found is not None:
                return found
        start = end + 1
    return None


def parse_fields(message: str) -> dict[str, str]:
    """Every `key="value"` pair of a message, first occurrence wins, values trimmed."""
    fields: dict[str, str] = {}
    for found in _FIELD.finditer(message):
        fields.setdefault(found["key"] or "", (found["value"] or "").strip())
    return fields


def _one_line(text: str) -> str:
    """`text` up to its first newline: the patterns here are linear on one line (see above)."""
    return text.partition("\n")[0].rstrip("\r")


def parse_line(line: str) -> Event | None:
    """Parse one header line into an Event; None for continuation lines and unrecognised text.

    Only the first line of `line` is read (a record never spans lines here).
    """
    line = _one_line(line)
    if is_continuation(line):
        return None
    priority: int | None = None
    timestamp: datetime | None = None
    prefix = split_prefix(line)
    host: str | None
    if prefix is not None:
        priority = prefix.priority
        timestamp = None if prefix.bsd else _parse_prefix_time(prefix.stamp)
        host, rest = prefix.host, prefix.rest
    else:
        bare = _NO_TS.match(line)
        if not bare:
            return None
        host, rest = bare["host"], bare["rest"]

    process: str | None = None
    pid: int | None = None
    proc = _PROCESS.match(rest)
    if proc:
        process = proc["proc"]
        pid = int(proc["pid"]) if proc["pid"] else None
        rest = rest[proc.end() :]
        subtag = _SUBTAG.match(rest)
        if subtag:  # remote syslog doubles the tag ("tvcs: tvcs:"), httpd logs "httpd[n]: web:"
            rest = rest[subtag.end() :]

    thread: str | None = None
    level: str | None = None
    message = rest
    bracket = _BRACKET.match(rest)
    if bracket:
        thread, level, message = bracket["thread"].strip(), bracket["level"], bracket["msg"]

    fields = parse_fields(message) if not bracket else {}
    utc_match = _UTCTIME.search(message) if not bracket else None
    return Event(
        raw=line,
        timestamp=timestamp,
        host=host,
        process=process,
        pid=pid,
        message=message,
        fields=fields,
        module=fields.get("Module"),
        level=level or fields.get("Level"),
        event=fields.get("Event"),
        utc_time=_utctime_from_match(utc_match) if utc_match else None,
        thread=thread,
        priority=priority,
    )
