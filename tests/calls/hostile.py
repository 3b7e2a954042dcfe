"""Hostile logs for the call-flow and sign-in readers: each built to make one regex or loop of
app.calls work more than linearly (repeated prefixes on one long line, blocks without an end,
fields without their closing quote, one key per message, …), at any size.

`CASES` maps a name to a function of the wanted size in bytes; `scan(data)` feeds the bytes
through the engine's block path with both observers attached, as an analysis does.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from app.calls.extract import Collector
from app.calls.signin import SigninCollector, combine
from app.report import FileKind
from app.signatures.engine import (
    BLOCK_SIZE,
    Aggregator,
    FileScan,
    default_matcher_factory,
    scan_stream,
)

TIME = '2018-01-01T12:56:48.964-05:00 expe tvcs: UTCTime="2018-01-01 17:56:48,964" '
SIP_PREFIX = (
    'Module="network.sip" Level="INFO" Action="Sent" Local-ip="1" Local-port="1" '
    'Dst-ip="1" Dst-port="1" Detail="Receive Request Method=A'
)
SIP_DEBUG = (
    'Module="network.sip" Level="DEBUG": Action="Received" Local-ip="10.0.0.5" '
    'Local-port="5061" Src-ip="192.0.2.7" Src-port="40000" Msg-Hash="1"'
)
INVITE_BLOCK = f"{TIME}{SIP_DEBUG}\n SIPMSG:\n |INVITE sip:a@b SIP/2.0"
TRAFFIC = 'Module="network.http.trafficserver" Level="DEBUG": '
TS_REQUEST = (
    'traffic_server[2030]: UTCTime="2018-01-01 17:56:48,964" Module="network.http.trafficserver" '
    'Level="DEBUG": Detail="Received Request" Txn-id="1" Src-ip="192.0.2.7" Src-port="1"'
)


def _fill(unit: str | bytes, size: int) -> bytes:
    raw = unit.encode() if isinstance(unit, str) else unit
    return (raw * (size // len(raw) + 1))[:size]


def one_line(unit: str) -> Callable[[int], bytes]:
    """A log line made of `unit` repeated to the size (no line break but the last)."""
    return lambda size: TIME.encode() + _fill(unit, size) + b"\n"


def many_lines(line: str) -> Callable[[int], bytes]:
    """`line` as many times as the size holds, one per line."""
    return lambda size: _fill(line + "\n", size)


def block_of(head: str, continuation: str, *, end: str = "") -> Callable[[int], bytes]:
    """A header line, then continuation lines up to the size, then `end` (no end: cut)."""
    return lambda size: (head + "\n").encode() + _fill(continuation + "\n", size) + end.encode()


def _distinct(template: str) -> Callable[[int], bytes]:
    """`template` once per line with `{n}` a different number each time."""

    def build(size: int) -> bytes:
        out, total, n = [], 0, 0
        while total < size:
            line = (template.format(n=n) + "\n").encode()
            out.append(line)
            total += len(line)
            n += 1
        return b"".join(out)

    return build


def _junk(size: int) -> bytes:
    rng = random.Random(7)
    unit = rng.randbytes(65_536) + b'Module="network.sip" SIPMSG:\n HTTPMSG:\r |\n'
    return _fill(unit, size)


def _cr_only(size: int) -> bytes:
    unit = (
        f'{TIME}{SIP_PREFIX} x, Call-ID=a, Msg-Hash=1"\r{TIME}{SIP_DEBUG}\r SIPMSG:\r'
        " |INVITE sip:a@b SIP/2.0\r CSeq: 1 INVITE\r\r"
    )
    return _fill(unit, size)


_OPTIONS = (
    TIME + 'Module="network.sip" Level="INFO": Action="Received" Local-ip="10.0.0.5" '
    'Local-port="5060" Src-ip="10.{a}.{b}.{c}" Src-port="{n}" Detail="Receive Request '
    'Method=OPTIONS, CSeq=1, Request-URI=sip:x, Call-ID={n}@x, Msg-Hash={n}"'
)


def _peers_one_line(size: int) -> bytes:
    """Keep-alive summaries of different peers, all on one line (one block)."""
    out, total, n = [TIME], len(TIME), 0
    while total < size:
        unit = _OPTIONS.removeprefix(TIME).format(a=n >> 16 & 255, b=n >> 8 & 255, c=n & 255, n=n)
        out.append(unit + " ")
        total += len(unit) + 1
        n += 1
    return "".join(out).encode() + b"\n"


def _peers_lines(size: int) -> bytes:
    out, total, n = [], 0, 0
    while total < size:
        line = _OPTIONS.format(a=n >> 16 & 255, b=n >> 8 & 255, c=n & 255, n=n) + "\n"
        out.append(line)
        total += len(line)
        n += 1
    return "".join(out).encode()


CASES: dict[str, Callable[[int], bytes]] = {
    "sip prefix repeated on one line": one_line(SIP_PREFIX),
    "sip prefix, detail without quote": lambda size: (
        (TIME + SIP_PREFIX + " Call-ID=x, ").encode() + _fill("a=b, ", size) + b"\n"
    ),
    "sip prefix and spaces, no quote": lambda size: (
        (TIME + SIP_PREFIX).encode() + _fill(" ", size) + b"\n"
    ),
    "short sip lines without Msg-Hash": many_lines(TIME + SIP_PREFIX),
    "short sip lines without the closing quote": many_lines(TIME + SIP_PREFIX + " Msg-Hash=1"),
    "Detail= without quotes": many_lines(
        TIME + SIP_PREFIX.replace('Detail="', "Detail=") + " Msg-Hash=1"
    ),
    "sip debug line repeated on one line": one_line(SIP_DEBUG + " "),
    "SIPMSG block of short continuation lines": block_of(INVITE_BLOCK, " a", end=" |\n"),
    "SIPMSG block with no end": block_of(INVITE_BLOCK, " a"),
    "SIPMSG block quoting sip lines": block_of(INVITE_BLOCK, " " + SIP_DEBUG, end=" |\n"),
    "continuation lines quoting sip lines": many_lines(" " + SIP_PREFIX + ", Msg-Hash=1"),
    "SIPMSG header lines of CSeq": block_of(
        TIME + SIP_DEBUG + "\n SIPMSG:\n |SIP/2.0 200 OK",
        " CSeq:" + "\t" * 8 + "1" + "\t" * 4,
        end=" |\n",
    ),
    "distinct Call-IDs (INVITE summaries)": _distinct(
        TIME + 'Module="network.sip" Level="INFO": Action="Received" Local-ip="10.0.0.5" '
        'Local-port="5061" Src-ip="192.0.2.7" Src-port="1" Detail="Receive Request '
        'Method=INVITE, CSeq=1, Request-URI=sip:x, Call-ID={n}@x, Msg-Hash={n}"'
    ),
    "distinct keep-alive peers, one per line": _peers_lines,
    "distinct keep-alive peers on one line": _peers_one_line,
    "CR-only line ends": _cr_only,
    "binary junk": _junk,
    "HTTPMSG block of huge size": block_of(
        TIME + TS_REQUEST + "\n HTTPMSG:\n |GET /a HTTP/1.1", " Host: " + "h" * 200, end=" |\n"
    ),
    "HTTPMSG block with no end": block_of(TIME + TS_REQUEST + "\n HTTPMSG:", " x"),
    "trafficserver module repeated on one line": one_line(TRAFFIC),
    "error events repeated on one line": one_line('Event="Sending HTTP error response" '),
    "failed-auth notes repeated on one line": one_line("Failed to authenticate user "),
    "trafficserver lines without fields": many_lines(TIME + TRAFFIC + 'Detail="Received Request"'),
    "field of spaces without its closing quote": lambda size: (
        (TIME + 'Module="developer.x" Detail="Failed to authenticate user" a=" ').encode()
        + _fill(" ", size)
        + b"\n"
    ),
    "lines ending in a field of spaces": many_lines(
        TIME + 'Module="network.http.edgeconfigprovisioning" Level="DEBUG" Action="Received" '
        'a=" ' + " " * 2000
    ),
    "request path of eyJ runs": many_lines(
        TIME + TS_REQUEST + "\n HTTPMSG:\n |GET /" + "eyJ" * 2700 + " HTTP/1.1\n |"
    ),
    "Location header of eyJ runs": many_lines(
        TIME
        + TS_REQUEST.replace("Received Request", "Sending Response")
        + "\n HTTPMSG:\n |HTTP/1.1 302 Found\n Location: /"
        + "eyJ" * 5000
        + "\n |"
    ),
}


def scan(
    data: bytes, *, block_size: int = BLOCK_SIZE
) -> tuple[Collector, SigninCollector, list[str]]:
    """Scan `data` as a log file with call flows and sign-ins on (no signatures): what each
    collector kept, and the scan's warnings."""
    sip, signins = Collector(), SigninCollector()
    observe = combine(sip.observer, signins.observer)
    assert observe is not None
    aggregator = Aggregator()
    file_scan = FileScan(
        "hostile.log",
        [],
        default_matcher_factory()([]),
        aggregator,
        observer=observe("hostile.log", FileKind.LOG),
    )
    scan_stream(io.BytesIO(data), file_scan, block_size=block_size)
    file_scan.close()
    file_scan.finish()
    return sip, signins, [*aggregator.warnings, *sip.warnings(), *signins.warnings()]


