"""Issue 11 rows: uploads of a few KB that made the regexes backtrack for minutes now analyse in
seconds, with a warning where something was skipped, and a normal bundle right after is unchanged.
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

from app.bundle.unpack import Limits
from app.report import Report
from app.signatures import load_library
from app.worker.pipeline import Input, analyze
from tests.factories import make_tar, write_upload
from tests.signatures.adversarial import hostile_lines

LIBRARY = load_library()
SNAPSHOT = "loggingsnapshot_expc1_2026-01-01_10_00_00.txt"
CLUSTER_DB = (
    '2020-08-12T14:57:43.354-05:00 expc1 UTCTime="2020-08-12 19:57:43,354" '
    'Module="developer.clusterdb.cdb" Level="ERROR" Node="clusterdb@expc2" '
    'Detail="Failed connecting to node"\n'
)


def _run(tmp_path: Path, name: str, members: dict[str, bytes]) -> tuple[Report, float, int]:
    upload = write_upload(tmp_path / name, f"diagnostic_log_{name}.tar.gz", make_tar(members))
    started = time.monotonic()
    report = analyze([Input(upload, upload.name)], tmp_path / f"work-{name}", LIBRARY, Limits())
    return report, time.monotonic() - started, upload.stat().st_size


def _normal_bundle_still_works(tmp_path: Path) -> None:
    report, seconds, _ = _run(tmp_path, "normal", {SNAPSHOT: CLUSTER_DB.encode()})
    assert [f.signature_id for f in report.findings] == ["cluster-db-failed-connecting-to-node"]
    assert seconds < 10


def test_a_16_kb_line_of_one_signatures_literals(tmp_path: Path) -> None:
    """Python's `re` took 9.6 s on this line (76 s and 223 s on other shapes): cubic."""
    signature = next(s for s in LIBRARY.signatures if s.id == "cluster-database-inconsistent")
    patterns = [p.regex.pattern for p in signature.patterns]
    line = hostile_lines(signature.contains[0], patterns, 16 * 1024)["p0-all-but-last"]
    log = f"2020-08-12T14:57:43.354-05:00 expc1 {line}\n{CLUSTER_DB}"
    report, seconds, size = _run(tmp_path, "hostile", {SNAPSHOT: log.encode()})
    assert size < 4096  # a few KB uploaded
    assert seconds < 10
    assert "cluster-db-failed-connecting-to-node" in {f.signature_id for f in report.findings}
    _normal_bundle_still_works(tmp_path)


def test_a_224_kb_ca_pem_of_begin_markers(tmp_path: Path) -> None:
    """The PEM regex took about 100 s of CPU on this file (quadratic)."""
    pem = (b"-----BEGIN CERTIFICATE-----\n" * 8192)[: 224 * 1024]
    assert len(gzip.compress(pem)) < 2048
    members = {SNAPSHOT: CLUSTER_DB.encode(), "ca_expc1_2026-01-01_10_00_00.pem": pem}
    report, seconds, size = _run(tmp_path, "pem", members)
    assert size < 4096
    assert seconds < 10
    [warning] = [w for w in report.warnings if "ca_expc1" in w]
    assert "no END CERTIFICATE line" in warning and "8192 certificate block(s)" in warning
    assert "cluster-db-failed-connecting-to-node" in {f.signature_id for f in report.findings}
    _normal_bundle_still_works(tmp_path)
