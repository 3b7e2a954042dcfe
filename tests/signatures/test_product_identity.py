"""End to end: the seed article's Expressway-C X14.2 bundles, whose xstatus says "TANDBERG VCS",
are identified as Expressway-C with evidence, and the Traffic Server finding is reported (issue
10: they were identified as "VCS" and every Expressway-C signature was skipped)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.bundle.detect import detect_kind
from app.bundle.nodes import identify_node
from app.bundle.unpack import Limits
from app.report import BundleFile, Finding, NodeInfo
from app.signatures import load_library
from app.worker.pipeline import Input, analyze
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_tar, write_upload

LIBRARY = load_library()
SEED = "mra-traffic-server-cert-verification"
STAMP = "2022-07-11_17_33_18"
REAL_LOG = Path(__file__).parents[2] / "../shared/data/real/expressway-e_mra_call.txt"


XCONF_TEXT = (
    '*c xConfiguration IP DNS Hostname: "{host}"\n'
    '*c xConfiguration Zones Zone 2 Name: "UC traversal to ExpE"\n'
    '*c xConfiguration Zones Zone 2 Type: "TraversalClient"\n'
    '*c xConfiguration EdgeConfigServer VerifyOriginServer: "On"\n'
)
XCONF_XML = (
    '<?xml version="1.0"?>\n<Configuration>\n <IP item="1"><DNS item="1">'
    '<Hostname item="1">{host}</Hostname></DNS></IP>\n <Zones item="1"><Zone item="2">'
    '<Name item="1">UC traversal</Name><Type item="1">TraversalClient</Type></Zone></Zones>\n'
    "</Configuration>\n"
)


def seed_bundle(
    host: str, product_label: str | None, xconf: tuple[str, str] | None = None
) -> bytes:
    """A peer's bundle: healthy MRA traffic, then the seed's three failures (self-signed,
    unknown CA, SNI by IP), xstatus with `product_label` and X14.2.1 (None: no xstatus), and
    an xconf dump (suffix, template) if given."""
    seed = [
        re.sub(r"^(\S+) \S+ ", rf"\1 {host} ", line)
        for kind in ("self_signed", "unknown_ca", "sni_mismatch")
        for line in seed_scenario_lines(kind)
    ]
    log = healthy_expressway_c_loggingsnapshot(host, n_lines=300) + "\n".join(seed) + "\n"
    members = {f"loggingsnapshot_{host}_{STAMP}.txt": log}
    if product_label is not None:
        members[f"xstat_dump_{host}_{STAMP}.txt"] = xstat_dump(host, product_label, "X14.2.1")
    if xconf is not None:
        members[f"xconf_dump_{host}_{STAMP}.{xconf[0]}"] = xconf[1].format(host=host)
    return make_tar(members, compress=True)


def seed_findings(report_findings: list[Finding]) -> set[tuple[str | None, str]]:
    return {(f.node, f.facts["reason"]) for f in report_findings if f.signature_id == SEED}


@pytest.mark.parametrize(
    ("label", "xconf", "confidence"),
    [
        ("TANDBERG VCS", None, "medium"),
        ("Cisco Expressway", None, "medium"),
        (None, None, "medium"),
        ("TANDBERG VCS", ("txt", XCONF_TEXT), "high"),
        ("TANDBERG VCS", ("xml", XCONF_XML), "high"),
        (None, ("txt", XCONF_TEXT), "high"),
    ],
)
def test_bundle_variants_give_the_canonical_findings(
    tmp_path: Path, label: str | None, xconf: tuple[str, str] | None, confidence: str
) -> None:
    def run(tag: str, data: bytes) -> tuple[NodeInfo, set[tuple[str | None, str]]]:
        upload = write_upload(tmp_path / tag, "diag_vcsc1.tar.gz", data)
        report = analyze([Input(upload, upload.name)], tmp_path / tag / "work", LIBRARY, Limits())
        return report.nodes[0], seed_findings(report.findings)

    _, canonical = run("canonical", seed_bundle("vcsc1", "Expressway-C"))
    node, found = run("variant", seed_bundle("vcsc1", label, xconf))

    assert (node.product, node.confidence, node.hostname) == ("Expressway-C", confidence, "vcsc1")
    assert found == canonical and len(canonical) == 3


@pytest.mark.parametrize("label", ["TANDBERG VCS", "Cisco Expressway"])
def test_seed_cluster_labelled_vcs_is_expressway_c_and_its_findings_show(
    tmp_path: Path, label: str
) -> None:
    inputs = [
        Input(write_upload(tmp_path, name, seed_bundle(host, label)), name)
        for host, name in (("vcsc1", "diag_vcsc1.tar.gz"), ("vcsc2", "diag_vcsc2.tar.gz"))
    ]

    report = analyze(inputs, tmp_path / "work", LIBRARY, Limits(), jobs=1)

    for node in report.nodes:
        assert (node.product, node.version) == ("Expressway-C", "X14.2.1"), node
        assert node.confidence == "medium"  # one kind of log hint, no xconf
        says = " ".join(item["says"] for item in node.evidence)
        assert "Traffic Server verifying a UC server's certificate" in says
        assert f'SystemUnit Product reads "{label}"' in says
    reasons = {(f.node, f.facts["reason"]) for f in report.findings if f.signature_id == SEED}
    assert reasons == {
        (host, reason)
        for host in ("vcsc1", "vcsc2")
        for reason in ("self_signed", "unknown_ca", "sni_mismatch")
    }


def test_a_users_choice_replaces_what_the_bundle_shows(tmp_path: Path) -> None:
    name = "diag_vcsc1.tar.gz"
    upload = write_upload(tmp_path, name, seed_bundle("vcsc1", "TANDBERG VCS"))

    report = analyze([Input(upload, name, "VCS")], tmp_path / "work", LIBRARY, Limits(), jobs=1)

    (node,) = report.nodes
    assert (node.product, node.confidence) == ("VCS", "high")
    assert node.evidence[0] == {"source": "user", "says": "product chosen as VCS at upload"}


@pytest.mark.skipif(not REAL_LOG.is_file(), reason="the ../shared data dir is absent")
def test_the_real_public_log_is_expressway_e() -> None:
    path = REAL_LOG.resolve()
    file = BundleFile(path, path.name, path.stat().st_size, detect_kind(path, path.name), path.name)

    node = identify_node([file], path.name)

    # traversalType="TYPE_ASSENTSERVER" and zoneType=ZONETYPE_TRAVERSALSERVER on its call legs
    assert (node.product, node.confidence) == ("Expressway-E", "medium")
    sources = {item["source"] for item in node.evidence}
    assert sources == {path.name}
    says = " ".join(item["says"] for item in node.evidence)
    assert "ZONETYPE_TRAVERSALSERVER) on 3 lines: lines 247, 1086, 1088" in says
    assert "TYPE_ASSENTSERVER" in says
    assert "hostname vm-bluck-fed-vcse1" in says and "version X8.11PreAlpha10" in says
