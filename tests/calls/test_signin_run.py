"""A run of Traffic Server lines with no HTTPMSG block is made, paired and kept in one C call
(`SigninReader._run`, app._native.signin_run): the messages, their pairing, the budget's
counts and the attempts must be those of reading the lines one by one in Python, whatever else
the log holds and wherever its blocks are cut."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from app.calls import signin
from app.calls.signin import SigninCollector, SigninReader
from app.calls.signin_flow import build
from app.native import loops
from app.report import FileKind
from tests.calls.signinlog import START, auth_failed, stamp, ts_request, ts_response, uds_401

pytestmark = pytest.mark.skipif(loops is None, reason="signin_run is app._native's")

_HOSTS = ("expe1", "expc1")


def _fast_line(rng: random.Random, when: object, txn: int, *, response: bool) -> str:
    """A Traffic Server line of doc 225746's form without its block, now and then altered."""
    prefix, utc = stamp(when)  # type: ignore[arg-type]
    verb = rng.choice(("Sending", "Received"))
    kind = "Response" if response else "Request"
    tracking = rng.choice(('TrackingID="JVC_a-1" ', "", 'TrackingID="k-2"  '))
    side = rng.choice(("Src", "Dst"))
    line = (
        f'{prefix} {rng.choice(_HOSTS)} traffic_server[2030]: UTCTime="{utc}" '
        f'Module="network.http.trafficserver" Level="DEBUG": Detail="{verb} {kind}" '
        f'Txn-id="{txn}" {tracking}{side}-ip="192.0.2.{rng.randrange(1, 9)}" '
        f'{side}-port="{rng.choice(("8443", "", "6972"))}" Url="/cucm-uds/version"'
    )
    change = rng.randrange(14)
    if change == 0:
        line = line.replace('UTCTime="2026-01', 'UTCTime="2026-13', 1)  # out of range
    elif change == 1:
        line = line.replace("Url=", "Url=\u00e9", 1)  # not plain ASCII
    elif change == 2:
        line += " HTTPMSG: |GET / HTTP/1.1"  # its block on the line
    elif change == 3:
        line = line.replace('Txn-id="', 'Txn-id="', 1).replace(f'"{txn}"', '""', 1)
    elif change == 4:
        line = line.replace("Detail=", "Detail =", 1)  # another form: read the slow way
    return line


def sign_in_log(rng: random.Random, lines: int) -> str:
    """Sign-in traffic as the bench and the public documents show it: mostly Traffic Server
    lines with no block (requests, and responses naming a request's Txn-id), requests and
    responses with their HTTPMSG blocks, UDS 401s, failed authentications, other lines."""
    out: list[str] = []
    when = START
    asked: list[int] = []
    for n in range(lines):
        when += timedelta(milliseconds=rng.randrange(0, 900))
        pick = rng.random()
        if pick < 0.55:
            response = bool(asked) and rng.random() < 0.4
            txn = rng.choice(asked) if response else rng.randrange(1, 60)
            out.append(_fast_line(rng, when, txn, response=response))
            if not response:
                asked.append(txn)
            if rng.random() < 0.05:  # a block after it with no HTTPMSG line: read with it
                out.append(rng.choice(("|HTTP/1.1 200 OK", " |GET / HTTP/1.1", "\tx")))
        elif pick < 0.68:
            txn = rng.randrange(1, 60)
            asked.append(txn)
            out += ts_request(
                rng.choice(_HOSTS), when, f"/cucm-uds/user/u{n % 7}/devices", txn=txn,
                tracking=f"t{n}", dst="10.0.0.10", port=6972, client=f"198.51.100.{n % 5}",
            )  # fmt: skip
        elif pick < 0.78 and asked:
            out += ts_response(
                rng.choice(_HOSTS), when, rng.choice((200, 401, 403, 502)), "Reason",
                txn=rng.choice(asked), dst="198.51.100.7", port=rng.randrange(40000, 40010),
                flat=rng.random() < 0.3,
            )  # fmt: skip
        elif pick < 0.84:
            out += uds_401("expc1", when, f"u{n % 7}")
        elif pick < 0.88:
            out += auth_failed("expc1", when, f"u{n % 7}")
        else:
            prefix, utc = stamp(when)
            out.append(f'{prefix} expe1 tvcs: UTCTime="{utc}" Module="other" Level="INFO": x')
    return "\n".join(out) + "\n"


