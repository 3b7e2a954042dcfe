"""The whole library over healthy logs (synthetic and real) finds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.report import BundleFile, FileKind, NodeInfo
from app.signatures import load_library, run_library
from tests.corpus import healthy_expressway_c_loggingsnapshot

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
LIBRARY = load_library()


def _bundle_file(path: Path) -> BundleFile:
    return BundleFile(
        path=path,
        name=f"b1/{path.name}",
        size=path.stat().st_size,
        kind=FileKind.LOGGINGSNAPSHOT,
        bundle="b1",
    )


@pytest.mark.parametrize("version", ["X14.2.1", None])
def test_healthy_corpus_gives_no_finding(tmp_path: Path, version: str | None) -> None:
    path = tmp_path / "loggingsnapshot_expc1.txt"
    path.write_text(healthy_expressway_c_loggingsnapshot(n_lines=20_000), encoding="utf-8")
    node = NodeInfo("b1", "expc1", "Expressway-C", version)
    assert run_library(LIBRARY, [_bundle_file(path)], {"b1": node}) == []


def test_real_logs_give_no_finding() -> None:
    paths = sorted(REAL.glob("*.txt")) if REAL.exists() else []
    if not paths:
        pytest.skip("../shared/data/real is not available")
    files = [_bundle_file(path) for path in paths]
    assert run_library(LIBRARY, files, {"b1": NodeInfo("b1")}) == []
