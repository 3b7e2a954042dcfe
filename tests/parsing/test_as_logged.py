"""Remote-syslog lines read as the Expressway logged them; other lines are left alone."""

from __future__ import annotations

import pytest

from app.parsing.expressway import as_logged

LOCAL = '2020-11-18T19:55:58.980+00:00 expc1 tvcs: UTCTime="2020-11-18 19:55:58,980" Module="x"'


@pytest.mark.parametrize(
    ("relayed", "logged"),
    [
        (
            '<166>2020-11-18T19:55:58.980+00:00 expc1 tvcs: tvcs: UTCTime="2020-11-18 '
            '19:55:58,980" Module="x"',
            LOCAL,
        ),
        (
            "<166>2026-01-29T14:01:16.974-05:00 exp-c traffic_server[2030]: "
            "traffic_server:[ET_NET 1]ERROR:SSL connection failed",
            "2026-01-29T14:01:16.974-05:00 exp-c traffic_server[2030]:[ET_NET 1]ERROR:SSL "
            "connection failed",
        ),
        (
            "2022-07-11T19:33:06.740+02:00 vcsd traffic_server[3936]: traffic_server[3936]: "
            "[ET_NET 0] WARNING: Core",
            "2022-07-11T19:33:06.740+02:00 vcsd traffic_server[3936]: [ET_NET 0] WARNING: Core",
        ),
        ("<14>" + LOCAL, LOCAL),  # the PRI alone
    ],
)
def test_relayed_lines_read_as_logged(relayed: str, logged: str) -> None:
    assert as_logged(relayed) == logged


@pytest.mark.parametrize(
    "line",
    [
        LOCAL,
        '2020-08-12T15:13:24.976-05:00 expc01 httpd[15060]: web: Event="x"',  # not the same tag
        " |INVITE sip:1004@example.com SIP/2.0",
        "<html> tvcs: tvcs: not a log line",
        'ExpresswayE traffic_server[15550]: Event="Sending HTTP error response"',
        "",
    ],
)
def test_other_lines_are_unchanged(line: str) -> None:
    assert as_logged(line) == line
