"""Hostile input built from each signature's and each parser's own literals: time stays linear.

For every signature of the library, lines are built from its `contains` literal and the literal
fragments of its regexes, repeated with the separators that make a backtracking engine try
every split (see tests/signatures/adversarial.py). The slowest of those lines at 16 KB is timed
again at 128 KB: linear matching takes about 8 times longer, a backtracking one 64 to 512 times.
The PEM reader and the log line parser get the same treatment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from app.analyzers.truststore import MAX_CERTIFICATES, load_pem_bundle
from app.parsing import parse_line, timestamp_of
from app.signatures import Signature, load_library
from app.signatures.engine import Aggregator, FileScan, Matcher, default_matcher_factory
from tests.analyzers.certfactory import make_ca
from tests.signatures.adversarial import hostile_lines

PROBE = 4 * 1024  # every hostile line of a signature at this size; the slowest one is timed
SMALL = 16 * 1024
BIG = 128 * 1024
GROWTH = BIG / SMALL
SLACK = 3.0  # timing noise on a shared machine; quadratic growth would be 8 times more
NOISE_SECONDS = 0.02
BIG_LIMIT_SECONDS = 0.5


def _seconds(action: Callable[[], object], repeat: int = 3) -> float:
    """The best CPU time of `repeat` runs (CPU time: other processes on the machine add none)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        action()
        best = min(best, time.process_time() - started)
    return best


def _assert_linear(small: float, big: float, what: str, limit: float = BIG_LIMIT_SECONDS) -> None:
    assert big < limit, f"{what}: {big:.3f} s for the big input"
    assert big <= small * GROWTH * SLACK + NOISE_SECONDS, (
        f"{what}: {small * 1000:.1f} ms → {big * 1000:.1f} ms, more than linear growth"
    )


@cache
def _line_signatures() -> tuple[Signature, ...]:
    return tuple(s for s in load_library().signatures if s.analyzer is None)


_MATCHERS: dict[str, Matcher] = {}


def _matcher(signature: Signature) -> Matcher:
    if signature.id not in _MATCHERS:
        _MATCHERS[signature.id] = default_matcher_factory()([signature])
    return _MATCHERS[signature.id]


def _confirm(signature: Signature, line: str) -> None:
    """The engine's path for one line: matcher, line location, regexes, facts, snippet."""
    scan = FileScan("hostile.log", [signature], _matcher(signature), Aggregator())
    scan.feed(line.encode("utf-8") + b"\n")


@pytest.mark.parametrize("signature", _line_signatures(), ids=lambda s: s.id)
def test_each_signature_confirms_hostile_lines_in_linear_time(signature: Signature) -> None:
    patterns = [p.regex.pattern for p in signature.patterns]
    if signature.follow is not None:
        patterns.append(signature.follow.regex.pattern)
    timed = {}
    for name, line in hostile_lines(signature.contains[0], patterns, PROBE).items():
        timed[name] = _seconds(lambda line=line: _confirm(signature, line), repeat=1)
    worst = max(timed, key=lambda name: timed[name])
    small_line = hostile_lines(signature.contains[0], patterns, SMALL)[worst]
    big_line = hostile_lines(signature.contains[0], patterns, BIG)[worst]
    small = _seconds(lambda: _confirm(signature, small_line))
    big = _seconds(lambda: _confirm(signature, big_line))
    _assert_linear(small, big, f"{signature.id} on {worst}")


