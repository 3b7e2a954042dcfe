"""The Expressway line grammar: every documented shape parses, continuation lines are recognised."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.parsing import expressway, is_continuation, parse_line, timestamp_of

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"


def test_module_line_fields_and_times() -> None:
    event = parse_line(
        '2016-04-19T17:09:13+10:00 expc tvcs: UTCTime="2016-04-19 07:09:13,982" '
        'Module="network.tcp" Level="ERROR":  Src-ip="10.0.30.2" Src-port="27921" '
        'Dst-ip="64.100.0.10" Dst-port="4401" Detail="TCP Connection Failed"'
    )
    assert event is not None
    assert (event.host, event.process, event.pid) == ("expc", "tvcs", None)
    assert event.module == "network.tcp" and event.level == "ERROR"
    assert event.fields["Detail"] == "TCP Connection Failed"
    assert event.timestamp == datetime(2016, 4, 19, 17, 9, 13, tzinfo=timezone(timedelta(hours=10)))
    assert event.utc_time == datetime(2016, 4, 19, 7, 9, 13, 982000, tzinfo=UTC)


def test_event_line_with_spaces_inside_quotes_and_short_milliseconds() -> None:
    event = parse_line(
        '2017-09-20T10:49:18.724-04:00 amer-expressway01 tvcs: Event=" Inbound TLS Negotiation '
        'Error " Service="SIP" Dst-port=" 5062 " Level="1" UTCTime="2014-09-25 17:46:20,92"'
    )
    assert event is not None
    assert event.event == "Inbound TLS Negotiation Error"
    assert event.fields["Dst-port"] == "5062"
    assert event.utc_time == datetime(2014, 9, 25, 17, 46, 20, 92000, tzinfo=UTC)


def test_web_event_without_fraction_and_sub_tag() -> None:
    event = parse_line(
        '2020-08-12T15:13:24.976-05:00 expc01 httpd[15060]: web: Event="System Configuration '
        'Changed" User="admin" Level="1" UTCTime="2020-08-12 20:13:24"'
    )
    assert event is not None
    assert (event.process, event.pid, event.event) == (
        "httpd",
        15060,
        "System Configuration Changed",
    )
    assert event.utc_time == datetime(2020, 8, 12, 20, 13, 24, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "level", "message_start"),
    [
        (
            "2022-07-11T19:33:06.740+02:00 vcsd traffic_server[3936]: [ET_NET 0] WARNING: Core "
            "server certificate verification failed for (10.48.36.215). Action:Terminate",
            "WARNING",
            "Core server",
        ),
        (
            "2026-01-29T14:01:16.974-05:00 exp-c traffic_server[2030]:[ET_NET 1]ERROR:SSL "
            "connection failed for 'expc.cisco.com':error:14094418: SSL routines",
            "ERROR",
            "SSL connection failed",
        ),
    ],
)
def test_traffic_server_bracket_lines(line: str, level: str, message_start: str) -> None:
    event = parse_line(line)
    assert event is not None
    assert event.process == "traffic_server" and event.level == level
    assert event.thread is not None and event.thread.startswith("ET_NET")
    assert event.message.startswith(message_start)


def test_clusterdb_line_has_no_process() -> None:
    event = parse_line(
        '2020-08-12T14:57:43.354-05:00 expc01 UTCTime="2020-08-12 19:57:43,354" '
        'Module="developer.clusterdb.cdb" Level="ERROR" Node="clusterdb@expc01.apolo.local" '
        'Detail="Inconsistent Database"'
    )
    assert event is not None
    assert event.host == "expc01" and event.process is None
    assert (
        event.module == "developer.clusterdb.cdb"
        and event.fields["Detail"] == "Inconsistent Database"
    )


def test_remote_syslog_priority_and_doubled_tag() -> None:
    event = parse_line(
        '<166>2020-11-18T19:55:58.980+00:00 expe1 tvcs: tvcs: UTCTime="2020-11-18 19:55:58,980" '
        'Module="network.sip" Level="INFO": Action="Received"'
    )
    assert event is not None
    assert (event.priority, event.host, event.process) == (166, "expe1", "tvcs")
    assert event.module == "network.sip" and event.fields["Action"] == "Received"


def test_timestamp_prefers_utctime_then_prefix() -> None:
    with_utc = '2016-04-19T17:09:13+10:00 expc tvcs: UTCTime="2016-04-19 07:09:13,982" Module="x"'
    assert timestamp_of(with_utc) == datetime(2016, 4, 19, 7, 9, 13, 982000, tzinfo=UTC)
    prefix_only = "2022-07-11T19:33:06.740+02:00 vcsd traffic_server[3936]: [ET_NET 0] WARNING: x"
    found = timestamp_of(prefix_only)
    assert found is not None and found.astimezone(UTC) == datetime(
        2022, 7, 11, 17, 33, 6, 740000, tzinfo=UTC
    )
    assert timestamp_of(" Via: SIP/2.0/TLS 10.0.0.1:5061") is None


@pytest.mark.parametrize(
    "line",
    [" SIPMSG:", "HTTPMSG:", "|GET /x HTTP/1.1", " Host: a:8443", " |", "", "   rtp probeId: 89"],
)
def test_continuation_lines(line: str) -> None:
    assert is_continuation(line)
    assert parse_line(line) is None


def test_header_line_is_not_continuation() -> None:
    assert not is_continuation('2018-01-01T12:56:48.964-05:00 vm-bluck-fed-vcse1 tvcs: Event="x"')


def test_every_line_of_the_real_expressway_e_log() -> None:
    path = REAL / "expressway-e_mra_call.txt"
    if not path.exists():
        pytest.skip("../shared/data/real is not available")
    headers = continuations = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if is_continuation(line):
            continuations += 1
            continue
        event = parse_line(line)
        assert event is not None, f"line {number} did not parse: {line[:120]}"
        assert event.host == "vm-bluck-fed-vcse1", f"line {number}"
        assert event.timestamp is not None and event.utc_time is not None, f"line {number}"
        headers += 1
    assert headers == 479 and continuations == 1163 - 479


def _utctime_lines(seed: int, count: int) -> list[str]:
    """Lines with UTCTime values of every shape: Expressway's, others the regex reads, bad."""
    rng = random.Random(seed)
    pieces = ["2016", "04", "19", "07", "09", "13"]
    lines = []
    for _ in range(count):
        date = "-".join(
            rng.choice([p, "00", "13", "29", "31", "٠٤", "9"]) if rng.random() < 0.1 else p
            for p in pieces[:3]
        )
        clock = ":".join(
            rng.choice([p, "60", "24", "7"]) if rng.random() < 0.1 else p for p in pieces[3:]
        )
        value = f"{date} {clock}"
        digits = rng.choice([0, 0, 1, 2, 3, 3, 4, 6, 7, 9])
        if digits:
            value += rng.choice([",", ",", ".", ", "]) + "".join(
                rng.choice("0123456789") for _ in range(digits)
            )
        value = rng.choice(["", "", "", " ", "\t"]) + value + rng.choice(["", "", "", " "])
        close = rng.choice(['"', '"', '"', ""])
        head = rng.choice(
            ["2016-04-19T09:09:13.982+02:00 host tvcs: ", "Apr 19 09:09:13 host tvcs: ", ""]
        )
        line = f'{head}Event="x" UTCTime="{value}{close} Detail="y"'
        if rng.random() < 0.2:
            line += ' UTCTime="2017-01-02 03:04:05,6"'
        lines.append(line)
    return lines


@pytest.mark.parametrize("seed", range(4))
def test_the_plain_utctime_fast_path_reads_what_the_regex_reads(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _utctime_lines(seed, 3000)
    fast = [timestamp_of(line) for line in lines]
    monkeypatch.setattr(expressway, "loops", None)  # the regex and fromisoformat alone
    assert fast == [timestamp_of(line) for line in lines]


def test_a_plain_utctime_is_read_in_c(monkeypatch: pytest.MonkeyPatch) -> None:
    if expressway.loops is None:
        pytest.skip("app._native is not built")
    line = 'tvcs: Event="x" UTCTime="2016-04-19 07:09:13,98" Detail="y"'
    monkeypatch.setattr(expressway, "_UTCTIME", re.compile("(?!)"))  # the regex finds nothing
    assert timestamp_of(line) == datetime(2016, 4, 19, 7, 9, 13, 98000, tzinfo=UTC)
    assert timestamp_of(line.replace(",98", ",9876543")) is None  # 7 digits: the regex's case
