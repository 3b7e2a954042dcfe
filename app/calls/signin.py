"""MRA sign-in requests: the HTTP(S) messages an Expressway logs while a client signs in.

Read from the same line-aligned blocks the signature scan reads (an engine observer, like
`app.calls.extract`), so the logs are read once. Only the line forms public Cisco documents
show are read (domain.md §2.4 (d), §4.3):

- Traffic Server (Exp-E and Exp-C), doc 225746 and doc 117811:
  `traffic_server[2030]: UTCTime="…" Module="network.http.trafficserver" Level="DEBUG":
  Detail="Sending Request" Txn-id="3028" TrackingID="…" Dst-ip="…" Dst-port="6972"` then
  `HTTPMSG:` and the message framed by `|`, its lines starting with a space (or, in the tech
  notes' flattened copies, `HTTPMSG: |HTTP/1.1 403 Forbidden …` on the same line);
  `Detail="Sending Response"` likewise; the `Received` forms are read the same way.
- Traffic Server events (doc 117811): `Event="Sending HTTP error response" Status="403"
  Reason="Forbidden" Dst-ip="…" Dst-port="…"`.
- Edge config provisioning on the Exp-C (doc 211304): `edgeconfigprovisioning UTCTime="…"
  Module="network.http.edgeconfigprovisioning" Level="DEBUG" Action="Received"
  Request-url="https://…:8443/cucm-uds/user/…/devices" HTTPMSG: |HTTP/1.1 401 Unauthorized …`,
  and `Module="developer.edgeconfigprovisioning.server" … Detail="Failed to authenticate user
  against server" Username="…" Server="('https', '…', 8443)"` (kept as a note).

What is kept of a message is what a sign-in view needs: time, node, direction, peer, method,
the URL path with every sensitive query value redacted, status and reason, the Host,
User-Agent, Client-ip/X-Forwarded-For and TrackingID headers. Authorization, Cookie and token
values are never kept (a Set-Cookie keeps its attributes, its value redacted). Memory is
bounded: at most MAX_BLOCK_KEEP bytes of a block are read for its headers, at most
`max_messages` messages are kept per analysis (more are counted).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

from app.calls.construct import slot_maker
from app.calls.extract import Seconds
from app.calls.interning import shared_text, slot_descriptors
from app.calls.occurrences import Occurrences
from app.calls.signin_model import SHARED_HTTP_FIELDS, HttpMessage
from app.native import loops
from app.report import FileKind
from app.signatures.engine import BlockObserver, Observe
from app.signatures.newlines import Newlines

_BLOCK_LINE_STARTS = b" \t|"  # the first bytes of an HTTPMSG block's lines (a log line: any other)
MAX_BLOCK_KEEP = 16_384  # bytes of an HTTPMSG block read for its start line and headers
MAX_MESSAGES = 50_000  # per analysis; more are counted, not kept
MAX_PATH = 512  # characters of a (redacted) URL path kept
MAX_VALUE = 200  # characters of a header value kept
MAX_PAIRED = 4096  # requests per file remembered to pair their responses (RecentRequests)
OBSERVED_KINDS = frozenset({FileKind.LOGGINGSNAPSHOT, FileKind.LOG})
REDACTED = "REDACTED"

_MODULE = b'Module="'
_KINDS = (  # a line is read when its head holds one of these (see SigninReader._line)
    b'network.http.trafficserver"',  # the lines of one message each: after _MODULE, counted
    b'network.http.edgeconfigprovisioning"',  # once the budget is spent
    b"Sending HTTP error response",
    b"Failed to authenticate user",
)
_COUNTED_KINDS = 2  # the first _KINDS, counted after _MODULE
NEEDLES = _KINDS  # (BlockObserver `needles`: in the order app._native.signin_marks takes them)
_FINDER = Occurrences(_KINDS)
# a field's value with the spaces around it (stripped by _fields): one span, so that a value
# of spaces without its closing quote costs one pass, not one per split of the spaces
_FIELD = re.compile(r'([A-Za-z][\w\-]{0,40})=[ \t]*"([^"\n]{0,2048})"')
_PREFIX_TIME = re.compile(
    r"(?:<\d{1,3}>\s*)?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:?\d\d)?)"
)
_BLOCK_END = re.compile(rb"\n(?![ \t|]|HTTPMSG:)")  # a line break before a line of the log
_TS_FAST = re.compile(  # doc 225746's form, in its field order (anything else: the slow path)
    r'UTCTime="(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(,\d{1,6})?"[ \t]+'
    r'Module="network\.http\.trafficserver"[ \t]+Level="[A-Za-z]{0,12}":?[ \t]+'
    r'Detail="(Sending|Received) (Request|Response)"[ \t]+Txn-id="([^"\n]{0,40})"'
    r'(?:[ \t]+TrackingID="([^"\n]{0,80})")?[ \t]+(?:Src|Dst)-ip="([^"\n]{0,64})"[ \t]+'
    r'(?:Src|Dst)-port="([^"\n]{0,8})"'
)
_DETAIL = re.compile(r"(Sending|Received)[ \t]+(Request|Response)")
_REQUEST_LINE = re.compile(r"\|?[ \t]*([A-Z]{3,12})[ \t]+(\S{1,8192})[ \t]+HTTP/\d(?:\.\d)?")
_STATUS_LINE = re.compile(r"\|?[ \t]*HTTP/\d(?:\.\d)?[ \t]+(\d{3})(?:[ \t]+([^\r\n]*))?")
_INLINE_HEADER = re.compile(r"\s[A-Z][A-Za-z\-]{1,40}:(?:\s|$)")
_SERVER = re.compile(r"\(\s*'([a-z]{2,8})'\s*,\s*'([^']{1,255})'\s*,\s*(\d{1,5})\s*\)")
_UDS_USER = re.compile(r"/cucm-uds/(?:private/)?users?/([^/?#]{1,128})")
# a JWT (three dot-separated runs, the first from `eyJ`): matched from the start of a run of
# word characters (the part before its first `eyJ` kept), tried once per run, not once per
# `eyJ` in it (a path of `eyJeyJeyJ…` cost one pass of the run per `eyJ`)
_JWT = re.compile(r"(?<![\w\-])((?>[\w\-]*?eyJ(?=[\w\-]{4})))[\w\-]*+\.[\w\-]{4,}+\.[\w\-]*+")
_SENSITIVE = re.compile(
    r"token|pass|pwd|secret|auth|code|assert|saml|session|key|sig|ticket|cookie|cred|jwt|nonce",
    re.IGNORECASE,
)
_KEPT_HEADERS = {
    "host": "host",
    "user-agent": "user_agent",
    "client-ip": "client_ip",
    "x-forwarded-for": "forwarded_for",
    "trackingid": "tracking_id",
    "server": "server",
    "content-type": "content_type",
    "www-authenticate": "www_authenticate",
    "location": "location",
    "set-cookie": "set_cookie",
}


def redact_url(url: str) -> str:
    """The path and query of `url` (any scheme and host dropped), every sensitive query value
    (token, password, code, SAML, signature, …) replaced by REDACTED; bounded in length."""
    text = url.strip()
    scheme = text.find("://")
    if scheme != -1 and scheme < 12:
        slash = text.find("/", scheme + 3)
        text = text[slash:] if slash != -1 else "/"
    path, question, query = text.partition("?")
    path, _, _fragment = path.partition("#")
    path = _JWT.sub(_redact_jwt, path)  # a token carried in the path itself
    if not question:
        return path[:MAX_PATH]
    parts = []
    for pair in query.split("&")[:64]:
        name, equals, value = pair.partition("=")
        if equals and value and _SENSITIVE.search(unquote(name)):
            value = REDACTED
        parts.append(f"{name}{equals}{value}")
    return f"{path}?{'&'.join(parts)}"[:MAX_PATH]


def _redact_jwt(match: re.Match[str]) -> str:
    return match[1][:-3] + REDACTED  # the run's characters before `eyJ` stay


def _fields(text: str, start: int = 0) -> dict[str, str]:
    """The `Name="value"` fields of a line from `start`, values stripped of spaces and tabs."""
    return {name: value.strip(" \t") for name, value in _FIELD.findall(text, start)}


def redact_cookie(value: str) -> str:
    """`X-Auth=1e11…; Expires=…; Domain=.example.com` → `X-Auth=REDACTED; Expires=…; …`."""
    first, sep, rest = value.partition(";")
    name, equals, _secret = first.partition("=")
    head = f"{name.strip()}={REDACTED}" if equals else REDACTED
    return (head + sep + rest)[:MAX_VALUE]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def utc_time(value: str) -> datetime | None:
    """`2014-09-25 17:46:20,92` (UTC) → datetime; a short fraction is milliseconds (doc 211304
    writes 920 ms as `,92`)."""
    base, _, fraction = value.strip().partition(",")
    try:
        when = datetime.fromisoformat(base).replace(tzinfo=UTC)
    except ValueError:
        return None
    if fraction.isdigit():  # milliseconds, possibly short ("92" in doc 211304 reads 920 ms)
        when = when.replace(microsecond=int(fraction[:6].ljust(3, "0").ljust(6, "0")))
    return when


def prefix_time(value: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _address(ip: str, port: str) -> str:
    ip, port = ip.strip()[:64], port.strip()[:8]
    if not ip:
        return ""
    return f"{ip}:{port}" if port else ip


def _url_peer(url: str) -> str:
    """`https://10.1.1.1:8443/cucm-uds/…` → `10.1.1.1:8443`."""
    scheme = url.find("://")
    if scheme == -1:
        return ""
    rest = url[scheme + 3 :]
    for stop in "/?#":
        rest = rest.split(stop, 1)[0]
    return rest.rsplit("@", 1)[-1][:80]


def _uds_user(path: str) -> str:
    match = _UDS_USER.search(path)
    return unquote(match[1])[:64] if match else ""


_SHARED_SLOTS = slot_descriptors(HttpMessage, SHARED_HTTP_FIELDS)  # (for signin_run)
_MAKER = slot_maker(HttpMessage, 12)  # signin_run makes its messages itself (app.calls.construct)

FastLine = tuple[str, str, bool, bool, str, str, str]
"""A Traffic Server line of doc 225746's form: (UTCTime's second, its `,fraction` or "",
received, request, Txn-id, TrackingID or "", peer address)."""


def fast_line(raw: bytes) -> FastLine | None:
    """`raw`'s fields when it is a Traffic Server line of doc 225746's form with no HTTPMSG
    on it (None: read the slow way): the C reader of app._native when built, for a line of
    plain ASCII, else fast_line_in_python."""
    if loops is not None:
        found = loops.signin_line(raw)
        if found is not False:
            return found  # type: ignore[no-any-return]
    return fast_line_in_python(raw)


def fast_line_in_python(raw: bytes) -> FastLine | None:
    """The reference of fast_line: `_TS_FAST` over the decoded line."""
    line = raw.decode("utf-8", errors="replace")
    if "HTTPMSG:" in line or 'network.http.trafficserver"' not in line:
        return None
    fast = _TS_FAST.search(line)
    return _fast_fields(fast) if fast is not None else None


def _fast_fields(fast: re.Match[str]) -> FastLine:
    return (
        fast[1],
        fast[2] or "",
        fast[3] == "Received",
        fast[4] == "Request",
        fast[5],
        fast[6] or "",
        _address(fast[7], fast[8]),
    )


@dataclass(frozen=True, slots=True)
class _Marked:
    """What SigninReader.prepare found in a block: how many message lines
    (`Module="network.http.trafficserver"` or `…edgeconfigprovisioning"`) it holds and, unless
    only those are wanted (the budget is spent), the starts of the log lines that may be
    sign-in lines (ascending) and the newlines before each."""

    counted: int
    starts: list[int] | None = None
    counter: Newlines | None = None
    ticket: int = 0  # the counter's ticket of `starts`

    @property
    def newlines(self) -> list[int]:
        """The newlines before each of `starts` (asked of the counter, answered by now)."""
        return self.counter.answer(self.ticket) if self.counter is not None else []


_UNMARKED = _Marked(0, [])


def mark_block(
    block: bytes,
    newlines: Newlines | None = None,
    *,
    lines: bool = True,
    found: Mapping[bytes, bytes] | None = None,
) -> _Marked:
    """The block's possible sign-in lines (one pass for every marker, see _Marked); with
    `lines` False only the message lines are counted. The C loop of app._native when built
    (the GIL released), else mark_block_in_python. `found`: the offsets of the markers
    (NEEDLES) the matcher found in the block (BlockObserver `needles`), taken instead of a
    pass of its own when it holds all of them."""
    if loops is None:
        return mark_block_in_python(block, newlines, lines=lines)
    given = None
    if found is not None and all(needle in found for needle in NEEDLES):
        given = tuple(found[needle] for needle in NEEDLES)
    counted, starts = loops.signin_marks(block, lines, given)
    if starts is None:
        return _Marked(counted)
    if not starts:
        return _UNMARKED if not counted else _Marked(counted, [])
    counter = newlines if newlines is not None else Newlines(block)
    return _Marked(counted, starts, counter, counter.ask(starts))


def mark_block_in_python(
    block: bytes, newlines: Newlines | None = None, *, lines: bool = True
) -> _Marked:
    """The reference of mark_block: one Occurrences pass, then the lines' starts in Python."""
    found = _FINDER.find(block)
    if not found:
        return _UNMARKED
    skip, startswith = len(_MODULE), block.startswith
    counted = sum(
        1
        for index, at in found
        if index < _COUNTED_KINDS and at >= skip and startswith(_MODULE, at - skip)
    )
    if not lines:
        return _Marked(counted)
    rfind = block.rfind
    starts: list[int] = []  # offsets ascending: each byte of the block looked at once
    line_start, searched_to = 0, 0
    for at in sorted({at for _, at in found}):
        if at > searched_to:
            line_start = max(line_start, rfind(b"\n", searched_to, at) + 1)
            searched_to = at
        if not starts or starts[-1] != line_start:
            starts.append(line_start)
    ordered = [s for s in starts if block[s : s + 1] not in (b" ", b"\t", b"|")]
    counter = newlines if newlines is not None else Newlines(block)
    return _Marked(counted, ordered, counter, counter.ask(ordered))


