"""The literal pieces tested before a signature's regex: only pieces every match holds."""

from __future__ import annotations

import pytest

from app.parsing.expressway import as_logged
from app.signatures import load_library
from app.signatures.engine import scan_lines
from app.signatures.required import required_literals


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
