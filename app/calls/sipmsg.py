"""Read the start line and headers of one logged SIP message (a `SIPMSG:` block's payload).

The block is the text after `SIPMSG:`: each line starts with a space, the message is framed by
`|` (`|INVITE sip:… SIP/2.0` … `|`). Only the headers are read (never the SDP), at most
MAX_HEAD_CHARS of them, values cut at MAX_VALUE_CHARS: junk or huge blocks cost a bounded amount.
`read_head` gives what call flows keep of a block (`Head`): app._native's reader for a head of
plain ASCII, else `read_head_in_python` (parse_sipmsg and the URI, tag and transport readers),
its reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from app.native import loops

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
WANTED_HEADERS = frozenset(  # the headers calls read (matched without regard to case)
    (
        "from",
        "f",
        "to",
        "t",
        "via",
        "v",
        "user-agent",
        "server",
        "session-id",
        "reason",
        "warning",
        "ms-diagnostics",
        "x-ms-diagnostics",
        "call-id",
        "i",
        "cseq",
    )
)
_BLANK = re.compile(r"\n ?\r?\n")
_DIAGNOSTICS = frozenset({"reason", "warning", "ms-diagnostics", "x-ms-diagnostics"})
MAX_HEAD_CHARS = 65_536
_ANGLED_URI = re.compile(r"<([^>]{1,2000})>")
_BARE_URI = re.compile(r"\s*([^;\s]{1,2000})")
_TAG = re.compile(r";\s*tag=([^;\s>]{1,200})", re.IGNORECASE)
_SESSION_SPLIT = re.compile(r";\s*remote\s*=\s*|;")
_UUID = re.compile(r"[0-9a-f]{32}")
_NULL_UUID = "0" * 32
_NULL_SESSIONS = frozenset({_NULL_UUID, f"{_NULL_UUID};remote={_NULL_UUID}"})
_VIA_TRANSPORT = re.compile(r"SIP/2\.0/([A-Za-z]{2,5})", re.IGNORECASE)
_HEAD_END = re.compile(rb"\n ?\r?\n")  # the empty line after a SIP message's headers
MAX_DIAGNOSTICS_CHARS = 2000


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
    """Start line and the headers calls use, from a SIPMSG block; empty fields where it is junk.

    Only the header part (up to the first empty line) is read, a line at a time: a header's
    name is looked up in WANTED_HEADERS (a message's ~15 lines cost less than one expression
    tried at every position of them).
    """
    parsed = ParsedSip()
    frame = block.find("|")
    if frame == -1:
        return parsed
    line_end = block.find("\n", frame)
    start = block[frame + 1 : line_end if line_end != -1 else len(block)].strip()
    request = _REQUEST_LINE.match(start)
    if request:
        parsed.method, parsed.request_uri = request[1], request[2]
    else:
        status = _STATUS_LINE.match(start)
        if status:
            parsed.status, parsed.reason = int(status[1]), (status[2] or "").strip()
    if line_end == -1:
        return parsed
    blank = _BLANK.search(block, line_end)
    head = block[line_end : blank.start() if blank else len(block)][:MAX_HEAD_CHARS]
    parsed.via_count = head.count("SIP/2.0/")
    headers, diagnostics, wanted = parsed.headers, parsed.diagnostics, WANTED_HEADERS
    for line in head.split("\n"):  # a header: ` ?Name[ \t]*:value` (one leading space)
        name, colon, value = line.partition(":")
        if not colon:
            continue
        name = name[1:] if name[:1] == " " else name
        name = name.rstrip(" \t")
        lower = name.lower()
        if lower not in wanted:
            continue
        value = value.strip()[:MAX_VALUE_CHARS]
        lower = COMPACT_NAMES.get(lower, lower)
        if lower in _DIAGNOSTICS:
            diagnostics.append(f"{name}: {value}")
        headers.setdefault(lower, value)
    return parsed


class Head(NamedTuple):
    """What call flows read of a SIPMSG block's start line and headers (see read_head)."""

    method: str | None
    request_uri: str
    status: int | None
    reason: str
    call_id: str  # cut at 300 characters
    cseq: str
    from_uri: str
    from_tag: str
    to_uri: str
    to_tag: str
    transport: str  # of the top Via, upper case
    user_agent: str
    server: str
    diagnostics: str  # Reason / Warning / ms-diagnostics, joined with " | ", cut at 2000
    via_count: int
    session_ids: tuple[str, ...] | None  # of a Session-ID header; None: no such header


_new_head = tuple.__new__  # (NamedTuple._make checks the length in Python: the C reader's is fixed)


def read_head(raw: bytes) -> Head:
    """The Head of a SIPMSG block's first bytes (its SDP never read): the C reader of
    app._native when built and the head is plain ASCII, else read_head_in_python."""
    if loops is not None:
        head = loops.sip_head(raw)
        if head is not None:
            return _new_head(Head, head)
    return read_head_in_python(raw)


def read_head_in_python(raw: bytes) -> Head:
    """The reference of read_head: parse_sipmsg and the URI, tag and transport readers."""
    blank = _HEAD_END.search(raw)
    head = raw[: blank.start() + 1] if blank is not None else raw
    parsed = parse_sipmsg(head.decode("utf-8", errors="replace"))
    headers = parsed.headers
    session = headers.get("session-id")
    return Head(
        method=parsed.method,
        request_uri=parsed.request_uri,
        status=parsed.status,
        reason=parsed.reason,
        call_id=headers.get("call-id", "")[:300],
        cseq=headers.get("cseq", ""),
        from_uri=uri_of(headers.get("from", "")),
        from_tag=tag_of(headers.get("from", "")),
        to_uri=uri_of(headers.get("to", "")),
        to_tag=tag_of(headers.get("to", "")),
        transport=transport_of(headers.get("via", "")),
        user_agent=headers.get("user-agent", ""),
        server=headers.get("server", ""),
        diagnostics=" | ".join(parsed.diagnostics)[:MAX_DIAGNOSTICS_CHARS],
        via_count=parsed.via_count,
        session_ids=session_uuids(session) if session is not None else None,
    )


def uri_of(value: str) -> str:
    """The URI of a From/To/Contact value (`"Name" <sip:a@b>;tag=x` → `sip:a@b`)."""
    angled = _ANGLED_URI.search(value)  # a display name may come first: <…> wins when present
    if angled is not None:
        return angled[1].strip()
    bare = _BARE_URI.match(value)
    return bare[1].strip() if bare is not None else ""


def tag_of(value: str) -> str:
    match = _TAG.search(value)
    return match[1] if match else ""


def transport_of(via: str) -> str:
    match = _VIA_TRANSPORT.search(via)
    return match[1].upper() if match else ""


def session_uuids(value: str) -> tuple[str, ...]:
    """The UUIDs of a Session-ID header (`<uuid>;remote=<uuid>`), lower case, null ones out."""
    if not value or value in _NULL_SESSIONS:
        return ()
    found = []
    for part in _SESSION_SPLIT.split(value)[:2]:
        uuid = part.strip().lower()
        if uuid != _NULL_UUID and _UUID.fullmatch(uuid):
            found.append(uuid)
    return tuple(found)


_CALL_ID_IN_TEXT = re.compile(r"Call-ID\s*[=:]\s*([^\s,\"<>]{1,300})", re.IGNORECASE)


def call_id_in(text: str) -> str:
    """The first Call-ID a log text names (`Call-ID=…` in a summary, `Call-ID: …` in a block)."""
    match = _CALL_ID_IN_TEXT.search(text)
    return match[1] if match else ""
