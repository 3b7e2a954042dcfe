"""Read the start line and headers of one logged SIP message (a `SIPMSG:` block's payload).

The block is the text after `SIPMSG:`: each line starts with a space, the message is framed by
`|` (`|INVITE sip:… SIP/2.0` … `|`). Only the headers are read (never the SDP), at most
MAX_HEADER_LINES of at most MAX_VALUE_CHARS each: junk or huge blocks cost a bounded amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_HEADER_LINES = 300
MAX_VALUE_CHARS = 2000
COMPACT_NAMES = {  # RFC 3261 §7.3.3 compact forms
    "i": "call-id",
    "f": "from",
    "t": "to",
    "v": "via",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
}
_REQUEST_LINE = re.compile(r"^([A-Z][A-Z\-]{1,31}) (\S{1,2000}) SIP/2\.0$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d)(?: (.{0,200}))?$")
_HEADER = re.compile(r"^([A-Za-z][\w.!%*+`'~\-]{0,63})\s*:\s?(.*)$")
_URI = re.compile(r"<([^>]{1,2000})>|^\s*([^;\s]{1,2000})")
_TAG = re.compile(r";\s*tag=([^;\s>]{1,200})", re.IGNORECASE)
_SESSION_SPLIT = re.compile(r";\s*remote\s*=\s*|;")
_UUID = re.compile(r"[0-9a-f]{32}")
_NULL_UUID = "0" * 32
_VIA_TRANSPORT = re.compile(r"SIP/2\.0/([A-Za-z]{2,5})", re.IGNORECASE)


@dataclass(slots=True)
class ParsedSip:
    """The start line and the first value of each header (names lower case, compact expanded)."""

    method: str | None = None
    request_uri: str = ""
    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    via_count: int = 0
    diagnostics: list[str] = field(default_factory=list)  # Reason, Warning, ms-diagnostics


def payload_lines(block: str) -> list[str]:
    """The message lines of a SIPMSG block: leading space and the `|` frame removed."""
    lines = []
    for raw in block.split("\n"):
        line = raw.rstrip("\r")
        if line.startswith(" "):
            line = line[1:]
        if line.strip() == "SIPMSG:":
            continue
        lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and lines[-1].strip() == "|":
        lines.pop()
    if lines and lines[0].startswith("|"):
        lines[0] = lines[0][1:]
    return lines


def parse_sipmsg(block: str) -> ParsedSip:
    """Start line and headers of a SIPMSG block; fields stay empty where the block is junk."""
    parsed = ParsedSip()
    lines = payload_lines(block)
    if not lines:
        return parsed
    start = lines[0].strip()
    request = _REQUEST_LINE.match(start)
    if request:
        parsed.method, parsed.request_uri = request[1], request[2]
    else:
        status = _STATUS_LINE.match(start)
        if status:
            parsed.status, parsed.reason = int(status[1]), (status[2] or "").strip()
    for line in lines[1 : MAX_HEADER_LINES + 1]:
        if not line.strip():
            break  # the empty line before the body
        header = _HEADER.match(line)
        if header is None:
            continue
        name = header[1].lower()
        name = COMPACT_NAMES.get(name, name)
        value = header[2].strip()[:MAX_VALUE_CHARS]
        if name == "via":
            parsed.via_count += value.count("SIP/2.0/") or 1
        if name in ("reason", "warning", "ms-diagnostics", "x-ms-diagnostics"):
            parsed.diagnostics.append(f"{header[1]}: {value}")
        parsed.headers.setdefault(name, value)
    return parsed


def uri_of(value: str) -> str:
    """The URI of a From/To/Contact value (`"Name" <sip:a@b>;tag=x` → `sip:a@b`)."""
    match = _URI.search(value)
    if match is None:
        return ""
    return (match[1] or match[2] or "").strip()


def tag_of(value: str) -> str:
    match = _TAG.search(value)
    return match[1] if match else ""


def transport_of(via: str) -> str:
    match = _VIA_TRANSPORT.search(via)
    return match[1].upper() if match else ""


def session_uuids(value: str) -> tuple[str, ...]:
    """The UUIDs of a Session-ID header (`<uuid>;remote=<uuid>`), lower case, null ones out."""
    if not value:
        return ()
    found = []
    for part in _SESSION_SPLIT.split(value)[:2]:
        uuid = part.strip().lower()
        if uuid != _NULL_UUID and _UUID.fullmatch(uuid):
            found.append(uuid)
    return tuple(found)