class CountingBytes(bytes):
    """A block that counts the bytes its searches look at (`find`, `rfind`, `count`, `in`):
    a measure of the observers' work that neither the machine nor its load changes (regex
    calls on the block are not counted)."""

    examined = 0

    def _span(self, start: int | None, end: int | None) -> tuple[int, int]:
        first, last, _ = slice(start, end).indices(len(self))
        return first, max(first, last)

    def find(self, sub, start=None, end=None, /):  # type: ignore[no-untyped-def,override]
        first, last = self._span(start, end)
        found = super().find(sub, first, last)
        self.examined += (found + len(sub) - first) if found != -1 else last - first
        return found

    def rfind(self, sub, start=None, end=None, /):  # type: ignore[no-untyped-def,override]
        first, last = self._span(start, end)
        found = super().rfind(sub, first, last)
        self.examined += (last - found) if found != -1 else last - first
        return found

    def count(self, sub, start=None, end=None, /):  # type: ignore[no-untyped-def,override]
        first, last = self._span(start, end)
        self.examined += last - first
        return super().count(sub, first, last)

    def __contains__(self, sub):  # type: ignore[no-untyped-def,override]
        found = super().find(sub)
        self.examined += found + len(sub) if found != -1 else len(self)
        return found != -1


def examined(data: bytes) -> int:
    """The bytes the observers' searches look at when `data` is one block (see CountingBytes)."""
    sip, signins = Collector(threaded=False), SigninCollector()
    observe = combine(sip.observer, signins.observer)
    assert observe is not None
    observer = observe("hostile.log", FileKind.LOG)
    assert observer is not None
    block = CountingBytes(data)
    observer.feed(block, 0, observer.prepare(block))
    observer.close()
    return block.examined
