"""Coverage: per signature matched / passed / skipped and why: did you upload the right logs?"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.report import BundleFile, FileKind, NodeInfo
from app.signatures import load_library
from app.signatures.coverage import coverage_of, file_contains
from tests.conftest import wait_for
from tests.corpus import (
    healthy_expressway_c_loggingsnapshot,
    healthy_expressway_e_loggingsnapshot,
    seed_scenario_lines,
    xstat_dump,
)
from tests.factories import make_tar

SEED = "mra-traffic-server-cert-verification"
STAMP = "2022-07-11_17_33_18"
HTML = {"accept": "text/html"}


def seed_lines(host: str) -> str:
    lines = [
        re.sub(r"^(\S+) \S+ ", rf"\1 {host} ", line) for line in seed_scenario_lines("self_signed")
    ]
    return "\n".join(lines) + "\n"


def without_traffic_server(log: str) -> str:
    return "".join(line for line in log.splitlines(keepends=True) if "traffic_server" not in line)


def bundle(host: str, product: str, version: str, log: str | None) -> bytes:
    members = {f"xstat_dump_{host}_{STAMP}.txt": xstat_dump(host, product, version)}
    if log is not None:
        members[f"loggingsnapshot_{host}_{STAMP}.txt"] = log
    return make_tar(members, compress=True)


def seed_outcome(body: dict[str, Any]) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [c for c in body["coverage"] if c["signature_id"] == SEED]
    (entry,) = entries
    return entry


def analyse(client: TestClient, *bundles: bytes) -> str:
    files = [("files", (f"diagnostic_log_{n}.tar.gz", data)) for n, data in enumerate(bundles)]
    response = client.post("/api/v1/analyses", files=files)
    assert response.status_code == 202, response.text
    analysis_id: str = response.json()["id"]
    return analysis_id


def test_every_outcome_through_the_api(client: TestClient) -> None:
    healthy_c = healthy_expressway_c_loggingsnapshot("vcsc", n_lines=300)
    cases = {
        "matched": bundle("vcsc", "Expressway-C", "X14.2.1", healthy_c + seed_lines("vcsc")),
        "passed": bundle("vcsc", "Expressway-C", "X14.2.1", healthy_c),
        "no input": bundle("vcsc", "Expressway-C", "X14.2.1", None),
        "product": bundle(
            "vcse",
            "Expressway-E",
            "X14.2.1",
            healthy_expressway_e_loggingsnapshot("vcse", 300) + seed_lines("vcse"),
        ),
        "version": bundle("vcsc", "Expressway-C", "X12.7", healthy_c + seed_lines("vcsc")),
        "no lines": bundle("vcsc", "Expressway-C", "X14.2.1", without_traffic_server(healthy_c)),
    }
    ids = {case: analyse(client, data) for case, data in cases.items()}
    bodies = {case: wait_for(client, analysis_id) for case, analysis_id in ids.items()}
    for case, body in bodies.items():
        assert body["status"] == "done", (case, body["error"])
        ids_in_library = {row["id"] for row in client.get("/api/v1/signatures").json()}
        assert {c["signature_id"] for c in body["coverage"]} == ids_in_library, case
        for entry in body["coverage"]:
            assert set(entry) >= {"signature_id", "outcome", "reason"}
            assert entry["outcome"] in ("matched", "passed", "skipped")
            found = any(f["signature"]["id"] == entry["signature_id"] for f in body["findings"])
            assert found == (entry["outcome"] == "matched"), (case, entry)

    matched = seed_outcome(bodies["matched"])
    assert matched["outcome"] == "matched" and matched["reason"] is None
    passed = seed_outcome(bodies["passed"])
    assert passed["outcome"] == "passed" and passed["reason"] is None

    no_input = seed_outcome(bodies["no input"])
    assert no_input["outcome"] == "skipped"
    assert no_input["reason"] == "no log or loggingsnapshot file in the upload"

    # the detected product or version never hides a match: it qualifies the finding
    for case, detected in (
        ("product", "vcse was detected as Expressway-E X14.2.1"),
        ("version", "vcsc was detected as Expressway-C X12.7"),
    ):
        entry = seed_outcome(bodies[case])
        assert (entry["outcome"], entry["reason"]) == ("matched", None), case
        (finding,) = [f for f in bodies[case]["findings"] if f["signature"]["id"] == SEED]
        assert finding["facts"]["applies"] == "disagrees"
        assert f"documented for Expressway-C X14.2+; node {detected}" in finding["condition"]
        assert "shown because its log lines are present" in finding["condition"]
        assert bodies[case]["verdict"] == "problems"

    no_lines = seed_outcome(bodies["no lines"])
    assert no_lines["outcome"] == "skipped"
    assert no_lines["reason"].startswith("no traffic_server lines in the upload: ")
    assert "developer.trafficserver" in no_lines["reason"]

    html = client.get(f"/a/{ids['no lines']}", headers=HTML).text
    assert 'id="coverage"' in html
    assert "no traffic_server lines in the upload" in html
    assert f'href="/signatures/{SEED}"' in html


def test_a_cluster_notes_the_peer_a_signature_could_not_check(client: TestClient) -> None:
    healthy_c = healthy_expressway_c_loggingsnapshot("vcsc", n_lines=300)
    healthy_e = without_traffic_server(healthy_expressway_e_loggingsnapshot("vcse", 300))
    analysis_id = analyse(
        client,
        bundle("vcsc", "Expressway-C", "X14.2.1", healthy_c),
        bundle("vcse", "Expressway-E", "X14.2.1", healthy_e),
    )
    body = wait_for(client, analysis_id)
    assert body["status"] == "done", body["error"]
    entry = seed_outcome(body)
    assert entry["outcome"] == "passed"
    assert entry["reason"].startswith("not checked everywhere: no traffic_server lines")
    assert "of node vcse" in entry["reason"] and "vcsc" not in entry["reason"]
    assert body["verdict"] == "clear"


# --- the pure function ------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_coverage_of_names_each_node_that_lacks_the_source_lines(tmp_path: Path) -> None:
    library = load_library()
    seed = library.get(SEED)
    with_ts = write(tmp_path, "a.txt", seed_lines("vcsc1"))
    without_ts = write(tmp_path, "b.txt", "2022-07-11T19:33:06+02:00 vcsc2 tvcs: nothing here\n")
    files = [
        BundleFile(with_ts, "one/a.txt", with_ts.stat().st_size, FileKind.LOGGINGSNAPSHOT, "one"),
        BundleFile(without_ts, "two/b.txt", without_ts.stat().st_size, FileKind.LOG, "two"),
    ]
    nodes = {
        "one": NodeInfo("one", "vcsc1", "Expressway-C", "X14.2.1"),
        "two": NodeInfo("two", "vcsc2", "Expressway-C", "X14.2.1"),
    }
    (entry,) = coverage_of([seed], files, nodes, [])
    assert entry.outcome == "passed"
    assert entry.reason is not None
    assert entry.reason.startswith("not checked everywhere: no traffic_server lines")
    assert "of node vcsc2" in entry.reason and "vcsc1" not in entry.reason


def test_an_unknown_version_still_runs(tmp_path: Path) -> None:
    seed = load_library().get(SEED)
    path = write(tmp_path, "a.txt", seed_lines("vcsc"))
    files = [BundleFile(path, "u/a.txt", path.stat().st_size, FileKind.LOGGINGSNAPSHOT, "u")]
    (entry,) = coverage_of([seed], files, {"u": NodeInfo("u", "vcsc", None, None)}, [])
    assert (entry.outcome, entry.reason) == ("passed", None)


@pytest.mark.parametrize("offset", range(0, 20))
def test_file_contains_finds_a_literal_cut_by_a_block_boundary(tmp_path: Path, offset: int) -> None:
    path = write(tmp_path, "x.log", "." * offset + "traffic_server[42]: x\n" + "." * 30)
    assert file_contains(path, b"traffic_server[", block_size=8)
    assert not file_contains(path, b"traffic_server[43", block_size=8)


def test_a_plain_jabber_log_next_to_the_bundle_is_read_and_the_page_groups_what_is_missing(
    client: TestClient,
) -> None:
    healthy_c = healthy_expressway_c_loggingsnapshot("vcsc", n_lines=300)
    jabber = (
        "2017-04-19 16:30:35,912 INFO [0x000013b0] [ls\\src\\http\\BasicHttpClientImpl.cpp(452)] "
        "[csf.httpclient] [csf::http::executeImpl] - HTTP response code 200 for request #19\n"
    )
    files = [
        (
            "files",
            ("diagnostic_log_vcsc.tar.gz", bundle("vcsc", "Expressway-C", "X14.2.1", healthy_c)),
        ),
        ("files", ("jabber.log", jabber.encode())),
    ]
    response = client.post("/api/v1/analyses", files=files)
    assert response.status_code == 202, response.text
    analysis_id = response.json()["id"]
    body = wait_for(client, analysis_id)
    assert body["status"] == "done", body["error"]
    outcomes = {c["signature_id"]: (c["outcome"], c["reason"]) for c in body["coverage"]}
    assert outcomes["mra-jabber-xauth-cookie-invalid"] == ("passed", None)
    assert outcomes["tls-inbound-untrusted-ca"] == ("passed", None)  # jabber.log is no node
    endpoint = outcomes["mra-endpoint-collab-edge-unresolvable"]
    assert endpoint[0] == "skipped" and endpoint[1].startswith("no TC/CE endpoint log")
    assert body["verdict"] == "clear"
    assert "of them read logs of other products, not uploaded" in body["verdict_detail"]["summary"]

    html = client.get(f"/a/{analysis_id}", headers=HTML).text
    assert "Other products' logs, not uploaded" in html
    assert html.count("no TC/CE endpoint log in the upload") == 1  # 4 signatures, one row
    assert "no Jabber log in the upload" not in html
