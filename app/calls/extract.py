"""Take every SIP message out of a log's blocks as the signature engine passes them by.

A `FileExtractor` is fed the same line-aligned blocks the signature scan reads (see
`app.signatures.engine.FileScan(observer=...)`), so the logs are read once. In each block it
looks for `Module="network.sip"` with bytes.find; only those lines are decoded. Per message an
Expressway logs two lines (domain.md §2.4 (a), (e)):

- the summary (`Level="INFO"`): `Action`, `Local-ip`/`-port`, `Src-ip`/`Dst-ip` and ports,
  `Detail="Receive Request Method=INVITE, CSeq=…, Request-URI=…, Call-ID=…, From-Tag=…, To-Tag=…,
  Msg-Hash=…, Local-SessionID=…, Remote-SessionID=…"` (or `Sending Response Code=…`);
- the block line (`Level="DEBUG"`, same `Msg-Hash`), followed by ` SIPMSG:` and the message, each
  line starting with a space, framed by `|`.

They are paired by Msg-Hash; either may be missing (INFO-only logging, a log cut in between).
Memory is bounded: a block keeps at most MAX_BODY_KEEP bytes for its headers (its full extent
in the file is recorded so that pages read it back), keep-alive traffic is only counted (see
`Collector.fold`), and the collector keeps at most `max_messages` messages.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.calls.model import BACKGROUND_METHODS, BackgroundRow, SipMessage
from app.calls.sipmsg import (
    ParsedSip,
    parse_sipmsg,
    session_uuids,
    tag_of,
    transport_of,
    uri_of,
)
from app.parsing.expressway import parse_fields, timestamp_of
from app.report import FileKind

SIP_MODULE = b'Module="network.sip"'
MAX_LINE_CHARS = 16_384  # of a summary line read (no real one is near)
MAX_BODY_KEEP = 65_536  # bytes of a SIPMSG block kept to read its headers
MAX_AWAITING = 512  # summaries waiting for their block (paired by Msg-Hash)
MAX_MESSAGES = 300_000  # per analysis; more are counted, not kept
MAX_BACKGROUND_ROWS = 10_000
OBSERVED_KINDS = frozenset({FileKind.LOGGINGSNAPSHOT, FileKind.LOG})
_BODY_END = re.compile(rb"\n(?! )")  # the end of a line followed by one not starting with a space
_DETAIL = re.compile(r"^\s*(Receive|Sending)\s+(Request|Response)\s*(.*)$", re.DOTALL)
_DETAIL_SPLIT = re.compile(r",\s*(?=[A-Za-z][\w\-]*=)")
_FOLDED = object()
_SUMMARY = re.compile(
    rb'UTCTime="([^"]*)"[^\n]*?Action="(Received|Sent)"\s+Local-ip="([^"]*)"\s+'
    rb'Local-port="([^"]*)"\s+(?:Src|Dst)-ip="([^"]*)"\s+(?:Src|Dst)-port="([^"]*)"\s+'
    rb'Detail="(?:Receive|Sending)\s+(Request|Response)\s*([^"]*)"'
)
_PAIR = re.compile(r"(?:^|,)\s*([A-Za-z][\w\-]*)=([^,]*)")
_WHERE = re.compile(
    rb'Action="(Received|Sent)"\s+Local-ip="([^"]*)"\s+Local-port="([^"]*)"\s+'
    rb'(?:Src|Dst)-ip="([^"]*)"\s+(?:Src|Dst)-port="([^"]*)"'
)
_HASH = re.compile(rb'Msg-Hash="([^"]{1,64})"')
_START = re.compile(rb"\|(?:SIP/2\.0 ([1-6]\d\d)|[A-Z][A-Z\-]* )")
_CSEQ = re.compile(rb"\n ?CSeq:[ \t]*(\d{1,10})[ \t]+([A-Za-z]{1,32})", re.IGNORECASE)
_CALL_ID = re.compile(rb"\n ?(?:Call-ID|i):[ \t]*([^\r\n]{1,300})", re.IGNORECASE)


def utc_time(value: str) -> datetime | None:
    """`2018-01-01 17:56:48,964` (UTC; the part after the comma in milliseconds) → datetime."""
    try:
        base, _, millis = value.strip().partition(",")
        when = datetime.fromisoformat(base).replace(tzinfo=UTC)
    except ValueError:
        return None
    if millis.isdigit():
        micro = int(millis) * 1000 if len(millis) <= 3 else int(millis[:6].ljust(6, "0"))
        when = when.replace(microsecond=micro)
    return when


def parse_detail(detail: str) -> tuple[str, dict[str, str]] | None:
    """`Receive Request Method=INVITE, CSeq=100, …` → ("Request", {"Method": "INVITE", …})."""
    match = _DETAIL.match(detail)
    if match is None:
        return None
    pairs: dict[str, str] = {}
    for part in _DETAIL_SPLIT.split(match[3]):
        key, sep, value = part.partition("=")
        if sep:
            pairs.setdefault(key.strip(), value.strip())
    return match[2], pairs


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() and len(value) <= 10 else None


@dataclass(slots=True)
class _OpenBody:
    """A SIPMSG block being read (it may cross blocks); `parts` hold its first bytes."""

    target: SipMessage | object | None  # the message it belongs to, _FOLDED, or None (new)
    header: dict[str, str]
    header_line: int
    header_text: str
    offset: int = -1  # file offset of the block's first byte
    length: int = 0
    kept: int = 0
    parts: list[bytes] = field(default_factory=list)


class Collector:
    """Messages and keep-alive counters of every file of an analysis, by file name."""

    def __init__(self, *, max_messages: int = MAX_MESSAGES) -> None:
        self.max_messages = max_messages
        self.messages: dict[str, list[SipMessage]] = {}
        self.background: dict[tuple[str, str, str], BackgroundRow] = {}
        self.invite_call_ids: set[str] = set()
        self.kept = 0
        self.dropped = 0  # messages past max_messages
        self.background_overflow = 0

    def observer(self, file_name: str, kind: FileKind) -> FileExtractor | None:
        """A fresh extractor for a file of `kind` (None when such files hold no SIP lines)."""
        if kind not in OBSERVED_KINDS:
            return None
        self.forget(file_name)
        self.messages[file_name] = []
        return FileExtractor(self, file_name)

    def forget(self, file_name: str) -> None:
        """Drop what a file gave (it is scanned again, or its unpacking was abandoned)."""
        self.kept -= len(self.messages.pop(file_name, []))
        for key in [key for key in self.background if key[0] == file_name]:
            del self.background[key]

    def is_background(self, message: SipMessage) -> bool:
        return self.folds(message.method or message.cseq_method, message.call_id)

    def keep(self, message: SipMessage) -> bool:
        """Keep a call's message; False when the budget is spent (the message is counted)."""
        if self.kept >= self.max_messages:
            self.dropped += 1
            return False
        self.kept += 1
        self.messages[message.file].append(message)
        return True

    def fold(self, message: SipMessage) -> None:
        """Count a keep-alive message in its (file, peer, method) row."""
        method = message.method or message.cseq_method or "?"
        self.count(message.file, message.remote, method, message.status, message.time, message.line)

    def count(
        self,
        file: str,
        peer: str,
        method: str,
        status: int | None,
        when: datetime | None,
        line: int,
    ) -> None:
        """Count one keep-alive message of `file` with `peer` in its row."""
        key = (file, peer, method)
        row = self.background.get(key)
        if row is None:
            if len(self.background) >= MAX_BACKGROUND_ROWS:
                self.background_overflow += 1
                return
            row = self.background[key] = BackgroundRow(
                node="", file=file, peer=peer, method=method, line=line
            )
        row.count += 1
        if status is not None:
            code = str(status)
            row.statuses[code] = row.statuses.get(code, 0) + 1
            if status >= 300 and status not in (401, 407):
                row.failures += 1
        if when is not None:
            if row.first is None or when < row.first:
                row.first = when
            if row.last is None or when > row.last:
                row.last = when

    def folds(self, method: str, call_id: str) -> bool:
        """Whether a message of `method` with `call_id` is keep-alive traffic (counted only)."""
        if method == "INVITE":
            self.invite_call_ids.add(call_id)
            return False
        return method in BACKGROUND_METHODS and call_id not in self.invite_call_ids

    def warnings(self) -> list[str]:
        notes = []
        if self.dropped:
            notes.append(
                f"Call flows: {self.dropped} SIP messages past the first {self.max_messages} "
                "were counted but not kept; their calls may look incomplete."
            )
        if self.background_overflow:
            notes.append(
                f"Call flows: {self.background_overflow} keep-alive messages with peers past "
                f"the first {MAX_BACKGROUND_ROWS} were not counted."
            )
        return notes


