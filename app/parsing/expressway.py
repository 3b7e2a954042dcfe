"""Line grammar of Expressway/VCS logs (loggingsnapshot, remote syslog): one line in, one Event out.

Shapes handled (domain.md §2.4): module lines (`UTCTime` first), event and alarm lines (`UTCTime`
last), Traffic Server bracket lines (`[ET_NET 0] WARNING: …`, `[ET_NET 1]ERROR:SSL …`), ClusterDB
lines without a process tag, the remote-syslog `<PRI>` prefix with a doubled process tag, and the
multi-line `SIPMSG:`/`HTTPMSG:` payloads whose continuation lines `is_continuation` recognises.
The engine calls this only on the rare lines where a signature hit, so clarity beats speed here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app.parsing.events import Event
from app.parsing.linear_regex import compile_linear

_ISO_TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"

# Linear time on any line (no newline inside: `_one_line`). The `re` patterns below are only
# used with `match` (anchored, one attempt) or after a literal (`UTCTime="`), and every
# repetition in them is followed by something its class cannot match (`[\w.\-]*` then `:`,
# `\s+` then `\S`), so a failed attempt gives back each character once: no backtracking blow-up.
# `_FIELD` is searched at every position of a message, which `re` would do in quadratic time on
# a long run of word characters: it runs on RE2 (app/parsing/linear_regex.py).
_PREFIX = re.compile(
    rf"^(?:<(?P<pri>\d{{1,3}})>)?\s*(?P<ts>{_ISO_TS})\s+(?P<host>\S+)(?:\s+(?P<rest>.*))?$"
)
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

    Remote syslog (domain.md §2.4) puts a `<PRI>` before the timestamp and repeats the process
    tag (`tvcs: tvcs: UTCTime=…`, `traffic_server[3936]: traffic_server:[ET_NET 1]…`); both
    are removed, so signature patterns written for the loggingsnapshot read it. Any other
    line is returned unchanged. Plain string work, linear in the line's length.
    """
    start = 0
    if line.startswith("<"):
        close = line.find(">", 1, 5)
        if close > 1 and line[1:close].isdigit():
            start = close + 1
    fields = line[start:].split(" ", 3)  # timestamp, host, process tag, rest
    if len(fields) < 4 or not fields[0][:4].isdigit() or not fields[2].endswith(":"):
        return line[start:] if start else line
    name = fields[2][:-1].split("[", 1)[0]
    rest = fields[3]
    after = _after_tag(rest, name)
    if after is None:
        return line[start:] if start else line
    return f"{fields[0]} {fields[1]} {fields[2]}{rest[after:]}"


def _after_tag(text: str, name: str) -> int | None:
    """Where `text` continues after a leading process tag `name:` or `name[pid]:`, else None."""
    if not name or not text.startswith(name):
        return None
    position = len(name)
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


def _parse_prefix_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def timestamp_of(line: str) -> datetime | None:
    """Best timestamp of a line as an aware datetime: `UTCTime` first, then the syslog prefix."""
    line = _one_line(line)
    match = _UTCTIME.search(line)
    if match:
        found = _utctime_from_match(match)
        if found is not None:
            return found
    prefix = _PREFIX.match(line)
    return _parse_prefix_time(prefix["ts"]) if prefix else None


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
    prefix = _PREFIX.match(line)
    if prefix:
        priority = int(prefix["pri"]) if prefix["pri"] else None
        timestamp = _parse_prefix_time(prefix["ts"])
        host, rest = prefix["host"], prefix["rest"] or ""
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
