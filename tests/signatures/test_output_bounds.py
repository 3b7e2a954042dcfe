"""An analysis' output stays bounded: findings per analysis, snippets and facts per finding."""

from __future__ import annotations

import time
from pathlib import Path

from app.bundle.unpack import Limits
from app.report import Finding, Snippet
from app.serialize import finding_out
from app.signatures import load_library, scan_lines
from app.signatures.engine import (
    MAX_FACT_CHARS,
    Aggregator,
    FileScan,
    GroupBudget,
    LiteralMatcher,
)
from app.signatures.output_bounds import MAX_FINDINGS, OutputLimits, cap_findings
from app.worker.pipeline import Input, analyze
from tests.factories import make_tar, write_upload
from tests.signatures.helpers import minimal_signature, write_library

LIBRARY = load_library()
FLOOD = (  # sip-next-hop-tcp-connection-failed (warning): a finding per address and port
    'Module="network.tcp" Level="ERROR" Dst-ip="{ip}" Dst-port="{port}" '
    'Detail="TCP Connection Failed"'
)
CLUSTER_DB = (  # cluster-db-failed-connecting-to-node (error)
    '2020-08-12T14:57:43.354-05:00 expe UTCTime="2020-08-12 19:57:43,354" '
    'Module="developer.clusterdb.synchronise" Level="WARN" Node="clusterdb@expe" '
    'Detail="Failed connecting to node" Node="clusterdb@{node}"'
)


def _finding(signature: str, severity: str, count: int = 1, text: str = "x") -> Finding:
    return Finding(
        signature_id=signature,
        title=signature,
        severity=severity,
        bug_ids=[],
        node=None,
        description="d",
        condition="c",
        further_info="f",
        action="a",
        facts={},
        snippets=[Snippet("f.log", 1, text)],
        count=count,
        first_seen=None,
        last_seen=None,
    )


def test_severe_findings_and_every_signature_come_before_repetition() -> None:
    findings = (
        [_finding("flood", "info", count=i) for i in range(2000)]
        + [_finding("rare", "info")]
        + [_finding("bad", "error") for _ in range(30)]
        + [_finding("worst", "critical") for _ in range(3)]
    )
    kept, warning = cap_findings(findings, OutputLimits(max_findings=100))
    assert len(kept) == 100
    assert sum(f.severity == "critical" for f in kept) == 3
    assert sum(f.severity == "error" for f in kept) == 30
    assert any(f.signature_id == "rare" for f in kept)
    assert max(f.count for f in findings if f.signature_id == "flood") in {
        f.count for f in kept
    }  # a repetitive signature keeps its findings with most hits
    assert warning is not None
    assert "2,034 findings" in warning and "1,934 were left out" in warning
    assert "LOUPE_MAX_FINDINGS" in warning and "1,934 info" in warning and "flood" in warning
    assert [f for f in findings if f in kept] == kept  # display order unchanged


def test_a_byte_budget_bounds_findings_with_huge_snippets() -> None:
    findings = [_finding(f"s{i}", "warning", text="q" * 100_000) for i in range(50)]
    kept, warning = cap_findings(findings, OutputLimits(max_bytes=2**20))
    assert 1 <= len(kept) <= 11
    assert warning is not None and "LOUPE_MAX_FINDINGS_BYTES" in warning
    assert cap_findings(findings[:3], OutputLimits()) == (findings[:3], None)


def test_the_engine_keeps_a_bounded_number_of_groups_and_prefers_severe_ones() -> None:
    by_id = {s.id: s for s in LIBRARY.signatures}
    flood = by_id["sip-next-hop-tcp-connection-failed"]
    severe = by_id["cluster-db-failed-connecting-to-node"]
    lines = [FLOOD.format(ip="10.0.0.1", port=i) for i in range(300)]
    lines += [CLUSTER_DB.format(node=f"n{i}") for i in range(20)]
    aggregator = Aggregator(max_groups=50)
    scan = FileScan("x.log", [flood, severe], LiteralMatcher([flood, severe]), aggregator)
    scan.feed("".join(f"{line}\n" for line in lines).encode())
    findings = aggregator.findings()
    assert len(findings) == 51  # the bound, plus the first finding of a signature seen late
    assert sum(f.signature_id == severe.id for f in findings) == 20  # warnings made room
    assert aggregator.dropped[flood.id] == 250 + 19
    assert sum(f.count for f in findings) + sum(aggregator.dropped.values()) == 320


