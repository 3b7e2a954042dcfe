"""A summary line with its block line right after it is read in one step
(`FileExtractor._with_block`): the messages, keep-alive rows and counts must be those of
reading the two lines one by one, whatever the log's order, gaps, repeats and block cuts."""

from __future__ import annotations

import random
import re

import pytest

from app.calls import extract
from app.calls.extract import Collector, FileExtractor
from app.native import loops
from tests.calls.hostile import CASES
from tests.calls.scenarios import two_node_logs
from tests.calls.siplog import START, Node, sip
from tests.calls.test_extract import REAL
from tests.calls.test_extract import extract as read_log

_HASH = re.compile(rb'Msg-Hash="?([0-9A-Za-z]+)')


def _state(collector: Collector) -> tuple[object, ...]:
    return (
        collector.messages,
        collector.tallies,
        collector.invite_call_ids,
        collector.kept,
        collector.dropped,
        collector.background_overflow,
    )


def _no_run(self: FileExtractor, *args: int | list[int] | bytes) -> tuple[object, object]:
    return args[3], args[4]  # (index, pos: every hit left to _walk)


def _both_ways(
    data: bytes, monkeypatch: pytest.MonkeyPatch, *, cuts: int, seed: int
) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """What reading in one step gives (in C, app._native.sip_run, where it is built: checked
    here to be what `_with_block` gives), and what reading line by line gives."""
    one_step = _state(read_log(data, cuts=cuts, seed=seed))
    with monkeypatch.context() as patched:
        patched.setattr(FileExtractor, "_run", _no_run)
        in_python = _state(read_log(data, cuts=cuts, seed=seed))
        patched.setattr(FileExtractor, "_with_block", lambda *args: -1)
        line_by_line = _state(read_log(data, cuts=cuts, seed=seed))
    assert one_step == in_python
    return one_step, line_by_line


def _units(log: bytes) -> list[bytes]:
    """The log's lines, each with the lines that continue it (a SIPMSG block's)."""
    units: list[bytes] = []
    for line in log.splitlines(keepends=True):
        if units and line[:1] in (b" ", b"|"):
            units[-1] += line
        else:
            units.append(line)
    return units


def _shuffled(units: list[bytes], rng: random.Random) -> bytes:
    """The units with a few dropped, repeated, swapped, their hashes made to collide, a SIPMSG
    block cut short, or another line put between a summary and its block line."""
    out = list(units)
    for _ in range(rng.randrange(1, 8)):
        at = rng.randrange(len(out))
        change = rng.randrange(7)
        if change == 0:
            del out[at]
        elif change == 1:
            out.insert(at, out[at])
        elif change == 2 and at + 1 < len(out):
            out[at], out[at + 1] = out[at + 1], out[at]
        elif change == 3:
            out[at] = _HASH.sub(rb'Msg-Hash="7', out[at], count=1)
        elif change == 4:
            out[at] = out[at][: rng.randrange(len(out[at]) + 1)]
        elif change == 5:
            out.insert(at, b'2018-01-01T12:56:48.964-05:00 h tvcs: Module="other" x\n')
        else:  # a line logged a few lines later (a block line after other summaries)
            out.insert(min(len(out), at + rng.randrange(2, 6)), out.pop(at))
        if not out:
            out = list(units)
    return b"".join(out)


def _presence() -> bytes:
    """SUBSCRIBE and NOTIFY outside a call (counted as keep-alive traffic, not kept) between
    the messages of a call, and a NOTIFY inside it (kept)."""
    node = Node("expe1", "10.0.0.5")
    for number in range(4):
        for method, call_id in (
            ("INVITE", "call-1@10.0.0.9"),
            ("SUBSCRIBE", f"presence-{number}@10.0.0.8"),
            ("NOTIFY", f"presence-{number}@10.0.0.8"),
            ("NOTIFY", "call-1@10.0.0.9"),
        ):
            sip(
                node,
                START,
                direction="in",
                local_port=5061,
                remote="10.0.0.8:5061",
                start_line=f"{method} sip:1004@example.com SIP/2.0",
                call_id=call_id,
                cseq=number + 1,
                method=method,
            )
    return node.text().encode()


