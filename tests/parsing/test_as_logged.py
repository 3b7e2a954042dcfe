"""Remote-syslog lines read as the Expressway logged them; other lines are left alone."""

from __future__ import annotations

import random

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


def _tag_twice_by_split(line: str) -> bool | None:
    """The first reading of an `ISO host tag rest` line (str.split), which as_logged now does
    by offsets: None when the line is not of that form, else whether the tag comes twice."""
    fields = line.split(" ", 3)
    if len(fields) < 4 or not fields[2].endswith(":"):
        return None
    name = fields[2][:-1].split("[", 1)[0]
    rest = fields[3]
    if not name or not rest.startswith(name):
        return False
    position = len(name)
    if rest.startswith("[", position):
        close = rest.find("]", position)
        if close == -1 or not rest[position + 1 : close].isdigit():
            return False
        position = close + 1
    return rest.startswith(":", position)


def test_a_line_of_the_expressway_form_is_read_as_by_splitting_it() -> None:
    """Lines made of the pieces the form is read from (spaces, tags with and without a pid,
    colons), in any order: a line is left alone exactly when splitting it said so."""
    rng = random.Random(11)
    pieces = ["2", " ", "  ", ":", "[", "]", "12", "x", "tvcs", "tvcs:", "a[12]:", "host", "\r",
              "2026-11-20T10:15:33+01:00", "traffic_server[3936]:", ": ", "UTCTime="]  # fmt: skip
    checked = 0
    for _ in range(20_000):
        line = "2" + "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 9)))
        if "\r" in line:
            continue
        twice = _tag_twice_by_split(line)
        if not twice:
            assert as_logged(line) == line, line
        checked += twice is not None
    assert checked > 300