def _read(data: bytes, cuts: list[int], budget: int) -> tuple[object, ...]:
    collector = SigninCollector(max_messages=budget)
    reader = collector.observer("log.txt", FileKind.LOG)
    assert reader is not None
    start, lines = 0, 0
    for end in [*cuts, len(data)]:
        block = data[start:end]
        if block:
            reader.feed(block, lines)
            lines += block.count(b"\n")
        start = max(start, end)
    reader.close()
    result = build(collector, {"log.txt": "expe1"}, {"expe1": "Expressway-E"})
    return collector.messages, collector.kept, collector.dropped, result


def _both_ways(
    data: bytes, monkeypatch: pytest.MonkeyPatch, *, cuts: int, seed: int, budget: int
) -> tuple[tuple[object, ...], tuple[object, ...], int]:
    """What reading with signin_run and without it give; how many messages signin_run made."""
    rng = random.Random(seed)
    ends = sorted({data.find(b"\n", rng.randrange(len(data))) + 1 for _ in range(cuts)} - {0})
    made = 0
    run = loops.signin_run

    def counting(*args: object) -> tuple[int, int, int, object]:
        nonlocal made
        answer = run(*args)
        made += answer[2]
        return answer  # type: ignore[no-any-return]

    with monkeypatch.context() as patched:
        patched.setattr(loops, "signin_run", counting, raising=False)
        with_run = _read(data, ends, budget)
    with monkeypatch.context() as patched:
        patched.setattr(SigninReader, "_run", lambda self, *args: (args[3], args[4]))
        line_by_line = _read(data, ends, budget)
    return with_run, line_by_line, made