@dataclass(slots=True)
class _Open:
    """An HTTPMSG block being read (it may cross blocks)."""

    message: HttpMessage | None
    kept: int = 0
    parts: list[bytes] = field(default_factory=list)
    framed: bool = False  # a line with `|` was seen


class SigninCollector:
    """The sign-in messages of every file of an analysis, by file name (thread-safe budget)."""

    def __init__(self, *, max_messages: int = MAX_MESSAGES) -> None:
        self.max_messages = max_messages
        self.messages: dict[str, list[HttpMessage]] = {}
        self.kept = 0
        self.dropped = 0
        self._lock = threading.Lock()
        self.shared = shared_text()  # the kept messages' text, one str per value (interning)

    def observer(self, file_name: str, kind: FileKind) -> SigninReader | None:
        if kind not in OBSERVED_KINDS:
            return None
        with self._lock:
            self.kept -= len(self.messages.pop(file_name, []))
            self.messages[file_name] = []
        return SigninReader(self, file_name)

    @property
    def full(self) -> bool:
        """The budget is spent: further messages are counted, not read."""
        return self.kept >= self.max_messages

    def drop(self, count: int = 1) -> None:
        with self._lock:
            self.dropped += count

    def reserve(self, wanted: int) -> int:
        """Room for up to `wanted` messages, counted as kept at once (the caller keeps them
        in `messages` itself, interned, and gives back what it did not use)."""
        with self._lock:
            granted = max(0, min(wanted, self.max_messages - self.kept))
            self.kept += granted
            return granted

    def give_back(self, unused: int) -> None:
        with self._lock:
            self.kept -= unused

    def keep(self, message: HttpMessage) -> bool:
        with self._lock:
            if self.kept >= self.max_messages:
                self.dropped += 1
                return False
            self.kept += 1
            message.share_text(self.shared)
            self.messages.setdefault(message.file, []).append(message)
            return True

    def all_messages(self) -> list[HttpMessage]:
        return [m for messages in self.messages.values() for m in messages]

    def warnings(self) -> list[str]:
        if not self.dropped:
            return []
        return [
            f"MRA sign-ins: {self.dropped} HTTP log lines past the first {self.max_messages} "
            "messages were counted, not read; later sign-in attempts may look incomplete."
        ]


