"""Configuration checks over the xconf dumps: text and XML, CRLF, missing dumps, FQDN and IP,
TLS verify off and on, the peer certificate present or not, and the whole pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.analyzers.certificates import CertificateScan
from app.analyzers.config_checks import address_kind, name_in_certificate
from app.analyzers.config_findings import apply_configuration, config_findings
from app.analyzers.xconf import (
    MAX_BYTES,
    MAX_SETTINGS,
    read_settings,
    scan_config,
    scan_config_paths,
)
from app.bundle.unpack import Limits
from app.report import BundleFile, FileKind, NodeInfo, Report
from app.signatures import load_library
from app.signatures.coverage import coverage_of
from app.signatures.verdict import decide, problem_count
from app.worker.pipeline import Input, analyze
from tests.corpus import healthy_expressway_c_loggingsnapshot, xstat_dump
from tests.factories import make_tar

LIBRARY = load_library()
FIXTURES = Path(LIBRARY.path) / "expressway" / "fixtures"
TRAVERSAL = LIBRARY.get("config-traversal-tls-name-not-in-peer-certificate")
INBOUND = LIBRARY.get("config-dns-zone-tls-inbound-mapping-off")
UC = LIBRARY.get("config-uc-server-address-ip-with-tls-verify")
STAMP = "2024-03-01_10_00_00"
EXPC_TXT = (FIXTURES / f"xconf_dump_expc_{STAMP}.txt").read_text(encoding="utf-8")
EXPC_XML = (FIXTURES / f"xconf_dump_expc_{STAMP}.xml").read_text(encoding="utf-8")
EXPE_TXT = (FIXTURES / f"xconf_dump_expe_{STAMP}.txt").read_text(encoding="utf-8")
BAD_EXPE_PEM = (FIXTURES / f"server_expe_{STAMP}.pem").read_bytes()
GOOD_EXPE_PEM = (FIXTURES / "good" / f"server_expe_{STAMP}.pem").read_bytes()
EXPC_PEM = (FIXTURES / f"server_expc_{STAMP}.pem").read_bytes()
NO_CERTS = CertificateScan([], [])


def _file(tmp_path: Path, bundle: str, name: str, data: str | bytes, kind: FileKind) -> BundleFile:
    path = tmp_path / bundle / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8"))
    else:
        path.write_bytes(data)
    return BundleFile(path, f"{bundle}/{name}", path.stat().st_size, kind, bundle)


def _report(files: list[BundleFile], hosts: dict[str, str]) -> Report:
    report = Report(ruleset_version="test")
    report.files = files
    report.nodes = [NodeInfo(bundle, host) for bundle, host in hosts.items()]
    return report


def _certs(report: Report) -> CertificateScan:
    from app.analyzers.cert_findings import apply_certificates

    return apply_certificates(report, LIBRARY.signatures)


# ---- reading the dumps -------------------------------------------------------------------------


def test_text_and_xml_forms_read_alike(tmp_path: Path) -> None:
    text = scan_config_paths([FIXTURES / f"xconf_dump_expc_{STAMP}.txt"]).nodes[0]
    xml = scan_config_paths([FIXTURES / f"xconf_dump_expc_{STAMP}.xml"]).nodes[0]
    for node in (text, xml):
        zone = node.items("zones", "zone")["6"]
        peers = [s.value for s in zone if s.key == "traversalclientpeeraddress"]
        assert peers[0] == "expe.example.com" and set(peers[1:]) <= {""}
        assert [s.value for s in zone if s.key == "traversalclientsiptlsverifymode"] == ["On"]
    [address] = [s for s in xml.items("zones", "zone")["6"] if s.value == "expe.example.com"]
    lines = (FIXTURES / f"xconf_dump_expc_{STAMP}.xml").read_text().splitlines()
    assert "expe.example.com" in lines[address.line - 1]  # the line the viewer opens at


def test_crlf_dump_gives_the_same_settings_and_lines(tmp_path: Path) -> None:
    crlf = tmp_path / f"xconf_dump_expc_{STAMP}.txt"
    crlf.write_bytes(EXPC_TXT.replace("\n", "\r\n").encode())
    lf = read_settings(FIXTURES / crlf.name, "lf", [])
    cr = read_settings(crlf, "crlf", [])
    assert [(s.key, s.value, s.line) for s in cr] == [(s.key, s.value, s.line) for s in lf]
    assert all("\r" not in s.value for s in cr)


def test_a_dump_past_the_read_limit_is_read_in_part_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "xconf_dump_big.txt"
    line = f'*c xConfiguration Zones Zone 6 Description: "{"d" * 400}"\n'
    path.write_text(line * (MAX_BYTES // len(line) + 10), encoding="utf-8")
    warnings: list[str] = []
    settings = read_settings(path, "big", warnings)
    assert 0 < len(settings) <= MAX_BYTES // len(line) + 1
    assert warnings == [
        f"big: only the first {MAX_BYTES // 2**20} MiB of this configuration dump "
        "were read for the configuration checks"
    ]


def test_a_dump_of_too_many_settings_keeps_the_first_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "xconf_dump_many.txt"
    path.write_text('*c xConfiguration A B: "1"\n' * (MAX_SETTINGS + 5), encoding="utf-8")
    warnings: list[str] = []
    assert len(read_settings(path, "many", warnings)) == MAX_SETTINGS
    assert len(warnings) == 1 and "settings" in warnings[0]


def test_hostile_bytes_never_crash(tmp_path: Path) -> None:
    path = tmp_path / "xconf_dump_junk.xml"
    path.write_bytes(b"<" + b"\xff<Zones item='x'>" * 1000 + b"<<<>>>\x00")
    read_settings(path, "junk", [])  # no exception, whatever the bytes
    scan = scan_config_paths([path])
    for signature in (TRAVERSAL, INBOUND, UC):
        findings, _ = config_findings(signature, scan, NO_CERTS)
        assert findings == []


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("expe.example.com", "FQDN"),
        ("192.0.2.2", "IPv4 address"),
        ("2001:db8::2", "IPv6 address"),
        ("[2001:db8::2]", "IPv6 address"),
        ("192.0.2.2:7001", "IPv4 address"),
    ],
)
def test_address_kind(value: str, kind: str) -> None:
    assert address_kind(value) == kind


# ---- traversal zone: the name against the peer's certificate ---------------------------------


def _two_nodes(tmp_path: Path, peer_pem: bytes, *, expc: str = EXPC_TXT) -> Report:
    files = [
        _file(tmp_path, "c", f"xconf_dump_expc_{STAMP}.txt", expc, FileKind.XCONF),
        _file(tmp_path, "c", f"xconf_dump_expc_{STAMP}.xml", EXPC_XML, FileKind.XCONF),
        _file(tmp_path, "e", f"server_expe_{STAMP}.pem", peer_pem, FileKind.PEM),
    ]
    return _report(files, {"c": "expc", "e": "expe"})


def test_peer_address_missing_from_the_peer_certificate_points_at_both_dump_forms(
    tmp_path: Path,
) -> None:
    report = _two_nodes(tmp_path, BAD_EXPE_PEM)
    coverage = apply_configuration(report, [TRAVERSAL], _certs(report))
    [finding] = [f for f in report.findings if f.signature_id == TRAVERSAL.id]
    assert finding.node == "expc"
    assert finding.severity == "error"
    assert finding.facts["name"] == "expe.example.com"
    assert finding.facts["certificate_sans"] == "expe-old.example.com"
    assert 'Peer address "expe.example.com"' in finding.condition  # the configured value
    where = {(s.file, s.line) for s in finding.snippets}
    assert ("c/xconf_dump_expc_2024-03-01_10_00_00.txt", 11) in where  # Peer 1 Address line
    assert any(file.endswith(".xml") for file, _ in where)
    assert coverage[TRAVERSAL.id].skipped is None


def test_peer_address_in_the_peer_certificate_is_quiet(tmp_path: Path) -> None:
    report = _two_nodes(tmp_path, GOOD_EXPE_PEM)
    apply_configuration(report, [TRAVERSAL], _certs(report))
    assert [f for f in report.findings if f.signature_id == TRAVERSAL.id] == []


def test_tls_verify_off_is_not_checked(tmp_path: Path) -> None:
    off = EXPC_TXT.replace('SIP TLS Verify Mode: "On"', 'SIP TLS Verify Mode: "Off"')
    files = [
        _file(tmp_path, "c", f"xconf_dump_expc_{STAMP}.txt", off, FileKind.XCONF),
        _file(tmp_path, "e", f"server_expe_{STAMP}.pem", BAD_EXPE_PEM, FileKind.PEM),
    ]
    report = _report(files, {"c": "expc", "e": "expe"})
    coverage = apply_configuration(report, [TRAVERSAL], _certs(report))
    assert report.findings == []
    assert coverage[TRAVERSAL.id].note and "no traversal zone" in coverage[TRAVERSAL.id].note


@pytest.mark.parametrize("address", ["192.0.2.20", "2001:db8::20"])
def test_peer_by_ip_is_found_by_the_other_node_interface_address(
    tmp_path: Path, address: str
) -> None:
    expc = EXPC_TXT.replace('"expe.example.com"', f'"{address}"')
    family = "V6" if ":" in address else "V4"
    expe = f'*c xConfiguration Ethernet 1 IP {family} Address: "{address}"\n' + EXPE_TXT
    files = [
        _file(tmp_path, "c", f"xconf_dump_expc_{STAMP}.txt", expc, FileKind.XCONF),
        _file(tmp_path, "e", f"xconf_dump_expe_{STAMP}.txt", expe, FileKind.XCONF),
        _file(tmp_path, "e", f"server_expe_{STAMP}.pem", GOOD_EXPE_PEM, FileKind.PEM),
    ]
    report = _report(files, {"c": "expc", "e": "expe"})
    apply_configuration(report, [TRAVERSAL], _certs(report))
    [finding] = [f for f in report.findings if f.facts.get("role") == "client"]
    assert finding.facts["name"] == address
    assert finding.facts["name_kind"] == ("IPv6 address" if family == "V6" else "IPv4 address")
    assert "IP Address SAN" in finding.further_info


def test_server_zone_subject_name_is_checked_against_the_client_node_certificate(
    tmp_path: Path,
) -> None:
    files = [
        _file(tmp_path, "c", f"xconf_dump_expc_{STAMP}.txt", EXPC_TXT, FileKind.XCONF),
        _file(tmp_path, "c", f"server_expc_{STAMP}.pem", EXPC_PEM, FileKind.PEM),
        _file(tmp_path, "e", f"xconf_dump_expe_{STAMP}.txt", EXPE_TXT, FileKind.XCONF),
    ]
    report = _report(files, {"c": "expc", "e": "expe"})
    apply_configuration(report, [TRAVERSAL], _certs(report))
    [finding] = [f for f in report.findings if f.facts.get("role") == "server"]
    assert finding.node == "expe"
    assert finding.facts["name"] == "expc.example.co"
    # found by the SIP port its traversal client zone uses (7001), whatever the name says
    assert finding.facts["where"].endswith("of node expc")


def test_without_the_peer_certificate_coverage_says_skipped_never_passed(tmp_path: Path) -> None:
    files = [
        _file(tmp_path, "c", f"xconf_dump_expc_{STAMP}.txt", EXPC_TXT, FileKind.XCONF),
        _file(tmp_path, "c", f"loggingsnapshot_expc_{STAMP}.txt", "x\n", FileKind.LOGGINGSNAPSHOT),
    ]
    report = _report(files, {"c": "expc"})
    checked = apply_configuration(report, [TRAVERSAL], _certs(report))
    assert report.findings == []
    reason = checked[TRAVERSAL.id].skipped
    assert reason and "no certificate of the peer expe.example.com" in reason
    [entry] = coverage_of(
        [TRAVERSAL], report.files, {"c": report.nodes[0]}, [], unchecked={TRAVERSAL.id: reason}
    )
    assert entry.outcome == "skipped"
    assert entry.reason and "expe.example.com" in entry.reason


def test_without_an_xconf_dump_every_configuration_check_is_skipped(tmp_path: Path) -> None:
    files = [
        _file(tmp_path, "c", f"loggingsnapshot_expc_{STAMP}.txt", "x\n", FileKind.LOGGINGSNAPSHOT)
    ]
    report = _report(files, {"c": "expc"})
    assert apply_configuration(report, [TRAVERSAL, INBOUND, UC], None) == {}
    entries = coverage_of([TRAVERSAL, INBOUND, UC], report.files, {"c": report.nodes[0]}, [])
    assert {e.outcome for e in entries} == {"skipped"}
    assert all(e.reason and "no xconf dump" in e.reason for e in entries)


# ---- DNS zone inbound mapping ------------------------------------------------------------------


def test_inbound_mapping_off_points_at_its_line(tmp_path: Path) -> None:
    scan = scan_config([_file(tmp_path, "e", "xconf_dump_expe.txt", EXPE_TXT, FileKind.XCONF)], {})
    [finding], _ = config_findings(INBOUND, scan, NO_CERTS)
    assert finding.facts["subject_name"] == "callservice.ciscospark.com"
    lines = {s.line for s in finding.snippets}
    assert 3 in lines  # `... DNS SIP TLS Verify InboundClassification: "Off"`
    assert 'InboundClassification "Off"' in finding.condition


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (('InboundClassification: "Off"', 'InboundClassification: "On"'), False),
        (('DNS SIP TLS Verify Mode: "On"', 'DNS SIP TLS Verify Mode: "Off"'), False),
        (("callservice.ciscospark.com", ""), False),
        (("", ""), True),
    ],
)
def test_inbound_mapping_needs_verify_on_a_subject_and_mapping_off(
    tmp_path: Path, change: tuple[str, str], found: bool
) -> None:
    text = EXPE_TXT.replace(*change) if change[0] else EXPE_TXT
    scan = scan_config([_file(tmp_path, "e", "xconf_dump_expe.txt", text, FileKind.XCONF)], {})
    findings, _ = config_findings(INBOUND, scan, NO_CERTS)
    assert bool(findings) is found


# ---- UC servers by IP (inferred dump shape) ----------------------------------------------------


def test_uc_servers_by_fqdn_or_verify_off_are_quiet_and_ip_with_verify_on_is_found() -> None:
    bad = scan_config_paths([FIXTURES / f"xconf_dump_expcuc_{STAMP}.txt"])
    found, _ = config_findings(UC, bad, NO_CERTS)
    assert sorted(f.facts["address"] for f in found) == ["10.48.36.215", "2001:db8::25"]
    good = scan_config_paths([FIXTURES / "good" / f"xconf_dump_expcuc_{STAMP}.txt"])
    assert config_findings(UC, good, NO_CERTS)[0] == []
    assert UC.status == "experimental"  # where the dump lists UC servers is inferred


def test_name_matching_follows_san_ip_and_wildcards() -> None:
    from cryptography import x509

    from app.analyzers.certinfo import parse_der

    cert = parse_der(
        x509.load_pem_x509_certificate(EXPC_PEM).public_bytes(
            __import__(
                "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]
            ).Encoding.DER
        )
    )
    assert name_in_certificate("EXPC.example.com", cert)
    assert name_in_certificate("192.0.2.10", cert)
    assert not name_in_certificate("192.0.2.11", cert)
    assert not name_in_certificate("expc.example.co", cert)


# ---- the whole pipeline ------------------------------------------------------------------------


def _bundle(tmp_path: Path, name: str, members: dict[str, str | bytes]) -> Input:
    path = tmp_path / name
    path.write_bytes(make_tar(members, compress=True))
    return Input(path, name)


def _verdict(report: Report) -> str:
    counts: dict[str, int] = {}
    for finding in report.findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return decide(
        problem_count(counts), [c.outcome for c in report.coverage], report.examined
    ).verdict


def test_pipeline_healthy_configuration_stays_clear_and_a_bad_one_points_at_the_xconf_line(
    tmp_path: Path,
) -> None:
    log = healthy_expressway_c_loggingsnapshot("expc", n_lines=500)
    healthy_c = {
        f"loggingsnapshot_expc_{STAMP}.txt": log,
        f"xstat_dump_expc_{STAMP}.txt": xstat_dump("expc"),
        f"xconf_dump_expc_{STAMP}.txt": EXPC_TXT,
        f"xconf_dump_expc_{STAMP}.xml": EXPC_XML,
    }
    good_e = {f"server_expe_{STAMP}.pem": GOOD_EXPE_PEM}
    report = analyze(
        [_bundle(tmp_path, "c.tar.gz", healthy_c), _bundle(tmp_path, "e.tar.gz", good_e)],
        tmp_path / "work-good",
        LIBRARY,
        Limits(),
    )
    assert [f.signature_id for f in report.findings if f.signature_id.startswith("config-")] == []
    assert _verdict(report) == "clear"
    outcome = {c.signature_id: c for c in report.coverage}
    assert outcome[TRAVERSAL.id].outcome == "passed"

    bad_e = {f"server_expe_{STAMP}.pem": BAD_EXPE_PEM}
    report = analyze(
        [_bundle(tmp_path, "c.tar.gz", healthy_c), _bundle(tmp_path, "e.tar.gz", bad_e)],
        tmp_path / "work-bad",
        LIBRARY,
        Limits(),
    )
    [finding] = [f for f in report.findings if f.signature_id == TRAVERSAL.id]
    xconf = {f.name for f in report.files if f.kind == FileKind.XCONF}
    assert {s.file for s in finding.snippets} <= xconf  # the viewer opens these files
    assert _verdict(report) == "problems"
    assert {c.signature_id: c.outcome for c in report.coverage}[TRAVERSAL.id] == "matched"


def test_the_finding_links_to_the_xconf_line_in_the_log_viewer(client: TestClient) -> None:
    from tests.conftest import wait_for

    members: dict[str, str | bytes] = {
        f"loggingsnapshot_expc_{STAMP}.txt": healthy_expressway_c_loggingsnapshot("expc", 200),
        f"xconf_dump_expc_{STAMP}.txt": EXPC_TXT.replace("\n", "\r\n"),  # CRLF as exported
    }
    files = [
        ("files", ("diagnostic_log_c.tar.gz", make_tar(members))),
        (
            "files",
            ("diagnostic_log_e.tar.gz", make_tar({f"server_expe_{STAMP}.pem": BAD_EXPE_PEM})),
        ),
    ]
    response = client.post("/api/v1/analyses", files=files)
    assert response.status_code == 202, response.text
    analysis_id = response.json()["id"]
    body = wait_for(client, analysis_id)
    assert body["status"] == "done", body["error"]
    [finding] = [f for f in body["findings"] if f["signature"]["id"] == TRAVERSAL.id]
    [snippet] = [s for s in finding["snippets"] if "Peer 1 Address" in s["text"]]
    assert snippet["line"] == 11
    page = client.get(f"/a/{analysis_id}").text
    assert f"#L{snippet['line']}" in page and "xconf_dump_expc" in page
    viewer = client.get(f"/a/{analysis_id}/files/{snippet['file']}", params={"line": 11})
    assert viewer.status_code == 200
    assert 'id="L11"' in viewer.text
    assert "Peer 1 Address" in viewer.text


# ---- VerifyOriginServer off (the seed article's workaround) ------------------------------------

VERIFY = LIBRARY.get("config-edge-verify-origin-server-off")
VERIFY_XML = """<Configuration product="TANDBERG VCS" version="X14.2.1">
  <EdgeConfigServer item="1">
    <VerifyOriginServer item="1">Off</VerifyOriginServer>
  </EdgeConfigServer>
