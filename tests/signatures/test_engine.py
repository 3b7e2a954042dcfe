"""Engine over real files: block boundaries, follow snippets, grouping, times, versions, seed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from app.report import BundleFile, FileKind, Finding, NodeInfo
from app.signatures import Library, engine, load_library, run_library
from app.signatures.versions import in_range, version_key
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xss_line
from tests.signatures.helpers import SOURCES, minimal_signature, write_library

SEED = load_library()
C_NODE = NodeInfo(bundle="b1", hostname="expc1", product="Expressway-C", version="X14.2.1")


def _file(
    tmp_path: Path,
    text: str,
    name: str = "loggingsnapshot_expc1.txt",
    bundle: str = "b1",
    kind: FileKind = FileKind.LOGGINGSNAPSHOT,
) -> BundleFile:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return BundleFile(
        path=path, name=f"{bundle}/{name}", size=path.stat().st_size, kind=kind, bundle=bundle
    )


def _demo_library(tmp_path: Path, **overrides: Any) -> Library:
    return load_library(write_library(tmp_path / "lib", minimal_signature(**overrides)))


@pytest.mark.parametrize("block_size", [1, 5, 17, 64, 4096, 4 * 1024 * 1024])
def test_hit_line_across_block_boundaries_found_once_with_its_line_number(
    tmp_path: Path, block_size: int
) -> None:
    library = _demo_library(tmp_path)
    lines = [f"filler line number {i}" for i in range(1, 40)]
    lines[22] = "2023-03-02T10:00:00.000+01:00 expc1 tvcs: DEMO-FAIL code=5 peer=alpha"
    file = _file(tmp_path, "\n".join(lines) + "\n")
    findings = run_library(library, [file], {"b1": C_NODE}, sources=SOURCES, block_size=block_size)
    assert len(findings) == 1
    assert findings[0].count == 1
    assert [(s.file, s.line) for s in findings[0].snippets] == [
        ("b1/loggingsnapshot_expc1.txt", 23)
    ]
    assert findings[0].facts == {"code": 5, "peer": "alpha"}


def test_grouping_counts_and_first_last_seen(tmp_path: Path) -> None:
    library = _demo_library(tmp_path)
    text = "\n".join(
        [
            '2023-03-02T10:00:01.000+01:00 expc1 tvcs: UTCTime="2023-03-02 09:00:01,000" '
            "DEMO-FAIL code=1 peer=a",
            "2023-03-02T10:00:02.000+01:00 expc1 tvcs: DEMO-FAIL code=2 peer=b",
            '2023-03-02T10:00:03.000+01:00 expc1 tvcs: UTCTime="2023-03-02 09:00:03,5" '
            "DEMO-FAIL code=3 peer=a",
        ]
        + ["2023-03-02T10:00:04.000+01:00 expc1 tvcs: DEMO-FAIL code=9 peer=a"] * 7
    )
    findings = run_library(library, [_file(tmp_path, text)], {"b1": C_NODE}, sources=SOURCES)
    by_peer = {f.facts["peer"]: f for f in findings}
    assert set(by_peer) == {"a", "b"}
    assert by_peer["a"].count == 9 and by_peer["b"].count == 1
    assert len(by_peer["a"].snippets) == 5  # only the first five hits are kept as evidence
    assert [s.line for s in by_peer["a"].snippets] == [1, 3, 4, 5, 6]
    assert by_peer["a"].first_seen == "2023-03-02T09:00:01+00:00"
    assert by_peer["a"].last_seen == "2023-03-02T09:00:04+00:00"
    assert by_peer["a"].facts["code"] == 1  # facts of the first hit
    assert by_peer["a"].node == "expc1"
    assert by_peer["a"].description == "Peer a failed with 1."


def test_progress_reports_every_byte_and_other_kinds_are_not_scanned(tmp_path: Path) -> None:
    library = _demo_library(tmp_path)
    log = _file(tmp_path, "x DEMO-FAIL code=1 peer=a\n" * 3)
    pem = _file(tmp_path, "x DEMO-FAIL code=1 peer=zzz\n", name="ca.pem", kind=FileKind.PEM)
    seen: list[int] = []
    findings = run_library(
        library, [log, pem], {"b1": C_NODE}, sources=SOURCES, progress=seen.append, block_size=10
    )
    assert [f.facts["peer"] for f in findings] == ["a"]
    assert sum(seen) == log.size + pem.size


def test_hit_inside_a_multiline_block_points_at_its_header(tmp_path: Path) -> None:
    library = _demo_library(tmp_path)
    text = "\n".join(
        [
            '2023-03-02T10:00:00.000+01:00 expc1 tvcs: UTCTime="2023-03-02 09:00:00,000" '
            'Module="network.sip"',
            " SIPMSG:",
            " |INVITE sip:1@example.com SIP/2.0",
            " X-Note: DEMO-FAIL code=4 peer=inside",
            " |",
        ]
    )
    for block_size in (4096, 8):
        findings = run_library(
            library, [_file(tmp_path, text)], {"b1": C_NODE}, sources=SOURCES, block_size=block_size
        )
        snippet = findings[0].snippets[0]
        assert snippet.line == 1
        assert snippet.text.startswith("2023-03-02T10:00:00.000+01:00 expc1 tvcs:")
        assert snippet.text.endswith("X-Note: DEMO-FAIL code=4 peer=inside")
        assert findings[0].first_seen == "2023-03-02T09:00:00+00:00"


@pytest.mark.parametrize(
    ("kind", "facts", "action_words"),
    [
        (
            "self_signed",
            {
                "server": "cucm.steven.lab",
                "reason": "self_signed",
                "depth": 0,
                "ip": "10.48.36.215",
            },
            "self-signed tomcat",
        ),
        (
            "unknown_ca",
            {"server": "10.48.36.215", "reason": "unknown_ca", "depth": 1},
            "root CA and every intermediate",
        ),
        (
            "sni_mismatch",
            {"server": "10.48.36.215", "reason": "sni_mismatch"},
            "Define the node by FQDN",
        ),
    ],
)
@pytest.mark.parametrize("block_size", [4 * 1024 * 1024, 64])
def test_seed_scenarios_give_one_finding_each(
    tmp_path: Path, kind: str, facts: dict[str, object], action_words: str, block_size: int
) -> None:
    healthy = healthy_expressway_c_loggingsnapshot(n_lines=300)
    text = healthy + "\n".join(seed_scenario_lines(kind)) + "\n" + healthy
    findings = run_library(SEED, [_file(tmp_path, text)], {"b1": C_NODE}, block_size=block_size)
    assert len(findings) == 1
    finding = findings[0]
    assert finding.signature_id == "mra-traffic-server-cert-verification"
    assert finding.severity == "error" and finding.node == "expc1" and finding.count == 1
    assert facts.items() <= finding.facts.items()
    assert "version_unknown" not in finding.facts
    assert action_words in finding.action
    assert "xConfiguration EdgeConfigServer VerifyOriginServer: Off" in finding.action
    # the WARNING line and the SSL error line that follows it, with their own line numbers
    assert [s.text for s in finding.snippets] == seed_scenario_lines(kind)
    assert [s.line for s in finding.snippets] == [301, 302]


def test_version_conditions(tmp_path: Path) -> None:
    file = _file(tmp_path, "\n".join(seed_scenario_lines("unknown_ca")) + "\n")

    def run(node: NodeInfo) -> list[Finding]:
        return run_library(SEED, [file], {"b1": node})

    # a match is never hidden: a node detected outside applies_to qualifies the finding
    (older,) = run(NodeInfo("b1", "expc1", "Expressway-C", "X14.0.7"))
    assert older.facts["applies"] == "disagrees"
    assert (
        "documented for Expressway-C X14.2+; node expc1 was detected as Expressway-C X14.0.7"
        in older.condition
    )
    assert "shown because its log lines are present" in older.condition
    (edge,) = run(NodeInfo("b1", "expe1", "Expressway-E", "X14.2.1"))
    assert edge.facts["applies"] == "disagrees" and "as Expressway-E X14.2.1" in edge.condition
    known = run(NodeInfo("b1", "expc1", "Expressway-C", "X14.2"))
    assert len(known) == 1 and "version_unknown" not in known[0].facts
    assert known[0].facts["applies"] == "yes" and "detected as" not in known[0].condition
    for platform in ("VCS", "VCS Control"):  # VCS Control behaves as an Expressway-C
        (vcs,) = run(NodeInfo("b1", "vcs1", platform, "X14.2.1"))
        assert vcs.facts["applies"] == "yes" and "detected as" not in vcs.condition
    unknown = run(NodeInfo("b1", None, None, None))
    assert len(unknown) == 1 and unknown[0].facts["version_unknown"] is True
    assert unknown[0].facts["applies"] == "unknown"
    assert unknown[0].node is None
    assert "could not be determined" in unknown[0].condition
    assert run_library(SEED, [file], {})[0].facts["version_unknown"] is True


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("X14.2", "X14.2.1"),
        ("X14.2.1", "X14.10"),
        ("X8.11PreAlpha10", "X8.11"),
        ("X8.9", "X8.11"),
        ("X14.2.0", "X14.2.1"),
    ],
)
def test_version_ordering(lower: str, higher: str) -> None:
    low, high = version_key(lower), version_key(higher)
    assert low is not None and high is not None and low < high
    assert in_range(higher, lower, None) is True
    assert in_range(lower, higher, None) is False


def test_x14_2_equals_x14_2_0_and_garbage_is_unknown() -> None:
    assert version_key("X14.2") == version_key("X14.2.0")
    assert in_range("banana", "X14.2", None) is None


def test_xss_line_is_matched_and_kept_verbatim(tmp_path: Path) -> None:
    findings = run_library(SEED, [_file(tmp_path, xss_line() + "\n")], {"b1": C_NODE})
    assert len(findings) == 1
    assert findings[0].facts["server"] == '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    assert "<script>alert(1)</script>" in findings[0].description  # escaping is the web layer's job


def test_a_gigantic_line_is_scanned_in_bounded_pieces_and_quoted_clipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "MAX_LINE_BYTES", 64 * 1024)
    library = _demo_library(tmp_path)
    hit = "2023-03-02T10:00:00.000+01:00 expc1 tvcs: DEMO-FAIL code=5 peer=alpha "
    giant = hit + "x" * 300_000  # one line of 300 KB, then an ordinary one
    after = "2023-03-02T10:00:01.000+01:00 expc1 tvcs: DEMO-FAIL code=6 peer=beta"
    file = _file(tmp_path, f"first line\n{giant}\n{after}\n")
    pieces: list[int] = []
    real_feed = engine.FileScan.feed

    def spy(self: engine.FileScan, block: bytes, located: Any = None) -> None:
        pieces.append(len(block))
        real_feed(self, block, located)

    monkeypatch.setattr(engine.FileScan, "feed", spy)
    findings = run_library(library, [file], {"b1": C_NODE}, sources=SOURCES, block_size=16_384)
    assert max(pieces) < 2 * 64 * 1024  # never the whole 300 KB line at once
    by_peer = {f.facts["peer"]: f for f in findings}
    (alpha,) = by_peer["alpha"].snippets
    assert alpha.line == 2
    assert len(alpha.text) < engine.MAX_SNIPPET_CHARS + 100
    assert alpha.text.startswith(hit) and alpha.text.endswith("more characters]")
    assert [s.line for s in by_peer["beta"].snippets] == [3]  # line numbers still right


def test_a_gigantic_line_while_unpacking_is_fed_in_bounded_pieces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "MAX_LINE_BYTES", 64 * 1024)
    pushed: list[int] = []
    events: list[str] = []

    class Recorder:
        def feed(self, block: bytes, located: Any = None) -> None:
            pushed.append(len(block))

        def note_cut(self) -> None:
            events.append("cut")

        def finish(self) -> None:
            events.append("finish")

    feeder = engine.BlockFeeder(Recorder(), None)  # type: ignore[arg-type]
    for _ in range(50):
        feeder.write(b"y" * 10_000)  # 500 KB without a newline
    feeder.write(b"end\nnext line\n")
    feeder.close()
    assert sum(pushed) == 500_000 + len(b"end\nnext line\n")
    assert max(pushed) <= 64 * 1024 + 10_000
    assert events == ["cut"] * (len(pushed) - 2) + ["finish"]  # the report names the cut line


def test_lines_are_confirmed_in_the_matcher_threads_with_the_same_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a thread pool, each candidate line is confirmed (RE2, facts) where its block is
    located, not in the thread that feeds the blocks in order: RE2 lets go of the GIL for each
    match, and the feeding thread then waited to take it back behind the others. The findings
    are those of a scan in one thread."""
    log = healthy_expressway_c_loggingsnapshot("expc1", n_lines=400)
    seed = "\n".join(seed_scenario_lines("self_signed") + seed_scenario_lines("unknown_ca"))
    file = _file(tmp_path, "\n".join([log, seed, log, seed]) + "\n")
    confirming: list[str] = []
    extract = engine.extract_facts

    def recorded(signature: Any, line: str) -> Any:
        confirming.append(threading.current_thread().name)
        return extract(signature, line)

    monkeypatch.setattr(engine, "extract_facts", recorded)

    def findings(jobs: int) -> list[tuple[str, int, list[tuple[str, int]]]]:
        found = run_library(SEED, [file], {"b1": C_NODE}, jobs=jobs, block_size=4096)
        return sorted(
            (f.signature_id, f.count, [(s.file, s.line) for s in f.snippets]) for f in found
        )

    alone = findings(1)
    assert alone and confirming  # the seed lines are found, their lines confirmed
    confirming.clear()
    assert findings(2) == alone
    assert confirming
    assert threading.current_thread().name not in confirming


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_line_two_signatures_match_gives_a_finding_of_each(tmp_path: Path, jobs: int) -> None:
    other = minimal_signature(
        "demo-peer",
        title="Demo peer seen failing",
        match={
            "source": "loggingsnapshot",
            "contains": ["peer=alpha"],
            "patterns": [{"regex": r"code=\d+ peer=(?P<peer>alpha\S*)"}],
        },
        facts={"peer": {"from": "peer"}},
        examples=[
            {
                "name": "hit",
                "line": "x code=7 peer=alpha",
                "expect": {"peer": "alpha"},
                "source": "https://example.com/demo-note",
            },
            {"name": "miss", "line": "x peer=alpha", "expect": "no_match"},
        ],
    )
    library = load_library(write_library(tmp_path / "lib", minimal_signature(), other))
    lines = [f"filler line number {i}" for i in range(1, 40)]
    lines[9] = "2023-03-02T10:00:00.000+01:00 expc1 tvcs: DEMO-FAIL code=5 peer=alpha"
    file = _file(tmp_path, "\n".join(lines) + "\n")
    found = run_library(library, [file], {"b1": C_NODE}, jobs=jobs, block_size=64)
    assert sorted((f.signature_id, f.count, f.snippets[0].line) for f in found) == [
        ("demo-peer", 1, 10),
        ("demo-sig", 1, 10),
    ]
