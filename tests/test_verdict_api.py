"""The verdict as a user meets it: API, page and CLI; the never-hidden seed finding; duplicates."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import EXIT_FINDINGS, EXIT_INCONCLUSIVE, app
from app.signatures import load_library
from tests.conftest import wait_for
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_tar

STAMP = "2022-07-11_17_33_18"
HTML = {"accept": "text/html"}
SEED = "mra-traffic-server-cert-verification"
EXPERIMENTAL = "mra-traffic-server-cert-expired"
REAL_LOG = Path(__file__).resolve().parents[2] / "shared/data/real/expressway-e_mra_call.txt"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUPE_CACHE_DIR", str(tmp_path / "cache"))
    from app.config import get_settings

    get_settings.cache_clear()


def seed_log(host: str, *extra: str) -> str:
    lines = [
        re.sub(r"^(\S+) \S+ ", rf"\1 {host} ", line) for line in seed_scenario_lines("sni_mismatch")
    ]
    healthy = healthy_expressway_c_loggingsnapshot(host, n_lines=200)
    return healthy + "\n".join([*lines, *extra]) + "\n"


def bundle(host: str, log: str, product: str | None = None) -> bytes:
    members = {f"loggingsnapshot_{host}_{STAMP}.txt": log}
    if product is not None:
        members[f"xstat_dump_{host}_{STAMP}.txt"] = xstat_dump(host, product, "X14.2.1")
    return make_tar(members, compress=True)


def unrelated_text() -> bytes:
    return make_tar(
        {
            "notes/readme.txt": "".join(
                f"Meeting notes, item {n}: call the vendor\n" for n in range(40)
            ),
            "notes/todo.log": "buy milk\nwater plants\n",
        }
    )


def analyse(client: TestClient, name: str, data: bytes) -> dict[str, Any]:
    response = client.post("/api/v1/analyses", files=[("files", (name, data))])
    assert response.status_code == 202, response.text
    body = wait_for(client, response.json()["id"])
    assert body["status"] == "done", body["error"]
    return body


def seed_findings(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in body["findings"] if f["signature"]["id"] == SEED]


@pytest.mark.parametrize("product", ["VCS", "Expressway-E"])
def test_the_seed_problem_is_reported_whatever_product_the_node_is_detected_as(
    client: TestClient, product: str
) -> None:
    body = analyse(client, "diagnostic_log_vcsd.tar.gz", bundle("vcsd", seed_log("vcsd"), product))
    (finding,) = seed_findings(body)
    assert finding["facts"]["reason"] == "sni_mismatch"
    assert body["verdict"] == "problems"
    assert body["verdict_detail"]["problems"] >= 1
    detected = body["nodes"][0]["product"]
    if detected in ("Expressway-E", "VCS Expressway"):
        assert finding["facts"]["applies"] == "disagrees"
        assert f"node vcsd was detected as {detected}" in finding["condition"]
        assert "shown because its log lines are present" in finding["condition"]
    elif detected is None:
        assert finding["facts"]["applies"] == "unknown"
    else:  # Expressway-C, or VCS: either role, no disagreement
        assert finding["facts"]["applies"] == "yes"
        assert "detected as" not in finding["condition"]
    assert finding["signature"]["status"] == "stable"


def test_healthy_is_clear_unrelated_text_is_inconclusive_and_amber(client: TestClient) -> None:
    log = healthy_expressway_c_loggingsnapshot("vcsc", n_lines=300)
    healthy = analyse(client, "diagnostic_log_vcsc.tar.gz", bundle("vcsc", log, "Expressway-C"))
    assert healthy["verdict"] == "clear" and healthy["findings"] == []
    detail = healthy["verdict_detail"]
    assert detail["lines_examined"] == log.count("\n")
    assert detail["signatures_looked"] > 0
    looked = sum(1 for c in healthy["coverage"] if c["outcome"] != "skipped")
    assert detail["signatures_looked"] == looked
    assert detail["signatures_could_not"] == len(healthy["coverage"]) - looked
    assert f"{log.count(chr(10)):,} lines of loggingsnapshot from vcsc" in detail["summary"]
    page = client.get(f"/a/{healthy['id']}", headers=HTML).text
    assert 'data-verdict="clear"' in page and 'class="panel all-clear' in page
    assert html.escape(detail["summary"]) in page

    text = analyse(client, "notes.tar.gz", unrelated_text())
    assert text["verdict"] == "inconclusive"
    assert (
        "no loggingsnapshot and no log in the Expressway format" in text["verdict_detail"]["reason"]
    )
    assert text["verdict_detail"]["lines_examined"] == 0
    page = client.get(f"/a/{text['id']}", headers=HTML).text
    assert 'data-verdict="inconclusive"' in page and "alert-warning" in page
    assert 'class="panel all-clear' not in page and "No known problem found" not in page
    assert html.escape(text["verdict_detail"]["summary"]) in page
    assert 'href="#coverage"' in page


def test_an_identical_upload_links_the_earlier_analysis(client: TestClient) -> None:
    data = bundle("vcsc", healthy_expressway_c_loggingsnapshot("vcsc", n_lines=100))
    first = analyse(client, "diagnostic_log_vcsc.tar.gz", data)
    second = analyse(client, "again.tar.gz", data)
    assert first["same_upload_as"] == []
    (earlier,) = second["same_upload_as"]
    assert earlier["id"] == first["id"] and earlier["created_at"]
    assert second["findings"] == first["findings"]  # still analysed: the user decides
    page = client.get(f"/a/{second['id']}", headers=HTML).text
    assert f'href="/a/{first["id"]}"' in page and "same SHA-256" in page
    other = analyse(client, "other.tar.gz", bundle("vcsd", seed_log("vcsd")))
    assert other["same_upload_as"] == []


def test_experimental_findings_carry_their_status_and_a_badge(client: TestClient) -> None:
    example = load_library().get(EXPERIMENTAL).examples[0].lines[0]
    line = re.sub(r"^(\S+) \S+ ", r"\1 vcsc ", example)
    body = analyse(client, "diag.tar.gz", bundle("vcsc", seed_log("vcsc", line), "Expressway-C"))
    status = {f["signature"]["id"]: f["signature"]["status"] for f in body["findings"]}
    assert status[EXPERIMENTAL] == "experimental" and status[SEED] == "stable"
    page = client.get(f"/a/{body['id']}", headers=HTML).text
    assert page.count('class="badge sig-status sig-status-experimental experimental-badge"') == 1
    assert 'title="Experimental signature: its log pattern is inferred' in page
    assert (
        'data-verdict="problems"' in page and html.escape(body["verdict_detail"]["summary"]) in page
    )
    assert 'class="panel all-clear' not in page


# --- the command line ----------------------------------------------------------------------------


def test_cli_exit_codes_follow_the_verdict(tmp_path: Path) -> None:
    text = tmp_path / "notes.tar.gz"
    text.write_bytes(unrelated_text())
    result = runner.invoke(app, ["analyze", "--json", str(text)])
    assert result.exit_code == EXIT_INCONCLUSIVE, result.output
    assert json.loads(result.stdout)["verdict"] == "inconclusive"
    readable = runner.invoke(app, ["analyze", str(text)])
    assert readable.exit_code == EXIT_INCONCLUSIVE
    assert "verdict: inconclusive" in readable.stdout
    assert "No known problem found" not in readable.stdout

    seed = tmp_path / "diagnostic_log_vcsd.tar.gz"
    seed.write_bytes(bundle("vcsd", seed_log("vcsd"), "Expressway-E"))
    result = runner.invoke(app, ["analyze", "--json", str(seed)])
    assert result.exit_code == EXIT_FINDINGS, result.output
    report = json.loads(result.stdout)
    assert report["verdict"] == "problems" and seed_findings(report)


@pytest.mark.skipif(not REAL_LOG.is_file(), reason="the real public log is not on this machine")
def test_the_real_public_log_is_clear_and_says_what_was_read() -> None:
    result = runner.invoke(app, ["analyze", "--json", str(REAL_LOG)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["findings"] == []
    assert report["verdict"] == "clear"
    detail = report["verdict_detail"]
    lines = REAL_LOG.read_bytes().count(b"\n")
    assert detail["lines_examined"] == lines
    assert f"{lines:,} lines of Expressway log from vm-bluck-fed-vcse1" in detail["summary"]


def cut_inside_the_log(host: str) -> bytes:
    """A bundle whose healthy loggingsnapshot the download cut in the middle (no finding)."""
    data = bundle(host, healthy_expressway_c_loggingsnapshot(host, n_lines=4000), "Expressway-C")
    return data[: len(data) // 2]


def test_a_bundle_cut_inside_its_log_is_inconclusive_not_clear(client: TestClient) -> None:
    body = analyse(client, "diagnostic_log_vcsc.tar.gz", cut_inside_the_log("vcsc"))
    assert body["findings"] == []
    assert body["verdict"] == "inconclusive"
    detail = body["verdict_detail"]
    assert detail["read_in_part"] == [
        "diagnostic_log_vcsc.tar.gz: the gzip-compressed file is truncated (it ends in the middle)"
    ]
    assert 0 < detail["lines_examined"] < 4000
    assert "what came after the damage was not looked at" in detail["summary"]
    page = client.get(f"/a/{body['id']}", headers=HTML).text
    assert 'data-verdict="inconclusive"' in page and 'class="panel all-clear' not in page
    assert "Inconclusive: the upload was read only in part" in page
    assert "No known problem found</h2>" not in page

    rerun = client.post(f"/api/v1/analyses/{body['id']}/rerun")
    assert rerun.status_code == 202, rerun.text
    again = wait_for(client, body["id"])
    assert len(again["runs"]) == 2  # the stored files read back keep the damage and the verdict
    assert again["verdict"] == "inconclusive"
    assert again["verdict_detail"]["read_in_part"] == detail["read_in_part"]


def test_the_cli_says_a_cut_bundle_was_read_only_in_part(tmp_path: Path) -> None:
    cut = tmp_path / "diagnostic_log_vcsc.tar.gz"
    cut.write_bytes(cut_inside_the_log("vcsc"))
    result = runner.invoke(app, ["analyze", str(cut)])
    assert result.exit_code == EXIT_INCONCLUSIVE, result.output
    assert "Read only in part, up to the upload's damage: not an all-clear" in result.stdout
    assert "No known problem found" not in result.stdout
    report = json.loads(runner.invoke(app, ["analyze", "--json", str(cut)]).stdout)
    assert report["verdict"] == "inconclusive" and report["verdict_detail"]["read_in_part"]


def test_a_second_upload_without_an_expressway_log_is_not_hidden(client: TestClient) -> None:
    healthy = bundle("vcsc", healthy_expressway_c_loggingsnapshot("vcsc", n_lines=300))
    response = client.post(
        "/api/v1/analyses",
        files=[
            ("files", ("diagnostic_log_vcsc.tar.gz", healthy)),
            ("files", ("notes.tar.gz", unrelated_text())),
            ("files", ("jabber.log", b"2026-12-01 10:00:00,123 DEBUG [csf.httpclient] - x\n" * 9)),
        ],
    )
    assert response.status_code == 202, response.text
    body = wait_for(client, response.json()["id"])
    assert body["verdict"] == "inconclusive", body["verdict_detail"]
    detail = body["verdict_detail"]
    assert detail["unread"] == ["notes.tar.gz (42 lines of other text)"]  # not the Jabber log
    assert "300 lines of loggingsnapshot from vcsc" in detail["summary"]
    page = client.get(f"/a/{body['id']}", headers=HTML).text
    assert "Inconclusive: not every upload could be read" in page
    assert 'class="panel all-clear' not in page
