"""Take every SIP message out of a log's blocks as the signature engine passes them by.

A `FileExtractor` is fed the same line-aligned blocks the signature scan reads (see
`app.signatures.engine.FileScan(observer=...)`), so the logs are read once. Per message an
Expressway logs two lines (domain.md §2.4 (a), (e)):

- the summary (`Level="INFO"`): `Action`, `Local-ip`/`-port`, `Src-ip`/`Dst-ip` and ports,
  `Detail="Receive Request Method=INVITE, CSeq=…, Request-URI=…, Call-ID=…, From-Tag=…, To-Tag=…,
  Msg-Hash=…, Local-SessionID=…, Remote-SessionID=…"` (or `Sending Response Code=…`);
- the block line (`Level="DEBUG"`, same `Msg-Hash`), followed by ` SIPMSG:` and the message, each
  line starting with a space, framed by `|`.

They are paired by Msg-Hash; either may be missing (INFO-only logging, a log cut in between).
`prepare_block` sorts a block's SIP lines in one pass (in a matcher thread: C, the GIL
released); keep-alive traffic (OPTIONS, REGISTER, …) is counted from the raw bytes without
building a message, and its SIPMSG blocks are skipped, not parsed. The other lines are read one
by one: a line's fields by `calls.sipline.read_line`, a SIPMSG block's head by
`calls.sipmsg.read_head` (both in C for plain ASCII, see app/native.py).
Memory is bounded: a block keeps at most MAX_BODY_KEEP bytes for its headers (its extent in the
file is recorded so that pages read it back), keep-alive rows are capped, and the collector
keeps at most `max_messages` messages.
"""

from __future__ import annotations

import queue
import re
import threading
from bisect import bisect_right
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from itertools import compress, repeat
from operator import is_, is_not
from typing import TypeVar

from app.calls.construct import slot_maker
from app.calls.interning import shared_text, slot_descriptors
from app.calls.model import BACKGROUND_METHODS, SHARED_SIP_FIELDS, BackgroundRow, SipMessage
from app.calls.sipline import MAX_CALL_ID_CHARS, MAX_METHOD_CHARS, SipLine, number, read_line
from app.calls.sipmsg import Head, read_head
from app.native import loops
from app.priority import lower_priority
from app.report import FileKind
from app.signatures.newlines import Newlines

SIP_MODULE = b'Module="network.sip"'
MAX_BODY_KEEP = 65_536  # bytes of a SIPMSG block kept to read its headers
MAX_AWAITING = 512  # summaries waiting for their block (paired by Msg-Hash)
MAX_MESSAGES = 300_000  # per analysis; more are counted, not kept
MAX_BACKGROUND_ROWS = 10_000
MAX_TIME_LOOKBACK = 4096  # bytes before a keep-alive summary searched for its line's UTCTime
OBSERVED_KINDS = frozenset({FileKind.LOGGINGSNAPSHOT, FileKind.LOG})
_BODY_END = re.compile(rb"\n(?! )")  # the end of a line followed by one not starting with a space
_START = re.compile(rb"\|(?:SIP/2\.0 ([1-6]\d\d)|[A-Z][A-Z\-]* )")
_CSEQ = re.compile(rb"\n ?CSeq:[ \t]*(\d{1,10})[ \t]+([A-Za-z]{1,32})", re.IGNORECASE)
_CALL_ID = re.compile(rb"\n ?(?:Call-ID|i):[ \t]*([^\r\n]{1,300})", re.IGNORECASE)
_BACKGROUND = frozenset(method.encode() for method in BACKGROUND_METHODS)
_IN_DIALOG = frozenset({b"SUBSCRIBE", b"NOTIFY"})  # may belong to a call: checked by Call-ID
_IN_DIALOG_NAMES = frozenset(method.decode() for method in _IN_DIALOG)
_OUT_OF_DIALOG = _BACKGROUND - _IN_DIALOG  # OPTIONS, REGISTER, PUBLISH: never in a call
_KEEPALIVE_METHODS = tuple(sorted(_OUT_OF_DIALOG))  # for app._native.sip_prepare
_PEEK = re.compile(rb" SIPMSG:\r?\n \|([A-Z]{1,32}) ")  # a block's request line, from its start
_FOLDED = object()
_ABSENT = object()
MAX_SECONDS = 4096  # seconds whose datetime a reader keeps (Seconds)
_ROW = re.compile(  # every SIP line of a block in one pass (the fields keep-alive counting needs)
    rb'Module="network\.sip"[ \t]+Level="[A-Za-z]*":?[ \t]+Action="(?:Received|Sent)"[ \t]+'
    rb'Local-ip="[^"\n]*"[ \t]+Local-port="[^"\n]*"[ \t]+'
    rb'(?:Src|Dst)-ip="([^"\n]*)"[ \t]+(?:Src|Dst)-port="([^"\n]*)"[ \t]+'
    rb'(?:Detail="[ \t]*(?:Receive|Sending)[ \t]+(?:Request|Response)[ \t]+'
    rb'(?:Code=(\d{1,10}),[ \t]*)?Method=([A-Za-z]{1,32})[^"\n]*?Msg-Hash=([^,"\n]{1,64})'
    rb'|Msg-Hash="([^"\n]{1,64})"(?:\r?\n SIPMSG:\r?\n \|([A-Z]{1,32}) )?'
    rb"|Detail=)"  # a summary in another order: read the slow way
)
_TAIL_ROWS = 16  # keep-alive summaries whose block line may open the next block
_SHARED_SLOTS = slot_descriptors(SipMessage, SHARED_SIP_FIELDS)  # (for app._native.sip_run)
_MAKER = slot_maker(SipMessage, 25)  # sip_run makes its messages itself (app.calls.construct)