def test_a_line_holding_a_literal_a_hundred_thousand_times_stays_linear() -> None:
    signature = next(s for s in _line_signatures() if s.id == "tls-remote-rejected-our-certificate")
    literal = signature.contains[0] + " "

    def line(size: int) -> str:
        return (literal * (size // len(literal) + 1))[:size]

    small_line, big_line = line(256 * 1024), line(2 * 2**20)
    small = _seconds(lambda: _confirm(signature, small_line))
    big = _seconds(lambda: _confirm(signature, big_line))
    _assert_linear(small, big, "2 MB line of one literal", limit=3.0)


def test_continuation_lines_full_of_hits_are_walked_once() -> None:
    signature = next(s for s in _line_signatures() if s.id == "tls-remote-rejected-our-certificate")
    hit = (
        ' Event="Inbound TLS Negotiation Error" Src-ip="10.0.0.1" Dst-ip="10.0.0.2" '
        'Dst-port="5061" Detail="sslv3 alert certificate unknown"'
    )
    header = "2024-01-01T00:00:00+00:00 expe tvcs: SIPMSG:\n"

    def block(lines: int) -> bytes:
        return (header + (hit + "\n") * lines).encode()

    def scan(data: bytes) -> Aggregator:
        aggregator = Aggregator()
        FileScan("hostile.log", [signature], _matcher(signature), aggregator).feed(data)
        return aggregator

    small_block, big_block = block(500), block(4000)  # 2000 lines took 11.8 s before
    small = _seconds(lambda: scan(small_block))
    big = _seconds(lambda: scan(big_block))
    _assert_linear(small, big, "continuation lines with hits", limit=3.0)
    [finding] = scan(block(3)).findings()
    assert finding.snippets[0].line == 1  # the hit is still quoted under its SIPMSG header


PEM_HOSTILE = {
    "BEGIN without END": b"-----BEGIN CERTIFICATE-----\n",
    "BEGIN and junk": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----BEGIN CERT",
    "END without BEGIN": b"-----END CERTIFICATE-----\n",
}


@pytest.mark.parametrize("unit", PEM_HOSTILE.values(), ids=list(PEM_HOSTILE))
def test_pem_reader_is_linear_on_hostile_ca_files(unit: bytes) -> None:
    def data(size: int) -> bytes:
        return (unit * (size // len(unit) + 1))[:size]

    small_data, big_data = data(224 * 1024), data(2 * 2**20)  # 224 KB took 43 s before
    small = _seconds(lambda: load_pem_bundle(small_data, "ca_x.pem"))
    big = _seconds(lambda: load_pem_bundle(big_data, "ca_x.pem"))
    _assert_linear(small, big, "PEM reader")
    warnings = load_pem_bundle(big_data, "ca_x.pem").warnings
    assert warnings and len(warnings) <= 8  # named once, not once per block


def test_pem_reader_keeps_good_certificates_next_to_garbage() -> None:
    good = make_ca("Good CA")[0].public_bytes(Encoding.PEM)
    cut = b"-----BEGIN CERTIFICATE-----\nAAAA\n"
    huge = b"-----BEGIN CERTIFICATE-----\n" + b"A" * 100_000 + b"\n-----END CERTIFICATE-----\n"
    bundle = load_pem_bundle(cut * 3 + good + huge + good + cut, "ca_x.pem")
    assert len(bundle.certificates) == 2
    assert any("larger than 64 KiB" in w for w in bundle.warnings)
    assert any("4 certificate block(s)" in w and "no END" in w for w in bundle.warnings)


def test_pem_reader_stops_after_its_block_limit() -> None:
    junk = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    bundle = load_pem_bundle(junk * (MAX_CERTIFICATES + 50), "ca_x.pem")
    assert any(f"only the first {MAX_CERTIFICATES}" in w for w in bundle.warnings)
    assert len(bundle.warnings) <= 8


PARSER_HOSTILE = {
    "word run": "a",
    "fields without values": 'Key="',
    "keys without =": "Detail ",
    "UTCTime without a time": 'UTCTime=" ',
    "spaces": " ",
    "brackets": "[[[",
}


@pytest.mark.parametrize("unit", PARSER_HOSTILE.values(), ids=list(PARSER_HOSTILE))
def test_line_parser_is_linear_on_hostile_lines(unit: str) -> None:
    def line(size: int) -> str:
        body = (unit * (size // len(unit) + 1))[:size]
        return f"2024-01-01T00:00:00+00:00 expe tvcs: {body}\n{body}"

    small_line, big_line = line(SMALL), line(BIG)

    def parse(text: str) -> None:
        parse_line(text)
        timestamp_of(text)
        parse_line(text.partition(" ")[2])  # the shape without a timestamp

    small = _seconds(lambda: parse(small_line))
    big = _seconds(lambda: parse(big_line))
    _assert_linear(small, big, "parse_line")


def test_the_matcher_reports_each_signature_once_per_line() -> None:
    first, second = _line_signatures()[:2]
    a, b = first.contains[0], second.contains[0]
    text_lines = [f"{a} {a} {b} {a}", "nothing", f"{b}{b}", a]
    block = "\n".join(text_lines).encode()
    starts = [len("\n".join(text_lines[:n])) + (1 if n else 0) for n in range(4)]
    hits = list(default_matcher_factory()([first, second]).scan(block))
    lines = [(index, block.rfind(b"\n", 0, offset) + 1) for index, offset in hits]
    assert sorted(lines) == [(0, starts[0]), (0, starts[3]), (1, starts[0]), (1, starts[2])]
