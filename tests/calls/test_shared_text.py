"""Shared text of kept messages (app.calls.interning, app._native.SharedText): one str object
per distinct value in each collector's own table, bounded, never a wrong value."""

from __future__ import annotations

import random
import string
from datetime import timedelta

import pytest

from app import native
from app.calls.interning import shared_text, slot_interner
from app.calls.model import SHARED_SIP_FIELDS, SipMessage
from app.calls.signin import SigninCollector
from app.report import FileKind
from tests.calls.scenarios import two_node_logs
from tests.calls.signinlog import START, ts_request, ts_response
from tests.calls.test_extract import extract

needs_native = pytest.mark.skipif(native.loops is None, reason="SharedText is app._native's")


def fresh(text: str) -> str:
    """An equal str that is a new object (not a constant of this module, not interned)."""
    return "".join(list(text))


def message(call_id: str, local: str = "10.0.0.5:5061") -> SipMessage:
    return SipMessage(
        time=None, file=fresh("log.txt"), line=1, direction="in", local=fresh(local),
        remote=fresh("192.0.2.7:5060"), call_id=fresh(call_id), cseq=1, cseq_method="INVITE",
        method="INVITE", status=None, session_ids=(fresh("ab" * 16), 7),
    )  # fmt: skip


@needs_native
def test_equal_values_of_messages_become_one_object_of_the_collectors_table() -> None:
    table = shared_text()
    share = slot_interner(SipMessage, SHARED_SIP_FIELDS)
    first, second, other = message("a@x"), message("a@x"), message("b@x")
    assert first.call_id is not second.call_id
    for item in (first, second, other):
        share(item, table)
    assert first == second and first.call_id == "a@x" and other.call_id == "b@x"
    assert first.call_id is second.call_id and first.local is second.local is other.local
    assert first.session_ids[0] is second.session_ids[0] and first.session_ids[1] == 7
    # file, local, remote, two Call-IDs, the Session-ID; the methods are interned constants
    assert len(table) == 6  # type: ignore[arg-type]
    another = shared_text()
    late = message("a@x")
    share(late, another)  # another collector's table: its own objects
    assert late.call_id == first.call_id and late.call_id is not first.call_id


@needs_native
def test_values_of_every_width_are_shared_only_with_equal_values() -> None:
    """Equal bytes of different widths (PEP 393: "ab" and "\u6261" hold the same two bytes)
    are different text: each value comes back equal to itself, whatever was shared before."""
    assert native.loops is not None
    table = native.loops.SharedText()
    values = ["ab", "\u6261", "\x00\x00ab", "é", "\u20ac", "\U0001f600", "", "a" * 1000, "ab "]
    values += ["".join(random.Random(n).choices("aé€😀", k=n % 17)) for n in range(200)]
    first = [table.share(fresh(v)) for v in values]
    again = [table.share(fresh(v)) for v in values]
    assert first == values and again == values
    assert all(a is b for a, b in zip(first, again, strict=True))
    with pytest.raises(TypeError):
        table.share(b"ab")


@needs_native
def test_the_table_grows_and_stops_at_its_limit_values_staying_right() -> None:
    assert native.loops is not None
    rng = random.Random(7)
    values = list({"".join(rng.choices(string.ascii_letters, k=12)) for _ in range(50_000)})
    table = native.loops.SharedText()
    assert [table.share(fresh(v)) for v in values] == values
    # (a value whose slots are all taken for SharedText's MAX_PROBE slots stays unshared: at
    # the table's load, rare for values not made to collide)
    assert len(table) > 0.99 * len(values)
    held = [v for v in values[::97] if table.share(fresh(v)) is table.share(fresh(v))]
    assert len(held) > 0.99 * len(values[::97])

    small = native.loops.SharedText(limit=3)
    kept = [small.share(fresh(v)) for v in values[:10]]
    assert kept == values[:10] and len(small) == 3
    shared = [small.share(fresh(v)) is kept[i] for i, v in enumerate(values[:10])]
    assert shared == [True] * 3 + [False] * 7  # past the limit: equal values, not shared
    with pytest.raises(ValueError):
        native.loops.SharedText(limit=-1)


@needs_native
def test_readers_refuse_a_table_that_is_not_a_shared_text() -> None:
    assert native.loops is not None
    with pytest.raises(TypeError):
        native.loops.intern_slots((), message("c@x"), {})
    native.loops.intern_slots((), message("c@x"), None)


def test_a_collectors_calls_share_their_call_ids() -> None:
    """Extracted through the collector's table (C) or sys.intern (Python): the messages of one
    call hold one Call-ID object, and every message is kept as read."""
    expe, _expc = two_node_logs()
    collector = extract(expe.text().encode())
    kept = [m for messages in collector.messages.values() for m in messages]
    assert len(kept) > 10
    by_call: dict[str, list[SipMessage]] = {}
    for item in kept:
        by_call.setdefault(item.call_id, []).append(item)
    assert len(by_call) >= 2
    for messages in by_call.values():
        assert len({id(m.call_id) for m in messages}) == 1
        assert len({id(m.file) for m in messages}) == 1
    if native.loops is not None:
        assert isinstance(collector.shared, native.loops.SharedText)
        assert len(collector.shared) >= len(by_call)  # type: ignore[arg-type]


def test_sign_in_messages_share_their_peers() -> None:
    """Lines alone (read in C where it is built) and lines with their HTTPMSG blocks (read
    in Python): each peer one object, each message as logged."""
    collector = SigninCollector()
    observer = collector.observer("log.txt", FileKind.LOGGINGSNAPSHOT)
    assert observer is not None
    lines: list[str] = []
    for n in range(40):
        when, peer = START + timedelta(seconds=n), {"dst": f"10.0.0.{n % 3}", "port": 8443}
        request = ts_request("expe1", when, "/cucm-uds/user/jdoe", txn=n, tracking=f"t{n % 4}",
                             client="192.0.2.9", **peer)  # fmt: skip
        response = ts_response("expe1", when + timedelta(milliseconds=30), 200, "OK", txn=n,
                               **peer)  # fmt: skip
        lines += request + response if n % 2 else request[:1] + response[:1]
    lines.append("2026-01-29T14:01:16.974-05:00 expe1 other[1]: the end")
    observer.feed(("\n".join(lines) + "\n").encode(), 0)
    observer.close()
    kept = collector.messages["log.txt"]
    assert len(kept) == 80
    assert {m.peer for m in kept} == {f"10.0.0.{n}:8443" for n in range(3)}
    assert len({id(m.peer) for m in kept}) == 3
    assert {m.tracking_id for m in kept if m.tracking_id} == {f"t{n}" for n in range(4)}
    assert len({id(m.tracking_id) for m in kept if m.tracking_id}) == 4
    assert sorted({m.txn_id for m in kept}, key=int) == [str(n) for n in range(40)]