class RecentRequests:
    """A file's last requests by key (a Txn-id, or an edge config line's URL), so that a
    response finds its request: at least `limit` // 2 and at most `limit` of them.

    Two generations of plain dicts: a key is put in `young`; once `young` holds `generation`
    keys it becomes `old` (the old one is dropped). A key is looked up in `young`, then in
    `old`. An OrderedDict evicting its oldest key at each request past the limit cost 12-17 ms
    per 50,000 requests, with the GIL held, in the scanning thread (app._native.signin_run puts
    and looks up in these dicts itself)."""

    __slots__ = ("generation", "old", "young")

    def __init__(self, limit: int | None = None) -> None:
        self.generation = max(1, (MAX_PAIRED if limit is None else limit) // 2)
        self.young: dict[str, HttpMessage] = {}
        self.old: dict[str, HttpMessage] = {}

    def put(self, key: str, request: HttpMessage) -> None:
        self.young[key] = request
        if len(self.young) >= self.generation:
            self.rotate()

    def rotate(self) -> None:
        """`young` becomes `old`, the old one dropped (called by signin_run too)."""
        self.old, self.young = self.young, {}

    def get(self, key: str) -> HttpMessage | None:
        found = self.young.get(key)
        return found if found is not None else self.old.get(key)

    def clear(self) -> None:
        self.young, self.old = {}, {}


class SigninReader:
    """Reads the sign-in messages of one file from its blocks, in file order. Its `needles`:
    the matcher finds the markers of sign-in lines for `prepare` where it can."""

    needles = NEEDLES

    def __init__(self, collector: SigninCollector, file_name: str) -> None:
        self.collector = collector
        self.file_name = file_name
        self.open: _Open | None = None
        self.requests = RecentRequests()  # txn / url → request
        self.last: HttpMessage | None = None
        self.last_note: tuple[str, str, datetime | None] | None = None
        self.seconds = Seconds()  # UTCTime second → datetime
        self._consts = (file_name, "trafficserver", "in", "out", "?", "")  # (for signin_run)

    def prepare(
        self,
        block: bytes,
        newlines: Newlines | None = None,
        found: Mapping[bytes, bytes] | None = None,
    ) -> _Marked:
        """The block's possible sign-in lines, numbered (runs in a matcher thread; only the
        message lines are counted once the budget is spent, which stays so); `found`: see
        BlockObserver."""
        return mark_block(block, newlines, lines=not self.collector.full, found=found)

    def feed(self, block: bytes, lines_before: int, prepared: object = None) -> None:
        marked = prepared if isinstance(prepared, _Marked) else mark_block(block)
        if self.collector.full:  # the budget is spent: count the block's lines, read nothing
            unfinished = self.open is not None and self.open.message is not None
            self.collector.drop(unfinished + marked.counted)
            self.open = _Open(None)  # a block running on into the next is skipped there
            return
        if marked.starts is None:  # (prepared when the budget was spent)
            marked = mark_block(block)
        starts = marked.starts if marked.starts is not None else []
        numbers = marked.newlines
        pos = self._continue(block, 0) if self.open is not None else 0
        size, startswith = len(block), block.startswith
        index, count = 0, len(starts)
        while index < count:
            if self.open is None and loops is not None and not self.collector.full:
                index, pos = self._run(block, starts, numbers, index, pos, lines_before)
                if index >= count:
                    break
            start, newlines = starts[index], numbers[index]
            index += 1
            if start < pos:
                continue  # inside the HTTPMSG block just read
            line_no = lines_before + newlines + 1
            end = block.find(b"\n", start)
            end = size if end == -1 else end
            raw = block[start:end].rstrip(b"\r")
            after = end + 1
            if (  # the common case: a Traffic Server line, a log line after it (no HTTPMSG)
                self.open is None
                and after < size
                and block[after] not in _BLOCK_LINE_STARTS
                and not startswith(b"HTTPMSG:", after)
                and not self.collector.full
                and (fast := fast_line(raw)) is not None
            ):
                self._keep_fast(fast, line_no)
                pos = after
                continue
            self._line(raw, line_no)
            pos = self._continue(block, after) if self.open is not None else after
        if self.open is not None and pos < len(block):
            self._continue(block, pos)

    def close(self) -> None:
        """End of the file: a block cut by the end of the log is read as far as it goes."""
        if self.open is not None:
            self._finish(cut=True)
        self.requests.clear()

    def _run(
        self,
        block: bytes,
        starts: list[int],
        numbers: list[int],
        index: int,
        pos: int,
        lines_before: int,
    ) -> tuple[int, int]:
        """The lines from starts[index] on that `_keep_fast` would make, made, paired and kept
        in one call of app._native.signin_run (the common line of a sign-in log); the index of
        the first line left to the loop of `feed` and the position after the last one made."""
        assert loops is not None
        collector = self.collector
        room = collector.reserve(len(starts) - index)
        kept = 0
        try:
            index, pos, kept, last = loops.signin_run(
                block, starts, numbers, index, pos, lines_before, _MAKER, self._consts,
                self.requests, self.requests.generation, room,
                collector.messages.setdefault(self.file_name, []), _SHARED_SLOTS, collector.shared,
            )  # fmt: skip
        finally:
            collector.give_back(room - kept)
        if last is not None:
            self.last = last
        return index, pos

    # --- finding the lines ---------------------------------------------------------------

    def _line(self, raw: bytes, line_no: int) -> None:
        if self.open is not None:
            self._finish(cut=False)
        fast = fast_line(raw) if not self.collector.full else None
        if fast is not None:
            self._open_fast(fast, line_no)
            return
        line = raw.decode("utf-8", errors="replace")
        head, inline, payload = line.partition("HTTPMSG:")
        if 'network.http.trafficserver"' in head:
            kind = "trafficserver"
        elif 'network.http.edgeconfigprovisioning"' in head:
            kind = "edgeconfig"
        elif "Sending HTTP error response" in head:
            kind = "event"
        elif "Failed to authenticate user" in head:
            kind = "note"
        else:
            return
        if self.collector.full:  # counted only: no fields read, its block skipped
            self.collector.drop()
            if kind in ("trafficserver", "edgeconfig") and not inline:
                self.open = _Open(None)
            return
        if kind == "trafficserver" and (quick := _TS_FAST.search(head)) is not None:
            self._open_fast(_fast_fields(quick), line_no)
            if inline:
                self._inline_payload(payload)
            return
        module = head.find("Module=")
        fields = _fields(head, module if module != -1 else 0)
        when = self._time(head if kind != "note" else line)
        message: HttpMessage | None = None
        if kind == "trafficserver":
            message = self._trafficserver(head, fields, when, line_no)
        elif kind == "edgeconfig":
            message = self._edgeconfig(fields, when, line_no)
        elif kind == "event":
            self._error_event(fields, when, line_no)
        else:
            self._note(_fields(head), when, line_no)
        if message is None:
            return
        self.open = _Open(message)
        if inline:
            self._inline_payload(payload)

    def _open_fast(self, fields: FastLine, line_no: int) -> None:
        """Open the message of a Traffic Server line of doc 225746's form (see FastLine)."""
        self.open = _Open(self._fast_message(fields, line_no))

    def _fast_message(self, fields: FastLine, line_no: int) -> HttpMessage:
        """The message of a Traffic Server line of doc 225746's form (a request's method ""
        until its HTTPMSG block says it)."""
        second, fraction, received, request, txn_id, tracking_id, peer = fields
        return HttpMessage(
            time=self._utc(second, fraction),
            file=self.file_name,
            line=line_no,
            source="trafficserver",
            direction="in" if received else "out",
            peer=peer,
            method="" if request else None,
            txn_id=txn_id,
            tracking_id=tracking_id,
        )

    def _keep_fast(self, fields: FastLine, line_no: int) -> None:
        """Make, pair and keep the message of a Traffic Server line of doc 225746's form that
        no HTTPMSG block follows, in one step: what `_without_block(_fast_message(...))`
        does (a request's method "?"), without its calls and keywords per message (the
        common line of a sign-in log)."""
        second, fraction, received, request, txn_id, tracking_id, peer = fields
        message = HttpMessage(
            self._utc(second, fraction),
            self.file_name,
            line_no,
            "trafficserver",
            "in" if received else "out",
            peer,
            "?" if request else None,
            "",
            None,
            "",
            txn_id,
            tracking_id,
        )
        if txn_id:  # _pair: a Traffic Server message is paired by its Txn-id
            if request:
                self.requests.put(txn_id, message)
            elif (asked := self.requests.get(txn_id)) is not None:
                message.user = asked.user
                message.request_client = asked.client_ip or asked.forwarded_for
                message.request_tracking = asked.tracking_id
                message.path = asked.path
        if self.collector.keep(message):
            self.last = message

    def _time(self, line: str) -> datetime | None:
        at = line.find('UTCTime="')
        if at != -1:
            value = line[at + 9 : at + 40].lstrip()
            return self._utc(value[:19], value[19:].partition('"')[0])
        prefix = _PREFIX_TIME.match(line)
        return prefix_time(prefix[1]) if prefix else None

    def _utc(self, second: str, fraction: str) -> datetime | None:
        """`2026-01-29 19:01:16` and `,974` → datetime: in C for that plain form
        (app._native.utc_datetime), else utc_in_python."""
        if loops is not None and len(second) == 19 and fraction[:1] in ("", ","):
            when = loops.utc_datetime(second + fraction, True)
            if when is not False:
                return when  # type: ignore[no-any-return]
        return self.utc_in_python(second, fraction)

    def utc_in_python(self, second: str, fraction: str) -> datetime | None:
        """The reference of _utc (the second's datetime cached)."""
        base = self.seconds.of(second)
        if base is None:
            return None
        digits = fraction[1:7] if fraction.startswith(",") else ""
        if not digits.isdigit():
            return base
        return base.replace(microsecond=int(digits.ljust(3, "0").ljust(6, "0")))

    # --- the kinds of line -----------------------------------------------------------------

    def _trafficserver(
        self, head: str, fields: dict[str, str], when: datetime | None, line_no: int
    ) -> HttpMessage | None:
        detail = _DETAIL.search(head)
        if detail is None:
            return None
        direction = "in" if detail[1] == "Received" else "out"
        src = _address(fields.get("Src-ip", ""), fields.get("Src-port", ""))
        dst = _address(fields.get("Dst-ip", ""), fields.get("Dst-port", ""))
        peer = (src or dst) if direction == "in" else (dst or src)
        message = HttpMessage(
            time=when,
            file=self.file_name,
            line=line_no,
            source="trafficserver",
            direction=direction,
            peer=peer,
            txn_id=fields.get("Txn-id", "")[:40],
            tracking_id=fields.get("TrackingID", "")[:80],
        )
        if detail[2] == "Request":
            message.method = ""  # filled from the start line; "" until then
        return message

    def _edgeconfig(
        self, fields: dict[str, str], when: datetime | None, line_no: int
    ) -> HttpMessage | None:
        action = fields.get("Action", "").strip()
        if action not in ("Received", "Sent", "Sending"):
            return None
        url = fields.get("Request-url", "")
        path = redact_url(url) if url else ""
        peer = _url_peer(url) or _address(
            fields.get("Src-ip", "") or fields.get("Dst-ip", ""),
            fields.get("Src-port", "") or fields.get("Dst-port", ""),
        )
        return HttpMessage(
            time=when,
            file=self.file_name,
            line=line_no,
            source="edgeconfig",
            direction="in" if action == "Received" else "out",
            peer=peer,
            path=path,
            user=_uds_user(path),
        )

    def _error_event(self, fields: dict[str, str], when: datetime | None, line_no: int) -> None:
        status = fields.get("Status", "").strip()
        if not (status.isdigit() and len(status) == 3):
            return
        peer = _address(fields.get("Dst-ip", ""), fields.get("Dst-port", ""))
        last = self.last
        if last is not None and last.status == int(status) and last.peer == peer:
            self.last = None  # the event repeats the response logged just before (doc 117811)
            return
        message = HttpMessage(
            time=when,
            file=self.file_name,
            line=line_no,
            source="event",
            direction="out",
            peer=peer,
            status=int(status),
            reason=fields.get("Reason", "").strip()[:80],
        )
        self._keep(message)

    def _note(self, fields: dict[str, str], when: datetime | None, line_no: int) -> None:
        user = fields.get("Username", "").strip()[:64]
        detail = fields.get("Detail", "").strip()[:200]
        key = (user, detail, when)
        if self.last_note == key:
            return  # the INFO line repeats the DEBUG one (doc 211304)
        self.last_note = key
        server = _SERVER.search(fields.get("Server", ""))
        message = HttpMessage(
            time=when,
            file=self.file_name,
            line=line_no,
            source="note",
            direction="",
            peer=f"{server[2]}:{server[3]}" if server else "",
            user=user,
            detail=detail,
        )
        self._keep(message)

    # --- HTTPMSG blocks ----------------------------------------------------------------------

    def _continue(self, block: bytes, pos: int) -> int:
        """Read the open block's lines from `pos`; the position after them."""
        body = self.open
        assert body is not None
        while pos < len(block):
            if block[pos] not in _BLOCK_LINE_STARTS and not block.startswith(b"HTTPMSG:", pos):
                self._finish(cut=False)  # a log line (or an empty one): the block has ended
                return pos
            if body.message is None or body.kept >= MAX_BLOCK_KEEP:  # nothing more to read
                ends = _BLOCK_END.search(block, pos)
                if ends is None:
                    return len(block)
                self._finish(cut=False)
                return ends.start() + 1
            end = block.find(b"\n", pos)
            stop = len(block) if end == -1 else end + 1
            line = block[pos:stop]
            piece = line[: MAX_BLOCK_KEEP - body.kept]
            body.parts.append(piece)
            body.kept += len(piece)
            pos = stop
            if b"|" in line:
                if body.framed and line.strip() == b"|":
                    self._finish(cut=False)  # the closing `|`
                    return pos
                body.framed = True
        return pos

    def _inline_payload(self, payload: str) -> None:
        """`HTTPMSG: |HTTP/1.1 403 Forbidden Date: …` on the header line (tech-note copies)."""
        body = self.open
        assert body is not None
        text = payload[:MAX_BLOCK_KEEP].strip()
        cut = _INLINE_HEADER.search(text)
        start_line = text[: cut.start()] if cut else text
        body.parts.append(start_line.encode())
        body.framed = True
        self._finish(cut=False, inline=True)

    def _finish(self, *, cut: bool, inline: bool = False) -> None:
        body, self.open = self.open, None
        if body is None or body.message is None:
            return
        message = body.message
        if not body.parts:  # no HTTPMSG block followed the line
            self._without_block(message, cut=cut)
            return
        lines = [_text(part).rstrip("\r\n") for part in b"".join(body.parts).split(b"\n") if part]
        start = next((ln for ln in lines if "|" in ln and ln.strip() != "|"), "")
        request = _REQUEST_LINE.match(start.strip())
        status = _STATUS_LINE.match(start.strip())
        if request is not None:
            message.method = request[1]
            message.path = redact_url(request[2])
            message.status = None
        elif status is not None:
            message.method = None
            message.status = int(status[1])
            message.reason = (status[2] or "").strip()[:80]
            if inline:  # the reason runs into the flattened headers: keep its first words
                message.reason = message.reason.split("  ")[0][:80]
        elif message.method == "":  # a Request line whose start line was not logged
            message.method = "?"
        if not inline and lines:
            self._headers(message, lines)
        message.cut = cut and not (body.framed and lines and lines[-1].strip() == "|")
        message.user = message.user or _uds_user(message.path)
        self._pair(message)
        self._keep(message)

    def _without_block(self, message: HttpMessage, *, cut: bool) -> None:
        """Finish a message no HTTPMSG block followed (a request's method unknown: "?")."""
        if message.method == "":
            message.method = "?"
        message.cut = cut
        self._pair(message)
        self._keep(message)

    @staticmethod
    def _headers(message: HttpMessage, lines: list[str]) -> None:
        for line in lines:
            name, colon, value = line.strip().lstrip("|").partition(":")
            if not colon:
                continue
            attribute = _KEPT_HEADERS.get(name.strip().lower())
            if attribute is None:
                continue
            value = value.strip()
            if attribute == "set_cookie":
                value = redact_cookie(value)
            elif attribute == "location":
                value = redact_url(value) if "://" not in value else _redact_full(value)
            if not getattr(message, attribute):
                setattr(message, attribute, value[:MAX_VALUE])

    def _pair(self, message: HttpMessage) -> None:
        """Give a response the user and client of its request (same Txn-id, or the same
        Request-url for edge config lines)."""
        key = message.txn_id or (message.path if message.source == "edgeconfig" else "")
        if not key:
            return
        if message.is_request:
            self.requests.put(key, message)
            return
        request = self.requests.get(key)
        if request is None:
            return
        message.user = message.user or request.user
        message.request_client = request.client_ip or request.forwarded_for
        message.request_tracking = request.tracking_id
        message.path = message.path or request.path  # its step is its request's

    def _keep(self, message: HttpMessage) -> None:
        if self.collector.keep(message):
            self.last = message


def _redact_full(url: str) -> str:
    """A Location with scheme and host: keep them, redact the query's sensitive values."""
    scheme = url.find("://")
    slash = url.find("/", scheme + 3)
    if slash == -1:
        return url[:MAX_VALUE]
    return (url[:slash] + redact_url(url[slash:]))[:MAX_VALUE]


class Tee:
    """Feeds one file's blocks to several observers (call flows and sign-ins, one read)."""

    def __init__(self, observers: list[BlockObserver]) -> None:
        self.observers = observers
        # every observer's needles, found by the matcher once for all
        self.needles = tuple(dict.fromkeys(n for each in observers for n in each.needles))

    def prepare(
        self,
        block: bytes,
        newlines: Newlines | None = None,
        found: Mapping[bytes, bytes] | None = None,
    ) -> tuple[object, ...]:
        counter = newlines if newlines is not None else Newlines(block)  # shared by all
        return tuple(observer.prepare(block, counter, found) for observer in self.observers)

    def feed(self, block: bytes, lines_before: int, prepared: object) -> None:
        assert isinstance(prepared, tuple)
        for observer, own in zip(self.observers, prepared, strict=True):
            observer.feed(block, lines_before, own)

    def close(self) -> None:
        for observer in self.observers:
            observer.close()


def combine(*observes: Observe | None) -> Observe | None:
    """One `observe` for the engine that gives each file every wanted observer (None: none)."""
    wanted = [observe for observe in observes if observe is not None]
    if not wanted:
        return None

    def observe(file_name: str, kind: FileKind) -> BlockObserver | None:
        found = [o for o in (each(file_name, kind) for each in wanted) if o is not None]
        if not found:
            return None
        return found[0] if len(found) == 1 else Tee(found)

    return observe
