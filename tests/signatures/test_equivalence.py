"""The fast paths find exactly what the reference engine finds.

Hyperscan vs the bytes.find LiteralMatcher, threaded vs single-threaded scans, and scanning the
loggingsnapshot while it is unpacked vs reading it back afterwards must all give identical
findings (same groups, counts, first/last seen, facts and snippets with their line numbers).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from app.bundle import unpack
from app.bundle.unpack import Limits
from app.report import BundleFile, FileKind, Finding, NodeInfo
from app.signatures import engine, load_library, matchers, run_library
from app.signatures.engine import LiteralMatcher
from app.signatures.model import Signature
from app.worker import pipeline
from app.worker.pipeline import Input, analyze
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_gz, make_tar, write_upload

LIBRARY = load_library()
C_NODE = NodeInfo(bundle="b1", hostname="expc1", product="Expressway-C", version="X14.2.1")
pytestmark = pytest.mark.skipif(
    not matchers.hyperscan_available(), reason="hyperscan has no wheel for this machine"
)


def _corpus(seed: int, problems: int = 40) -> str:
    """A healthy Expressway-C log with seed problems (and their follow lines) spread in it.

    Some problems sit inside SIPMSG payload blocks (continuation lines) and some are repeated
    more than five times, so snippet capping, headers and follow lines are all exercised.
    """
    rng = random.Random(seed)
    lines = healthy_expressway_c_loggingsnapshot(n_lines=3000).splitlines()
    kinds = ["self_signed", "unknown_ca", "sni_mismatch"]
    for _ in range(problems):
        position = rng.randrange(len(lines))
        scenario = seed_scenario_lines(rng.choice(kinds))
        if rng.random() < 0.2:
            scenario = [" " + scenario[0], scenario[1]]  # a hit on a continuation line
        lines[position:position] = scenario
    return "\n".join(lines) + "\n"


def _log_file(tmp_path: Path, text: str) -> BundleFile:
    path = tmp_path / "loggingsnapshot_expc1.txt"
    path.write_text(text, encoding="utf-8")
    return BundleFile(
        path=path,
        name="b1/loggingsnapshot_expc1.txt",
        size=path.stat().st_size,
        kind=FileKind.LOGGINGSNAPSHOT,
        bundle="b1",
    )


class _EveryLineMatcher:
    """Over-reports: every line is a candidate of every signature (the regex must decide)."""

    def __init__(self, signatures: Sequence[Signature]) -> None:
        self.count = len(signatures)

    def scan(self, block: bytes) -> Iterator[tuple[int, int]]:
        start = 0
        while start < len(block):
            for index in range(self.count):
                yield index, start
            end = block.find(b"\n", start)
            start = len(block) if end == -1 else end + 1


@pytest.mark.parametrize("block_size", [97, 4096, 4 * 2**20])
@pytest.mark.parametrize("jobs", [1, 2])
def test_hyperscan_finds_what_the_reference_finds(
    tmp_path: Path, block_size: int, jobs: int
) -> None:
    file = _log_file(tmp_path, _corpus(seed=block_size))
    nodes = {"b1": C_NODE}
    reference = run_library(
        LIBRARY, [file], nodes, block_size=block_size, matcher_factory=LiteralMatcher
    )
    fast = run_library(
        LIBRARY,
        [file],
        nodes,
        block_size=block_size,
        matcher_factory=matchers.HyperscanMatcher,
        jobs=jobs,
    )
    assert sum(f.count for f in reference) >= 40
    assert fast == reference


def test_a_matcher_that_over_reports_changes_nothing(tmp_path: Path) -> None:
    file = _log_file(tmp_path, _corpus(seed=7, problems=12))
    reference = run_library(LIBRARY, [file], {"b1": C_NODE}, matcher_factory=LiteralMatcher)
    noisy = run_library(LIBRARY, [file], {"b1": C_NODE}, matcher_factory=_EveryLineMatcher)
    assert reference
    assert noisy == reference


def test_every_literal_occurrence_is_a_candidate() -> None:
    signature = LIBRARY.signatures[0]
    block = b"".join(
        f"line {i} {signature.contains[i % len(signature.contains)]} tail\n".encode()
        for i in range(50)
    )
    fast = sorted(
        {
            (i, block.rfind(b"\n", 0, o) + 1)
            for i, o in matchers.HyperscanMatcher([signature]).scan(block)
        }
    )
    reference = sorted(
        {(i, block.rfind(b"\n", 0, o) + 1) for i, o in LiteralMatcher([signature]).scan(block)}
    )
    assert len(fast) == 50
    assert fast == reference


def test_signatures_sharing_a_literal_each_get_its_lines() -> None:
    sharing = [s for s in LIBRARY.signatures if "Search Completed" in s.contains]
    assert len(sharing) >= 2
    block = b"".join(f'{i} Event="Search Completed" x\n'.encode() for i in range(20))
    fast = sorted(set(matchers.HyperscanMatcher(sharing).scan(block)))
    reference = sorted(set(LiteralMatcher(sharing).scan(block)))
    lines = {(i, block.rfind(b"\n", 0, o) + 1) for i, o in fast}
    assert lines == {(i, block.rfind(b"\n", 0, o) + 1) for i, o in reference}
    assert len(lines) == 20 * len(sharing)


def test_a_matcher_built_again_matches_as_the_first_did() -> None:
    """The second matcher of the same signatures takes the first one's compiled database."""
    signatures = LIBRARY.signatures[:40]
    block = b"".join(f"{s.contains[0]} tail\n".encode() for s in signatures)

    def lines(found: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
        return {(i, block.rfind(b"\n", 0, o) + 1) for i, o in found}

    first = matchers.HyperscanMatcher(signatures)
    again = matchers.HyperscanMatcher(signatures)
    assert len(lines(again.scan(block))) >= 40
    assert lines(again.scan(block)) == lines(first.scan(block))
    assert lines(again.scan(block)) == lines(LiteralMatcher(signatures).scan(block))


def _analyze(
    tmp_path: Path, members: dict[str, str], jobs: int, tag: str, *, prescan: bool = True
) -> list[Finding]:
    upload = write_upload(tmp_path / tag, "diagnostic_log_expc1.tar.gz", make_tar(members))
    report = analyze(
        [Input(upload, upload.name)],
        tmp_path / f"work-{tag}",
        LIBRARY,
        Limits(),
        jobs=jobs,
        scan_while_unpacking=prescan,
    )
    return report.findings


@pytest.mark.parametrize(
    ("xstat", "expect_findings"),
    [
        (xstat_dump(version="X14.2.1"), True),  # version known and inside applies_to
        (None, True),  # version unknown: findings carry version_unknown
        (
            xstat_dump(version="X12.7"),
            True,
        ),  # outside applies_to: kept, qualified, after the prescan
    ],
)
def test_scanning_while_unpacking_gives_the_same_report(
    tmp_path: Path, xstat: str | None, expect_findings: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unpack, "BLOCK_BYTES", 2**20)  # the unpacker's chunks: 1 MB here
    big = _corpus(seed=3, problems=60)
    while len(big) < 3 * 2**20:  # several of them
        big += _corpus(seed=len(big), problems=20)
    members = {
        "loggingsnapshot_expc1_2026-01-01_10_00_00.txt": big,
        # a second snapshot with the same problems: groups merge across files
        "loggingsnapshot_expc1_2026-01-01_11_00_00.txt": _corpus(seed=11, problems=8),
    }
    if xstat is not None:
        members["xstat_dump_expc1_2026-01-01_10_00_00.txt"] = xstat
    merged: list[int] = []
    original_merge = engine.Aggregator.merge

    def spy(self: engine.Aggregator, other: engine.Aggregator, node: NodeInfo | None) -> None:
        merged.append(1)
        original_merge(self, other, node)

    monkeypatch.setattr(engine.Aggregator, "merge", spy)
    direct = _analyze(tmp_path, members, jobs=2, tag="direct", prescan=False)
    assert not merged  # read back from disk after unpacking
    streamed = _analyze(tmp_path, members, jobs=2, tag="streamed")
    assert len(merged) == 2  # both snapshots were scanned while unpacking
    one_core = _analyze(tmp_path, members, jobs=1, tag="one-core")
    assert len(merged) == 4  # with one job too, inline
    assert bool(direct) is expect_findings
    assert streamed == direct
    assert one_core == direct
    if direct:
        assert max(len(f.snippets) for f in direct) >= 5


def test_without_hyperscan_the_reference_matcher_is_used_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(matchers, "hyperscan", None)
    with caplog.at_level(logging.WARNING, logger="app.signatures.matchers"):
        factory, name = matchers.default_matcher_factory()
    assert factory is LiteralMatcher
    assert name == "LiteralMatcher"
    assert "hyperscan is not installed" in caplog.text


def _with_problem(kind: str, times: int) -> str:
    lines = healthy_expressway_c_loggingsnapshot(n_lines=400).splitlines()
    for position in range(times):
        lines[60 * position + 10 : 60 * position + 10] = seed_scenario_lines(kind)
    return "\n".join(lines) + "\n"


def test_a_group_spanning_two_snapshots_keeps_the_snippets_of_its_first_five_hits(
    tmp_path: Path,
) -> None:
    members = {
        "loggingsnapshot_expc1_2026-01-01_10_00_00.txt": _with_problem("self_signed", 3),
        "loggingsnapshot_expc1_2026-01-01_11_00_00.txt": _with_problem("self_signed", 4),
        "xstat_dump_expc1_2026-01-01_10_00_00.txt": xstat_dump(version="X14.2.1"),
    }
    direct = _analyze(tmp_path, members, jobs=1, tag="direct")
    streamed = _analyze(tmp_path, members, jobs=2, tag="streamed")
    assert [f.count for f in direct] == [7]
    hit_files = [s.file.rsplit("_", 1)[-1] for s in direct[0].snippets if "WARNING" in s.text]
    assert len(hit_files) == 5
    assert streamed == direct


def test_several_uploads_give_the_same_report_in_turn_or_in_processes(tmp_path: Path) -> None:
    peers = {
        "diagnostic_log_expc1.tar.gz": {
            "loggingsnapshot_expc1_2026-01-01_10_00_00.txt": _corpus(seed=5, problems=30),
            "xstat_dump_expc1_2026-01-01_10_00_00.txt": xstat_dump(version="X14.2.1"),
        },
        "diagnostic_log_expc2.tar.gz": {
            "loggingsnapshot_expc2_2026-01-01_10_00_00.txt": _corpus(seed=6, problems=30),
        },
    }
    inputs = [
        Input(write_upload(tmp_path / "uploads", name, make_tar(members)), name)
        for name, members in peers.items()
    ]
    assert not pipeline.in_processes(2, len(inputs)) and pipeline.in_processes(4, len(inputs))
    in_turn = analyze(inputs, tmp_path / "work-turn", LIBRARY, Limits(), jobs=2)
    in_processes = analyze(inputs, tmp_path / "work-procs", LIBRARY, Limits(), jobs=4)
    assert in_turn.findings
    assert in_turn.findings == in_processes.findings
    assert [n.hostname for n in in_turn.nodes] == [n.hostname for n in in_processes.nodes]


@pytest.mark.parametrize(
    ("upload_name", "content"),
    [
        ("expc1-messages.log", lambda log: log.encode()),  # a plain log, not a bundle
        ("diag.tar.gz", lambda log: make_tar({"logs/messages.1": log})),  # any text member
        ("diag.tar", lambda log: make_tar({"logs/messages.2.gz": make_gz(log)}, compress=False)),
    ],
)
def test_any_text_log_is_scanned_while_unpacked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    upload_name: str,
    content: Callable[[str], bytes],
) -> None:
    upload = write_upload(tmp_path / "uploads", upload_name, content(_corpus(seed=9)))
    merged: list[str] = []
    original_merge = engine.Aggregator.merge

    def spy(self: engine.Aggregator, other: engine.Aggregator, node: NodeInfo | None) -> None:
        merged.append("merged")
        original_merge(self, other, node)

    monkeypatch.setattr(engine.Aggregator, "merge", spy)
    read_back = analyze(
        [Input(upload, upload_name)],
        tmp_path / "back",
        LIBRARY,
        Limits(),
        jobs=2,
        scan_while_unpacking=False,
    )
    assert not merged
    streamed = analyze(
        [Input(upload, upload_name)], tmp_path / "streamed", LIBRARY, Limits(), jobs=2
    )
    assert merged == ["merged"]
    assert read_back.findings
    assert streamed.findings == read_back.findings


