"""Which handshake explains a Traffic Server warning: server, time window, failing port, reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.analyzers import cert_correlate
from app.analyzers.cert_correlate import FIX_PREFIX, correlate
from app.analyzers.certificates import scan_files, scan_paths
from app.report import BundleFile, FileKind, Finding, NodeInfo
from tests.analyzers import captures


def warning(reason: str, server: str, at: str | None, node: str | None = "vcsc") -> Finding:
    facts: dict[str, Any] = {"server": server, "reason": reason, "ip": "10.48.36.215"}
    return Finding(
        signature_id="mra-traffic-server-cert-verification",
        title="t",
        severity="error",
        bug_ids=[],
        node=node,
        description="",
        condition="",
        further_info="",
        action="- generic advice",
        facts=facts,
        snippets=[],
        count=1,
        first_seen=at,
        last_seen=at,
    )


def shifted(tmp_path: Path, name: str, seconds: float) -> Path:
    frames = [(ts + seconds, buf) for ts, buf in captures.frames(name)]
    return captures.write_pcap(tmp_path / f"shifted_{seconds:.0f}_{name}", frames)


def test_the_failing_port_wins_and_the_action_starts_with_the_fix() -> None:
    found = warning("self_signed", "cucm.steven.lab", "2022-07-11T16:55:26.016000+00:00")
    assert correlate([found], scan_paths([captures.DATA / "article.pcap"])) == 1
    assert found.facts["cert_port"] == 6972
    assert found.action.startswith(FIX_PREFIX + "upload the self-signed certificate")
    assert found.action.endswith("- generic advice")


def test_the_handshake_inside_the_time_window_is_chosen(tmp_path: Path) -> None:
    scan = scan_paths([captures.DATA / "article.pcap", shifted(tmp_path, "article.pcap", 3600)])
    early = warning("self_signed", "cucm.steven.lab", "2022-07-11T16:55:26+00:00")
    late = warning("self_signed", "cucm.steven.lab", "2022-07-11T17:55:30+00:00")
    correlate([early, late], scan)
    assert early.facts["cert_seen"].startswith("2022-07-11T16:55:25")
    assert late.facts["cert_seen"].startswith("2022-07-11T17:55:25")


def test_outside_every_window_the_nearest_handshake_is_used(tmp_path: Path) -> None:
    scan = scan_paths([captures.DATA / "article.pcap", shifted(tmp_path, "article.pcap", 7200)])
    found = warning("self_signed", "cucm.steven.lab", "2022-07-11T18:30:00+00:00")
    correlate([found], scan)
    assert found.facts["cert_seen"].startswith("2022-07-11T18:55:25")  # 25 min off, not 95


def test_the_reason_picks_between_failing_sessions() -> None:
    scan = scan_paths([captures.DATA / "article.pcap", captures.DATA / "unknown_ca.pcap"])
    found = warning("unknown_ca", "10.48.36.215", "2022-07-11T16:56:00+00:00")
    correlate([found], scan)
    assert found.facts["cert_issuer"] == "CN=Rogue Issuing CA,O=Rogue Labs"
    assert found.facts["issuer_trusted"] is None  # no ca_*.pem among these files


def test_the_warnings_node_is_searched_first() -> None:
    files = [
        BundleFile(captures.DATA / "article.pcap", "a/x.pcap", 1, FileKind.PCAP, "a"),
        BundleFile(captures.DATA / "unknown_ca.pcap", "b/y.pcap", 1, FileKind.PCAP, "b"),
    ]
    nodes = {"a": NodeInfo("a", "vcsc"), "b": NodeInfo("b", "vcsd")}
    scan = scan_files(files, nodes)
    on_vcsd = warning("self_signed", "10.48.36.215", None, node="vcsd")
    on_vcsc = warning("self_signed", "10.48.36.215", None, node="vcsc")
    correlate([on_vcsd, on_vcsc], scan)
    assert on_vcsd.facts["cert_issuer"] == "CN=Rogue Issuing CA,O=Rogue Labs"
    assert on_vcsc.facts["cert_port"] == 6972


def test_a_warning_about_another_server_is_left_alone() -> None:
    found = warning("self_signed", "imp.example.com", "2022-07-11T16:55:26+00:00")
    found.facts["ip"] = "192.0.2.11"
    assert correlate([found], scan_paths([captures.DATA / "article.pcap"])) == 0
    assert "cert_subject" not in found.facts and found.action == "- generic advice"


def test_only_the_first_findings_are_compared_with_every_handshake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cert_correlate, "MAX_CORRELATED", 2)
    at = "2022-07-11T16:55:26.016000+00:00"
    found = [warning("self_signed", "cucm.steven.lab", at) for _ in range(3)]
    assert correlate(found, scan_paths([captures.DATA / "article.pcap"])) == 2
    assert [FIX_PREFIX in f.action for f in found] == [True, True, False]
