"""The certificate step over a report: bad captures and PEMs become warnings, never a crash."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from app.analyzers.cert_findings import apply_certificates
from app.errors import SignatureError
from app.report import BundleFile, FileKind, NodeInfo, Report
from app.signatures import load_library
from app.signatures.testing import check_example
from tests.analyzers import captures
from tests.analyzers.certfactory import STAMP, make_cert, write_pem

LIBRARY = load_library()


def report_of(*files: tuple[Path, FileKind]) -> Report:
    report = Report(ruleset_version="test", nodes=[NodeInfo("up", "expc1", "Expressway-C")])
    report.files = [BundleFile(p, f"up/{p.name}", p.stat().st_size, k, "up") for p, k in files]
    return report


def test_truncated_capture_and_bad_pem_are_warnings(tmp_path: Path) -> None:
    data = (captures.DATA / "article.pcap").read_bytes()
    cut = tmp_path / "eth0_cut.pcap"
    cut.write_bytes(data[: len(data) - 700])
    junk = tmp_path / f"ca_expc1_{STAMP}.pem"
    junk.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n")
    report = report_of((cut, FileKind.PCAP), (junk, FileKind.PEM))
    apply_certificates(report, LIBRARY.signatures)
    assert any(
        w.startswith("up/eth0_cut.pcap: capture is truncated after") for w in report.warnings
    )
    assert any(
        w.startswith(f"up/ca_expc1_{STAMP}.pem: certificate block 1") for w in report.warnings
    )
    [rsa] = [e for e in report.certificates if e["port"] == 8443]  # what was read is kept
    assert rsa["trusted"] is False  # a trust store that holds nothing


def test_garbage_capture_gives_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "noise.pcap"
    path.write_bytes(os.urandom(4000))
    report = report_of((path, FileKind.PCAP))
    apply_certificates(report, LIBRARY.signatures)
    assert report.warnings == ["up/noise.pcap: not a pcap or pcapng file"]
    assert report.certificates == [] and report.findings == []


def test_pcapng_with_two_interfaces_lists_the_same_chains(tmp_path: Path) -> None:
    path = captures.write_pcapng_two_interfaces(
        tmp_path / "x.pcapng", captures.frames("article.pcap")
    )
    plain, twin = (
        report_of((captures.DATA / "article.pcap", FileKind.PCAP)),
        report_of((path, FileKind.PCAP)),
    )
    apply_certificates(plain, LIBRARY.signatures)
    apply_certificates(twin, LIBRARY.signatures)
    assert twin.certificates == plain.certificates and len(plain.certificates) == 2


def test_no_capture_or_pem_changes_nothing(tmp_path: Path) -> None:
    log = tmp_path / "loggingsnapshot.txt"
    log.write_text("x\n")
    report = report_of((log, FileKind.LOGGINGSNAPSHOT))
    apply_certificates(report, LIBRARY.signatures)
    assert (report.certificates, report.findings, report.warnings) == ([], [], [])


def test_own_expired_certificate_becomes_a_finding_with_texts(tmp_path: Path) -> None:
    import datetime as dt

    pem = write_pem(
        tmp_path / f"server_expc1_{STAMP}.pem",
        make_cert("expc1.example.com", not_after=dt.datetime(2024, 2, 1, tzinfo=dt.UTC)),
    )
    report = report_of((pem, FileKind.PEM))
    apply_certificates(report, LIBRARY.signatures)
    [finding] = report.findings
    assert finding.signature_id == "cert-expired" and finding.node == "expc1"
    assert "expired on 2024-02-01T00:00:00Z" in finding.description
    assert "Maintenance > Security > Server" in finding.action
    assert report.certificates == []  # no capture: no chain to list


# --- analyzer signature files -----------------------------------------------------------------


def _library(tmp_path: Path, doc: dict[str, object], fixtures: dict[str, Path]) -> Path:
    folder = tmp_path / "expressway"
    (folder / "fixtures").mkdir(parents=True)
    for name, source in fixtures.items():
        (folder / "fixtures" / name).write_bytes(source.read_bytes())
    (folder / f"{doc['id']}.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return tmp_path


def _source_doc() -> dict[str, object]:
    root = Path(LIBRARY.path) / "expressway" / "cert-ecdsa-rsa-different-ca.yaml"
    return dict(yaml.safe_load(root.read_text(encoding="utf-8")))


FIXTURES = {"article.pcap": captures.DATA / "article.pcap"}
FIXTURES["unknown_ca.pcap"] = captures.DATA / "unknown_ca.pcap"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["match"].update(analyzer="nope"), "match.analyzer"),
        (lambda d: d["match"].update(contains=["abcdef"]), "match.contains"),
        (lambda d: d["match"].update(source="xstat"), "match.source"),
        # a configuration check reads xconf: a certificate analyzer is not one of them
        (lambda d: d["match"].update(source="xconf"), "match.analyzer"),
        (lambda d: d["examples"][0].update(source="seed"), "examples[0].source"),
        (lambda d: d["examples"][0].update(line="x"), "examples[0].line"),
        (lambda d: d["examples"][0].update(fixture="missing.pcap"), "examples[0].fixture"),
        (lambda d: d["examples"][0].update(fixture="../../etc.pcap"), "examples[0].fixture"),
        (lambda d: d["examples"].pop(1), "examples"),
    ],
)
def test_analyzer_signature_errors_name_the_field(
    tmp_path: Path, change: object, field: str
) -> None:
    doc = copy.deepcopy(_source_doc())
    change(doc)  # type: ignore[operator]
    with pytest.raises(SignatureError) as caught:
        load_library(_library(tmp_path, doc, FIXTURES))
    assert caught.value.field == field


def test_a_wrong_expectation_in_an_analyzer_example_fails(tmp_path: Path) -> None:
    doc = copy.deepcopy(_source_doc())
    doc["examples"][0]["expect"] = {"ec_port": 443}  # type: ignore[index]
    doc["examples"][1]["fixture"] = "article.pcap"  # type: ignore[index]
    [signature] = load_library(_library(tmp_path, doc, FIXTURES)).signatures
    positive, negative = signature.examples
    failure = check_example(signature, positive)
    assert failure is not None and "expected facts {'ec_port': 443}" in failure.problem
    failure = check_example(signature, negative)
    assert failure is not None and "expected no match" in failure.problem


def test_analyzer_signatures_are_not_given_to_the_line_engine() -> None:
    from app.bundle.sources import SOURCES
    from app.signatures.engine import signatures_for_kind

    analyzers = {s.id for s in LIBRARY.signatures if s.analyzer}
    assert {s for s in analyzers if not s.startswith("config-")} == {
        "cert-expired",
        "cert-san-too-long",
        "cert-ecdsa-rsa-different-ca",
        "cert-missing-client-auth-eku",
    }
    for kind in (FileKind.PCAP, FileKind.PEM, FileKind.XCONF):
        assert (
            not {s.id for s in signatures_for_kind(LIBRARY.signatures, kind, SOURCES)} & analyzers
        )


@pytest.mark.parametrize(
    ("capture", "reads_certificates"), [("tls13.pcap", False), ("article.pcap", True)]
)
def test_cryptography_is_imported_only_for_a_certificate_to_read(
    capture: str, reads_certificates: bool
) -> None:
    """A capture whose handshakes show no certificate (TLS 1.3 encrypts them) is read, and
    every certificate check of the library run on it, without importing `cryptography` (~20-35
    ms of every such analysis, on one core after the scan)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from app.analyzers.cert_findings import apply_certificates\n"
        "from app.report import BundleFile, FileKind, NodeInfo, Report\n"
        f"path = __import__('pathlib').Path({str(captures.DATA / capture)!r})\n"
        "report = Report(ruleset_version='t', nodes=[NodeInfo('up', 'e', 'Expressway-E')])\n"
        "report.files = [BundleFile(path, 'up/c.pcap', path.stat().st_size, FileKind.PCAP, 'up')]\n"
        "from app.signatures import load_library\n"
        "apply_certificates(report, load_library().signatures)\n"
        "chains = [c for entry in report.certificates or [] for c in entry.get('chain', [])]\n"
        "print(bool(chains), 'cryptography' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert out == [str(reads_certificates)] * 2