_V = TypeVar("_V")
Found = Mapping[bytes, bytes]  # a needle's offsets in a block, found by the matcher
Key = bytes  # a keep-alive row of a file: b"<peer ip>:<peer port>\n<method>"


def _key(ip: bytes, port: bytes, method: bytes) -> Key:
    return ip + b":" + port + b"\n" + method  # (no field holds a newline: [^"\n] or letters)


@dataclass(slots=True)
class Groups:
    """The keep-alive keys of a block with their counts and first and last offsets (of their
    `Module="network.sip"`), in order of first offset: parallel sequences, so that a block of
    a hundred thousand distinct peers costs a key object each, not a tuple of five."""

    keys: list[Key] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    firsts: Sequence[int] = ()
    lasts: Sequence[int] = ()


@dataclass(slots=True)
class Prepared:
    """A block's SIP lines, sorted without state (FileExtractor.prepare, in a matcher thread).

    Keep-alive messages are counted per key (peer and method), not read one by one: `groups`
    (see Groups); `maybe_late` (key, offset, Msg-Hash, position of the key in `groups` or -1),
    the block lines of keep-alive requests among the block's first TAIL_ROWS keep-alive entries
    whose summary is not in the block (counted unless a summary at the end of the block before
    named their hash); `statuses` (key, response code, count). `hits` are the other SIP lines,
    read one by one (numbered by `hit_newlines`, once the scan has counted). `tail` holds the
    Msg-Hash of the block's last keep-alive summaries (their block lines may open the next
    block). `newlines` numbers other lines of the block (shared with the scan's counting, see
    engine.BlockObserver). `overflow`: the entries of the keys left out by an index (see
    prepare_block), counted only.
    """

    groups: Groups = field(default_factory=Groups)
    maybe_late: list[tuple[Key, int, bytes, int]] = field(default_factory=list)
    statuses: list[tuple[Key, bytes, int]] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    tail: frozenset[bytes] = frozenset()
    newlines: Newlines | None = None
    ticket: int = 0  # the newlines' ticket of `hits`
    overflow: int = 0  # keep-alive entries of keys the `index` of prepare_block left out

    @property
    def hit_newlines(self) -> list[int]:
        return self.newlines.answer(self.ticket) if self.newlines is not None else []


_NOTHING = Prepared()


def prepare_block(
    block: bytes, newlines: Newlines | None = None, index: object = None, found: bytes | None = None
) -> Prepared:
    """Sort a block's SIP lines: keep-alive ones to count, others to read (see Prepared);
    `newlines`: the scan's counter of the block's newlines (a fresh one when None). The C
    loop of app._native when built (the GIL released), else prepare_block_in_python.
    `found`: the offsets of SIP_MODULE in the block the matcher found (BlockObserver
    `needles`), taken instead of a search of its own.

    `index`: None, or the keys that alone may have a keep-alive row, no row being addable
    (`FileExtractor.frozen`): the groups of other keys are left out and their entries summed
    in `overflow` (a log of a hundred thousand peers past the row cap costs no key object per
    peer). The Python reference takes no index (it leaves nothing out)."""
    if loops is None:
        return prepare_block_in_python(block, newlines)
    sorted_rows = loops.sip_prepare(
        block, _KEEPALIVE_METHODS, index, None if found is None else (found,)
    )
    if sorted_rows is None:
        return _NOTHING
    (keys, counts, firsts, lasts), maybe_late, statuses, hits, tail, overflow = sorted_rows
    groups = Groups(keys, counts, memoryview(firsts).cast("q"), memoryview(lasts).cast("q"))
    newlines = newlines if newlines is not None else Newlines(block)
    ticket = newlines.ask(hits)
    return Prepared(groups, maybe_late, statuses, hits, frozenset(tail), newlines, ticket, overflow)


def prepare_block_in_python(block: bytes, newlines: Newlines | None = None) -> Prepared:
    """The reference of prepare_block: `_ROW` over the block, then one loop over its rows."""
    if SIP_MODULE not in block:
        return _NOTHING
    found = [(m.start(), m.groups()) for m in _ROW.finditer(block)]
    if not found:
        return _NOTHING
    out = _OUT_OF_DIALOG
    # groups of a summary: (ip, port, code or None, method, hash, None, None); of a block
    # line: (ip, port, None, None, None, hash, request method or None); else all None but ip
    # and port
    paired = {g[4] for _, g in found if g[3] in out}  # their block lines: counted with them
    counts: dict[Key, list[int]] = {}  # key: [count, first offset, last offset]
    late: list[tuple[Key, int, bytes]] = []
    statuses: Counter[tuple[Key, bytes]] = Counter()
    hits: list[int] = []
    entries = 0  # keep-alive entries so far
    for at, g in found:  # one loop, in file order
        if g[3] in out:  # a keep-alive summary
            key = _key(g[0], g[1], g[3])
            if g[2]:
                statuses[key, g[2]] += 1
        elif g[6] in out:  # the block line of a keep-alive request: counted if unpaired
            if g[5] in paired:
                continue
            key = _key(g[0], g[1], g[6])
            if entries < _TAIL_ROWS:  # its summary may end the block before
                late.append((key, at, g[5]))
                entries += 1
                continue
        else:
            if g[5] is None or g[5] not in paired:
                hits.append(at)
            continue
        entries += 1
        seen = counts.get(key)
        if seen is None:
            counts[key] = [1, at, at]
        else:
            seen[0] += 1
            seen[2] = at
    groups = Groups(
        list(counts),
        [n for n, _first, _last in counts.values()],
        [first for _n, first, _last in counts.values()],
        [last for _n, _first, last in counts.values()],
    )
    position = {key: index for index, key in enumerate(groups.keys)}
    maybe_late = [(key, at, msg_hash, position.get(key, -1)) for key, at, msg_hash in late]
    tail = frozenset(g[4] for _, g in found[-_TAIL_ROWS:] if g[3] in out)
    newlines = newlines if newlines is not None else Newlines(block)
    counted = [(key, code, n) for (key, code), n in statuses.items()]
    return Prepared(groups, maybe_late, counted, hits, tail, newlines, newlines.ask(hits))