_START_LINE = re.compile(rb"(\n \|[^\n]*\n)")
_DETAIL_FIELD = re.compile(rb"(To|From-Tag|To-Tag|Call-ID)=[^,\"]*")


def _swapped_start(match: re.Match[bytes]) -> bytes:
    if match[1].startswith(b"SIP/2.0"):
        return b"\n |INVITE sip:1004@example.com SIP/2.0"
    return b"\n |SIP/2.0 486 Busy Here"


def _enriched(log: bytes, rng: random.Random) -> bytes:
    """`log` with what its summary lines and SIPMSG blocks say made to differ: blocks given
    User-Agent, Server, Reason and Warning headers, another To and another Session-ID,
    summaries a To, tags or a Call-ID left empty (the message takes each field from the line
    or the block by rule)."""
    out = []
    for unit in _units(log):
        if b" SIPMSG:" in unit and rng.random() < 0.7:
            extra = rng.sample(
                [b" User-Agent: ua-1", b" Server: srv-2", b" Reason: SIP;cause=16",
                 b" Warning: 399 x", b" To: <sip:other@example.com>;tag=t9",
                 b" Session-ID: 1234567890abcdef1234567890abcdef;remote=" + b"0" * 32,
                 b" Session-ID: " + b"0" * 32], k=3
            )  # fmt: skip
            unit = _START_LINE.sub(rb"\1" + b"\n".join(extra) + b"\n", unit, count=1)
            if rng.random() < 0.2:  # a block whose start line is not its summary's kind
                unit = re.sub(
                    rb"\n \|(SIP/2\.0 \d+ [^\n]*|[A-Z]+ [^\n]*)", _swapped_start, unit, count=1
                )
        elif b"Detail=" in unit and rng.random() < 0.5:
            unit = _DETAIL_FIELD.sub(lambda m: m[1] + b"=", unit, count=rng.randrange(1, 4))
        out.append(unit)
    return b"".join(out)


def _logs() -> list[bytes]:
    expe, expc = two_node_logs()
    logs = [expe.text().encode(), expc.text().encode(), _presence()]
    rng = random.Random(5)
    logs += [_enriched(log, rng) for log in list(logs)]
    if REAL.is_file():
        logs.append(REAL.read_bytes())
    return logs


