"""Keep-alive rows past the row cap: once no row can be added, a file's blocks are prepared
with the index of the keys that have one (`FileExtractor.frozen`), and the peers without a row
are only counted. The rows, their counts and statuses and the overflow must be what reading
without the index gives, whatever the log's peers, methods and block cuts."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from app.calls import extract
from app.calls.extract import Collector, FileExtractor
from app.native import loops
from tests.calls.hostile import CASES
from tests.calls.siplog import START, Node, sip
from tests.calls.test_extract import extract as read_log

pytestmark = pytest.mark.skipif(loops is None, reason="the index is made by app._native")

_CODES = ("200 OK", "401 Unauthorized", "503 Service Unavailable", "408 Request Timeout")


def keepalive_log(rng: random.Random, *, peers: int, messages: int) -> bytes:
    """Keep-alive traffic of `peers` peers (some far more often than others), requests and
    responses, some logged without their summary or without their block, and a call."""
    node = Node("expe", "192.0.2.5")
    pool = [f"198.51.100.{n % 250 + 1}:{5060 + n // 250}" for n in range(peers)]
    when = START
    for n in range(messages):
        when += timedelta(milliseconds=rng.randrange(1, 400))
        peer = pool[min(int(rng.expovariate(4 / peers)), peers - 1)]
        method = rng.choice(("OPTIONS", "REGISTER", "REGISTER", "PUBLISH", "SUBSCRIBE"))
        response = rng.random() < 0.4
        form = rng.randrange(5)  # 0: no summary, 1: no block, else both
        sip(
            node,
            when,
            direction=rng.choice(("in", "out")),
            local_port=5061,
            remote=peer,
            start_line=f"SIP/2.0 {rng.choice(_CODES)}" if response else f"{method} sip:x SIP/2.0",
            call_id=f"ka{n}@example.com",
            cseq=n + 1,
            method=method,
            summary=form != 0,
            block=form != 1,
        )
        if n % 97 == 0:
            node.other("a line of another module", when)
    when += timedelta(seconds=1)
    sip(
        node,
        when,
        direction="in",
        local_port=5061,
        remote=pool[0],
        start_line="INVITE sip:1004@example.com SIP/2.0",
        call_id="call-1@example.com",
        cseq=1,
        method="INVITE",
    )
    return node.text().encode()


def _state(collector: Collector) -> tuple[object, ...]:
    rows = {key: (row.line, row.count, row.failures, row.statuses, row.first, row.last)
            for key, row in collector.tallies.items()}  # fmt: skip
    return rows, collector.background_overflow, collector.messages, collector.kept


def _both_ways(
    data: bytes, monkeypatch: pytest.MonkeyPatch, *, cap: int, cuts: int, seed: int
) -> tuple[tuple[object, ...], tuple[object, ...], int]:
    """The collector's state read with the index and without it; how many blocks were
    prepared with an index."""
    monkeypatch.setattr(extract, "MAX_BACKGROUND_ROWS", cap)
    indexed = 0
    prepare = loops.sip_prepare

    def counting(
        block: bytes, methods: tuple[bytes, ...], index: object = None, found: object = None
    ) -> object:
        nonlocal indexed
        indexed += index is not None
        return prepare(block, methods, index, found)

    with monkeypatch.context() as patched:
        patched.setattr(loops, "sip_prepare", counting, raising=False)
        with_index = _state(read_log(data, cuts=cuts, seed=seed))
    with monkeypatch.context() as patched:
        patched.setattr(FileExtractor, "_frozen_index", lambda self: None)
        without = _state(read_log(data, cuts=cuts, seed=seed))
    return with_index, without, indexed


@pytest.mark.parametrize("seed", range(8))
def test_rows_past_the_cap_are_those_read_without_the_index(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    peers = rng.choice((20, 200, 2000))
    data = keepalive_log(rng, peers=peers, messages=3000)
    cap = rng.choice([cap for cap in (1, 5, 40, 150) if cap < peers])
    with_index, without, indexed = _both_ways(data, monkeypatch, cap=cap, cuts=60, seed=seed)
    assert indexed > 10  # (else this compares reading without the index with itself)
    rows, overflow, _messages, _kept = with_index
    assert len(rows) == cap and overflow > 0
    assert with_index == without


@pytest.mark.parametrize("crlf", [False, True])
def test_hostile_peers_past_the_cap_give_the_same_rows(
    crlf: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = CASES["distinct keep-alive peers, one per line"](300_000)
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    with_index, without, indexed = _both_ways(data, monkeypatch, cap=50, cuts=20, seed=2)
    assert indexed > 10
    assert with_index == without
    assert with_index[1] > 900  # the peers past the 50 rows: counted


def _options(node: Node, when: object, peer: str, *, hashed: bool = True) -> None:
    line = (
        f'2018-01-01T12:56:48.964-05:00 {node.host} tvcs: UTCTime="2018-01-01 17:56:48,964" '
        f'Module="network.sip" Level="INFO":  Action="Received" Local-ip="{node.ip}" '
        f'Local-port="5061" Src-ip="{peer.split(":")[0]}" Src-port="{peer.split(":")[1]}" '
        'Detail="Receive Request Method=OPTIONS, CSeq=1, Request-URI=sip:x, Call-ID=o@x'
    )
    node.lines.append(line + (f', Msg-Hash={len(node.lines)}"' if hashed else '"'))


def test_a_row_made_before_the_cap_counts_its_peer_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A peer's row made from a summary read line by line (no Msg-Hash: `Collector.tally`)
    counts the peer's later messages, also once no row can be added: they do not overflow."""
    monkeypatch.setattr(extract, "MAX_BACKGROUND_ROWS", 2)
    node = Node("expe", "192.0.2.5")
    _options(node, START, "198.51.100.1:5060", hashed=False)  # the row of .1, made by tally
    _options(node, START, "198.51.100.2:5060")  # the row of .2: no room left after it
    block = len(node.text())
    for _ in range(5):
        _options(node, START, "198.51.100.1:5060")
        _options(node, START, "198.51.100.3:5060")  # no row: overflows
    data = node.text().encode()
    collector = Collector()
    observer = collector.observer("log.txt", extract.FileKind.LOGGINGSNAPSHOT)
    assert isinstance(observer, extract.ThreadedExtractor)
    for part in (data[:block], data[block:]):
        observer.feed(part, 0)
    observer.close()
    counts = {peer: row.count for (_file, peer, _method), row in collector.tallies.items()}
    assert counts == {b"198.51.100.1:5060": 6, b"198.51.100.2:5060": 1}
    assert collector.background_overflow == 5