def _utc_at(block: bytes, at: int) -> bytes:
    """The UTCTime of the log line holding offset `at` (b"" when the line starts more than
    MAX_TIME_LOOKBACK bytes before it: a log line's time is near its start, and a hostile line
    of a million summaries must not be walked back a million times)."""
    floor = max(0, at - MAX_TIME_LOOKBACK)
    start = block.rfind(b"\n", floor, at) + 1
    if start == 0 and floor > 0:
        return b""
    found = block.find(b'UTCTime="', start, at)
    return _quoted_time(block, found, found + 80)


def _quoted_time(block: bytes, found: int, stop: int) -> bytes:
    """The value of the `UTCTime="` at `found` (-1: none), whose closing quote lies before
    `stop`; b"" without one (a slice to -1 was the rest of the block: a hostile line made a
    keep-alive row hold megabytes as its time)."""
    if found == -1:
        return b""
    end = block.find(b'"', found + 9, stop)
    return block[found + 9 : end] if end != -1 else b""


def _newlines_before(block: bytes, offsets: list[int]) -> list[int]:
    """The newlines in block[:offset] for each of `offsets` (ascending): one `Newlines` walk
    over the block (in C with the GIL released where app._native is built)."""
    counter = Newlines(block)
    return counter.answer(counter.ask(offsets))


def utc_time(value: str) -> datetime | None:
    """`2018-01-01 17:56:48,964` (UTC; the part after the comma in milliseconds) → datetime."""
    try:
        base, _, millis = value.strip().partition(",")
        when = datetime.fromisoformat(base).replace(tzinfo=UTC)
    except ValueError:
        return None
    return _with_millis(when, millis)


def _with_millis(when: datetime, millis: str) -> datetime:
    if not millis.isdigit():
        return when
    micro = int(millis) * 1000 if len(millis) <= 3 else int(millis[:6].ljust(6, "0"))
    return when.replace(microsecond=micro)


class Seconds:
    """The UTC datetime of each `YYYY-MM-DD HH:MM:SS` a reader meets, parsed once (at most
    MAX_SECONDS kept): messages logged in the same second share the parse."""

    __slots__ = ("_parsed",)

    def __init__(self) -> None:
        self._parsed: dict[str, datetime | None] = {}

    def utc_time(self, utc: bytes) -> datetime | None:
        """utc_time(utc) (a logged UTCTime's bytes): in C for the plain form
        `YYYY-MM-DD HH:MM:SS[,digits]` (app._native.utc_datetime), else utc_time_in_python."""
        if loops is not None:
            when = loops.utc_datetime(utc, False)
            if when is not False:
                return when  # type: ignore[no-any-return]
        return self.utc_time_in_python(utc)

    def utc_time_in_python(self, utc: bytes) -> datetime | None:
        """The reference of utc_time: utc_time(utc), each second parsed once."""
        second, _, millis = _text(utc).strip().partition(",")
        base = self.of(second)
        return base if base is None else _with_millis(base, millis)

    def of(self, second: str) -> datetime | None:
        try:
            return self._parsed[second]
        except KeyError:
            pass
        parsed = utc_time(second)
        if len(self._parsed) >= MAX_SECONDS:
            self._parsed.clear()
        self._parsed[second] = parsed
        return parsed


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


@dataclass(slots=True)
class _Header:
    """Where a block line says its message went (used when its summary is missing)."""

    direction: str
    local: str
    remote: str
    utc: bytes


@dataclass(slots=True)
class _OpenBody:
    """A SIPMSG block being read (it may cross blocks); `parts` hold its first bytes."""

    target: SipMessage | object | None  # the message it belongs to, _FOLDED, or None (new)
    header: _Header | None
    header_line: int
    offset: int = -1  # file offset of the block's first byte
    length: int = 0
    kept: int = 0
    parts: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class _Tally:
    """A keep-alive row while counting (raw bytes; BackgroundRow once done)."""

    line: int
    count: int = 0
    failures: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    first: bytes = b""
    last: bytes = b""


_TALLY_MAKER = slot_maker(_Tally, 6)  # keepalive_rows makes the rows itself (all fields given)


