"""SIP messages read from log blocks: the real public log by hand, block cuts, hostile input."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from pathlib import Path

import pytest

from app.calls.extract import MAX_BACKGROUND_ROWS, MAX_TIME_LOOKBACK, Collector
from app.calls.group import build_calls, merge_background
from app.calls.ladder import lay_out
from app.calls.model import BackgroundRow
from app.calls.render import to_svg, to_text
from app.report import FileKind, Report
from tests.calls.siplog import START, Node, sip
from tests.conftest import SHARED

REAL = SHARED / "data/real/expressway-e_mra_call.txt"
HOST = "vm-bluck-fed-vcse1"


def extract(data: bytes, *, cuts: int = 0, seed: int = 1, name: str = "log.txt") -> Collector:
    """Feed `data` as the engine does: line-aligned blocks of about 4 MB, or cut at `cuts`
    random line ends."""
    collector = Collector()
    observer = collector.observer(name, FileKind.LOGGINGSNAPSHOT)
    assert observer is not None
    rng = random.Random(seed)
    wanted = sorted(rng.randrange(len(data)) for _ in range(cuts)) if cuts else []
    wanted += list(range(4 * 2**20, len(data), 4 * 2**20))
    ends = sorted({data.find(b"\n", at) + 1 for at in wanted} - {0})
    start, lines = 0, 0
    for end in [*ends, len(data)]:
        block = data[start:end]
        if block:
            observer.feed(block, lines)
            lines += block.count(b"\n")
        start = max(start, end)
    observer.close()
    return collector


@pytest.fixture(scope="module")
def real() -> bytes:
    if not REAL.is_file():
        pytest.skip("the real public log is not on this machine")
    return REAL.read_bytes()


def test_the_real_log_gives_the_six_messages_read_by_hand(real: bytes) -> None:
    # By hand (grep 'Module="network.sip"'): six INFO summaries, each with a DEBUG line and a
    # SIPMSG block: INVITE from the DX70, 100 to it, INVITE to the Exp-C (traversal zone),
    # 100 from it, then Unified CM's INVITE for 1004 back through the Exp-C, and 100.
    messages = extract(real).messages["log.txt"]
    assert [(m.direction, m.label, m.cseq) for m in messages] == [
        ("in", "INVITE", 100),
        ("out", "100 Trying", 100),
        ("out", "INVITE", 100),
        ("in", "100 Trying", 100),
        ("in", "INVITE", 101),
        ("out", "100 Trying", 101),
    ]
    assert [m.line for m in messages] == [2, 210, 831, 967, 995, 1148]  # the SIPMSG header lines
    first = messages[0]
    assert first.remote == "10.122.73.183:47177" and first.local == "10.81.54.5:5061"
    assert first.transport == "TLS"
    assert first.user_agent == "TANDBERG/529 (ce9.2.0.5c47770) Cisco-DX70"
    assert first.from_uri == "sip:1003@vm-bluck-fed-cust2-cucm1.cisco.com"
    assert first.to_uri == "sip:1004@vm-bluck-fed-cust2-cucm1.cisco.com"
    assert first.time is not None and first.time.isoformat() == "2018-01-01T17:56:48.964000+00:00"
    assert messages[2].remote == "10.81.54.102:25017" and messages[2].local == "10.81.54.5:7002"
    assert messages[3].user_agent == "TANDBERG/4136 (X8.11PreAlpha2 (TEST SW))"
    assert messages[4].call_id == "22794c00-a4a17661-3a-6936510a@10.81.54.105"
    assert messages[4].session_ids == ("c6a7e32d00255000a0000988efd00000",)
    block = real[messages[0].body_offset : messages[0].body_offset + messages[0].body_length]
    assert block.startswith(b" SIPMSG:\n |INVITE sip:1004@") and block.rstrip().endswith(b"|")


def test_the_real_log_is_one_call_with_its_participants_named(real: bytes) -> None:
    calls = build_calls(extract(real).messages, {"log.txt": HOST})
    assert len(calls) == 1
    call = calls[0]
    # the B2BUA (Unified CM) wrote a new Call-ID for the leg towards 1004; the Session-ID
    # c6a7e32d… is the same end to end (RFC 7989)
    assert call.call_ids == [
        "e7e75ff9a67fb2435b25eab2a1498171",
        "22794c00-a4a17661-3a-6936510a@10.81.54.105",
    ]
    assert call.joined_by == "session-id"
    assert call.method == "INVITE" and call.nodes == [HOST] and len(call.messages) == 6
    assert call.final_status == "" and not call.failed  # the log ends before any final answer
    ladder = lay_out(call.messages, {HOST: "Expressway-E"})
    assert [(c.address, c.label) for c in ladder.columns] == [
        ("10.122.73.183:47177", "DX70 (ce9.2.0.5c47770)"),
        ("10.81.54.5", f"{HOST} (Expressway-E)"),
        ("10.81.54.102:25017", "Expressway-C X8.11PreAlpha2"),
    ]
    assert [(a.src, a.dst, a.label) for a in ladder.arrows] == [
        (0, 1, "INVITE"),
        (1, 0, "100 Trying"),
        (1, 2, "INVITE"),
        (2, 1, "100 Trying"),
        (2, 1, "INVITE"),
        (1, 2, "100 Trying"),
    ]
    assert [a.delta_ms for a in ladder.arrows] == [None, 11, 13, 20, 354, 6]
    assert not any(a.retransmission for a in ladder.arrows)


def test_any_cut_into_blocks_gives_the_same_messages(real: bytes) -> None:
    whole = [
        (m.line, m.body_offset, m.body_length, m.label) for m in extract(real).messages["log.txt"]
    ]
    for seed in range(8):
        cut = extract(real, cuts=300, seed=seed).messages["log.txt"]
        assert [(m.line, m.body_offset, m.body_length, m.label) for m in cut] == whole


def _call(node: Node, call_id: str = "abc@10.0.0.1", **extra: object) -> None:
    when = START
    for index, (direction, start_line) in enumerate(
        [
            ("in", "INVITE sip:1004@example.com SIP/2.0"),
            ("out", "SIP/2.0 100 Trying"),
            ("out", "SIP/2.0 486 Busy Here"),
            ("in", "ACK sip:1004@example.com SIP/2.0"),
        ]
    ):
        method = "ACK" if start_line.startswith("ACK") else "INVITE"
        sip(
            node,
            when + timedelta(milliseconds=10 * index),
            direction=direction,
            local_port=5061,
            remote="192.0.2.7:40000",
            start_line=start_line,
            call_id=call_id,
            cseq=1,
            method=method,
            **extra,
        )  # type: ignore[arg-type]


def test_a_block_cut_by_the_end_of_the_log_still_gives_its_message() -> None:
    node = Node("expe", "10.0.0.5")
    _call(node)
    text = node.text()
    cut = text[: text.rindex("Call-ID:")]  # the ACK's block loses everything from its Call-ID
    calls = build_calls(extract(cut.encode()).messages, {"log.txt": "expe"})
    assert [m.label for m in calls[0].messages] == ["INVITE", "100 Trying", "486 Busy Here", "ACK"]
    assert calls[0].final_status == "486 Busy Here" and calls[0].failed


def test_messages_without_a_call_id_are_left_out() -> None:
    node = Node("expe", "10.0.0.5")
    sip(
        node,
        START,
        direction="in",
        local_port=5061,
        remote="192.0.2.7:1",
        start_line="INVITE sip:x@y SIP/2.0",
        call_id="",
        cseq=1,
        method="INVITE",
        block=False,
    )
    _call(node)
    calls = build_calls(extract(node.text().encode()).messages, {"log.txt": "expe"})
    assert len(calls) == 1 and calls[0].call_ids == ["abc@10.0.0.1"]


def test_binary_junk_in_a_block_is_read_without_harm() -> None:
    node = Node("expe", "10.0.0.5")
    _call(node)
    junk = bytes(random.Random(3).randrange(256) for _ in range(5000)).replace(b"\n", b"\n ")
    data = (
        node.text()
        .encode()
        .replace(b" CSeq: 1 INVITE\n", b" CSeq: 1 INVITE\n \x00\xff" + junk + b"\n", 1)
    )
    calls = build_calls(extract(data).messages, {"log.txt": "expe"})
    assert [m.label for m in calls[0].messages] == ["INVITE", "100 Trying", "486 Busy Here", "ACK"]


def test_a_flood_of_options_pings_is_counted_not_kept() -> None:
    node = Node("expe", "10.0.0.5")
    for n in range(1000):
        when = START + timedelta(seconds=n)
        sip(
            node,
            when,
            direction="out",
            local_port=7001,
            remote="10.0.0.9:7001",
            start_line="OPTIONS sip:10.0.0.9:7001 SIP/2.0",
            call_id=f"ping{n}",
            cseq=n,
            method="OPTIONS",
        )
        sip(
            node,
            when,
            direction="in",
            local_port=7001,
            remote="10.0.0.9:7001",
            start_line="SIP/2.0 200 OK" if n % 100 else "SIP/2.0 408 Request Timeout",
            call_id=f"ping{n}",
            cseq=n,
            method="OPTIONS",
        )
    _call(node)
    data = node.text().encode() * 5  # 10,000 pings
    collector = extract(data)
    assert collector.kept == 20  # only the call's messages (5 copies of 4)
    (row,) = collector.background_rows()
    assert (row.method, row.peer, row.count, row.failures) == (
        "OPTIONS",
        "10.0.0.9:7001",
        10000,
        50,
    )
    assert sum(len(kept) for kept in collector.messages.values()) == 20  # nothing per ping


def test_header_values_with_markup_are_escaped_in_svg_and_kept_in_text() -> None:
    node = Node("expe", "10.0.0.5")
    _call(
        node,
        from_uri="sip:<script>alert(1)</script>@evil",
        headers=("User-Agent: <script>x</script>",),
    )
    calls = build_calls(extract(node.text().encode()).messages, {"log.txt": "expe"})
    ladder = lay_out(calls[0].messages, {})
    svg = to_svg(ladder)
    assert "<script" not in svg and "&lt;script&gt;x&lt;/script&gt;" in svg  # the column label
    assert "INVITE" in to_text(ladder)


def test_a_summary_without_block_and_a_block_without_summary_are_both_read() -> None:
    node = Node("expe", "10.0.0.5")
    common = {"call_id": "lonely@192.0.2.7", "cseq": 1, "method": "INVITE"}
    sip(
        node,
        START,
        direction="in",
        local_port=5061,
        remote="192.0.2.7:5060",
        start_line="INVITE sip:2000@example.com SIP/2.0",
        block=False,
        **common,
    )  # type: ignore[arg-type]
    sip(
        node,
        START + timedelta(seconds=1),
        direction="out",
        local_port=5061,
        remote="192.0.2.7:5060",
        start_line="SIP/2.0 503 Service Unavailable",
        summary=False,
        headers=('Warning: 399 expe "No route"',),
        **common,
    )  # type: ignore[arg-type]
    (call,) = build_calls(extract(node.text().encode()).messages, {"log.txt": "expe"})
    invite, answer = call.messages
    assert (invite.label, invite.body_offset, invite.request_uri) == (
        "INVITE",
        -1,
        "sip:2000@example.com",
    )
    assert (answer.label, answer.remote, answer.direction) == (
        "503 Service Unavailable",
        "192.0.2.7:5060",
        "out",
    )
    assert call.final_status == "503 Service Unavailable" and call.failed
    assert call.end_reason == '503 Service Unavailable (Warning: 399 expe "No route")'


def analyse_expe_log(tmp_path: Path, *, while_unpacking: bool) -> Report:
    """The Expressway-E log of tests/calls/scenarios analysed with call flows, scanned while
    it is unpacked or read back from the work dir (the log is written once per `tmp_path`:
    each call of the scenarios numbers its messages anew)."""
    from app.config import Settings
    from app.signatures import load_library
    from app.worker.pipeline import Input, analyze, limits_from
    from tests.calls.scenarios import two_node_logs

    log = tmp_path / "loggingsnapshot_expe1_2018.txt"
    if not log.exists():
        log.write_text(two_node_logs()[0].text())
    return analyze(
        [Input(log, log.name)],
        tmp_path / "work",
        load_library(),
        limits_from(Settings()),
        scan_while_unpacking=while_unpacking,
        extract_calls=True,
    )


def test_scanning_while_unpacking_and_reading_back_find_the_same_calls(tmp_path: Path) -> None:
    seen = []
    for while_unpacking in (True, False):
        report = analyse_expe_log(tmp_path, while_unpacking=while_unpacking)
        assert report.calls is not None
        seen.append([(c.call_ids, [(m.line, m.label) for m in c.messages]) for c in report.calls])
    assert seen[0] == seen[1] and len(seen[0]) == 2


def test_a_request_logged_again_is_marked_as_a_retransmission() -> None:
    node = Node("expe", "10.0.0.5")
    invite = {"call_id": "rtx@192.0.2.7", "cseq": 1, "method": "INVITE", "remote": "192.0.2.7:5060"}
    for ms in (0, 500, 1500):  # Timer A: the INVITE again after 500 ms and 1 s
        sip(
            node,
            START + timedelta(milliseconds=ms),
            direction="out",
            local_port=5060,
            start_line="INVITE sip:2000@example.com SIP/2.0",
            **invite,
        )  # type: ignore[arg-type]
    sip(
        node,
        START + timedelta(seconds=2),
        direction="in",
        local_port=5060,
        start_line="SIP/2.0 100 Trying",
        **invite,
    )  # type: ignore[arg-type]
    (call,) = build_calls(extract(node.text().encode()).messages, {"log.txt": "expe"})
    ladder = lay_out(call.messages, {})
    assert [(a.label, a.retransmission) for a in ladder.arrows] == [
        ("INVITE", False),
        ("INVITE", True),
        ("INVITE", True),
        ("100 Trying", False),
    ]
    assert "INVITE (1) [resent]" in to_text(ladder)
    assert 'stroke-dasharray="6 4"' in to_svg(ladder)


def test_without_extract_calls_no_observer_sees_a_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without extract_calls (LOUPE_CALL_FLOWS=false): no observer, calls stay None."""
    from app.calls import extract
    from app.config import Settings
    from app.signatures import engine, load_library
    from app.worker.pipeline import Input, analyze, limits_from
    from tests.calls.scenarios import two_node_logs

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("call extraction ran although it is off")

    monkeypatch.setattr(extract.Collector, "__init__", refuse)
    observers: list[object] = []
    original = engine.FileScan.__init__

    def record(self: engine.FileScan, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        observers.append(self.observer)

    monkeypatch.setattr(engine.FileScan, "__init__", record)
    expe, _ = two_node_logs()
    log = tmp_path / "loggingsnapshot_expe1_2018.txt"
    log.write_text(expe.text())
    library, limits = load_library(), limits_from(Settings())
    for while_unpacking in (True, False):
        report = analyze(
            [Input(log, log.name)],
            tmp_path / "work",
            library,
            limits,
            scan_while_unpacking=while_unpacking,
        )
        assert report.calls is None and report.call_background == []
    assert observers and all(observer is None for observer in observers)


def test_keepalive_traffic_is_counted_once_per_message_whatever_the_cuts() -> None:
    """Pings logged as summary + DEBUG line + block, or as a block alone, counted per peer
    (not per line): each message once, also when a cut falls between a summary and its block."""
    node = Node("expe", "10.0.0.5")
    expected: dict[tuple[str, str], dict[str, object]] = {}
    for n in range(400):
        when = START + timedelta(seconds=n)
        peer = f"10.0.0.{9 + n % 3}:7001"
        pinged = n % 5 != 0  # every fifth: a REGISTER logged with its block only
        method = "OPTIONS" if pinged else "REGISTER"
        row = expected.setdefault(
            (peer, method), {"count": 0, "failures": 0, "first": when, "line": 0}
        )
        if not row["line"]:
            row["line"] = len(node.lines) + 1  # its first line: the summary, else the block's
        row["count"] = int(str(row["count"])) + (2 if pinged else 1)
        row["last"] = when
        sip(
            node,
            when,
            direction="out",
            local_port=7001,
            remote=peer,
            start_line=f"{method} sip:{peer} SIP/2.0",
            call_id=f"ka{n}",
            cseq=n,
            method=method,
            summary=pinged,
        )
        if pinged:
            timeout = n % 7 == 0
            row["failures"] = int(str(row["failures"])) + (1 if timeout else 0)
            sip(
                node,
                when,
                direction="in",
                local_port=7001,
                remote=peer,
                start_line="SIP/2.0 408 Request Timeout" if timeout else "SIP/2.0 200 OK",
                call_id=f"ka{n}",
                cseq=n,
                method=method,
            )
    _call(node)
    data = node.text().encode()
    for cuts in (0, 40, 2000):
        collector = extract(data, cuts=cuts, seed=cuts)
        assert collector.kept == 4
        rows = {(r.peer, r.method): r for r in collector.background_rows()}
        assert set(rows) == set(expected)
        for key, want in expected.items():
            got = rows[key]
            assert (got.count, got.failures, got.first, got.last, got.line) == (
                want["count"],
                want["failures"],
                want["first"],
                want["last"],
                want["line"],
            ), (cuts, key)


def test_a_failure_while_reading_a_block_is_raised_when_the_file_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.calls import extract as module

    def broken(*args: object) -> None:
        raise RuntimeError("reading failed")

    node = Node("expe", "10.0.0.5")
    _call(node)
    observer = Collector().observer("log.txt", FileKind.LOGGINGSNAPSHOT)
    assert isinstance(observer, module.ThreadedExtractor)
    monkeypatch.setattr(module.FileExtractor, "feed", broken)
    observer.feed(node.text().encode(), 0)
    with pytest.raises(RuntimeError, match="reading failed"):
        observer.close()


def test_an_extractor_thread_that_ended_when_idle_loses_no_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A scan that pauses longer than the idle time (a slow upload) reads every block in order."""
    import time

    from app.calls import extract as module

    monkeypatch.setattr(module.ThreadedExtractor, "IDLE_SECONDS", 0.05)
    node = Node("expe", "10.0.0.5")
    _call(node, call_id="first@192.0.2.7")
    _call(node, call_id="second@192.0.2.7")
    data = node.text().encode()
    middle = data.index(b"\n", len(data) // 2) + 1
    collector = Collector()
    observer = collector.observer("log.txt", FileKind.LOGGINGSNAPSHOT)
    assert isinstance(observer, module.ThreadedExtractor)
    observer.feed(data[:middle], 0)
    time.sleep(0.3)  # the thread ends
    observer.feed(data[middle:], data[:middle].count(b"\n"))
    observer.close()
    whole = extract(data)
    assert [(m.line, m.label, m.call_id) for m in collector.messages["log.txt"]] == [
        (m.line, m.label, m.call_id) for m in whole.messages["log.txt"]
    ]
    assert len(whole.messages["log.txt"]) == 8


@pytest.mark.parametrize("logged", ["summary and block", "summary only", "block only"])
def test_kept_messages_share_one_copy_of_their_repeated_text(logged: str) -> None:
    # memory per message: a call's four messages hold one copy of its addresses, Call-ID,
    # URIs, method and transport (not four), and a message has no per-instance __dict__ -
    # whether its block, its summary (INFO logging) or both were logged
    node = Node("expe", "10.0.0.5")
    _call(
        node,
        call_id="shared@10.0.0.1",
        summary=logged != "block only",
        block=logged != "summary only",
    )
    messages = extract(node.text().encode()).messages["log.txt"]
    assert len(messages) == 4
    first, last = messages[0], messages[2]  # the INVITE and its 486
    names = ("local", "remote", "call_id", "cseq_method")
    if logged != "summary only":
        names += ("from_uri", "to_uri", "transport")  # (read from the block)
    for name in names:
        assert getattr(first, name), name
        assert getattr(first, name) is getattr(last, name), name
    assert not hasattr(first, "__dict__")


@pytest.mark.parametrize(
    "utc",
    [
        b"2018-01-01 17:56:48,964",
        b"2018-01-01 17:56:48,9",
        b"2018-01-01 17:56:48,123456789",
        b"2018-01-01 17:56:48",
        b" 2018-01-01 17:56:48,964 ",
        b"2018-01-01 17:56:48,x",
        b"2018-13-01 17:56:48,964",
        b"",
        b"\xff\xfe",
    ],
)
def test_message_times_read_through_the_cache_equal_a_fresh_parse(utc: bytes) -> None:
    from app.calls.extract import utc_time

    reader = Collector(threaded=False).observer("log.txt", FileKind.LOG)
    assert reader is not None
    expected = utc_time(utc.decode("utf-8", errors="replace"))
    assert reader.seconds.utc_time(utc) == expected  # type: ignore[union-attr]
    assert reader.seconds.utc_time(utc) == expected  # type: ignore[union-attr]  (from the cache)


def test_keep_alive_rows_merge_per_node_and_come_busiest_first() -> None:
    rng = random.Random(3)
    rows = [
        BackgroundRow(
            node="",
            file=rng.choice(["a.txt", "b.txt", "c.txt"]),
            peer=rng.choice(["192.0.2.1:5060", "192.0.2.2:5061", "198.51.100.9:5060"]),
            method=rng.choice(["OPTIONS", "REGISTER"]),
            count=rng.randrange(1, 4),
            failures=rng.randrange(0, 2),
            statuses={"200": 1},
        )
        for _ in range(200)
    ]
    file_nodes = {"a.txt": "expc1", "b.txt": "expc1", "c.txt": "expe1"}  # a and b: one node
    totals: dict[tuple[str, str, str], list[int]] = {}
    for row in rows:
        total = totals.setdefault((file_nodes[row.file], row.peer, row.method), [0, 0, 0])
        total[0] += row.count
        total[1] += row.failures
        total[2] += 1
    merged = merge_background(rows, file_nodes)  # (adds up into the first row of each)
    expected = sorted(totals, key=lambda k: (-totals[k][1], -totals[k][0], *k))
    assert [(r.node, r.peer, r.method) for r in merged] == expected
    assert [(r.count, r.failures, r.statuses["200"]) for r in merged] == [
        tuple(totals[key]) for key in expected
    ]


@pytest.mark.parametrize("native", [True, False])
def test_keepalive_rows_line_numbers_are_the_newlines_before_them(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new row's line is counted in one walk for all of a block's new peers (in C where it
    is built): each is the number of newlines before its offset, CRLF and long lines alike."""
    from app.calls import extract as module

    if not native:
        monkeypatch.setattr(module, "loops", None)
    rng = random.Random(7)
    block = b"".join(
        rng.choice((b"a line\n", b"crlf\r\n", b"\n", b"x" * rng.randrange(1, 5000) + b"\n"))
        for _ in range(3000)
    )
    offsets = sorted(rng.sample(range(len(block) + 1), 400)) + [len(block)]
    assert module._newlines_before(block, offsets) == [block.count(b"\n", 0, at) for at in offsets]
    assert module._newlines_before(block, []) == []


def _keepalive_rows_of(block: bytes, blocks: int) -> tuple[object, ...]:
    collector = Collector(threaded=False)
    observer = collector.observer("k.log", FileKind.LOG)
    assert observer is not None
    lines_before = 0
    for _ in range(blocks):  # (the same lines again: rows found, not made)
        observer.feed(block, lines_before, None)
        lines_before += block.count(b"\n")
    observer.close()
    rows = {
        key: (r.line, r.count, r.first, r.last, dict(r.statuses))
        for key, r in collector.tallies.items()
    }
    return rows, collector.background_overflow


@pytest.mark.parametrize("peers", [300, MAX_BACKGROUND_ROWS + 200])
def test_keepalive_rows_made_in_c_are_those_python_makes(
    peers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New peers' rows (app._native.keepalive_rows where it is built) with the times their
    lines give: plain, none, unclosed, CRLF, too far back in a long line; past the row cap the
    rest overflow, counted."""
    from app.calls import extract as module

    rng = random.Random(peers)
    times = [
        b'UTCTime="2026-11-20 10:15:%02d,007" ',
        b"",
        b'UTCTime="2026-11-20 10:15:%02d,5 ' + b"x" * 90 + b" ",
        b'UTCTime="2026-11-20 10:15:%02d" ' + b"y" * (MAX_TIME_LOOKBACK + 10) + b" ",
    ]
    lines = []
    for _ in range(peers + peers // 4):  # (a fifth of the lines repeat a peer: counted, later)
        n = rng.randrange(peers) if len(lines) >= peers else len(lines)
        when = rng.choice(times)
        when = when % rng.randrange(60) if b"%" in when else when
        lines.append(
            b"2026-11-20T11:15:33.007+01:00 expc1 tvcs: " + when
            + b'Module="network.sip" Level="INFO":  Action="Received" Local-ip="192.0.2.5"'
            + b' Local-port="5061" Src-ip="10.%d.%d.%d" Src-port="5060" Detail="Receive Request'
            % (n >> 16, (n >> 8) & 255, n & 255)
            + b' Method=%s, CSeq=1, Call-ID=c%d, From-Tag=f, Msg-Hash=%d"'
            % (rng.choice([b"REGISTER", b"OPTIONS"]), n, n)
            + rng.choice([b"\n", b"\r\n"])
        )  # fmt: skip
    block = b"".join(lines)
    native = _keepalive_rows_of(block, 1), _keepalive_rows_of(block, 2)
    monkeypatch.setattr(module, "loops", None)
    assert native == (_keepalive_rows_of(block, 1), _keepalive_rows_of(block, 2))
    rows, overflow = native[1]
    distinct = len(set(re.findall(rb'Src-ip="([^"]+)".*?Method=(\w+)', block)))
    assert len(rows) == min(distinct, MAX_BACKGROUND_ROWS)  # type: ignore[arg-type]
    assert overflow > 0 if distinct > MAX_BACKGROUND_ROWS else overflow == 0
    assert any(row[1] > 2 for row in rows.values())  # type: ignore[attr-defined]