@pytest.mark.parametrize("block_size", [97, 4096, 4 * 2**20])
@pytest.mark.parametrize("jobs", [1, 2])
def test_presence_markers_found_in_the_matchers_pass_are_the_ones_the_reference_finds(
    tmp_path: Path, block_size: int, jobs: int
) -> None:
    # Hyperscan reports the markers in its own pass (once per block); the reference searches
    # each block. One marker shows up only near the end, the other never.
    lines = [
        f'2026-01-01T10:00:{i % 60:02d}.000+00:00 expc1 tvcs: Module="network.sip" '
        f'Level="INFO" Detail="line {i}"'
        for i in range(2000)
    ]
    lines.insert(1990, "2026-01-01T10:00:59.000+00:00 expc1 traffic_server[4711]: ERROR x")
    file = _log_file(tmp_path, "\n".join(lines) + "\n")
    markers = {}
    for name, factory in (("reference", LiteralMatcher), ("fast", matchers.HyperscanMatcher)):
        stats: dict[str, engine.FileStats] = {}
        run_library(
            LIBRARY,
            [file],
            {"b1": C_NODE},
            block_size=block_size,
            matcher_factory=factory,
            jobs=jobs,
            stats=stats,
        )
        markers[name] = stats[file.name].markers
    assert markers["reference"] == {"traffic_server["}
    assert markers["fast"] == markers["reference"]


def test_hyperscan_reports_each_marker_the_block_holds_once() -> None:
    matcher = matchers.HyperscanMatcher(LIBRARY.signatures[:1], markers=("AAA-mark", "BBB-mark"))
    block = b"x AAA-mark y\n" * 1000 + b"nothing\n"
    hits, found = matcher.scan_with_markers(block)
    assert found == {"AAA-mark"}
    assert hits == matcher.scan(block)
    assert matcher.scan_with_markers(b"no marker here\n")[1] == frozenset()