class Collector:
    """Messages and keep-alive counters of every file of an analysis, by file name."""

    def __init__(self, *, max_messages: int = MAX_MESSAGES, threaded: bool = True) -> None:
        self.max_messages = max_messages
        self.threaded = threaded
        self._threads: dict[str, ThreadedExtractor] = {}
        self.messages: dict[str, list[SipMessage]] = {}
        self.tallies: dict[tuple[str, bytes, bytes], _Tally] = {}
        self.invite_call_ids: set[str] = set()
        self.kept = 0
        self.dropped = 0  # messages past max_messages
        self.background_overflow = 0
        self.shared = shared_text()  # the kept messages' text, one str per value (interning)

    def observer(self, file_name: str, kind: FileKind) -> FileExtractor | ThreadedExtractor | None:
        """A fresh extractor for a file of `kind` (None when such files hold no SIP lines); with
        `threaded` (the default) it reads the blocks in a thread of its own."""
        if kind not in OBSERVED_KINDS:
            return None
        self.forget(file_name)
        self.messages[file_name] = []
        extractor = FileExtractor(self, file_name)
        if not self.threaded:
            return extractor
        threaded = self._threads[file_name] = ThreadedExtractor(extractor)
        return threaded

    def forget(self, file_name: str) -> None:
        """Drop what a file gave (it is scanned again, or its unpacking was abandoned)."""
        threaded = self._threads.pop(file_name, None)
        if threaded is not None:
            threaded.abandon()  # its thread reads no more of the file's blocks
        self.kept -= len(self.messages.pop(file_name, []))
        for key in [key for key in self.tallies if key[0] == file_name]:
            del self.tallies[key]

    @property
    def room_for_messages(self) -> bool:
        """Whether a message may still be kept (an INVITE's Call-ID is remembered only then:
        memory stays bounded however many calls a log holds)."""
        return self.kept < self.max_messages

    def reserve(self, wanted: int) -> int:
        """Room for up to `wanted` messages, counted as kept at once (the caller keeps them in
        `messages` itself, interned, and gives back what it did not use)."""
        granted = max(0, min(wanted, self.max_messages - self.kept))
        self.kept += granted
        return granted

    def give_back(self, unused: int) -> None:
        self.kept -= unused

    def keep(self, message: SipMessage) -> bool:
        """Keep a call's message; False when the budget is spent (the message is counted)."""
        if self.kept >= self.max_messages:
            self.dropped += 1
            return False
        self.kept += 1
        self.messages[message.file].append(message)  # (its text is shared once it is read whole)
        return True

    def folds(self, method: str, call_id: str) -> bool:
        """Whether a message of `method` with `call_id` is keep-alive traffic (counted only)."""
        if method not in BACKGROUND_METHODS:
            return False
        return method not in _IN_DIALOG_NAMES or call_id not in self.invite_call_ids

    def room(self, adding: int = 0) -> bool:
        """Whether a new keep-alive row may be added (`adding` more are on their way)."""
        return len(self.tallies) + adding < MAX_BACKGROUND_ROWS

    def tally(
        self,
        file: str,
        peer: bytes,
        method: bytes,
        status: int | None,
        utc: bytes,
        line: int,
        *,
        number: int = 1,
    ) -> None:
        """Count `number` keep-alive messages of `file` with `peer` in its row (0: only its
        times and line)."""
        key = (file, peer, method)
        row = self.tallies.get(key)
        if row is None:
            if len(self.tallies) >= MAX_BACKGROUND_ROWS or not number:
                self.background_overflow += number
                return
            row = self.tallies[key] = _Tally(line, first=utc, last=utc)
        row.line = min(row.line, line)
        row.count += number
        if status is not None and number:
            row.statuses[status] = row.statuses.get(status, 0) + number
            if status >= 300 and status not in (401, 407):
                row.failures += number
        if utc:
            if not row.first or utc < row.first:
                row.first = utc
            if utc > row.last:
                row.last = utc

    def background_rows(self) -> list[BackgroundRow]:
        """The keep-alive rows counted so far (node left empty: group.merge_background sets it)."""
        utc_time = Seconds().utc_time  # (rows share their seconds: each parsed once)
        methods: dict[bytes, str] = {}  # (a handful of methods: each decoded once)
        return [
            BackgroundRow(  # (positionally: node, file, peer, method, count, failures, …)
                "",
                file,
                _text(peer),
                methods.get(method) or methods.setdefault(method, _text(method)),
                row.count,
                row.failures,
                {str(code): n for code, n in sorted(row.statuses.items())} if row.statuses else {},
                (first := utc_time(row.first) if row.first else None),
                first if row.last == row.first else utc_time(row.last) if row.last else None,
                row.line,  # (a row of one message, or one second: its time parsed once)
            )
            for (file, peer, method), row in self.tallies.items()
        ]

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