def test_the_index_takes_keys_as_bytes_only() -> None:
    with pytest.raises(TypeError):
        loops.keepalive_index(["198.51.100.1:5060\nOPTIONS"])
    with pytest.raises(TypeError):
        loops.keepalive_index(5)
    with pytest.raises((TypeError, ValueError)):
        loops.sip_prepare(b"x\n", (b"OPTIONS",), "not an index")
    index = loops.keepalive_index([b"a:1\nOPTIONS", b"a:1\nOPTIONS", b""])  # repeats: once
    assert loops.sip_prepare(b"no sip here\n", (b"OPTIONS",), index) is None


def test_the_index_knows_keys_of_every_length() -> None:
    """A block's groups are looked up in the index with the hash they were grouped by when
    their key text is at most 256 bytes, hashed again when longer: keys on both sides of that
    length, in the index or not, are counted as rows or as overflow alike."""
    peers = [
        ("198.51.100.7", "5060"),
        ("a" * 200, "5" * 47),
        ("a" * 200, "5" * 48),
        ("b" * 300, ""),
    ]
    lines = [
        f'2026-11-20T11:15:33.{n:03d}+01:00 expc1 tvcs: UTCTime="2026-11-20 10:15:33,{n:03d}" '
        f'Module="network.sip" Level="INFO":  Action="Received" Local-ip="192.0.2.5" '
        f'Local-port="5061" Src-ip="{ip}" Src-port="{port}" Detail="Receive Request '
        f'Method=OPTIONS, CSeq={n}, Call-ID=c{n}, From-Tag=t, Msg-Hash={n}"'
        for n, (ip, port) in enumerate(peers * 3)
    ]
    block = ("\n".join(lines) + "\n").encode()
    keys = [f"{ip}:{port}\nOPTIONS".encode() for ip, port in peers]
    assert [len(key) for key in keys] == [25, 256, 257, 309]  # (MAX_JOINED_KEY: 256)
    for known in ([0, 1], [2, 3], [1, 2], [0, 3], []):
        index = loops.keepalive_index([keys[k] for k in known])
        prepared = extract.prepare_block(block, index=index)
        assert sorted(prepared.groups.keys) == sorted(keys[k] for k in known)
        assert prepared.groups.counts == [3] * len(known)
        assert prepared.overflow == 3 * (len(peers) - len(known))


def test_rows_forgotten_make_room_again_for_blocks_prepared_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file scanned again drops its rows: another file's blocks prepared while there was no
    room are prepared again, so that their peers get the rows there is room for now."""
    monkeypatch.setattr(extract, "MAX_BACKGROUND_ROWS", 3)
    collector = Collector(threaded=False)
    first, second = Node("expe", "192.0.2.5"), Node("expe", "192.0.2.5")
    for n in range(3):
        _options(first, START, f"198.51.100.{n + 1}:5060")
    _options(second, START, "203.0.113.1:5060")
    later = Node("expe", "192.0.2.5")
    _options(later, START, "203.0.113.2:5060")
    a = collector.observer("a.txt", extract.FileKind.LOGGINGSNAPSHOT)
    b = collector.observer("b.txt", extract.FileKind.LOGGINGSNAPSHOT)
    assert isinstance(a, FileExtractor) and isinstance(b, FileExtractor)
    a.feed(first.text().encode(), 0)
    b.feed(second.text().encode(), 0)  # no room: 203.0.113.1 overflows
    assert b.frozen is not None
    prepared = b.prepare(later.text().encode())
    assert prepared.overflow == 1
    collector.forget("a.txt")
    b.feed(later.text().encode(), 1, prepared)
    assert set(collector.tallies) == {("b.txt", b"203.0.113.2:5060", b"OPTIONS")}
    assert collector.background_overflow == 1
    # full again: the index is made anew, with the rows made since
    more = Node("expe", "192.0.2.5")
    for n in (3, 4):
        _options(more, START, f"203.0.113.{n}:5060")
    b.feed(more.text().encode(), 2)
    assert not collector.room()
    b.feed(later.text().encode(), 4, b.prepare(later.text().encode()))
    assert collector.tallies["b.txt", b"203.0.113.2:5060", b"OPTIONS"].count == 2
    assert collector.background_overflow == 1
