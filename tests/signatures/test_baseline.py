"""The whole library over healthy logs (synthetic and real) finds no problem.

Healthy X14.2 Expressway-C and Expressway-E bundles at debug level: MRA logins, registrations,
calls, the verbose-logging alarm 25019 (in every diagnostic bundle) and alarms raised then lowered.
After the alarm lifecycle is resolved, the only findings left are those cleared alarms (info).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.report import BundleFile, FileKind, Finding, NodeInfo
from app.signatures import load_library, run_library
from app.signatures.alarms import resolve_alarm_lifecycle
from tests.corpus import healthy_expressway_c_loggingsnapshot, healthy_expressway_e_loggingsnapshot

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
LIBRARY = load_library()


def _bundle_file(path: Path, bundle: str = "b1") -> BundleFile:
    return BundleFile(
        path=path,
        name=f"{bundle}/{path.name}",
        size=path.stat().st_size,
        kind=FileKind.LOGGINGSNAPSHOT,
        bundle=bundle,
    )


@pytest.mark.parametrize("version", ["X14.2.1", None])
def test_healthy_corpus_gives_no_finding(tmp_path: Path, version: str | None) -> None:
    path = tmp_path / "loggingsnapshot_expc1.txt"
    path.write_text(healthy_expressway_c_loggingsnapshot(n_lines=20_000), encoding="utf-8")
    node = NodeInfo("b1", "expc1", "Expressway-C", version)
    assert run_library(LIBRARY, [_bundle_file(path)], {"b1": node}) == []


def _problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if not (f.severity == "info" and f.title.endswith("(cleared)"))]


@pytest.mark.parametrize("version", ["X14.2.1", None])
def test_healthy_c_and_e_bundles_give_no_problem(tmp_path: Path, version: str | None) -> None:
    c_path = tmp_path / "loggingsnapshot_expc1.txt"
    c_path.write_text(
        healthy_expressway_c_loggingsnapshot(n_lines=20_000, alarm_history=True), encoding="utf-8"
    )
    e_path = tmp_path / "loggingsnapshot_expe1.txt"
    e_path.write_text(healthy_expressway_e_loggingsnapshot(n_lines=20_000), encoding="utf-8")
    nodes = {
        "c": NodeInfo("c", "expc1", "Expressway-C", version),
        "e": NodeInfo("e", "expe1", "Expressway-E", version),
    }
    files = [_bundle_file(c_path, "c"), _bundle_file(e_path, "e")]
    raw = run_library(LIBRARY, files, nodes)
    # the alarms were seen, raised and lowered: the lifecycle is what keeps them quiet
    assert {(f.signature_id, f.facts["event"]) for f in raw} == {
        ("expressway-alarm-25021", "raised"),
        ("expressway-alarm-25021", "lowered"),
        ("expressway-alarm-35013", "raised"),
        ("expressway-alarm-35013", "lowered"),
    }
    findings = resolve_alarm_lifecycle(raw)
    assert _problems(findings) == []
    assert sorted((f.signature_id, f.node) for f in findings) == [
        ("expressway-alarm-25021", "expc1"),
        ("expressway-alarm-35013", "expe1"),
    ]
    assert resolve_alarm_lifecycle(raw, keep_cleared=False) == []


def test_real_logs_give_no_finding() -> None:
    paths = sorted(REAL.glob("*.txt")) if REAL.exists() else []
    if not paths:
        pytest.skip("../shared/data/real is not available")
    files = [_bundle_file(path) for path in paths if path.name != "README.md"]
    for node in (NodeInfo("b1"), NodeInfo("b1", "vm-bluck-fed-vcse1", "Expressway-E", "X8.11")):
        findings = run_library(LIBRARY, files, {"b1": node})
        assert findings == []
        assert resolve_alarm_lifecycle(findings) == []
