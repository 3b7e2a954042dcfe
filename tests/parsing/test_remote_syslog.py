"""Lines a remote syslog server wrote (BSD timestamp, RFC 5424 header, host field or not, the
process tag again) read as the Expressway's own: as logged, parsed, dated, recognised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.bundle.detect import is_expressway_line, kind_from_head
from app.parsing.expressway import (
    SyslogClock,
    as_logged,
    clock_of,
    infer_clock,
    parse_line,
    split_prefix,
    timestamp_of,
)
from app.report import FileKind

BODY = 'UTCTime="2022-11-18 19:55:58,123" Module="network.tls" Level="ERROR" Detail="x"'
TS = "[ET_NET 0] WARNING: Core server certificate verification failed for (ucm1). Action=Terminate"

FORMS = {
    "bsd": f"Nov 18 20:55:58 vcse1 tvcs: {BODY}",
    "bsd-pri": f"<166>Nov 18 20:55:58 vcse1 tvcs: {BODY}",
    "bsd-pri-tag-twice": f"<166>Nov 18 20:55:58 vcse1 tvcs: tvcs: {BODY}",
    "bsd-tag-three-times": f"Nov 18 20:55:58 vcse1 tvcs: tvcs: tvcs: {BODY}",
    "rfc5424": f"<166>1 2022-11-18T20:55:58.123+01:00 vcse1 tvcs - - - {BODY}",
    "rfc5424-tag-in-message": f"<166>1 2022-11-18T20:55:58.123+01:00 vcse1 tvcs - - - tvcs: {BODY}",
    "rfc5424-structured-data-and-bom": (
        "<166>1 2022-11-18T20:55:58.123+01:00 vcse1 tvcs - ID47 "
        f'[x@1 a="b\\]c"][y@2 z="1"] \ufeff{BODY}'
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("end", ["", "\r"])
def test_each_form_reads_as_logged_and_parses(form: str, end: str) -> None:
    line = FORMS[form] + end
    logged = as_logged(line)
    assert logged.endswith(f" vcse1 tvcs: {BODY}"), logged
    event = parse_line(line)
    assert event is not None
    assert (event.host, event.process, event.module, event.level) == (
        "vcse1",
        "tvcs",
        "network.tls",
        "ERROR",
    )
    assert event.message.startswith('UTCTime="')  # the tag once, not in the message
    assert timestamp_of(line) == datetime(2022, 11, 18, 19, 55, 58, 123000, tzinfo=UTC)
    assert is_expressway_line((line + "\n").encode().rstrip(b"\n"))


def test_a_bsd_line_without_the_host_field() -> None:
    line = f"Nov  8 20:55:58 tvcs: tvcs: {BODY}"
    prefix = split_prefix(line)
    assert prefix is not None and prefix.host is None and prefix.stamp == "Nov  8 20:55:58"
    assert as_logged(line) == f"Nov  8 20:55:58 tvcs: {BODY}"
    event = parse_line(line)
    assert event is not None and event.host is None and event.process == "tvcs"
    assert is_expressway_line(line.encode())


def test_rfc5424_procid_becomes_the_pid_of_the_tag() -> None:
    line = f"<166>1 2022-11-18T20:55:58.123+01:00 vcse1 traffic_server 3936 - - {TS}"
    assert as_logged(line) == f"2022-11-18T20:55:58.123+01:00 vcse1 traffic_server[3936]: {TS}"
    event = parse_line(line)
    assert event is not None and (event.process, event.pid, event.thread) == (
        "traffic_server",
        3936,
        "ET_NET 0",
    )


def test_a_bsd_time_without_utctime_is_unknown_without_the_files_clock() -> None:
    line = f"Nov 18 20:55:58 vcse1 traffic_server[3936]: {TS}"
    assert timestamp_of(line) is None  # no year, no zone: not invented
    event = parse_line(line)
    assert event is not None and event.timestamp is None and event.host == "vcse1"


def test_the_clock_comes_from_a_bsd_line_with_its_utctime() -> None:
    clock = clock_of(FORMS["bsd-pri-tag-twice"])  # local 20:55:58, UTC 19:55:58,123
    assert clock == SyslogClock(datetime(2022, 11, 18, 20, 55, 58), timedelta(hours=1))
    line = f"Nov 18 21:00:00 vcse1 traffic_server[3936]: {TS}"
    assert timestamp_of(line, clock) == datetime(2022, 11, 18, 20, 0, tzinfo=UTC)
    # past new year the year turns: the nearest date to the evidence wins
    assert clock.resolve("Jan  2 00:30:00") == datetime(2023, 1, 1, 23, 30, tzinfo=UTC)
    assert clock.resolve("Feb 29 10:00:00") is None  # no 29 February in 2021-2023
    assert clock_of(f"Nov 18 04:00:00 vcse1 tvcs: {BODY}") is None  # 16 h apart: not one moment


def test_the_clock_comes_from_an_iso_line_of_a_mixed_file() -> None:
    block = (
        f"Nov 18 20:55:58 vcse1 traffic_server[3936]: {TS}\n"
        f"2022-11-18T20:56:00.000+01:00 vcse1 traffic_server[3936]: {TS}\n"
    ).encode()
    assert infer_clock(block) == SyslogClock(datetime(2022, 11, 18, 20, 56), timedelta(hours=1))
    assert infer_clock(f"Nov 18 20:55:58 vcse1 traffic_server[3936]: {TS}\n".encode()) is None


@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_a_file_of_bsd_lines_is_a_log_whatever_its_name(end: bytes) -> None:
    head = end.join(
        [
            b"Nov 18 20:55:50 vcse1 syslog: MARK",
            FORMS["bsd-pri-tag-twice"].encode(),
            f"Nov 18 20:55:58 vcse1 traffic_server[3936]: {TS}".encode(),
        ]
    )
    assert kind_from_head(head, "upload/messages") == FileKind.LOG
    rfc = FORMS["rfc5424"].encode() + end
    assert kind_from_head(rfc, "upload/messages") == FileKind.LOG


def test_a_unix_syslog_file_is_not_taken_for_an_expressway_log() -> None:
    head = (
        b"Nov 18 20:55:58 web1 sshd[811]: Accepted publickey for root from 192.0.2.7\n"
        b"Nov 18 20:56:01 web1 CRON[900]: (root) CMD (run-parts /etc/cron.hourly)\n"
    )
    assert not any(is_expressway_line(line) for line in head.splitlines())
    assert kind_from_head(head, "upload/messages") == FileKind.UNKNOWN