</Configuration>
"""


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        (
            "xconf_dump_expc.txt",
            '*c xConfiguration EdgeConfigServer VerifyOriginServer: "Off"\n',
            1,
        ),
        ("xconf_dump_expc.xml", VERIFY_XML, 3),
    ],
)
def test_verify_origin_server_off_in_either_form(
    tmp_path: Path, name: str, text: str, line: int
) -> None:
    file = _file(tmp_path, "c", name, text, FileKind.XCONF)
    node = NodeInfo("c", "expc", "Expressway-E", "X14.2.1")
    scan = scan_config([file], {"c": node})
    [finding], _ = config_findings(VERIFY, scan, NO_CERTS, {"expc": node})
    assert finding.node == "expc"
    assert finding.severity == "info"
    assert [s.line for s in finding.snippets] == [line]
    # documented for the Expressway-C: shown on a node detected as E, with the reason
    assert finding.facts["applies"] == "disagrees"
    assert "Expressway-E" in finding.condition
    on = text.replace("Off", "On")
    file = _file(tmp_path, "c", name, on, FileKind.XCONF)
    assert config_findings(VERIFY, scan_config([file], {}), NO_CERTS)[0] == []


def test_an_info_configuration_finding_keeps_a_healthy_bundle_clear(tmp_path: Path) -> None:
    members: dict[str, str | bytes] = {
        f"loggingsnapshot_expc_{STAMP}.txt": healthy_expressway_c_loggingsnapshot("expc", 300),
        f"xstat_dump_expc_{STAMP}.txt": xstat_dump("expc"),
        f"xconf_dump_expc_{STAMP}.txt": EXPC_TXT
        + '*c xConfiguration EdgeConfigServer VerifyOriginServer: "Off"\n',
    }
    report = analyze([_bundle(tmp_path, "c.tar.gz", members)], tmp_path / "w", LIBRARY, Limits())
    assert [f.signature_id for f in report.findings] == [VERIFY.id]
    assert _verdict(report) == "clear"
    outcome = {c.signature_id: c for c in report.coverage}
    assert outcome[TRAVERSAL.id].outcome == "skipped"  # the peer's certificate is not there
    assert outcome[INBOUND.id].outcome == "passed"


def test_an_xml_dump_with_a_single_zone_numbered_1_reads_as_zone_1(tmp_path: Path) -> None:
    xml = (
        '<Configuration><Zones item="1"><Zone item="1"><Type item="1">DNS</Type>'
        '<DNS item="1"><SIP item="1"><TLS item="1"><Verify item="1">'
        '<Mode item="1">On</Mode><SubjectName item="1">b2b.example.org</SubjectName>'
        '<InboundClassification item="1">Off</InboundClassification>'
        "</Verify></TLS></SIP></DNS></Zone></Zones></Configuration>\n"
    )
    file = _file(tmp_path, "e", "xconf_dump_expe.xml", xml, FileKind.XCONF)
    [finding], _ = config_findings(INBOUND, scan_config([file], {}), NO_CERTS)
    assert finding.facts["zone"] == 1
    assert finding.facts["subject_name"] == "b2b.example.org"
