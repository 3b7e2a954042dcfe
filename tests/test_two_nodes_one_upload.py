"""One upload holding two peers' logs (a zip of two diagnostic bundles, or both loggingsnapshots
side by side) gives two nodes, as when the two bundles are uploaded separately: products,
calls joined across both, findings and coverage on the right node, the same after a re-run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.bundle.budget import Limits
from app.bundle.manifest import read_manifest, write_manifest
from app.calls.ladder import lay_out
from app.calls.render import to_text
from app.config import Settings
from app.main import create_app
from app.report import Report
from app.signatures import LIBRARY_DIR, Library, load_library
from app.worker.pipeline import analyze
from tests.calls.scenarios import two_node_logs
from tests.corpus import xstat_dump
from tests.factories import make_tar, make_zip
from tests.test_api import seed_bundle
from tests.test_rerun_stored import first_then_rerun, node_members, summary, upload
from tests.test_rerun_uploads import HTML, rerun, seen, settled

STAMP = "2018-01-01_17_56_00"
PRODUCTS = {"expc1": "Expressway-C", "expe1": "Expressway-E"}


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library(LIBRARY_DIR)


def sip_bundles() -> dict[str, bytes]:
    """diagnostic_log_<host>_<ts>.tar.gz of the E and the C of tests.calls.scenarios."""
    return {
        f"diagnostic_log_{node.host}_{STAMP}.tar.gz": make_tar(
            {
                f"loggingsnapshot_{node.host}_{STAMP}.txt": node.text(),
                f"xstat_dump_{node.host}_{STAMP}.txt": xstat_dump(
                    node.host, PRODUCTS[node.host], "X14.2.1"
                ),
            }
        )
        for node in two_node_logs()
    }


def run(tmp_path: Path, library: Library, uploads: dict[str, bytes]) -> Report:
    tmp_path.mkdir(exist_ok=True)
    inputs = [upload(tmp_path, name, data) for name, data in uploads.items()]
    return analyze(inputs, tmp_path / "work", library, Limits(), jobs=1, extract_calls=True)


def calls_seen(report: Report) -> list[tuple[Any, ...]]:
    """Each call as a user sees it: its nodes, how they were joined, its ladder."""
    assert report.calls is not None
    products = {node.hostname or node.bundle: node.product for node in report.nodes}
    return [
        (
            call.nodes,
            call.joined_by,
            [(m.node, m.label) for m in call.messages],
            to_text(lay_out(call.messages, products)),
        )
        for call in report.calls
    ]


def test_a_zip_of_a_c_and_an_e_bundle_is_two_nodes_as_two_uploads(
    tmp_path: Path, library: Library
) -> None:
    bundles = sip_bundles()
    zipped = run(tmp_path / "zip", library, {"pair.zip": make_zip(bundles)})
    apart = run(tmp_path / "apart", library, bundles)
    assert sorted((n.hostname, n.product, n.confidence) for n in zipped.nodes) == [
        ("expc1", "Expressway-C", "high"),
        ("expe1", "Expressway-E", "high"),
    ]
    assert all("other hosts" not in item["says"] for n in zipped.nodes for item in n.evidence)
    crossing = [seen for seen in calls_seen(zipped) if seen[1] == "call-id"]
    assert crossing and set(crossing[0][0]) == {"expc1", "expe1"}
    assert "(this node)" not in crossing[0][3]  # each column names its node's product
    assert calls_seen(zipped) == calls_seen(apart)
    assert [(e.node, e.product, e.lines) for e in zipped.examined] == [
        (e.node, e.product, e.lines) for e in apart.examined
    ]


def test_findings_of_a_zip_of_two_bundles_are_on_the_right_node(
    tmp_path: Path, library: Library
) -> None:
    bundles = {
        "diagnostic_log_vcsc_2022-07-11_17_33_18.tar.gz": make_tar(
            node_members("self_signed", "vcsc")
        ),
        "diagnostic_log_vcse_2022-07-11_17_33_18.tar.gz": make_tar(
            node_members("unknown_ca", "vcse", "Expressway-E")
        ),
    }
    zipped = run(tmp_path / "zip", library, {"pair.zip": make_zip(bundles)})
    apart = run(tmp_path / "apart", library, bundles)
    assert [(n.hostname, n.product) for n in zipped.nodes] == [
        ("vcsc", "Expressway-C"),
        ("vcse", "Expressway-E"),
    ]
    found = sorted((f.signature_id, f.node, f.count) for f in zipped.findings)
    assert found == sorted((f.signature_id, f.node, f.count) for f in apart.findings)
    assert ("mra-traffic-server-cert-verification", "vcsc") in {(f[0], f[1]) for f in found}
    for finding in zipped.findings:  # each finding quotes its own node's files only
        assert all(f"_{finding.node}_" in snippet.file for snippet in finding.snippets)


def test_a_tar_of_two_hosts_loose_loggingsnapshots_is_two_nodes(
    tmp_path: Path, library: Library
) -> None:
    expe, expc = two_node_logs()
    members = {f"loggingsnapshot_{n.host}_{STAMP}.txt": n.text() for n in (expc, expe)}
    report = run(tmp_path, library, {"logs.tar": make_tar(members, compress=False)})
    assert [(n.bundle, n.hostname) for n in report.nodes] == [
        ("logs.tar (expc1)", "expc1"),
        ("logs.tar (expe1)", "expe1"),
    ]
    assert report.calls is not None
    assert [(c.nodes, c.joined_by) for c in report.calls][0] == (["expe1", "expc1"], "call-id")
    # alone, each loggingsnapshot names its node: no "other hosts" mixed in
    assert all("other hosts" not in item["says"] for n in report.nodes for item in n.evidence)


def test_a_rerun_from_the_store_keeps_the_two_nodes(tmp_path: Path, library: Library) -> None:
    inputs = [upload(tmp_path, "pair.zip", make_zip(sip_bundles()))]
    first, second = first_then_rerun(tmp_path, library, inputs)
    assert sorted(n.hostname or "" for n in first.nodes) == ["expc1", "expe1"]
    assert summary(second) == summary(first)


def test_a_manifest_written_before_the_split_is_split_when_read(
    tmp_path: Path, library: Library
) -> None:
    """An analysis saved by an earlier version (format 1, one node per upload) gets its two
    nodes at its next re-run, from the stored files."""
    work, manifest = tmp_path / "work", tmp_path / "unpacked.json"
    inputs = [upload(tmp_path, "pair.zip", make_zip(sip_bundles()))]
    first = analyze(inputs, work, library, Limits(), jobs=1)
    assert first.unpacked is not None
    write_manifest(manifest, first.unpacked, work)
    old = json.loads(manifest.read_bytes())
    old["format"] = 1
    for file in old["uploads"][0]["files"]:
        file["bundle"] = "pair.zip"
    manifest.write_text(json.dumps(old))
    stored = read_manifest(manifest, work)
    assert stored is not None
    again = analyze(inputs, work, library, Limits(), jobs=1, stored=stored)
    assert [(n.bundle, n.hostname, n.product) for n in again.nodes] == [
        (n.bundle, n.hostname, n.product) for n in first.nodes
    ]
    assert len(again.nodes) == 2


def test_a_single_node_zip_with_other_files_stays_one_node(
    tmp_path: Path, library: Library
) -> None:
    bundle = sip_bundles()[f"diagnostic_log_expc1_{STAMP}.tar.gz"]
    zipped = make_zip(
        {
            f"diagnostic_log_expc1_{STAMP}.tar.gz": bundle,
            f"server_expc1_{STAMP}.pem": "not a certificate\n",
            "notes.txt": "the customer's notes\n",
        }
    )
    report = run(tmp_path, library, {"case.zip": zipped})
    assert [(n.bundle, n.hostname) for n in report.nodes] == [("case.zip", "expc1")]
    assert {f.bundle for f in report.files} == {"case.zip"}
    assert report.unpacked is not None
    assert [dataclasses.replace(f, path=Path()) for f in report.unpacked.uploads[0].files] == [
        dataclasses.replace(f, path=Path()) for f in report.files
    ]


def test_the_server_lists_two_nodes_for_one_zip_and_keeps_them_at_a_rerun(
    migrated: Settings,
) -> None:
    pair = make_zip(
        {
            f"diagnostic_log_{host}_2022-07-11_17_33_18.tar.gz": seed_bundle(kind, host)
            for host, kind in (("vcsc1", "unknown_ca"), ("vcsc2", "sni_mismatch"))
        }
    )
    with TestClient(create_app(migrated)) as client:
        created = client.post("/api/v1/analyses", files=[("files", ("pair.zip", pair))]).json()
        first = settled(client, migrated, created["id"])
        assert first["status"] == "done", first["error"]
        assert [n["hostname"] for n in first["nodes"]] == ["vcsc1", "vcsc2"]
        by_node = {f["node"]: f["facts"]["reason"] for f in first["findings"]}
        assert by_node == {"vcsc1": "unknown_ca", "vcsc2": "sni_mismatch"}
        assert {e["node"] for e in first["verdict_detail"]["examined"]} == {"vcsc1", "vcsc2"}
        page = client.get(f"/a/{created['id']}", headers=HTML).text
        assert all(f'<tr class="node"><td>{host}</td>' in page for host in ("vcsc1", "vcsc2"))
        again = rerun(client, migrated, created["id"])
        assert again["status"] == "done", again["error"]
        assert seen(again) == seen(first)