class ThreadedExtractor:
    """A FileExtractor fed through a thread of its own, so that the thread confirming the
    signatures' hits goes on while the SIP lines are read (it waits for the zlib inflate, the
    disk and the matcher threads, which release the GIL). Blocks are read in file order; at
    most QUEUED blocks wait (memory); `close()` returns once every block is read, and raises
    what reading one raised. A thread left without a block for IDLE_SECONDS ends (a scan that
    was abandoned leaves no thread behind); the next block starts another."""

    QUEUED = 4
    IDLE_SECONDS = 30.0

    def __init__(self, extractor: FileExtractor) -> None:
        self.extractor = extractor
        self._queue: queue.Queue[tuple[bytes, int, object] | None] = queue.Queue(self.QUEUED)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._abandoned = False

    @property
    def needles(self) -> tuple[bytes, ...]:
        return self.extractor.needles

    def prepare(
        self, block: bytes, newlines: Newlines | None = None, found: Found | None = None
    ) -> Prepared:
        return self.extractor.prepare(block, newlines, found)

    def feed(self, block: bytes, lines_before: int, prepared: object = None) -> None:
        if self._error is not None or self._abandoned:
            return  # raised by close(), or the file is forgotten
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="sip-extract", daemon=True)
            self._thread.start()
        self._queue.put((block, lines_before, prepared))

    def close(self) -> None:
        if self._thread is not None:
            if self._thread.is_alive():
                self._queue.put(None)
                self._thread.join()
            self._thread = None
        while True:  # blocks a thread that ended when idle left behind
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._read(item)
        if self._error is None and not self._abandoned:
            self.extractor.close()
        error, self._error = self._error, None
        if error is not None:
            raise error

    def abandon(self) -> None:
        """Read no more blocks (the file is forgotten); its thread ends."""
        self._abandoned = True
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._thread = None

    def _run(self) -> None:
        lower_priority()  # (the thread inflating the bundle gets a core first: app.priority)
        while True:
            try:
                item = self._queue.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                return
            if item is None:
                return
            self._read(item)

    def _read(self, item: tuple[bytes, int, object]) -> None:
        if self._error is None and not self._abandoned:
            try:
                self.extractor.feed(*item)
            except BaseException as exc:  # handed to close(), in the scanning thread
                self._error = exc


