"""Read one `Module="network.sip"` log line: a message's summary or its SIPMSG block line.

The summary (`Detail="Receive Request Method=INVITE, CSeq=…, Call-ID=…"`) carries the fields a
SipMessage starts from; the block line (`Msg-Hash="…"`) pairs with its summary and says where
its block was sent or received from (domain.md §2.4 (a), (e)). `read_line` is the C reader of
app._native when built (for a Detail of plain ASCII), else `read_line_in_python`, its
reference; tests/test_native.py checks both answer alike.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from app.calls.sipmsg import session_uuids
from app.native import loops

_LINE = re.compile(
    rb'Module="network\.sip"[ \t]+Level="[A-Za-z]*":?[ \t]+Action="(Received|Sent)"[ \t]+'
    rb'Local-ip="([^"\n]*)"[ \t]+Local-port="([^"\n]*)"[ \t]+'
    rb'(?:Src|Dst)-ip="([^"\n]*)"[ \t]+(?:Src|Dst)-port="([^"\n]*)"[ \t]+'
    rb'(?:Detail="[ \t]*(?:Receive|Sending)[ \t]+(Request|Response)[ \t]*([^"\n]*)"'
    rb'|Msg-Hash="([^"\n]{1,64})")'
)
_PAIR = re.compile(rb"(?:^|,)[ \t]*([A-Za-z][\w\-]*)=([^,]*)")
MAX_METHOD_CHARS = 32
MAX_CALL_ID_CHARS = 300


class SipLine(NamedTuple):
    """A summary's fields, or a block line's (`summary` False: only direction to msg_hash)."""

    summary: bool
    direction: str  # "in" (Received) | "out" (Sent)
    local: str  # "ip:port" of this node
    remote: str  # "ip:port" of the other side
    peer: bytes  # the other side as logged, b"ip:port" (keep-alive rows' key)
    msg_hash: bytes
    is_request: bool = False
    method: str = ""  # upper case, cut at MAX_METHOD_CHARS (for a response: its CSeq's)
    call_id: str = ""  # cut at MAX_CALL_ID_CHARS
    code: int | None = None
    cseq: int | None = None
    request_uri: str = ""
    to_uri: str = ""
    from_tag: str = ""
    to_tag: str = ""
    session_ids: tuple[str, ...] = ()  # Local-SessionID, Remote-SessionID: null ones out


_new_line = tuple.__new__  # (NamedTuple._make checks the length in Python: the C reader's is fixed)


def read_line(block: bytes, at: int, end: int) -> SipLine | None:
    """The SIP line at block[at:end] (`at`: its `Module="network.sip"`); None when it is
    another network.sip line (DNS, TCP, …)."""
    if loops is not None:
        found = loops.sip_line(block, at, end)
        if found is not False:
            return None if found is None else _new_line(SipLine, found)
    return read_line_in_python(block, at, end)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def number(value: bytes | str | None) -> int | None:
    """The value as an int when it is 1 to 10 digits (spaces around allowed), else None."""
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() and len(value) <= 10 else None


def read_line_in_python(block: bytes, at: int, end: int) -> SipLine | None:
    """The reference of read_line: `_LINE`, then the Detail's `Name=value` pairs."""
    match = _LINE.match(block, at, end)
    if match is None:
        return None
    direction = "in" if match[1] == b"Received" else "out"
    local = f"{_text(match[2])}:{_text(match[3])}"
    remote = f"{_text(match[4])}:{_text(match[5])}"
    peer = match[4] + b":" + match[5]
    if match[6] is None:
        return SipLine(False, direction, local, remote, peer, match[8])
    pairs = dict(_PAIR.findall(match[7]))  # (the last of a name wins)
    return SipLine(
        summary=True,
        direction=direction,
        local=local,
        remote=remote,
        peer=peer,
        msg_hash=pairs.get(b"Msg-Hash", b"").strip(),
        is_request=match[6] == b"Request",
        method=_text(pairs.get(b"Method", b"").strip().upper())[:MAX_METHOD_CHARS],
        call_id=_text(pairs.get(b"Call-ID", b"").strip())[:MAX_CALL_ID_CHARS],
        code=number(pairs.get(b"Code")),
        cseq=number(pairs.get(b"CSeq")),
        request_uri=_text(pairs.get(b"Request-URI", b"").strip()),
        to_uri=_text(pairs.get(b"To", b"").strip()),
        from_tag=_text(pairs.get(b"From-Tag", b"").strip()),
        to_tag=_text(pairs.get(b"To-Tag", b"").strip()),
        session_ids=tuple(
            uuid
            for key in (b"Local-SessionID", b"Remote-SessionID")
            for uuid in session_uuids(_text(pairs.get(key, b"")))
        ),
    )
