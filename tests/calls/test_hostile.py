"""Hostile logs (tests/calls/hostile.py) cost the call-flow and sign-in readers work in
proportion to their size, and logs the way Expressways write them are read as before.

No timing: the bytes the readers' searches look at are counted (CountingBytes), and the regex
cases that used to take minutes run in a child process under a CPU limit some hundred times
what they take now (exceeding it means the super-linear case is back, not a slow machine).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from app.calls.extract import MAX_BACKGROUND_ROWS, MAX_TIME_LOOKBACK
from app.calls.signin import _JWT, REDACTED, redact_url
from tests.calls.hostile import CASES, examined, scan

ROOT = Path(__file__).resolve().parents[2]
SMALL, BIG = 256 * 1024, 1024 * 1024
# keep-alive rows look back at most MAX_TIME_LOOKBACK bytes for their time, twice per row
ROWS_LOOKBACK = 2 * MAX_BACKGROUND_ROWS * MAX_TIME_LOOKBACK


# cases whose cost was inside one regex call (bytes looked at by searches do not show it):
# read in a child process under a CPU limit instead (a regression must fail, not hang here)
IN_ONE_REGEX = frozenset(
    {
        "field of spaces without its closing quote",
        "lines ending in a field of spaces",
        "request path of eyJ runs",
        "Location header of eyJ runs",
    }
)


@pytest.mark.parametrize("name", [name for name in CASES if name not in IN_ONE_REGEX])
def test_each_hostile_log_is_searched_in_proportion_to_its_size(name: str) -> None:
    small, big = examined(CASES[name](SMALL)), examined(CASES[name](BIG))
    assert big <= 8 * BIG + ROWS_LOOKBACK, f"{name}: {big / BIG:.1f} bytes looked at per byte"
    growth = BIG / SMALL
    assert big <= small * growth * 1.25 + SMALL, (
        f"{name}: {small} → {big} bytes looked at for {growth:g} times the input"
    )


CPU_LIMIT_SECONDS = 20  # each of these takes under half a second when linear
CPU_BOUND = {  # case: size in MiB (the CPU seconds each took before, on the 2-core machine)
    "field of spaces without its closing quote": 1 / 16,  # > 40 s
    "lines ending in a field of spaces": 1 / 16,  # > 40 s
    "request path of eyJ runs": 8,  # 3.5 s per MiB
    "Location header of eyJ runs": 4,  # 26 s
    "trafficserver module repeated on one line": 16,  # > 60 s (4 s at 4 MiB)
    "error events repeated on one line": 16,  # 6 s at 4 MiB, growing with the square
}
_CHILD = """
import sys
from tests.calls.hostile import CASES, scan
sip, signins, warnings = scan(CASES[sys.argv[1]](int(float(sys.argv[2]) * 2**20)))
print(sum(map(len, sip.messages.values())), len(signins.all_messages()))
"""


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_SECONDS, CPU_LIMIT_SECONDS))


@pytest.mark.parametrize("name", list(CPU_BOUND))
def test_hostile_logs_that_took_minutes_are_read_within_a_cpu_limit(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, name, str(CPU_BOUND[name])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        preexec_fn=_limited,
        check=False,
    )
    assert done.returncode == 0, (
        f"{name}: stopped by a {CPU_LIMIT_SECONDS} s CPU limit or failed: {done.stderr[-500:]}"
    )


def test_hostile_logs_still_give_the_messages_they_hold() -> None:
    invites = CASES["distinct Call-IDs (INVITE summaries)"](64 * 1024)
    sip, signins, _ = scan(invites)
    messages = sip.messages["hostile.log"]
    assert len(messages) == invites.count(b"\n")  # one INVITE per line
    assert len({m.call_id for m in messages}) == len(messages)
    sip, signins, _ = scan(CASES["HTTPMSG block of huge size"](1024 * 1024))
    [request] = signins.all_messages()
    assert request.method == "GET" and request.path == "/a" and request.host.startswith("hhh")


def test_a_jwt_is_redacted_wherever_it_starts_in_a_word() -> None:
    token = "eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln"
    assert redact_url(f"/path/{token}/x") == f"/path/{REDACTED}/x"
    assert redact_url(f"/a/Bearer%20{token}") == f"/a/Bearer%20{REDACTED}"
    assert redact_url(f"/a/xeyJ{token}") == f"/a/x{REDACTED}"  # the first eyJ of the word
    assert redact_url("/eyJabc.defg.h") == "/eyJabc.defg.h"  # too short to be a token
    assert _JWT.search("eyJ" * 3000) is None


def test_a_keepalive_summary_far_into_a_long_line_has_no_time_but_is_counted() -> None:
    sip, _, _ = scan(CASES["distinct keep-alive peers on one line"](256 * 1024))
    rows = sip.background_rows()
    assert len(rows) > 500 and sum(row.count for row in rows) == len(rows)
    assert rows[0].first is not None  # the first summary is near the line's UTCTime
    assert rows[-1].first is None  # the last is 256 KiB further: its time was not looked for


def test_a_utctime_without_its_closing_quote_gives_no_time_and_keeps_no_more_of_the_log() -> None:
    from app.calls.extract import Collector
    from app.report import FileKind

    opened = (
        b'2026-11-20T11:15:33.007+01:00 expc1 tvcs: UTCTime="2026-11-20 10:15:33,007 ' + b"x" * 100
    )
    summary = (
        b' Module="network.sip" Level="INFO":  Action="Received" Local-ip="192.0.2.5"'
        b' Local-port="5061" Src-ip="209.178.22.149" Src-port="33821" Detail="Receive Request'
        b' Method={method}, CSeq=1, Call-ID=c{n}, From-Tag=f, Msg-Hash={n}"\n'
    )
    lines = [opened + summary.replace(b"{method}", b"REGISTER").replace(b"{n}", b"1")]
    lines.append(opened + summary.replace(b"{method}", b"INVITE").replace(b"{n}", b"2"))
    rest = b'2026-11-20T11:15:33.008+01:00 expc1 tvcs: UTCTime="2026-11-20 10:15:33,008" x\n'
    collector = Collector(threaded=False)
    observer = collector.observer("hostile.log", FileKind.LOG)
    assert observer is not None
    observer.feed(b"".join(lines) + rest * 20_000, 0, None)  # (a megabyte after them)
    observer.close()
    (row,) = collector.tallies.values()
    assert row.count == 1 and row.first == row.last == b""  # (was the rest of the block)
    (invite,) = collector.messages["hostile.log"]
    assert invite.method == "INVITE" and invite.time is None


def test_call_ids_of_invites_past_the_message_budget_are_not_remembered() -> None:
    from app.calls.extract import Collector
    from app.report import FileKind

    collector = Collector(max_messages=10, threaded=False)
    observer = collector.observer("hostile.log", FileKind.LOG)
    assert observer is not None
    invites = CASES["distinct Call-IDs (INVITE summaries)"](64 * 1024)
    observer.feed(invites, 0, None)
    observer.close()
    assert collector.dropped == invites.count(b"\n") - 10
    assert len(collector.invite_call_ids) == 10  # memory: not one per INVITE of the log