class FileExtractor:
    """Reads the SIP messages of one file from its blocks, in file order (an engine observer).
    Its `needles`: the matcher finds the SIP lines' module for `prepare` where it can."""

    needles = (SIP_MODULE,)

    def __init__(self, collector: Collector, file_name: str) -> None:
        self.collector = collector
        self.file_name = file_name
        self.offset = 0  # file offset of the block being fed
        self.body: _OpenBody | None = None
        self.awaiting: OrderedDict[bytes, SipMessage | object] = OrderedDict()
        self.tail: frozenset[bytes] = frozenset()  # keep-alive summaries' hashes, block before
        self.seconds = Seconds()
        self.rows: dict[Key, _Tally] = {}  # keep-alive rows of the file
        self.frozen: object = None  # the keys of the file's rows once none can be added
        self._evict = partial(self.awaiting.popitem, False)  # the oldest summary (last=False)

    def prepare(
        self, block: bytes, newlines: Newlines | None = None, found: Found | None = None
    ) -> Prepared:
        """The block's SIP lines, sorted (no state of its own: runs in the engine's matcher
        threads, with the `frozen` index of the moment); `found`: see BlockObserver."""
        return prepare_block(block, newlines, self.frozen, found.get(SIP_MODULE) if found else None)

    def feed(self, block: bytes, lines_before: int, prepared: object = None) -> None:
        """One line-aligned block; `lines_before`: newlines in the blocks before it;
        `prepared`: what `prepare(block)` gave (done here when None)."""
        collector = self.collector
        if collector.room():
            self.frozen = None  # (rows of a file scanned again were forgotten: room again)
        ready = prepared if isinstance(prepared, Prepared) else self.prepare(block)
        if ready.overflow and collector.room():  # prepared while no row could be added
            ready = prepare_block(block)
        pos = self._read_body(block, 0) if self.body is not None else 0
        self._count_keepalive(block, lines_before, ready)
        self._walk(block, lines_before, pos, ready)
        self.tail = ready.tail
        self.offset += len(block)
        if self.frozen is None and loops is not None and not collector.room():
            self.frozen = self._frozen_index()

    def _frozen_index(self) -> object:
        """The keys of the file's keep-alive rows, for prepare_block, once no row can be
        added (Collector.room): a block's groups of other keys are then only counted."""
        assert loops is not None
        file = self.file_name
        return loops.keepalive_index(
            [
                peer + b"\n" + method
                for name, peer, method in list(self.collector.tallies)
                if name == file
            ]
        )

    def _walk(self, block: bytes, lines_before: int, pos: int, ready: Prepared) -> None:
        """Read the SIP lines at `ready.hits` (offsets of `Module="network.sip"`, in file
        order; numbered by `ready.hit_newlines`)."""
        find, rfind = block.find, block.rfind
        hits, numbers = ready.hits, ready.hit_newlines
        last = len(hits) - 1
        following = 0  # the next hit to read
        while following <= last:
            if self.body is None and loops is not None and self.collector.room_for_messages:
                following, pos = self._run(block, hits, numbers, following, pos, lines_before)
                if following > last:
                    break
            index, hit, newlines = following, hits[following], numbers[following]
            following += 1
            if hit < pos:
                continue  # inside the SIPMSG block just read
            end = find(b"\n", hit)
            end = len(block) if end == -1 else end
            pos = end + 1
            line = read_line(block, hit, end)
            if line is None:
                continue  # another network.sip line (DNS, TCP, …): no message
            start = rfind(b"\n", 0, hit) + 1
            line_no = lines_before + newlines + 1
            if block[start] in b" \t|":
                continue  # quoted inside a payload, not a log line
            utc = _quoted_time(block, find(b'UTCTime="', start, hit), hit)
            if line.summary:
                if index < last and line.msg_hash and self.body is None:
                    header_line = lines_before + numbers[index + 1] + 1
                    after = self._with_block(
                        block, line, utc, line_no, pos, hits[index + 1], header_line
                    )
                    if after >= 0:
                        pos = after
                        continue
                self._summary(line, utc, line_no)
            else:
                target = self.awaiting.pop(line.msg_hash, None)
                if target is None and line.msg_hash in self.tail:
                    target = _FOLDED  # the block of a keep-alive summary of the block before
                header = None
                peek = _PEEK.match(block, pos) if target is None else None
                if peek is not None and peek[1] in _OUT_OF_DIALOG:  # a keep-alive request
                    self._tally(line.peer, peek[1], None, utc, line_no)
                    target = _FOLDED
                elif target is None:  # its summary was not logged: the block tells all
                    header = _Header(line.direction, line.local, line.remote, utc)
                self.body = _OpenBody(target, header, line_no)
            pos = self._read_body(block, pos)

    def _run(
        self, block: bytes, hits: list[int], numbers: list[int], index: int, pos: int, before: int
    ) -> tuple[int, int]:
        """The hits from hits[index] on that `_with_block` reads, each summary with its block
        line and SIPMSG block, made, kept and read whole in one call of app._native.sip_run
        (the lines of the real logs); the index of the first hit left to `_walk` and the
        position from which it reads."""
        assert loops is not None
        collector = self.collector
        room = collector.reserve(len(hits) - index)
        kept = 0
        try:
            index, pos, kept = loops.sip_run(
                block, hits, numbers, index, pos, before, self.offset, _MAKER,
                self.file_name, self.awaiting, self._evict, MAX_AWAITING, BACKGROUND_METHODS,
                collector.invite_call_ids, room, collector.messages[self.file_name],
                _SHARED_SLOTS, MAX_BODY_KEEP, collector.shared,
            )  # fmt: skip
        finally:
            collector.give_back(room - kept)
        return index, pos

    def _with_block(
        self,
        block: bytes,
        line: SipLine,
        utc: bytes,
        line_no: int,
        pos: int,
        next_hit: int,
        header_line: int,
    ) -> int:
        """A summary line whose block line follows it at once (`pos`, the next SIP line's
        `Module="network.sip"` at `next_hit`), with the same Msg-Hash and a SIPMSG block that
        ends in this block: the message made, kept and read whole in one step, as the two lines
        read one after the other give it (the real logs' form); `header_line`: the block
        line's number. The position after its SIPMSG block; -1, nothing done, when the lines
        are not in that form (read one by one)."""
        if next_hit < pos or block.find(b"\n", pos, next_hit) != -1 or block[pos] in b" \t|":
            return -1  # not the next line, or not a log line
        next_end = block.find(b"\n", next_hit)
        if next_end == -1:
            return -1
        header = read_line(block, next_hit, next_end)
        if header is None or header.summary or header.msg_hash != line.msg_hash:
            return -1
        body_start = next_end + 1
        if body_start >= len(block) or block[body_start] != 0x20:
            return -1  # no SIPMSG block (or it opens the next block)
        match = _BODY_END.search(block, body_start)
        if match is None or match.start() >= len(block) - 1:
            return -1  # the SIPMSG block may go on in the next block
        stop = match.start() + 1
        collector = self.collector
        if collector.folds(line.method, line.call_id):
            return -1
        if line.method == "INVITE" and collector.room_for_messages:  # (as _message)
            collector.invite_call_ids.add(line.call_id)
        head = read_head(block[body_start : min(stop, body_start + MAX_BODY_KEEP)])
        message = self._message_with_head(line, utc, head, header_line, body_start, stop)
        awaiting = self.awaiting  # (the summary's hash put in, then taken out by its block)
        if awaiting.pop(line.msg_hash, _ABSENT) is _ABSENT and len(awaiting) >= MAX_AWAITING:
            awaiting.popitem(last=False)
        if collector.keep(message):
            message.share_text(collector.shared)
        return stop  # (not kept: its block skipped, as a folded one's)

    def _message_with_head(
        self, line: SipLine, utc: bytes, head: Head, header_line: int, start: int, stop: int
    ) -> SipMessage:
        """The message `_message(line, …)` then `_merge_head(…, head, …)` give, made in one
        call with every field in place (its block at block[start:stop])."""
        method = line.method if line.is_request else None
        status = None if line.is_request else line.code
        agent = head.user_agent if method else head.server
        return SipMessage(
            self.seconds.utc_time(utc),
            self.file_name,
            header_line,
            line.direction,
            line.local,
            line.remote,
            line.call_id or head.call_id,
            line.cseq,
            line.method,
            method,
            status,
            head.reason if status is not None and head.reason else "",
            head.request_uri if method is not None and head.request_uri else line.request_uri,
            head.from_uri,
            line.from_tag or head.from_tag,
            head.to_uri or line.to_uri,
            line.to_tag or head.to_tag,
            line.session_ids
            if head.session_ids is None
            else tuple(dict.fromkeys((*line.session_ids, *head.session_ids))),
            head.transport,
            agent or head.user_agent or head.server,
            head.diagnostics,
            head.via_count,
            _text(line.msg_hash),
            self.offset + start,
            stop - start,
        )

    def _count_keepalive(self, block: bytes, lines_before: int, ready: Prepared) -> None:
        """Count the block's keep-alive messages (OPTIONS, REGISTER, PUBLISH): Python works
        per peer and method, not per message, and only per peer with a row: the rows are
        looked up and the peers without one picked out by `map` and `compress` (no Python
        bytecode per peer), so a block of thousands of peers past the row cap stays cheap."""
        self.collector.background_overflow += ready.overflow
        groups = ready.groups
        if ready.maybe_late:
            groups = self._with_late(groups, ready.maybe_late)
        keys = groups.keys
        if not keys:
            return
        rows = self.rows
        found: list[_Tally | None] = list(map(rows.get, keys))
        indexes = range(len(keys))
        known = list(compress(indexes, map(is_not, found, repeat(None))))  # (rows before)
        if len(known) < len(keys):  # (new rows are made counted)
            fresh = list(compress(indexes, map(is_, found, repeat(None))))
            self._new_rows(block, lines_before, groups, fresh, found)
        counts, lasts = groups.counts, groups.lasts
        for index in known:
            row = found[index]
            assert row is not None
            row.count += counts[index]
            utc = _utc_at(block, lasts[index])
            if utc > row.last:
                row.last = utc
        for key, code, times in ready.statuses:
            answered = rows.get(key)
            status = number(code)
            if answered is not None and status is not None:
                answered.statuses[status] = answered.statuses.get(status, 0) + times
                if status >= 300 and status not in (401, 407):
                    answered.failures += times

    def _with_late(self, groups: Groups, maybe_late: list[tuple[Key, int, bytes, int]]) -> Groups:
        """`groups` with the block lines of `maybe_late` whose summary did not end the block
        before (those were counted there), in order of first offset. Late lines open the block:
        only the groups that start before the last of them are sorted again."""
        late = [entry for entry in maybe_late if entry[2] not in self.tail]
        if not late:
            return groups  # (their summaries ended the block before, and were counted there)
        keys, counts = list(groups.keys), list(groups.counts)
        firsts, lasts = list(groups.firsts), list(groups.lasts)
        grouped = len(keys)
        # The groups come in order of first offset, and late lines open the block: the groups
        # starting after the last late line (from `cut` on) keep their order after the others,
        # unless a late line moves one's first offset down (`moved`).
        cut = bisect_right(firsts, max(entry[1] for entry in late))
        moved: set[int] = set()
        added: dict[Key, int] = {}  # keys without a group: their position
        for key, at, _hash, position in late:
            if position < 0:
                position = added.get(key, -1)
            if position < 0:
                added[key] = len(keys)
                keys.append(key)
                counts.append(1)
                firsts.append(at)
                lasts.append(at)
                continue
            if cut <= position < grouped and at < firsts[position]:
                moved.add(position)
            counts[position] += 1
            firsts[position], lasts[position] = min(firsts[position], at), max(lasts[position], at)
        head = sorted([*range(cut), *moved, *range(grouped, len(keys))], key=firsts.__getitem__)
        rest = [i for i in range(cut, grouped) if i not in moved] if moved else None

        def ordered(values: list[_V]) -> list[_V]:
            tail = values[cut:grouped] if rest is None else [values[i] for i in rest]
            return [values[i] for i in head] + tail

        return Groups(ordered(keys), ordered(counts), ordered(firsts), ordered(lasts))

    def _new_rows(
        self,
        block: bytes,
        lines_before: int,
        groups: Groups,
        fresh: list[int],
        found: list[_Tally | None],
    ) -> None:
        """The rows of the peers first seen in this block (the groups at `fresh`, in order of
        first offset), made with their count and last time: new ones while there is room, put
        in `found` at their index; the others overflow, summed at once (`rows` holds every row
        of the file, `_tally`'s too: a fresh peer has none). The rows are made in one call of
        app._native.keepalive_rows where it is built (the loop here is its reference), their
        line numbers counted in one walk over the block, whatever the number of peers, in C
        without the GIL. (Once no row can be added, prepare_block leaves out the peers without
        a row: only the blocks prepared before then come here with thousands.)"""
        collector, file, rows = self.collector, self.file_name, self.rows
        tallies, keys, counts = collector.tallies, groups.keys, groups.counts
        firsts, lasts = groups.firsts, groups.lasts
        room = max(0, MAX_BACKGROUND_ROWS - len(tallies))  # (other files' readers may add some)
        taken = fresh[:room]
        offsets = [firsts[index] for index in taken]
        newlines = _newlines_before(block, offsets) if offsets else []
        made = 0  # (the rows app._native made: the loop below is its reference and fallback)
        if loops is not None and offsets:
            made = loops.keepalive_rows(
                block, keys, fresh, offsets, [lasts[index] for index in taken],
                [counts[index] for index in taken], newlines, lines_before, file, tallies, rows,
                found, _TALLY_MAKER, MAX_BACKGROUND_ROWS, MAX_TIME_LOOKBACK,
            )  # fmt: skip
        for position in range(made, len(fresh)):
            index = fresh[position]
            if position >= room or len(tallies) >= MAX_BACKGROUND_ROWS:  # (as Collector.room)
                collector.background_overflow += sum(map(counts.__getitem__, fresh[position:]))
                break
            key = keys[index]
            peer, _, method = key.rpartition(b"\n")
            utc = _utc_at(block, offsets[position])
            row = tallies[(file, peer, method)] = _Tally(
                lines_before + newlines[position] + 1,
                counts[index],
                first=utc,
                last=max(utc, _utc_at(block, lasts[index])),
            )
            rows[key] = found[index] = row

    def _tally(self, peer: bytes, method: bytes, status: int | None, utc: bytes, line: int) -> None:
        """Count one keep-alive message read the slow way (Collector.tally); its row, when it
        has one, is the file's row of that peer and method for `_count_keepalive` too."""
        self.collector.tally(self.file_name, peer, method, status, utc, line)
        row = self.collector.tallies.get((self.file_name, peer, method))
        if row is not None:
            self.rows[peer + b"\n" + method] = row

    def close(self) -> None:
        """End of the file: a block cut by the end of the log is read as far as it goes."""
        if self.body is not None:
            self._finish_body()
        self.awaiting.clear()

    def _summary(self, line: SipLine, utc: bytes, line_no: int) -> None:
        target: SipMessage | object
        if self.collector.folds(line.method, line.call_id):
            status = None if line.is_request else line.code
            method = line.method.encode()  # (a keep-alive method: ASCII)
            self._tally(line.peer, method, status, utc, line_no)
            target = _FOLDED
        else:
            message = self._message(line, utc, line_no)
            target = message if self.collector.keep(message) else _FOLDED
        if line.msg_hash:
            self.awaiting[line.msg_hash] = target
            if len(self.awaiting) > MAX_AWAITING:
                self.awaiting.popitem(last=False)
        self.body = _OpenBody(target, None, line_no)

    def _message(self, line: SipLine, utc: bytes, line_no: int) -> SipMessage:
        if line.method == "INVITE" and self.collector.room_for_messages:
            self.collector.invite_call_ids.add(line.call_id)
        return SipMessage(
            time=self.seconds.utc_time(utc),
            file=self.file_name,
            line=line_no,
            direction=line.direction,
            local=line.local,
            remote=line.remote,
            call_id=line.call_id,
            cseq=line.cseq,
            cseq_method=line.method,
            method=line.method if line.is_request else None,
            status=None if line.is_request else line.code,
            request_uri=line.request_uri,
            to_uri=line.to_uri,
            from_tag=line.from_tag,
            to_tag=line.to_tag,
            session_ids=line.session_ids,
            msg_hash=_text(line.msg_hash),
        )

    def _read_body(self, block: bytes, pos: int) -> int:
        """Go on reading the open SIPMSG block from `pos`; the position after it."""
        body = self.body
        if body is None or pos >= len(block):
            return pos  # (at a block's end, the next block says whether a SIPMSG block follows)
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
            return  # counted already
        if body.offset < 0:  # no SIPMSG block followed the line: the summary is all there is
            if isinstance(body.target, SipMessage):
                body.target.share_text(self.collector.shared)
            return
        raw = b"".join(body.parts)
        message = body.target
        if not isinstance(message, SipMessage) and (
            body.header is None or self._fold_block(body, body.header, raw)
        ):
            return
        head = read_head(raw)  # the headers only: the SDP is never read
        if not isinstance(message, SipMessage):
            assert body.header is not None
            message = self._from_block(body, body.header, head)
            if message is None or not self.collector.keep(message):
                return
        self._merge_head(message, head, body.header_line, (body.offset, body.length))
        message.share_text(self.collector.shared)  # (once kept and read whole: line and block)

    @staticmethod
    def _merge_head(message: SipMessage, head: Head, line: int, extent: tuple[int, int]) -> None:
        """What a message's SIPMSG block adds to it: its header line, its extent in the file
        (`extent`: offset, length) and the headers of `head` (its text is shared after)."""
        message.line = line
        message.body_offset, message.body_length = extent
        message.call_id = message.call_id or head.call_id
        if message.status is not None and head.reason:
            message.reason = head.reason
        if message.method is not None and head.request_uri:
            message.request_uri = head.request_uri
        message.from_uri = head.from_uri or message.from_uri
        message.from_tag = message.from_tag or head.from_tag
        message.to_uri = head.to_uri or message.to_uri
        message.to_tag = message.to_tag or head.to_tag
        message.transport = head.transport
        agent = head.user_agent if message.method else head.server
        message.user_agent = agent or head.user_agent or head.server
        message.reason_header = head.diagnostics
        message.via_count = head.via_count
        if head.session_ids is not None:
            message.session_ids = tuple(dict.fromkeys((*message.session_ids, *head.session_ids)))

    def _fold_block(self, body: _OpenBody, header: _Header, raw: bytes) -> bool:
        """Count a block logged without its summary if it is keep-alive traffic (read from a
        peek at its start line, CSeq and Call-ID: no full parse); True when counted."""
        start = _START.search(raw, 0, 400)
        cseq = _CSEQ.search(raw)
        if start is None or cseq is None:
            return False
        method = cseq[2].upper()
        call_id = _CALL_ID.search(raw)
        call = _text(call_id[1].strip())[:MAX_CALL_ID_CHARS] if call_id else ""
        if not self.collector.folds(_text(method)[:MAX_METHOD_CHARS], call):
            return False
        status = int(start[1]) if start[1] else None
        peer = header.remote.encode("utf-8", errors="replace")
        self._tally(peer, method, status, header.utc, body.header_line)
        return True

    def _from_block(self, body: _OpenBody, header: _Header, head: Head) -> SipMessage | None:
        """A message logged with its block but without a summary line (read from the block)."""
        if head.method is None and head.status is None:
            return None
        cseq_number, _, cseq_method = head.cseq.partition(" ")
        method = (cseq_method.strip().upper() or (head.method or ""))[:32]
        if method == "INVITE" and self.collector.room_for_messages:
            self.collector.invite_call_ids.add(head.call_id)
        return SipMessage(
            time=self.seconds.utc_time(header.utc),
            file=self.file_name,
            line=body.header_line,
            direction=header.direction,
            local=header.local,
            remote=header.remote,
            call_id=head.call_id,
            cseq=number(cseq_number),
            cseq_method=method,
            method=head.method,
            status=head.status,
        )
