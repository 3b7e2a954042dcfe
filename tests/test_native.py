"""The C loops of app._native give what their Python references give, on every kind of log.

Each loop replaced one in Python (app/native.py): the newline counting of a block, the sorting
of its SIP lines (calls.extract.prepare_block) and the marking of its sign-in lines
(calls.signin.mark_block). They are compared here on the real public log, the generated
call and sign-in logs, every hostile log of tests/calls/hostile.py, and thousands of random
mutations of real lines (spacing, quotes, cut fields, CRLF, syslog prefixes, junk), in blocks
cut anywhere. With CI=true the extension must have been built (a test fails, not skips).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import random
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from app import native
from app.calls import extract, signin, sipline, sipmsg
from app.calls.interning import intern_fields_in_python, slot_interner
from app.calls.model import SHARED_SIP_FIELDS, SipMessage
from app.calls.signin_model import HttpMessage
from app.report import FileKind
from app.signatures.newlines import Newlines
from tests.calls.hostile import CASES
from tests.calls.scenarios import two_node_logs
from tests.calls.signinlog import START, ts_request, ts_response, uds_401
from tests.calls.test_found_needles import starts as _starts

REAL_LOG = Path(__file__).resolve().parents[2] / "shared/data/real/expressway-e_mra_call.txt"

needs_native = pytest.mark.skipif(
    native.loops is None and os.environ.get("CI") != "true",
    reason="app._native is not built here (no C compiler at install)",
)


def test_the_extension_is_built_in_ci() -> None:
    if os.environ.get("CI") == "true":
        assert native.loops is not None, "setup.py did not build app._native"
    assert native.describe().startswith("C" if native.loops is not None else "Python")


@pytest.fixture(params=["avx2", "sse2"])
def simd(request: pytest.FixtureRequest) -> Iterator[str]:
    """The block loops' vector code under test: AVX2 (where the CPU has it: chosen at import)
    or SSE2 (any x86-64); the setting of the import is back after the test."""
    assert native.loops is not None
    before = native.loops.set_avx2(request.param == "avx2")
    if request.param == "avx2" and not native.loops.set_avx2(True):
        native.loops.set_avx2(before)
        pytest.skip("this CPU has no AVX2")
    yield request.param
    native.loops.set_avx2(before)


def _sip_answer(prepared: extract.Prepared) -> tuple[object, ...]:
    groups = prepared.groups
    return (
        (groups.keys, groups.counts, list(groups.firsts), list(groups.lasts)),
        prepared.maybe_late,
        prepared.statuses,
        prepared.hits,
        prepared.tail,
        prepared.hit_newlines,
    )


def _same_everywhere(block: bytes) -> None:
    """Every loop answers `block` as its reference does."""
    assert native.loops is not None
    assert _sip_answer(extract.prepare_block(block)) == _sip_answer(
        extract.prepare_block_in_python(block)
    )
    fast, slow = signin.mark_block(block), signin.mark_block_in_python(block)
    assert (fast.counted, fast.starts or [], fast.newlines) == (
        slow.counted,
        slow.starts or [],
        slow.newlines,
    )
    assert signin.mark_block(block, lines=False).counted == slow.counted
    asked = [sorted({0, len(block) // 3, len(block), len(block) + 5}), slow.starts or []]
    fast_count, slow_count = Newlines(block), Newlines(block)
    tickets = [(fast_count.ask(a), slow_count.ask(a)) for a in asked]
    slow_count._count_in_python()
    for mine, reference in tickets:
        assert fast_count.answer(mine) == slow_count.answer(reference)
    for offset in (0, 1, len(block) // 2, len(block)):
        assert fast_count.before(offset) == slow_count.before(offset)


def _blocks(data: bytes, rng: random.Random, pieces: int = 4) -> list[bytes]:
    """`data` whole, and cut at random places (a block of the scan may end anywhere in a
    log whose lines are longer than a block)."""
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(pieces - 1)) if data else []
    bounds = [0, *cuts, len(data)]
    return [data, *(data[a:b] for a, b in zip(bounds, bounds[1:], strict=False))]


def _generated_logs() -> list[bytes]:
    expe, expc = two_node_logs()
    lines = [
        *ts_request("expe1", START, "/cucm-uds/user/jdoe/devices", txn=7, tracking="t1",
                    dst="10.0.97.131", port=8443, client="198.51.100.20"),
        *ts_response("expe1", START, 401, "Unauthorized", txn=7,
                     dst="10.0.97.131", port=8443),
        *uds_401("expe1", START, "jdoe"),
    ]  # fmt: skip
    return [expe.text().encode(), expc.text().encode(), ("\n".join(lines) + "\n").encode()]


@needs_native
def test_real_and_generated_logs(simd: str) -> None:
    rng = random.Random(7)
    logs = _generated_logs()
    if REAL_LOG.exists():
        logs.append(REAL_LOG.read_bytes())
    for log in logs:
        for block in _blocks(log, rng):
            _same_everywhere(block)
        _same_everywhere(log.replace(b"\n", b"\r\n"))  # CRLF line ends


@needs_native
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_logs(case: str, simd: str) -> None:
    data = CASES[case](200_000)
    for block in _blocks(data, random.Random(case)):
        _same_everywhere(block)


_PREFIXES = [
    b"",
    b"<134>1 ",
    b'2026-01-29T14:01:16.974-05:00 expe1 tvcs: UTCTime="2026-01-29 19:01:16,974" ',
]
_DETAILS = [
    b'Detail="Receive Request Method=OPTIONS, CSeq=1, Call-ID=a@b, Msg-Hash=11"',
    b'Detail="Sending Response Code=200, Method=REGISTER, CSeq=9, Msg-Hash=12"',
    b'Detail="Receive Response Code=486,  Method=INVITE, CSeq=1, Call-ID=c, Msg-Hash=13"',
    b'Detail="Sending Request Method=PUBLISHMsg-Hash=1, Msg-Hash=,x Msg-Hash=99"',
    b'Detail="Sending Request Method=' + b"X" * 40 + b'Msg-Hash=7"',
    b'Detail="Receive Request Code=12345678901, Method=INVITE, Msg-Hash=5"',
    b'Detail="Receive Request Method=SUBSCRIBE, Call-ID=s, Msg-Hash=' + b"9" * 80 + b'"',
    b'Detail="Receive  Request\tMethod=INVITE, Msg-Hash=14, Local-SessionID=x"',
    b'Detail="Receive Request Method=OPTIONS, Msg-Hash=' + b"8" * 64 + b'"',
    b'Detail="Sending Request Method=OPTIONS, Msg-Hash=' + b"8" * 65 + b'"',
    b"Detail=nothing",
    b'Msg-Hash="11"',
    b'Msg-Hash="12"',
    b'Msg-Hash="14"',
    b'Msg-Hash="' + b"h" * 70 + b'"',
    b'Msg-Hash="' + b"8" * 64 + b'"',
]
_BLOCKS = [
    b"",
    b"\n SIPMSG:\n |OPTIONS sip:a SIP/2.0\n |\n",
    b"\r\n SIPMSG:\r\n |REGISTER sip:a SIP/2.0\n |\n",
    b"\n SIPMSG:\n |INVITE sip:a SIP/2.0\n Call-ID: c\n |\n",
    b"\n SIPMSG:\n |" + b"A" * 33 + b" x\n",
]
_OTHERS = [
    b'Module="network.http.trafficserver" Level="DEBUG": Detail="Sending Request" Txn-id="1"',
    b'Module="network.http.edgeconfigprovisioning" Level="DEBUG"',
    b'Module="developer.x" network.http.trafficserver"',
    b'Event="Sending HTTP error response" Level="1"',
    b'Detail="Failed to authenticate user against server"',
    b' |quoted Module="network.sip" Level="INFO" inside a payload',
    b"\x00\xff junk",
]


def _sip_line(rng: random.Random) -> bytes:
    blank = lambda: rng.choice([b" ", b"  ", b"\t", b" \t"])  # noqa: E731
    side = rng.choice([b"Src", b"Dst"])
    return b"".join(
        [
            rng.choice(_PREFIXES),
            b'Module="network.sip"',
            blank(),
            rng.choice([b'Level="INFO":', b'Level="DEBUG"', b'Level="":']),
            blank(),
            rng.choice([b'Action="Received"', b'Action="Sent"']),
            blank(),
            b'Local-ip="10.0.0.5"',
            blank(),
            b'Local-port="5061"',
            blank(),
            side + b'-ip="192.0.2.' + str(rng.randrange(3)).encode() + b'"',
            blank(),
            side + b'-port="' + str(rng.choice([5060, 5061, 7001])).encode() + b'"',
            blank(),
            rng.choice(_DETAILS),
            rng.choice(_BLOCKS),
        ]
    )


def _mutate(
    data: bytes,
    rng: random.Random,
    most: int,
    common: bytes,
    rare: bytes = b"",
    share: float = 0,
    *,
    reshape: bool = False,
) -> bytes:
    """`data` with up to `most - 1` bytes replaced by one of `common` (or, with probability
    `share`, of `rare`) or, with `reshape`, dropped or doubled."""
    buffer = bytearray(data)
    for _ in range(rng.randrange(0, most)):
        at = rng.randrange(len(buffer))
        action = rng.randrange(3) if reshape else 2
        if action == 0:
            del buffer[at]
        elif action == 1:
            buffer.insert(at, buffer[at])
        else:
            buffer[at] = rng.choice(rare if rare and rng.random() < share else common)
    return bytes(buffer)


def _mutated(rng: random.Random) -> bytes:
    """A few log lines in the forms real logs show (SIP lines, sign-in lines, others), with a
    few bytes dropped, doubled or replaced."""
    lines = [
        _sip_line(rng) if rng.random() < 0.7 else rng.choice(_OTHERS)
        for _ in range(rng.randrange(1, 12))
    ]
    data = rng.choice([b"\n", b"\r\n"]).join(lines) + b"\n"
    return _mutate(data, rng, 4, b' "=\n\tMx,', reshape=True)


@needs_native
def test_random_mutations_of_real_line_forms(simd: str) -> None:
    rng = random.Random(20261203)
    for _ in range(4000):
        _same_everywhere(_mutated(rng))


@needs_native
def test_vector_loops_find_what_the_scalar_search_finds(simd: str) -> None:
    """Each needle at every offset of a 64-byte window, in blocks of every length up to 130
    bytes (the vector loops' last full step, and the scalar tail after it), CRLF or not."""
    assert native.loops is not None
    needles = [
        b'Module="network.sip" Level="INFO":  Action="Received" Local-ip="1" Local-port'
        b'="2" Src-ip="3" Src-port="4" Detail="Receive Request Method=INVITE, Msg-Hash=9"',
        b'Module="network.http.trafficserver" x',
        b"Sending HTTP error response",
        b"Failed to authenticate user",
        b'Module="network.http.edgeconfigprovisioning" y',
    ]
    for needle in needles:
        for at in range(64):
            for tail in (0, 1, 15, 16, 17, 31, 32, 33):
                block = b"x" * at + needle + b"\n" + b"y" * tail
                _same_everywhere(block)
                _same_everywhere(block[: len(block) - tail - 1])  # the needle ends the block
    text = b"a\nbb\n" * 40
    for size in range(len(text)):
        assert native.loops.newlines_answer(text[:size], [[size]])[0] == [
            [text[:size].count(b"\n")]
        ]


@needs_native
def test_ascending_offsets_are_required() -> None:
    assert native.loops is not None
    with pytest.raises(ValueError, match="ascending"):
        native.loops.newlines_answer(b"a\nb\n", [[3, 1]])


@needs_native
def test_interning_shares_the_same_text() -> None:
    def message() -> SipMessage:
        return SipMessage(
            time=None, file="log.txt", line=1, direction="in", local="".join(["10.0.0.5", ":1"]),
            remote="r", call_id="".join(["abc", "@x"]), cseq=1, cseq_method="INVITE",
            method="INVITE", status=None, session_ids=("".join(["ab", "cd"]), 7),
        )  # fmt: skip

    first, second, reference = message(), message(), message()
    assert first.call_id is not second.call_id
    share = slot_interner(SipMessage, SHARED_SIP_FIELDS)
    share(first)
    share(second)
    intern_fields_in_python(reference, SHARED_SIP_FIELDS)
    assert first == second == reference
    assert first.call_id is second.call_id is reference.call_id
    assert first.local is second.local
    assert first.session_ids[0] is second.session_ids[0] is reference.session_ids[0]
    assert first.session_ids[1] == 7  # (not a str: left as it is)
    assert first.status is None and first.cseq == 1  # (not a str: left as they are)
    kept = first.session_ids
    share(first)  # (shared already: the same tuple)
    assert first.session_ids is kept


@needs_native
def test_interning_slots_refuses_what_is_not_an_object_slot_of_the_item() -> None:
    message = SipMessage(
        time=None, file="f", line=1, direction="in", local="l", remote="r", call_id="c",
        cseq=1, cseq_method="INVITE", method="INVITE", status=None,
    )  # fmt: skip
    for wrong in (
        (HttpMessage.__dict__["peer"],),  # another class's slot: another offset
        ("call_id",),  # a name, not a descriptor
        (type(message).__dict__["is_request"],),  # a property
    ):
        with pytest.raises(TypeError):
            native.loops.intern_slots(wrong, message)
    native.loops.intern_slots((), message)


# --- sip_head: a SIPMSG block's start line and headers (calls.sipmsg.read_head) -------------

_START_LINES = [
    b"INVITE sip:5550001@example.com SIP/2.0",
    b"BYE sip:a@b;transport=tls SIP/2.0",
    b"SIP/2.0 200 OK",
    b"SIP/2.0 408 Request Timeout",
    b"SIP/2.0 180",
    b"SIP/2.0 700 Nope",
    b"SIP/2.0 486 " + b"r" * 199,
    b"SIP/2.0 486 " + b"r" * 200,
    b"SIP/2.0 486 " + b"r" * 201,
    b"INVITE " + b"u" * 2000 + b" SIP/2.0",
    b"INVITE " + b"u" * 2001 + b" SIP/2.0",
    b"I sip:a SIP/2.0",
    b"X-" + b"A" * 30 + b" sip:a SIP/2.0",
    b"X-" + b"A" * 31 + b" sip:a SIP/2.0",
    b"invite sip:a SIP/2.0",
    b"INVITE sip:a\tb SIP/2.0",
    b"INVITE  sip:a SIP/2.0",
    b"INVITE SIP/2.0",
    b"  SIP/2.0 100 Trying \r",
]
_HEADERS = [
    b"Via: SIP/2.0/TLS 198.51.100.7:40001;branch=z9hG4bK11",
    b"v: sip/2.0/udp x",
    b"Via: SIP/2.0/T x, SIP/2.0/WSSXYZ y",
    b"Via : SIP/2.0/",
    b"From: <sip:1003@example.com>;tag=a1",
    b'From: "Name, <x>" <sip:a@b>;Tag=Z;tag=y',
    b"f: sip:bare@x;tag= t",
    b"From: <>; tag=q>r",
    b"From: <" + b"u" * 2001 + b">",
    b"To: <sip:5550001@example.com>",
    b"t:\t<sip:t@x> ; TAG=" + b"g" * 201,
    b"To:  ;tag=",
    b"Call-ID: 00000001-bench-001@198.51.100.7",
    b"i: " + b"c" * 400,
    b"CSeq: 1 INVITE",
    b"cseq:102 BYE",
    b"User-Agent: TANDBERG/529 (ce9.15.0.1) Cisco-DX80",
    b"Server: Cisco-Expressway",
    b"Session-ID: 00000000000000015000a0005000a000;remote=00000000000000000000000000000000",
    b"Session-ID: 0123456789ABCDEF0123456789abcdef ; remote = fedcba9876543210fedcba9876543210",
    b"Session-ID: 00000000000000000000000000000000",
    b"Session-ID: x;0123456789abcdef0123456789abcdef;y",
    b"Session-ID: ",
    b'Reason: SIP;cause=487;text="Request Terminated"',
    b'Warning: 399 expc1 "Policy"',
    b'ms-diagnostics: 1000;reason="x"',
    b"X-MS-Diagnostics: " + b"d" * 1990,
    b"REASON: Q.850;cause=16",
    b"  From: <sip:two-spaces@x>",
    b"\tTo: <sip:tab@x>",
    b"Content-Type: application/sdp",
    b"no colon here",
    b": empty name",
]
_BLANKS = [b"\n\n", b"\n \n", b"\n\r\n", b"\n \r\n", b"\n  \n", b"\n"]


def _head(rng: random.Random) -> bytes:
    eol = rng.choice([b"\n", b"\r\n"])
    lines = [b" SIPMSG:", b" |" + rng.choice(_START_LINES)]
    lines += [b" " + rng.choice(_HEADERS) for _ in range(rng.randrange(0, 14))]
    body = rng.choice(_BLANKS) + b" v=0" + eol + b" |" + eol
    # now and then a byte that sends the head to the Python reader
    rare = b"\x0b\x1c\x85\xc3\xff\x7fx"
    return _mutate(eol.join(lines) + body, rng, 4, b" <>;:|=\n\r\tTt,", rare, 0.3, reshape=True)


def _plain(raw: bytes) -> bool:
    """Whether the head of `raw` (up to its first empty line) is tab, CR, LF and printables."""
    found = sipmsg._HEAD_END.search(raw)
    head = raw[: found.start() + 1] if found is not None else raw
    return all(byte in b"\t\r\n" or 0x20 <= byte <= 0x7E for byte in head)


def _same_head(raw: bytes) -> None:
    assert native.loops is not None
    fast = native.loops.sip_head(raw)
    if not _plain(raw):
        assert fast is None, raw
    else:
        assert fast is not None and sipmsg.Head._make(fast) == sipmsg.read_head_in_python(raw), raw
    assert sipmsg.read_head(raw) == sipmsg.read_head_in_python(raw)


def _sipmsg_blocks(log: bytes) -> list[bytes]:
    starts = [at + 1 for at in range(len(log)) if log.startswith(b"\n SIPMSG:", at)]
    return [log[at : at + 4000] for at in starts]


@needs_native
def test_sip_heads_of_real_and_generated_logs() -> None:
    logs = _generated_logs()
    if REAL_LOG.exists():
        logs.append(REAL_LOG.read_bytes())
    heads = [head for log in logs for head in _sipmsg_blocks(log)]
    assert len(heads) > 10
    for head in heads:
        _same_head(head)
        _same_head(head.replace(b"\n", b"\r\n"))
        assert native.loops is not None and native.loops.sip_head(head) is not None


@needs_native
def test_literals_in_a_head_are_found_at_every_offset() -> None:
    # (the C search looks at 16 positions at a time: Via versions and near misses at every
    # offset, and a head that ends right after one)
    rng = random.Random(5)
    for shift in range(40):
        for versions in (
            [b"SIP/2.0/TLS"],
            [b"SIP/2.0/UDP", b"SIP/2.0/TCP"],
            [b"SIP/2.0 ", b"SIP/2.0/"],
        ):
            filler = bytes(rng.choice(b"S/IP2.0 x") for _ in range(shift))
            vias = b"".join(b" Via: " + filler + version + b" a\n" for version in versions)
            head = b" SIPMSG:\n |INVITE sip:a@b SIP/2.0\n" + vias + b" Call-ID: c\n"
            _same_head(head)
            _same_head(head + b" \n")
            _same_head(head.rstrip(b"\n"))


@needs_native
def test_sip_heads_of_hostile_logs() -> None:
    for case in sorted(CASES):
        data = CASES[case](20_000)
        for head in _sipmsg_blocks(data)[:50] or [data[:4000]]:
            _same_head(head)


@needs_native
def test_random_sip_heads() -> None:
    rng = random.Random(20261204)
    fast = 0
    for _ in range(6000):
        raw = _head(rng)
        _same_head(raw)
        fast += _plain(raw)
    assert fast > 3000  # most heads are read in C


@needs_native
def test_sip_head_cuts_long_diagnostics_as_python_does() -> None:
    lines = [b" |SIP/2.0 503 Service Unavailable"] + [b" Reason: " + b"r" * n for n in range(300)]
    raw = b"\n".join([b" SIPMSG:", *lines]) + b"\n\n"
    _same_head(raw)
    assert len(sipmsg.read_head(raw).diagnostics) == sipmsg.MAX_DIAGNOSTICS_CHARS


# --- sip_line: one network.sip line's fields (calls.sipline.read_line) ----------------------

_DETAIL_PAIRS = [
    b"Method=INVITE",
    b"Method=invite ",
    b"Method= Options",
    b"CSeq=102",
    b"CSeq= 12345678901",
    b"Code=200",
    b"Code=abc",
    b"Call-ID=00000001-bench-001@198.51.100.7",
    b"Call-ID=" + b"c" * 320,
    b"Request-URI=sip:5550001@example.com",
    b"To=sip:a@b",
    b"From-Tag=a1",
    b"To-Tag= b2 ",
    b"Msg-Hash=123456789",
    b"Msg-Hash= 77 ",
    b"Local-SessionID=00000000000000015000a0005000a000",
    b"Remote-SessionID=0123456789ABCDEF0123456789abcdef;remote=fedcba9876543210fedcba9876543210",
    b"Local-SessionID=00000000000000000000000000000000",
    b"Remote-SessionID=",
    b"1bad=x",
    b"Name_with_word-chars=1",
    b"Call.ID=dotted",
    b"Method" + b"X" * 40 + b"=Y",
    b"=nothing",
    b"",
]


def _summary_line(rng: random.Random) -> bytes:
    blank = lambda: rng.choice([b" ", b"  ", b"\t"])  # noqa: E731
    pairs = [rng.choice(_DETAIL_PAIRS) for _ in range(rng.randrange(0, 9))]
    detail = rng.choice([b",", b", ", b" ,", b",\t"]).join(pairs)
    return b"".join(
        [
            b'Module="network.sip"', blank(),
            rng.choice([b'Level="INFO":', b'Level="DEBUG"', b'Level="":']), blank(),
            rng.choice([b'Action="Received"', b'Action="Sent"', b'Action="Dropped"']), blank(),
            b'Local-ip="10.0.0.5"', blank(), b'Local-port="5061"', blank(),
            rng.choice([b"Src", b"Dst"]), b'-ip="192.0.2.9"', blank(),
            rng.choice([b"Src", b"Dst"]), b'-port="5060"', blank(),
            rng.choice([
                b'Detail="' + rng.choice([b"", b" "]) + rng.choice([b"Receive", b"Sending"])
                + blank() + rng.choice([b"Request", b"Response", b"Reply"])
                + rng.choice([b" ", b"", b"\t"]) + rng.choice([b"", b","]) + detail + b'"',
                b'Msg-Hash="' + rng.choice([b"1", b"77", b"8" * 64, b"8" * 65, b""]) + b'"',
            ]),
            rng.choice([b"", b"\r", b' Extra="x"']),
        ]
    )  # fmt: skip


def _same_line(data: bytes) -> None:
    assert native.loops is not None
    at = data.find(b'Module="network.sip"')
    if at == -1:
        return
    end = data.find(b"\n", at)
    end = len(data) if end == -1 else end
    fast = native.loops.sip_line(data, at, end)
    slow = sipline.read_line_in_python(data, at, end)
    if fast is False:  # read by Python: only a Detail that is not plain ASCII
        assert slow is not None and slow.summary
        assert any(not (0x20 <= byte <= 0x7E or byte in b"\t\r") for byte in data[at:end]), data
    else:
        assert (fast if fast is None else sipline.SipLine._make(fast)) == slow, data
    assert sipline.read_line(data, at, end) == slow


@needs_native
def test_sip_lines_of_real_generated_and_hostile_logs() -> None:
    logs = _generated_logs()
    if REAL_LOG.exists():
        logs.append(REAL_LOG.read_bytes())
    logs += [CASES[case](20_000) for case in sorted(CASES)]
    lines = [line for log in logs for line in log.split(b"\n") if b"network.sip" in line]
    assert len(lines) > 100
    for line in lines:
        _same_line(line)
        _same_line(line + b"\r")


@needs_native
def test_random_sip_lines() -> None:
    rng = random.Random(20261205)
    summaries = 0
    for _ in range(8000):
        data = _mutate(_summary_line(rng), rng, 3, b' "=,\t;Mx.', b"\x0b\x85\xc3\xff", 0.2)
        _same_line(data)
        line = sipline.read_line_in_python(data, 0, len(data))
        summaries += line is not None and line.summary
    assert summaries > 800


@needs_native
def test_sip_line_refuses_offsets_outside_the_block() -> None:
    assert native.loops is not None
    with pytest.raises(ValueError, match="within the block"):
        native.loops.sip_line(b"abc", 2, 9)


# --- signin_line: a Traffic Server line of doc 225746's form (calls.signin.fast_line) --------

_TS_PIECES = [
    (b'UTCTime="2026-01-29 19:01:16,974"', [b'UTCTime="2026-01-29 19:01:16"',
        b'UTCTime="2026-01-29 19:01:16,1234567"', b'UTCTime="2026-01-29 19:1:16,9"',
        b'UTCTime="2026-01-29 19:01:16,"']),
    (b'Module="network.http.trafficserver"', [b'Module="network.http.trafficserver2"']),
    (b'Level="DEBUG":', [b'Level="DEBUG"', b'Level="ABCDEFGHIJKLM":', b'Level="":']),
    (b'Detail="Sending Request"', [b'Detail="Received Response"', b'Detail="Sending  Request"',
        b'Detail="Received Reply"']),
    (b'Txn-id="3028"', [b'Txn-id=""', b'Txn-id="' + b"t" * 41 + b'"']),
    (b'TrackingID="JVC_abc-1"', [b"", b'TrackingID="' + b"k" * 81 + b'"', b'TrackingID="x']),
    (b'Dst-ip="192.0.2.10"', [b'Src-ip=" 192.0.2.10 "', b'Dst-ip=""',
        b'Src-ip="' + b"9" * 65 + b'"']),
    (b'Dst-port="6972"', [b'Src-port=""', b'Dst-port="123456789"', b'Dst-port=" 8443 "']),
]  # fmt: skip


def _ts_line(rng: random.Random) -> bytes:
    pieces = [usual if rng.random() < 0.8 else rng.choice(others) for usual, others in _TS_PIECES]
    joined = b"".join(piece + rng.choice([b" ", b"  ", b"\t"]) for piece in pieces if piece)
    prefix = rng.choice([b"", b"2026-01-29T14:01:16.974-05:00 expe1 traffic_server[2030]: "])
    data = prefix + joined + rng.choice([b"", b" HTTPMSG: |GET / HTTP/1.1", b" x"])
    return _mutate(data, rng, 3, b' "=\t:,0', b"\x0b\xc3\x7f", 0.15)


def _same_signin_line(raw: bytes) -> None:
    assert native.loops is not None
    fast = native.loops.signin_line(raw)
    slow = signin.fast_line_in_python(raw)
    if fast is False:  # read by Python: only a line that is not plain ASCII
        assert any(not (0x20 <= byte <= 0x7E or byte == 0x09) for byte in raw), raw
    else:
        assert fast == slow, raw
    assert signin.fast_line(raw) == slow


@needs_native
def test_a_signin_line_with_one_byte_that_is_not_plain_ascii_anywhere_is_left_to_python() -> None:
    # (the C check reads 16 bytes at a time, then byte by byte: every position, both ways)
    assert native.loops is not None
    line = b"".join(usual + b" " for usual, _others in _TS_PIECES).rstrip()
    assert native.loops.signin_line(line) not in (None, False)
    for at in range(len(line)):
        for byte in (0x00, 0x0A, 0x0B, 0x0D, 0x1F, 0x7F, 0x80, 0xC3, 0xFF):
            changed = line[:at] + bytes([byte]) + line[at + 1 :]
            assert native.loops.signin_line(changed) is False, (at, byte)
        for byte in (0x09, 0x20, 0x7E):
            changed = line[:at] + bytes([byte]) + line[at + 1 :]
            assert native.loops.signin_line(changed) is not False, (at, byte)


@needs_native
def test_signin_lines_of_generated_and_hostile_logs() -> None:
    logs = _generated_logs()
    logs += [CASES[case](20_000) for case in sorted(CASES)]
    lines = [line.rstrip(b"\r") for log in logs for line in log.split(b"\n")]
    read = 0
    for line in lines:
        _same_signin_line(line)
        read += signin.fast_line_in_python(line) is not None
    assert read >= 5


@needs_native
def test_random_signin_lines() -> None:
    rng = random.Random(20261206)
    read = 0
    for _ in range(6000):
        raw = _ts_line(rng)
        _same_signin_line(raw)
        read += signin.fast_line_in_python(raw) is not None
    assert read > 500


# --- no read past the end: inputs that end right before a page the process may not read -------


@pytest.fixture(scope="module")
def guarded() -> Iterator[Callable[[bytes], memoryview]]:
    """`place(data)`: `data` as a buffer whose last byte ends a page; the next page is PROT_NONE
    (any read past the end is a segmentation fault, which fails the whole run)."""
    page = mmap.PAGESIZE
    size = 16 * page
    region = mmap.mmap(-1, size + page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    libc = ctypes.CDLL(None, use_errno=True)
    address = ctypes.addressof(ctypes.c_char.from_buffer(region))
    if libc.mprotect(ctypes.c_void_p(address + size), page, 0) != 0:
        pytest.skip("mprotect is not available here")

    def place(data: bytes) -> memoryview:
        assert len(data) <= size
        region[size - len(data) : size] = data
        return memoryview(region)[size - len(data) : size]

    yield place
    libc.mprotect(ctypes.c_void_p(address + size), page, mmap.PROT_READ | mmap.PROT_WRITE)


@needs_native
@pytest.mark.skipif(sys.platform != "linux", reason="guard pages through mprotect(2) on Linux")
def test_no_reader_reads_past_the_end(guarded: Callable[[bytes], memoryview], simd: str) -> None:
    assert native.loops is not None
    loops, rng = native.loops, random.Random(20261207)
    samples = [log[at : at + 3000] for log in _generated_logs() for at in range(0, len(log), 1499)]
    for _ in range(400):
        samples += [_head(rng), _summary_line(rng), _ts_line(rng), _mutated(rng)]
    for sample in samples:
        for cut in {len(sample), *rng.sample(range(len(sample) + 1), min(len(sample) + 1, 12))}:
            data = sample[:cut]
            view = guarded(data)
            loops.sip_head(view)
            loops.signin_line(view)
            loops.signin_marks(view, True)
            loops.sip_prepare(view, extract._KEEPALIVE_METHODS)
            # the offsets the matcher finds, taken instead of a pass (calls/test_found_needles)
            loops.signin_marks(view, True, tuple(_starts(data, n) for n in signin.NEEDLES))
            loops.sip_prepare(
                view, extract._KEEPALIVE_METHODS, None, (_starts(data, extract.SIP_MODULE),)
            )
            loops.newlines_answer(view, [[0, len(data)]])
            if data:
                offsets = [(0, 0), (1, len(data) - 1), (0, len(data) // 2)]
                loops.locate_lines(view, offsets, lambda i: ((b"Module", b"x"),), [None] * 2, -1)
            at = data.find(b'Module="network.sip"')
            if at != -1:
                line_end = data.find(b"\n", at)
                loops.sip_line(view, at, len(data))
                loops.sip_line(view, at, line_end if line_end != -1 else len(data))


# --- utc_datetime: a logged UTCTime (calls.extract.Seconds.utc_time, calls.signin._utc) -----

_UTC_FORMS = [
    "2018-01-01 17:56:48,964",
    "2018-01-01 17:56:48,9",
    "2018-01-01 17:56:48,92",
    "2018-01-01 17:56:48,0920",
    "2018-01-01 17:56:48,123456789",
    "2018-01-01 17:56:48",
    "2024-02-29 23:59:59,999",  # a leap day
    "2023-02-29 10:00:00,100",  # not one: Python's answer (None)
    "2018-13-01 17:56:48,964",
    "2018-01-01 24:00:00",
    "2018-01-01 17:56:60,5",  # a leap second: refused by datetime
    "0000-01-01 00:00:00",
    "9999-12-31 23:59:59,999999",
    "2018-01-01 17:56:48,",
    "2018-01-01 17:56:48,x",
    "2018-01-01 17:56:48.964",
    "2018-01-01T17:56:48,964",
    " 2018-01-01 17:56:48,964 ",
    "2018-01-01 17:56",
    "2018-01-01 17:56:48+01:00",
    "2018-01-01 17:56:48,٣",  # a digit, but not ASCII
    "",
]


def _utc_samples(rng: random.Random) -> list[bytes]:
    samples = [form.encode() for form in _UTC_FORMS]
    for _ in range(6000):
        form = rng.choice(_UTC_FORMS[:7]).encode()
        samples.append(_mutate(form, rng, 3, b"0123456789 ,:-.T", b"\xff\xc3", 0.05, reshape=True))
    return samples


@needs_native
def test_utc_datetime_equals_the_sip_reader_in_python() -> None:
    assert native.loops is not None
    answered = 0
    for value in _utc_samples(random.Random(20261203)):
        got = native.loops.utc_datetime(value, False)
        want = extract.Seconds().utc_time_in_python(value)
        if got is not False:  # (False: Python reads it)
            answered += 1
            assert got == want and got.tzinfo is want.tzinfo, value
        assert extract.Seconds().utc_time(value) == want, value
    assert answered > 2000  # the plain form is read in C
    for form in ("2018-01-01 17:56:48,964", "2018-01-01 17:56:48", "2024-02-29 23:59:59,9"):
        assert native.loops.utc_datetime(form.encode(), False) is not False


@needs_native
def test_utc_datetime_equals_the_signin_reader_in_python() -> None:
    reader = signin.SigninCollector().observer("log", FileKind.LOG)
    assert reader is not None and native.loops is not None
    rng, answered = random.Random(20261204), 0
    for raw in _utc_samples(rng):
        value = raw.decode("utf-8", errors="replace")
        for cut in (19, 18, 20, rng.randrange(len(value) + 1)):  # (second, fraction) as read
            second, fraction = value[:cut], value[cut:]
            want = signin.SigninReader(reader.collector, "log").utc_in_python(second, fraction)
            assert reader._utc(second, fraction) == want, (second, fraction)
        got = native.loops.utc_datetime(value, True)
        if got is not False:
            answered += 1
            assert got == reader.utc_in_python(value[:19], value[19:]), value
    assert answered > 2000


# --- locate_lines: the matcher's candidates grouped by line (signatures.engine.locate) -------

_GATE_PIECES = [b"ERROR", b"sip", b"x", b"Module=", b"\xff", b"not there", b"a b"]


def _candidates_and_gates(
    rng: random.Random, block: bytes
) -> tuple[list[tuple[int, int]], dict[int, tuple[tuple[bytes, ...], ...]]]:
    count = rng.randrange(0, 40)
    candidates = [(rng.randrange(12), rng.randrange(len(block))) for _ in range(count)]
    if rng.random() < 0.5:
        candidates.sort(key=lambda pair: pair[1])  # file order, as Hyperscan reports
    gates = {
        index: tuple(
            tuple(rng.sample(_GATE_PIECES, rng.randrange(0, 3))) for _ in range(rng.randrange(0, 3))
        )
        for index in range(12)
    }
    return candidates, gates


def _asking(
    gates: dict[int, tuple[tuple[bytes, ...], ...]], asked: list[int], index: int
) -> tuple[tuple[bytes, ...], ...]:
    asked.append(index)
    return gates[index]


@needs_native
def test_locate_lines_equals_candidate_lines() -> None:
    """Random blocks (lines of the pieces the gates look for, CRLF, empty lines, no last
    newline), candidates in file order or any order with repeats, gates that pass, fail or
    are empty, with and without extra indexes."""
    from app.signatures.engine import candidate_lines

    assert native.loops is not None
    rng = random.Random(20261204)
    words = [b"ERROR", b"sip", b"x", b"Module=", b"\xff", b"a b", b"", b"\r", b"  "]
    for _ in range(3000):
        block = b"\n".join(
            b" ".join(rng.choices(words, k=rng.randrange(0, 5))) for _ in range(rng.randrange(1, 9))
        ) + rng.choice([b"", b"\n"])
        if not block:
            continue
        candidates, gates = _candidates_and_gates(rng, block)
        first_extra = rng.choice([None, 8, 0])
        gate = rng.choice([None, gates.__getitem__])
        asked: list[int] = []
        counted = partial(_asking, gates, asked)
        slots: list[object] = [None] * 12
        fast = native.loops.locate_lines(
            block,
            candidates,
            counted if gate else None,
            slots,
            -1 if first_extra is None else first_extra,
        )
        assert fast == candidate_lines(block, candidates, first_extra, gate), (block, candidates)
        assert len(asked) == len(set(asked))  # each gate asked once, then kept in its slot


@needs_native
def test_locate_lines_refuses_what_the_matcher_cannot_give() -> None:
    assert native.loops is not None
    locate_lines = native.loops.locate_lines
    with pytest.raises(ValueError, match="outside"):
        locate_lines(b"ab\n", [(0, 3)], None, [], -1)
    with pytest.raises(ValueError, match="outside"):
        locate_lines(b"ab\n", [(0, -1)], None, [], -1)
    with pytest.raises(TypeError, match="index, offset"):
        locate_lines(b"ab\n", [(0,)], None, [], -1)
    with pytest.raises(IndexError, match="gate slot"):
        locate_lines(b"ab\n", [(2, 0)], lambda i: (), [None], -1)
    with pytest.raises(TypeError, match="tuple of tuples of bytes"):
        locate_lines(b"ab\n", [(0, 0)], lambda i: (("x",),), [None], -1)


@needs_native
def test_keep_alive_keys_of_every_length_are_grouped_as_in_python() -> None:
    """The keep-alive groups' keys are hashed as one text when it fits 256 bytes and piece by
    piece when longer (a hostile address, a long port): the same groups and counts as the
    Python reference either way, for equal and unequal keys side by side."""
    rng = random.Random(63)
    lines = []
    for n in range(400):
        ip = rng.choice(["10.0.0.1", "a" * 63, "a" * 64, "b" * 180, "c" * 250, "10.0." + "9" * 60])
        port = rng.choice(["5060", "5" * 63, "6" * 64, ""])
        method = rng.choice(["REGISTER", "OPTIONS", "PUBLISH"])
        lines.append(
            f'2026-11-20T11:15:33.{n % 1000:03d}+01:00 expc1 tvcs: UTCTime="2026-11-20 '
            f'10:15:33,{n % 1000:03d}" Module="network.sip" Level="INFO":  Action="Received" '
            f'Local-ip="192.0.2.5" Local-port="5061" Src-ip="{ip}" Src-port="{port}" '
            f'Detail="Receive Request Method={method}, CSeq={n}, Call-ID=c{n}, From-Tag=t, '
            f'Msg-Hash={n}"'
        )
    block = ("\n".join(lines) + "\n").encode()
    _same_everywhere(block)
    prepared = extract.prepare_block(block)
    assert len(prepared.groups.keys) > 20 and sum(prepared.groups.counts) == 400
