"""The literal pieces tested before a signature's regex: only pieces every match holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.parsing.expressway import as_logged
from app.signatures import load_library
from app.signatures.engine import scan_lines
from app.signatures.required import JOINING_CHARACTERS, raw_gate, required_literals
from tests.signatures.helpers import minimal_signature, write_library


def test_pieces_of_the_top_level_sequence_longest_first() -> None:
    pattern = r'Event="\s*Search Completed\s*"\s+Reason="\s*Forbidden\s*"'
    assert required_literals(pattern) == ("Search Completed", "Forbidden", 'Reason="')


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?i)search completed",  # any case matches: no piece holds
        r"(?i:search completed)",
        r"(?:Search Completed)?Forbidden\b|Not Found",  # a branch: neither side is required
        r"(?:Search Completed)*",  # zero repetitions match
        r"Search\s?Completed",  # two pieces, not one
    ],
)
def test_no_piece_from_optional_alternative_or_caseless_parts(pattern: str) -> None:
    pieces = required_literals(pattern)
    assert "Search Completed" not in pieces
    assert "search completed" not in pieces
    assert "Forbidden" not in pieces


@pytest.mark.parametrize("pattern", [r"[[:digit:]]+abc", r"[a[]abc", r"[a--z]abc"])
def test_a_class_python_reads_otherwise_than_re2_gives_no_piece(pattern: str) -> None:
    """RE2's `[[:digit:]]` is one class; Python's parser would read a class and `]abc`."""
    assert required_literals(pattern) == ()


def test_a_repeated_group_that_must_occur_gives_its_pieces() -> None:
    assert "Search Completed;" in required_literals(r"(?:Search Completed;)+ done")


def test_a_line_without_a_piece_is_rejected_as_the_regex_would() -> None:
    library = load_library()
    signature = next(s for s in library.signatures if s.id == "sip-search-forbidden-by-policy")
    found = scan_lines(
        [signature],
        [
            '2026-11-20T10:15:33.120+01:00 expc1 tvcs: Event="Search Completed" '
            'Reason="Not Found" Service="SIP" Src-alias="a@b" Dst-alias="sip:c@d"',
            '2026-11-20T10:15:34.120+01:00 expc1 tvcs: Event="Search Completed" '
            'Reason="Forbidden" Service="SIP" Src-alias="a@b" Dst-alias="sip:c@d"',
        ],
    )
    assert [(f.signature_id, f.count, f.snippets[0].line) for f in found] == [
        ("sip-search-forbidden-by-policy", 1, 2)
    ]


def test_every_matching_example_of_the_library_holds_every_piece() -> None:
    """Each piece is really required: a line the regex accepts holds it (else a lost finding)."""
    library = load_library()
    checked = 0
    for signature in library.signatures:
        for example in signature.examples:
            for line in example.lines:
                logged = as_logged(line)
                for pattern in signature.patterns:
                    if pattern.regex.search(logged) is None:
                        continue
                    for piece in required_literals(pattern.regex.pattern):
                        assert piece in logged, (signature.id, pattern.regex.pattern, piece)
                    checked += 1
    assert checked > 300


RELAYED = [
    '<166>2020-11-18T19:55:58.980+00:00 expc1 tvcs: tvcs: UTCTime="2020-11-18 19:55:58,980" X="y"',
    "<166>2026-01-29T14:01:16.974-05:00 exp-c traffic_server[2030]: "
    "traffic_server:[ET_NET 1]ERROR:SSL connection failed",
    "2022-07-11T19:33:06.740+02:00 vcsd traffic_server[3936]: traffic_server[3936]: [ET_NET 0] X",
    '<14>Nov 18 19:55:58 expc1 tvcs: Event="Search Completed" Reason="Forbidden"',
    '<14>Nov  8 19:55:58.123 tvcs: tvcs:Event="Alarm Raised"',
    '<14>Nov 18 19:55:58\texpc1\t\ttvcs: Event="x"',
    '<165>1 2020-11-18T19:55:58.980Z expc1 tvcs 4242 - [meta k="v\\]w"] Event="Alarm Raised"',
    "<165>1 2020-11-18T19:55:58.980Z - app - ID47 - \ufeffmessage:[x]tail",
    "<165>1 2020-11-18T19:55:58.980Z host traffic_server 17 - - traffic_server:[ET_NET 3]ERROR",
]


@pytest.mark.parametrize("line", RELAYED)
def test_a_piece_free_of_joining_characters_is_in_the_raw_line_of_its_logged_form(
    line: str,
) -> None:
    """What raw_gate relies on: as_logged only joins parts of the raw line with a space, a
    tab, `:`, `[` or `]`, so each run between those characters is in the raw line."""
    logged = as_logged(line)
    assert logged != line
    runs = re.split("[" + re.escape("".join(JOINING_CHARACTERS)) + "]", logged)
    assert [run for run in runs if run not in line] == []


def test_the_raw_gate_keeps_no_piece_a_rewrite_can_join() -> None:
    assert raw_gate((r"traffic_server\[\d+\]:\[ET_NET \d\]ERROR",)) == (
        (b"traffic_server", b"ET_NET", b"ERROR"),
    )
    assert raw_gate((r"Forbidden", r"[a-z]+")) == ()  # the second pattern has no piece


def test_a_relayed_line_rewritten_into_a_match_is_still_found(tmp_path: Path) -> None:
    """`]:[ET_NET` is only in the logged form of the line: the gate must not drop it."""
    doc = minimal_signature(
        match={
            "source": "loggingsnapshot",
            "contains": ["DEMO-FAIL"],
            "patterns": [
                {
                    "regex": r"traffic_server\[\d+\]:\[ET_NET \d\]DEMO-FAIL code=(?P<code>\d+) "
                    r"peer=(?P<peer>\S+)"
                }
            ],
        },
        examples=[
            {
                "name": "hit",
                "line": "2026-01-29T14:01:16.974-05:00 exp-c traffic_server[2030]:[ET_NET 1]"
                "DEMO-FAIL code=7 peer=a",
                "expect": {"code": 7},
                "source": "https://example.com/demo-note",
            },
            {"name": "miss", "line": "x DEMO-FAIL code=7 peer=a", "expect": "no_match"},
        ],
    )
    library = load_library(write_library(tmp_path / "lib", doc))
    relayed = (
        "<166>2026-01-29T14:01:16.974-05:00 exp-c traffic_server[2030]: "
        "traffic_server:[ET_NET 1]DEMO-FAIL code=7 peer=a"
    )
    assert [f.count for f in scan_lines(library.signatures, ["filler", relayed])] == [1]