class FileExtractor:
    """Reads the SIP messages of one file from its blocks, in file order (an engine observer)."""

    def __init__(self, collector: Collector, file_name: str) -> None:
        self.collector = collector
        self.file_name = file_name
        self.offset = 0  # file offset of the block being fed
        self.body: _OpenBody | None = None
        self.awaiting: OrderedDict[str, SipMessage | object] = OrderedDict()

    def feed(self, block: bytes, lines_before: int) -> None:
        """One line-aligned block; `lines_before`: newlines in the blocks before it."""
        pos = self._read_body(block, 0) if self.body is not None else 0
        counted_to, line_no = 0, lines_before + 1
        find = block.find
        while (hit := find(SIP_MODULE, pos)) != -1:
            start = block.rfind(b"\n", 0, hit) + 1
            end = find(b"\n", hit)
            end = len(block) if end == -1 else end
            line_no += block.count(b"\n", counted_to, start)
            counted_to = start
            pos = end + 1
            if start < len(block) and block[start] in b" \t|":
                continue  # quoted inside a payload, not a log line
            self._header_line(block[start : min(end, start + MAX_LINE_CHARS)], line_no)
            if self.body is not None:
                pos = self._read_body(block, pos)
        self.offset += len(block)

    def close(self) -> None:
        """End of the file: a block cut by the end of the log is read as far as it goes."""
        if self.body is not None:
            self._finish_body()
        self.awaiting.clear()

    def _header_line(self, raw: bytes, line_no: int) -> None:
        """A `network.sip` line: a summary (message), a block line (same Msg-Hash), or other."""
        fast = _SUMMARY.search(raw)
        if fast is not None:  # the usual summary line, read with one expression
            utc, action, lip, lport, rip, rport, kind, rest = (
                group.decode("utf-8", errors="replace") for group in fast.groups()
            )
            header = {
                "direction": "in" if action == "Received" else "out",
                "local": f"{lip}:{lport}",
                "remote": f"{rip}:{rport}",
            }
            pairs = dict(_PAIR.findall(rest))
            self._summary(header, kind, pairs, utc_time(utc), line_no, raw)
            return
        if b'Detail="' not in raw:
            found = _HASH.search(raw)
            if found is not None:  # a block line: what its summary became says what to do
                target = self.awaiting.pop(found[1].decode("ascii", errors="replace"), None)
                if target is not None:
                    self.body = _OpenBody(target, {}, line_no, "")
                    return
                where = _WHERE.search(raw)
                if where is not None:  # its summary was not logged: the block tells all
                    action, lip, lport, rip, rport = (
                        group.decode("utf-8", errors="replace") for group in where.groups()
                    )
                    header = {
                        "direction": "in" if action == "Received" else "out",
                        "local": f"{lip}:{lport}",
                        "remote": f"{rip}:{rport}",
                    }
                    text = raw.decode("utf-8", errors="replace")
                    self.body = _OpenBody(None, header, line_no, text)
                    return
        self._other_line(raw.decode("utf-8", errors="replace").rstrip("\r"), line_no)

    def _other_line(self, text: str, line_no: int) -> None:
        """Any other form (fields in another order, a block line without its summary)."""
        fields = parse_fields(text)
        action = fields.get("Action")
        if action not in ("Received", "Sent"):
            return
        incoming = action == "Received"
        side = "Src" if incoming else "Dst"
        header = {
            "direction": "in" if incoming else "out",
            "local": f"{fields.get('Local-ip', '')}:{fields.get('Local-port', '')}",
            "remote": f"{fields.get(side + '-ip', '')}:{fields.get(side + '-port', '')}",
        }
        detail = parse_detail(fields["Detail"]) if "Detail" in fields else None
        if detail is not None:
            kind, pairs = detail
            pairs.setdefault("Msg-Hash", fields.get("Msg-Hash", ""))
            self._summary(header, kind, pairs, timestamp_of(text), line_no, b"")
            return
        self.body = _OpenBody(None, header, line_no, text)

    def _summary(
        self,
        header: dict[str, str],
        kind: str,
        pairs: dict[str, str],
        when: datetime | None,
        line_no: int,
        raw: bytes,
    ) -> None:
        msg_hash = pairs.get("Msg-Hash", "")
        method = pairs.get("Method", "").upper()
        target: SipMessage | object
        if self.collector.folds(method, pairs.get("Call-ID", "")):
            status = None if kind == "Request" else _int(pairs.get("Code"))
            self.collector.count(self.file_name, header["remote"], method, status, when, line_no)
            target = _FOLDED
        else:
            message = self._from_summary(when, line_no, header, kind, pairs, msg_hash)
            target = message if self.collector.keep(message) else _FOLDED
        if msg_hash:
            self.awaiting[msg_hash] = target
            while len(self.awaiting) > MAX_AWAITING:
                self.awaiting.popitem(last=False)
        self.body = _OpenBody(target, header, line_no, "")

    def _from_summary(
        self,
        when: datetime | None,
        line_no: int,
        header: dict[str, str],
        kind: str,
        pairs: dict[str, str],
        msg_hash: str,
    ) -> SipMessage:
        method = pairs.get("Method", "").upper()
        is_request = kind == "Request"
        sessions = tuple(
            uuid
            for name in ("Local-SessionID", "Remote-SessionID")
            for uuid in session_uuids(pairs.get(name, ""))
        )
        return SipMessage(
            time=when,
            file=self.file_name,
            line=line_no,
            direction=header["direction"],
            local=header["local"],
            remote=header["remote"],
            call_id=pairs.get("Call-ID", "")[:300],
            cseq=_int(pairs.get("CSeq")),
            cseq_method=method,
            method=method if is_request else None,
            status=None if is_request else _int(pairs.get("Code")),
            request_uri=pairs.get("Request-URI", ""),
            to_uri=pairs.get("To", ""),
            from_tag=pairs.get("From-Tag", ""),
            to_tag=pairs.get("To-Tag", ""),
            session_ids=sessions,
            msg_hash=msg_hash,
        )

    def _place(self, message: SipMessage) -> SipMessage | object:
        """Keep or fold a new message; what its block (if any) should be attached to."""
        if self.collector.is_background(message):
            self.collector.fold(message)
            return _FOLDED
        return message if self.collector.keep(message) else _FOLDED

    def _read_body(self, block: bytes, pos: int) -> int:
        """Go on reading the open SIPMSG block from `pos`; the position after it."""
        body = self.body
        assert body is not None
        if pos >= len(block):
            return pos  # the next block says whether a SIPMSG block follows
        if block[pos] != 0x20:  # the next line is a log line: the block has ended (or none)
            self._finish_body()
            return pos
        if body.offset < 0:
            body.offset = self.offset + pos
        match = _BODY_END.search(block, pos)
        stop = match.start() + 1 if match is not None and match.start() < len(block) - 1 else None
        piece_end = stop if stop is not None else len(block)
        body.length += piece_end - pos
        if body.kept < MAX_BODY_KEEP and body.target is not _FOLDED:
            piece = block[pos : min(piece_end, pos + MAX_BODY_KEEP - body.kept)]
            body.parts.append(piece)
            body.kept += len(piece)
        if stop is None:
            return len(block)
        self._finish_body()
        return stop

    def _finish_body(self) -> None:
        body, self.body = self.body, None
        if body is None or body.target is _FOLDED:
            return
        if body.offset < 0:  # no SIPMSG block followed the line
            return
        raw = b"".join(body.parts)
        message = body.target
        if not isinstance(message, SipMessage) and self._fold_block(body, raw):
            return
        parsed = parse_sipmsg(raw.decode("utf-8", errors="replace"))
        if not isinstance(message, SipMessage):
            message = self._from_block(body, parsed)
            if message is None:
                return
            if self._place(message) is _FOLDED:
                return
        headers = parsed.headers
        message.line = body.header_line
        message.body_offset, message.body_length = body.offset, body.length
        message.call_id = message.call_id or headers.get("call-id", "")
        if message.status is not None and parsed.reason:
            message.reason = parsed.reason
        if message.method is not None and parsed.request_uri:
            message.request_uri = parsed.request_uri
        message.from_uri = uri_of(headers.get("from", "")) or message.from_uri
        message.from_tag = message.from_tag or tag_of(headers.get("from", ""))
        message.to_uri = uri_of(headers.get("to", "")) or message.to_uri
        message.to_tag = message.to_tag or tag_of(headers.get("to", ""))
        message.transport = transport_of(headers.get("via", ""))
        agent = headers.get("user-agent" if message.method else "server", "")
        message.user_agent = agent or headers.get("user-agent", "") or headers.get("server", "")
        message.reason_header = " | ".join(parsed.diagnostics)[:2000]
        message.via_count = parsed.via_count
        if "session-id" in headers:
            extra = session_uuids(headers["session-id"])
            message.session_ids = tuple(dict.fromkeys((*message.session_ids, *extra)))

    def _fold_block(self, body: _OpenBody, raw: bytes) -> bool:
        """Count a block logged without its summary if it is keep-alive traffic (read from a
        peek at its start line, CSeq and Call-ID: no full parse); True when counted."""
        start = _START.search(raw, 0, 400)
        cseq = _CSEQ.search(raw)
        if start is None or cseq is None:
            return False
        method = cseq[2].decode("ascii", errors="replace").upper()
        call_id = _CALL_ID.search(raw)
        if not self.collector.folds(
            method, call_id[1].decode("utf-8", "replace").strip() if call_id else ""
        ):
            return False
        status = int(start[1]) if start[1] else None
        when = timestamp_of(body.header_text)
        self.collector.count(
            self.file_name, body.header["remote"], method, status, when, body.header_line
        )
        return True

    def _from_block(self, body: _OpenBody, parsed: ParsedSip) -> SipMessage | None:
        """A message logged with its block but without a summary line (read from the block)."""
        if parsed.method is None and parsed.status is None:
            return None
        cseq_number, _, cseq_method = parsed.headers.get("cseq", "").partition(" ")
        return SipMessage(
            time=timestamp_of(body.header_text),
            file=self.file_name,
            line=body.header_line,
            direction=body.header["direction"],
            local=body.header["local"],
            remote=body.header["remote"],
            call_id=parsed.headers.get("call-id", "")[:300],
            cseq=_int(cseq_number),
            cseq_method=(cseq_method.strip().upper() or (parsed.method or ""))[:32],
            method=parsed.method,
            status=parsed.status,
        )
