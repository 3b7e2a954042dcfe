"""A re-run reads the files the first run unpacked (app/bundle/manifest.py), not the upload:
the same files, nodes, duplicates, warnings and findings, whatever form the files are kept in."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from app.bundle import stored
from app.bundle.budget import Limits
from app.bundle.manifest import ManifestUnusable, read_manifest, write_manifest
from app.report import Report
from app.signatures import LIBRARY_DIR, Library, load_library
from app.worker.pipeline import Input, analyze
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_tar, make_truncated_tar_gz, make_zip

PCAPS = Path(__file__).parent / "data" / "pcap"


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library(LIBRARY_DIR)


def node_log(kind: str, host: str, n_lines: int = 300) -> str:
    lines = [re.sub(r"^(\S+) \S+ ", rf"\1 {host} ", line) for line in seed_scenario_lines(kind)]
    return healthy_expressway_c_loggingsnapshot(host, n_lines=n_lines) + "\n".join(lines) + "\n"


def node_members(kind: str, host: str, product: str = "Expressway-C") -> dict[str, Any]:
    return {
        f"loggingsnapshot_{host}_2022-07-11_17_33_18.txt": node_log(kind, host),
        f"xstat_dump_{host}_2022-07-11_17_33_18.txt": xstat_dump(host, product, "X14.2.1"),
    }


def summary(report: Report) -> dict[str, Any]:
    """What a user sees of an analysis (paths aside: a file may be plain or compressed)."""
    return {
        "files": [(f.name, f.size, str(f.kind), f.bundle) for f in report.files],
        "nodes": [dataclasses.asdict(node) for node in report.nodes],
        "warnings": list(report.warnings),
        "findings": [
            (
                f.signature_id,
                f.node,
                f.count,
                f.description,
                tuple((s.file, s.line, s.text) for s in f.snippets),
            )
            for f in report.findings
        ],
        "coverage": [dataclasses.asdict(item) for item in report.coverage],
        "certificates": report.certificates,
        "server_certificates": report.server_certificates,
        "examined": [dataclasses.asdict(item) for item in report.examined],
    }


def first_then_rerun(
    tmp_path: Path,
    library: Library,
    inputs: list[Input],
    *,
    compress: bool = True,
    products: dict[int, str] | None = None,
) -> tuple[Report, Report]:
    """The first run from the uploads; its manifest written and its work dir compressed as the
    worker does; the uploads then removed; a re-run from the stored files."""
    work = tmp_path / "work"
    manifest = tmp_path / "unpacked.json"
    first = analyze(inputs, work, library, Limits(), jobs=2)
    assert first.unpacked is not None
    write_manifest(manifest, first.unpacked, work)
    if compress:
        done = stored.compress_tree(work, plain_below=1024)
        assert done.files, "nothing was compressed: the test would not read a store"
    for item in inputs:
        item.path.unlink()  # a re-run that touched the upload would fail
    again = read_manifest(manifest, work)
    assert again is not None
    rerun_inputs = [
        dataclasses.replace(item, product=(products or {}).get(position, item.product))
        for position, item in enumerate(inputs)
    ]
    second = analyze(rerun_inputs, work, library, Limits(), jobs=2, stored=again)
    return first, second


def upload(tmp_path: Path, name: str, data: bytes) -> Input:
    path = tmp_path / "uploads" / f"{len(list(tmp_path.glob('uploads/*'))):03d}"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return Input(path=path, name=name)


@pytest.mark.parametrize("kind", ["self_signed", "unknown_ca", "sni_mismatch"])
def test_a_rerun_of_a_seed_bundle_from_the_store_equals_the_first_run(
    tmp_path: Path, library: Library, kind: str
) -> None:
    members = node_members(kind, "vcsc")
    # a log of several MiB: kept compressed in frames, the seed lines at its end
    members["loggingsnapshot_vcsc_2022-07-11_17_33_18.txt"] = node_log(kind, "vcsc", 40_000)
    inputs = [upload(tmp_path, "diagnostic_log_vcsc.tar.gz", make_tar(members))]
    first, second = first_then_rerun(tmp_path, library, inputs)
    assert any(f.signature_id == "mra-traffic-server-cert-verification" for f in first.findings)
    assert any(f.path.name.endswith(stored.SUFFIX) for f in second.files)
    assert summary(second) == summary(first)


@pytest.mark.parametrize("compress", [True, False], ids=["compressed", "plain"])
def test_a_multi_upload_multi_node_rerun_keeps_duplicates_nodes_and_products(
    tmp_path: Path, library: Library, compress: bool
) -> None:
    c = make_tar(node_members("self_signed", "vcsc"))
    e = make_tar(node_members("unknown_ca", "vcse", "Expressway-E"))
    pem = (PCAPS / "server_vcsc_2022-07-11_16_55_44.pem").read_bytes()
    inputs = [
        upload(tmp_path, "diag.tar.gz", c),
        upload(tmp_path, "diag.tar.gz", e),  # the same name: its node is "diag.tar.gz (2)"
        upload(tmp_path, "again.tar.gz", c),  # a repeat of the first: warned, left out
        upload(tmp_path, "capture.pcap", (PCAPS / "article.pcap").read_bytes()),
        upload(tmp_path, "server_vcsc_2022-07-11_16_55_44.pem", pem),
    ]
    first, second = first_then_rerun(tmp_path, library, inputs, compress=compress)
    assert [node.bundle for node in first.nodes] == [
        "diag.tar.gz",
        "diag.tar.gz (2)",
        "capture.pcap",
        "server_vcsc_2022-07-11_16_55_44.pem",
    ]
    assert any("again.tar.gz" in warning for warning in first.warnings)
    assert {f.node for f in first.findings} >= {"vcsc", "vcse"}
    assert first.certificates or first.server_certificates  # the capture and PEM were read
    assert summary(second) == summary(first)

    # the product chosen for an upload at the re-run applies to the files read back
    (tmp_path / "uploads").mkdir(exist_ok=True)
    for item in inputs:
        item.path.write_bytes(b"")  # put back empty: the re-run must not read them
    manifest = read_manifest(tmp_path / "unpacked.json", tmp_path / "work")
    assert manifest is not None
    chosen = [dataclasses.replace(inputs[0], product="Expressway-E"), *inputs[1:]]
    third = analyze(chosen, tmp_path / "work", library, Limits(), jobs=2, stored=manifest)
    assert third.nodes[0].product == "Expressway-E" and first.nodes[0].product == "Expressway-C"
    assert any(item["source"] == "user" for item in third.nodes[0].evidence)
    assert third.nodes[1:] == first.nodes[1:]


def test_a_rerun_of_a_salvaged_damaged_archive_keeps_the_salvage_warning(
    tmp_path: Path, library: Library
) -> None:
    members = node_members("self_signed", "vcsc")
    members["loggingsnapshot_vcsc_2022-07-11_17_33_18.txt"] = node_log("self_signed", "vcsc", 9000)
    members["zz_tail_2022-07-11.txt"] = "tail\n" * 100_000
    data = make_truncated_tar_gz(members, keep=0.7)
    inputs = [upload(tmp_path, "cut.tar.gz", data)]
    first, second = first_then_rerun(tmp_path, library, inputs)
    assert first.files and first.warnings, "the damaged archive was not salvaged with a warning"
    assert summary(second) == summary(first)


def test_a_rerun_of_a_zip_reads_the_store(tmp_path: Path, library: Library) -> None:
    members = node_members("sni_mismatch", "vcsc")
    members["loggingsnapshot_vcsc_2022-07-11_17_33_18.txt"] = node_log(
        "sni_mismatch", "vcsc", 20_000
    )
    inputs = [upload(tmp_path, "diag.zip", make_zip(members))]
    first, second = first_then_rerun(tmp_path, library, inputs)
    assert first.findings
    assert summary(second) == summary(first)


def test_a_manifest_that_cannot_be_trusted_is_refused(tmp_path: Path, library: Library) -> None:
    work = tmp_path / "work"
    inputs = [upload(tmp_path, "diag.tar.gz", make_tar(node_members("self_signed", "vcsc")))]
    first = analyze(inputs, work, library, Limits(), jobs=1)
    assert first.unpacked is not None
    manifest = tmp_path / "unpacked.json"
    assert read_manifest(manifest, work) is None  # none yet: the upload is unpacked
    write_manifest(manifest, first.unpacked, work)
    good = json.loads(manifest.read_bytes())

    def refused(data: Any) -> str:
        manifest.write_text(json.dumps(data) if not isinstance(data, str) else data)
        with pytest.raises(ManifestUnusable) as caught:
            read_manifest(manifest, work)
        return str(caught.value)

    assert "malformed" in refused("{not json")
    assert "unknown format" in refused({**good, "format": 99})
    outside = json.loads(json.dumps(good))
    outside["uploads"][0]["files"][0]["path"] = "../../etc/passwd"
    assert "outside" in refused(outside)
    absolute = json.loads(json.dumps(good))
    absolute["uploads"][0]["files"][0]["path"] = "/etc/passwd"
    assert "outside" in refused(absolute)
    assert "malformed" in refused({**good, "uploads": [{"files": "x"}]})
    # a file the work dir no longer has
    manifest.write_text(json.dumps(good))
    shutil.rmtree(work / "000")
    assert "is gone" in refused(good)