def test_a_huge_fact_value_is_cut() -> None:
    signature = next(
        s for s in LIBRARY.signatures if s.id == "cluster-db-failed-connecting-to-node"
    )
    [finding] = scan_lines([signature], [CLUSTER_DB.format(node="n" * 200_000)])
    assert len(finding.facts["peer"]) == MAX_FACT_CHARS + 1
    assert finding.facts["peer"].endswith("…")
    assert len(finding.description) < 5000


def _analyze(tmp_path: Path, name: str, log: str) -> tuple[list[Finding], list[str], float]:
    upload = write_upload(
        tmp_path / name,
        f"diagnostic_log_{name}.tar.gz",
        make_tar({f"loggingsnapshot_{name}_2026-01-01_10_00_00.txt": log}),
    )
    started = time.monotonic()
    report = analyze([Input(upload, upload.name)], tmp_path / f"work-{name}", LIBRARY, Limits())
    return report.findings, report.warnings, time.monotonic() - started


def test_a_log_of_distinct_findings_is_capped_and_a_normal_one_runs_after(tmp_path: Path) -> None:
    lines = [
        FLOOD.format(ip=f"10.0.{i // 250}.{i % 250}", port=5060 + i % 7) for i in range(13_000)
    ]
    lines.append(CLUSTER_DB.format(node="expc2"))  # the one severe problem, at the very end
    log = "\n".join(lines) + "\n"
    assert len(log) > 1_100_000
    findings, warnings, seconds = _analyze(tmp_path, "hostile", log)
    assert len(findings) == MAX_FINDINGS
    assert any(f.signature_id == "cluster-db-failed-connecting-to-node" for f in findings)
    body = b"[" + b",".join(finding_out(f).model_dump_json().encode() for f in findings) + b"]"
    assert len(body) < 16 * 2**20  # the findings JSON (was 206 MB for 200,000 findings)
    assert any("did not become findings" in w for w in warnings)
    assert any("were left out" in w and "LOUPE_MAX_FINDINGS" in w for w in warnings)
    assert seconds < 60

    normal, normal_warnings, _ = _analyze(
        tmp_path,
        "normal",
        CLUSTER_DB.format(node="expc2") + "\n" + FLOOD.format(ip="1.2.3.4", port=5060),
    )
    assert sorted(f.signature_id for f in normal) == [
        "cluster-db-failed-connecting-to-node",
        "sip-next-hop-tcp-connection-failed",
    ]
    assert not any("left out" in w or "did not become" in w for w in normal_warnings)


def test_an_int_fact_that_is_no_number_rejects_the_line_without_failing(tmp_path: Path) -> None:
    doc = minimal_signature()
    doc["match"]["patterns"][0]["regex"] = r"DEMO-FAIL code=(?P<code>\S+) peer=(?P<peer>\S+)"
    signature = load_library(write_library(tmp_path, doc)).get("demo-sig")
    lines = [
        "DEMO-FAIL code=² peer=a",
        f"DEMO-FAIL code={'9' * 5000} peer=b",
        "DEMO-FAIL code=-7 peer=c",
    ]
    [finding] = scan_lines([signature], lines)
    assert finding.facts == {"code": -7, "peer": "c"}


def test_prescanned_files_share_one_group_budget() -> None:
    by_id = {s.id: s for s in LIBRARY.signatures}
    flood = by_id["sip-next-hop-tcp-connection-failed"]
    budget = GroupBudget(100)
    aggregators = [Aggregator(budget=budget) for _ in range(5)]
    for number, aggregator in enumerate(aggregators):
        lines = [FLOOD.format(ip=f"10.0.0.{number}", port=i) for i in range(60)]
        scan = FileScan(f"f{number}.log", [flood], LiteralMatcher([flood]), aggregator)
        scan.feed("".join(f"{line}\n" for line in lines).encode())
    assert sum(len(a.findings()) for a in aggregators) == 100  # not 5 × 60
    assert sum(sum(a.dropped.values()) for a in aggregators) == 200
    aggregators[0].release()
    assert budget.used == 40