@pytest.mark.parametrize("seed", range(6))
def test_logs_as_written_give_the_same_calls_read_either_way(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for log in _logs():
        for data in (log, log.replace(b"\n", b"\r\n")):
            one_step, line_by_line = _both_ways(data, monkeypatch, cuts=seed * 5, seed=seed)
            assert one_step == line_by_line
            assert any(one_step[0].values())  # type: ignore[attr-defined]  # (messages were read)


@pytest.mark.parametrize("keep", [40, 200])
def test_heads_cut_at_the_bytes_kept_give_the_same_calls_read_either_way(
    keep: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIPMSG block's head is read from its first MAX_BODY_KEEP bytes, whichever way."""
    monkeypatch.setattr(extract, "MAX_BODY_KEEP", keep)
    for log in _logs():
        one_step, line_by_line = _both_ways(log, monkeypatch, cuts=3, seed=keep)
        assert one_step == line_by_line
        assert any(one_step[0].values())  # type: ignore[attr-defined]


def test_a_summary_quoted_in_a_payload_is_not_read_with_the_block_line_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A summary line quoted after another log line (starting with a space) is no log line:
    the block line that follows is read alone, either way."""
    node = Node("expe", "192.0.2.5")
    sip(
        node, START, direction="in", local_port=5061, remote="198.51.100.7:5061",
        start_line="INVITE sip:1004@example.com SIP/2.0", call_id="quoted@x", cseq=1,
        method="INVITE", headers=("User-Agent: ua-9",),
    )  # fmt: skip
    summary, *rest = node.lines
    other = '2018-01-01T12:56:48.964-05:00 expe tvcs: Module="other" Level="INFO": x'
    data = "\n".join([other, " " + summary, *rest]).encode() + b"\n"
    one_step, line_by_line = _both_ways(data, monkeypatch, cuts=0, seed=1)
    assert one_step == line_by_line
    (message,) = one_step[0]["log.txt"]  # type: ignore[index]
    assert message.line == 3 and message.method == "INVITE" and message.msg_hash == ""


@pytest.mark.parametrize("awaiting", [2, 512])
def test_reordered_logs_give_the_same_calls_read_either_way(
    awaiting: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also with room for 2 summaries awaiting their block: evictions must match."""
    monkeypatch.setattr(extract, "MAX_AWAITING", awaiting)
    rng = random.Random(20261204 + awaiting)
    logs = [_units(log) for log in _logs()]
    for round_ in range(150):
        data = _shuffled(rng.choice(logs), rng)
        one_step, line_by_line = _both_ways(data, monkeypatch, cuts=rng.randrange(12), seed=round_)
        assert one_step == line_by_line, round_


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_logs_give_the_same_calls_read_either_way(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = CASES[case](100_000)
    one_step, line_by_line = _both_ways(data, monkeypatch, cuts=7, seed=3)
    assert one_step == line_by_line


def test_the_one_step_path_is_taken_on_the_logs_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(Else the tests above compare the line-by-line reading with itself.) In C where it is
    built, else in Python."""
    taken: list[int] = []
    real_with_block = FileExtractor._with_block

    def counting(self: FileExtractor, *args: object) -> int:
        after: int = real_with_block(self, *args)  # type: ignore[arg-type]
        taken.append(after)
        return after

    monkeypatch.setattr(FileExtractor, "_with_block", counting)
    collector = read_log(_logs()[0])
    assert collector.kept
    in_python = sum(after >= 0 for after in taken)
    if loops is None:
        assert in_python >= collector.kept // 2
        return
    assert in_python == 0  # (the logs as written: none left to Python)
    monkeypatch.setattr(FileExtractor, "_run", _no_run)
    taken.clear()
    again = read_log(_logs()[0])
    assert sum(after >= 0 for after in taken) >= again.kept // 2


@pytest.mark.parametrize("awaiting", [1, 2, 3])
def test_a_pair_read_in_one_step_evicts_as_its_two_lines_would(
    awaiting: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Summaries 1 and 2 wait for their block lines while message 3 is logged whole; then
    the block lines of 1 and 2 come: with room for fewer than three summaries, 1 (and with
    room for one, 2) was evicted: its summary and its block are two messages, as reading line
    by line gives."""
    monkeypatch.setattr(extract, "MAX_AWAITING", awaiting)
    units = [unit for unit in _units(_presence()) if unit.strip()]  # (summary, block line)s
    first, second, third = (units[2 * k : 2 * k + 2] for k in (0, 3, 4))  # INVITE, 2 NOTIFYs
    data = b"".join([first[0], second[0], *third, first[1], second[1]])
    one_step, line_by_line = _both_ways(data, monkeypatch, cuts=0, seed=1)
    assert one_step == line_by_line
    kept = one_step[0]["log.txt"]  # type: ignore[index]
    assert len(kept) == {3: 3, 2: 4, 1: 5}[awaiting]  # evicted: a summary, then its block


def test_a_keepalive_summary_with_its_block_is_counted_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _presence()
    one_step, line_by_line = _both_ways(data, monkeypatch, cuts=0, seed=1)
    assert one_step == line_by_line
    tallies = one_step[1]
    assert sorted(key[2] for key in tallies) == [b"NOTIFY", b"SUBSCRIBE"]  # type: ignore[attr-defined]


def test_a_pair_read_in_one_step_replaces_a_summary_of_the_same_hash() -> None:
    """Summary A waits; message C, logged whole, has A's Msg-Hash (a hash repeats): reading
    C's two lines puts C in A's place and takes it out, so A's block line, logged after,
    pairs with nothing and is a message of its own."""
    monkeypatch = pytest.MonkeyPatch()
    units = [unit for unit in _units(_presence()) if unit.strip()]
    a_summary, a_block = units[0:2]
    a_hash, c_hash = (_HASH.search(unit) for unit in (a_summary, units[8]))
    assert a_hash is not None and c_hash is not None
    c_summary, c_block = (unit.replace(c_hash[1], a_hash[1]) for unit in units[8:10])
    data = b"".join([a_summary, c_summary, c_block, a_block])
    one_step, line_by_line = _both_ways(data, monkeypatch, cuts=0, seed=1)
    assert one_step == line_by_line
    assert len(one_step[0]["log.txt"]) == 3  # type: ignore[index]
