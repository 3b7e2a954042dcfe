"""The C loops of app._native give what their Python references give, on every kind of log.

Each loop replaced one in Python (app/native.py): the newline counting of a block, the sorting
of its SIP lines (calls.extract.prepare_block) and the marking of its sign-in lines
(calls.signin.mark_block). They are compared here on the real public log, the generated
call and sign-in logs, every hostile log of tests/calls/hostile.py, and thousands of random
mutations of real lines (spacing, quotes, cut fields, CRLF, syslog prefixes, junk), in blocks
cut anywhere. With CI=true the extension must have been built (a test fails, not skips).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from app import native
from app.calls import extract, signin
from app.calls.interning import intern_fields, intern_fields_in_python
from app.calls.model import SHARED_SIP_FIELDS, SipMessage
from app.signatures.newlines import Newlines
from tests.calls.hostile import CASES
from tests.calls.scenarios import two_node_logs
from tests.calls.signinlog import START, ts_request, ts_response, uds_401

REAL_LOG = Path(__file__).resolve().parents[2] / "shared/data/real/expressway-e_mra_call.txt"

needs_native = pytest.mark.skipif(
    native.loops is None and os.environ.get("CI") != "true",
    reason="app._native is not built here (no C compiler at install)",
)


def test_the_extension_is_built_in_ci() -> None:
    if os.environ.get("CI") == "true":
        assert native.loops is not None, "setup.py did not build app._native"
    assert native.describe().startswith("C" if native.loops is not None else "Python")


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
def test_real_and_generated_logs() -> None:
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
def test_hostile_logs(case: str) -> None:
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


def _mutated(rng: random.Random) -> bytes:
    """A few log lines in the forms real logs show (SIP lines, sign-in lines, others), with a
    few bytes dropped, doubled or replaced."""
    lines = [
        _sip_line(rng) if rng.random() < 0.7 else rng.choice(_OTHERS)
        for _ in range(rng.randrange(1, 12))
    ]
    data = bytearray(rng.choice([b"\n", b"\r\n"]).join(lines) + b"\n")
    for _ in range(rng.randrange(0, 4)):
        at = rng.randrange(len(data))
        action = rng.randrange(3)
        if action == 0:
            del data[at]
        elif action == 1:
            data.insert(at, data[at])
        else:
            data[at] = rng.choice(b' "=\n\tMx,')
    return bytes(data)


@needs_native
def test_random_mutations_of_real_line_forms() -> None:
    rng = random.Random(20261203)
    for _ in range(4000):
        _same_everywhere(_mutated(rng))


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
            method="INVITE", status=None,
        )  # fmt: skip

    first, second, reference = message(), message(), message()
    assert first.call_id is not second.call_id
    intern_fields(first, SHARED_SIP_FIELDS)
    intern_fields(second, SHARED_SIP_FIELDS)
    intern_fields_in_python(reference, SHARED_SIP_FIELDS)
    assert first == second == reference
    assert first.call_id is second.call_id is reference.call_id
    assert first.local is second.local