@pytest.mark.parametrize("seed", range(10))
def test_runs_give_what_reading_line_by_line_gives(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    text = sign_in_log(rng, 1500)
    data = text.replace("\n", "\r\n").encode() if seed % 3 == 0 else text.encode()
    budget = rng.choice((50, 400, 100_000))
    paired = rng.choice((3, 4096))
    monkeypatch.setattr(signin, "MAX_PAIRED", paired)
    with_run, line_by_line, made = _both_ways(
        data, monkeypatch, cuts=rng.choice((0, 40, 400)), seed=seed, budget=budget
    )
    assert made >= min(budget, 1500) // 5  # (else this compares the Python reading with itself)
    assert with_run == line_by_line
    messages, kept, dropped, _result = with_run
    assert kept == min(budget, kept + dropped)


@pytest.mark.parametrize("client_ip", [True, False])
def test_a_response_takes_its_request_s_user_client_tracking_and_path(client_ip: bool) -> None:
    """The pairing signin_run does, by hand: a request read with its HTTPMSG block, then its
    response logged without one (the request's client: its Client-ip, else its
    X-Forwarded-For)."""
    when = START
    prefix, utc = stamp(when + timedelta(seconds=1))
    request = ts_request(
        "expe1", when, "/cucm-uds/user/alice/devices", txn=77, tracking="trk-1",
        dst="10.0.0.10", port=6972, client="198.51.100.20",
    )  # fmt: skip
    if not client_ip:
        request = [line for line in request if not line.startswith(" Client-ip:")]
    response = (
        f'{prefix} expe1 traffic_server[2030]: UTCTime="{utc}" '
        'Module="network.http.trafficserver" Level="DEBUG": Detail="Received Response" '
        'Txn-id="77" Src-ip="10.0.0.10" Src-port="6972"'
    )
    data = ("\n".join([*request, response, response]) + "\n").encode()
    messages, kept, _dropped, _result = _read(data, [], 100)
    assert kept == 3
    asked, answer, again = messages["log.txt"]  # type: ignore[index]
    assert answer.method is None and answer.direction == "in"
    assert answer.user == "alice"
    if client_ip:
        assert answer.request_client == asked.client_ip == "198.51.100.20"
    else:
        assert asked.client_ip == "" and asked.forwarded_for.startswith("198.51.100.20")
        assert answer.request_client == asked.forwarded_for
    assert answer.request_tracking == "trk-1" and answer.path == asked.path
    assert answer.peer == "10.0.0.10:6972" and answer.line == len(request) + 1
    assert again.line == len(request) + 2


def test_the_budget_stops_a_run_and_counts_the_rest() -> None:
    rng = random.Random(5)
    lines = [_fast_line(rng, START, n, response=False) for n in range(50)]
    lines = [line for line in lines if "HTTPMSG" not in line and "\u00e9" not in line]
    data = ("\n".join(lines) + "\n").encode()
    messages, kept, dropped, _result = _read(data, [], 10)
    assert kept == 10 and len(messages["log.txt"]) == 10  # type: ignore[index]
    assert kept + dropped == len(lines)


def test_bad_arguments_are_refused() -> None:
    requests = signin.RecentRequests()
    args: list[object] = [b"x\n", [0], [0], 0, 0, 0, object, ("f",) * 6, requests, 9, 1, [], ()]
    with pytest.raises(ValueError):
        loops.signin_run(*args[:7], ("f",) * 5, *args[8:])
    with pytest.raises(ValueError):
        loops.signin_run(*args[:2], [], *args[3:])
    with pytest.raises(ValueError):
        loops.signin_run(*args[:9], 0, *args[10:])  # a generation of no request
    with pytest.raises(TypeError):
        loops.signin_run(*args[:12], "not a tuple")
    with pytest.raises(TypeError):
        loops.signin_run(*args[:8], {}, *args[9:])  # not a RecentRequests
    assert loops.signin_run(*args) == (0, 0, 0, None)  # "x" is no sign-in line


def test_lines_before_the_position_are_skipped() -> None:
    """(Lines inside an HTTPMSG block read before the call.)"""
    lines = [_fast_line(random.Random(0), START, n, response=False) for n in range(40)]
    lines = [line for line in lines if "HTTPMSG" not in line and "\u00e9" not in line][:3]
    data = ("\n".join([*lines, "another log line"]) + "\n").encode()
    starts = [0, len(lines[0]) + 1, len(lines[0]) + len(lines[1]) + 2]
    kept: list[signin.HttpMessage] = []
    reader = SigninReader(SigninCollector(), "log.txt")
    answer = loops.signin_run(
        data, starts, [0, 1, 2], 0, starts[1] + 1, 10, signin.HttpMessage, reader._consts,
        reader.requests, 9, 5, kept, signin._SHARED_SLOTS,
    )  # fmt: skip
    assert answer == (3, starts[2] + len(lines[2]) + 1, 1, kept[0])
    assert [message.line for message in kept] == [13]


def test_recent_requests_remember_at_least_half_their_limit_and_at_most_all_of_it() -> None:
    requests = signin.RecentRequests(limit=8)  # generations of 4
    made = [signin.HttpMessage(time=None, file="f", line=n, source="s", direction="out",
                               peer="p") for n in range(12)]  # fmt: skip
    for n in range(6):
        requests.put(f"t{n}", made[n])
    assert [requests.get(f"t{n}") for n in range(6)] == made[:6]  # 4 old, 2 young: all kept
    for n in range(6, 8):
        requests.put(f"t{n}", made[n])  # young is full: it becomes old, the old dropped
    assert [requests.get(f"t{n}") for n in range(8)] == [None] * 4 + made[4:8]
    requests.put("t5", made[8])  # a key logged again: its last request answers
    assert requests.get("t5") is made[8]
    requests.clear()
    assert requests.get("t5") is None and requests.get("t7") is None
