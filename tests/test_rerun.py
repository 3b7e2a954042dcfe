"""Re-runs: the same upload through the current library, history kept, the delta shown."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.signatures import LIBRARY_DIR
from tests.conftest import wait_for
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_tar

SEED = "mra-traffic-server-cert-verification"
HTML = {"accept": "text/html"}


def info_signature(signature_id: str, literal: str) -> str:
    """A minimal info signature that fires on any line holding `literal`, one finding per node."""
    return f"""\
id: {signature_id}
title: "Test signature {signature_id}"
severity: info
status: experimental
product: expressway
match:
  source: loggingsnapshot
  contains: ["{literal}"]
  patterns:
    - regex: '(?:^|[\\s"]){re.escape(literal)}'
group_by: [node]
text:
  description: "Seen {{{{ count }}}} time(s)."
  condition: "Always."
  further_info: "Test only."
  action: "Nothing."
examples:
  - name: the literal
    line: '2022-07-11T19:33:06+02:00 vcsc tvcs: {literal} here'
    expect: {{}}
  - name: other text
    line: '2022-07-11T19:33:06+02:00 vcsc tvcs: x{literal} here'
    expect: no_match
"""


def seed_bundle() -> bytes:
    lines = [
        re.sub(r"^(\S+) \S+ ", r"\1 vcsc ", line) for line in seed_scenario_lines("self_signed")
    ]
    log = healthy_expressway_c_loggingsnapshot("vcsc", n_lines=300) + "\n".join(lines) + "\n"
    return make_tar(
        {
            "loggingsnapshot_vcsc_2022-07-11_17_33_18.txt": log,
            "xstat_dump_vcsc_2022-07-11_17_33_18.txt": xstat_dump(
                "vcsc", "Expressway-C", "X14.2.1"
            ),
        }
    )


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    """Version 1 of a small library: the seed signature and one that stays."""
    root = tmp_path / "library"
    root.mkdir()
    seed = (LIBRARY_DIR / "expressway" / f"{SEED}.yaml").read_text()
    # alone in this library, the seed refines nothing: the catch-all it refines is not here
    (root / f"{SEED}.yaml").write_text(re.sub(r"(?m)^refines:.*\n", "", seed))
    (root / "test-stays.yaml").write_text(info_signature("test-stays", "Request Allowed"))
    return root


@pytest.fixture
def with_library(migrated: Settings, library_dir: Path) -> Settings:
    return migrated.model_copy(update={"library_dir": library_dir})


def change_library(root: Path) -> None:
    """Version 2: the seed signature removed, a new one added."""
    (root / f"{SEED}.yaml").unlink()
    (root / "test-new.yaml").write_text(info_signature("test-new", "Starting message execution"))


def keys(items: list[dict[str, Any]]) -> set[tuple[str, str | None]]:
    return {(item["signature"]["id"], item["node"]) for item in items}


def test_rerun_with_a_changed_library_keeps_history_and_shows_the_delta(
    with_library: Settings, library_dir: Path
) -> None:
    with TestClient(create_app(with_library)) as client:
        created = client.post(
            "/api/v1/analyses", files=[("files", ("diagnostic_log_vcsc.tar.gz", seed_bundle()))]
        ).json()
        first = wait_for(client, created["id"])
    assert first["status"] == "done", first["error"]
    assert {f["signature"]["id"] for f in first["findings"]} == {SEED, "test-stays"}
    assert [run["number"] for run in first["runs"]] == [1]
    assert first["delta"] is None

    change_library(library_dir)  # the operator upgrades the library and restarts
    with TestClient(create_app(with_library)) as client:
        response = client.post(f"/api/v1/analyses/{created['id']}/rerun")
        assert response.status_code == 202
        assert response.json() == {
            "id": created["id"],
            "status": "queued",
            "url": f"/a/{created['id']}",
            "api_url": f"/api/v1/analyses/{created['id']}",
        }
        assert response.headers["location"] == f"/api/v1/analyses/{created['id']}"
        second = wait_for(client, created["id"])
        html = client.get(f"/a/{created['id']}", headers=HTML).text

    assert second["status"] == "done", second["error"]
    assert {f["signature"]["id"] for f in second["findings"]} == {"test-stays", "test-new"}
    assert [run["number"] for run in second["runs"]] == [1, 2]
    old_version, new_version = (run["ruleset_version"] for run in second["runs"])
    assert old_version == first["ruleset_version"]
    assert new_version == second["ruleset_version"] != old_version
    assert all(run["finished_at"] for run in second["runs"])

    delta = second["delta"]
    assert (delta["run"], delta["previous_run"]) == (2, 1)
    assert (delta["previous_ruleset_version"], delta["ruleset_version"]) == (
        old_version,
        new_version,
    )
    assert keys(delta["new"]) == {("test-new", "vcsc")}
    assert keys(delta["resolved"]) == {(SEED, "vcsc")}  # read from run 1: its findings are kept
    assert keys(delta["unchanged"]) == {("test-stays", "vcsc")}
    assert {c["signature_id"] for c in second["coverage"]} == {"test-stays", "test-new"}

    assert "Changes since run 1" in html
    assert old_version in html and new_version in html
    assert "1 new" in html and "1 resolved" in html and "1 unchanged" in html


@pytest.fixture
def quiet(migrated: Settings) -> Settings:
    """No worker: analyses stay as they are put."""
    return migrated.model_copy(update={"embedded_worker": False})


def test_rerun_of_a_queued_analysis_is_409_and_unknown_is_404(quiet: Settings) -> None:
    with TestClient(create_app(quiet)) as client:
        created = client.post(
            "/api/v1/analyses", files=[("files", ("diagnostic_log_vcsc.tar.gz", seed_bundle()))]
        ).json()
        busy = client.post(f"/api/v1/analyses/{created['id']}/rerun")
        assert busy.status_code == 409
        assert "queued" in busy.json()["detail"]
        body = client.get(f"/api/v1/analyses/{created['id']}").json()
        assert [run["number"] for run in body["runs"]] == [1]  # nothing was added

        missing = client.post("/api/v1/analyses/does-not-exist/rerun")
        assert missing.status_code == 404
        assert "does-not-exist" in missing.json()["detail"]


def test_the_rerun_button_queues_a_new_run(quiet: Settings) -> None:
    from tests.web.conftest import add_analysis

    analysis_id = add_analysis(quiet, status="done")
    with TestClient(create_app(quiet), headers=HTML) as client:
        html = client.get(f"/a/{analysis_id}").text
        assert re.search(rf'<form[^>]+method="post"[^>]+action="/a/{analysis_id}/rerun"', html)
        response = client.post(f"/a/{analysis_id}/rerun", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/a/{analysis_id}"
        html = client.get(f"/a/{analysis_id}").text
        assert 'data-status="queued"' in html
        # the header stays where it was; no second re-run while queued
        assert re.search(r'<button type="submit" class="button rerun" disabled', html)
        again = client.post(f"/a/{analysis_id}/rerun", follow_redirects=False)
        assert again.status_code == 409
        assert "wait until it is done" in again.text
        body = client.get(f"/api/v1/analyses/{analysis_id}", headers={"accept": "*/*"}).json()
    assert [run["number"] for run in body["runs"]] == [1, 2]
    assert body["runs"][1]["finished_at"] is None
    assert body["findings"] == [] and body["delta"] is None


def test_how_a_finding_fits_its_node_does_not_make_it_a_new_problem() -> None:
    """A run saved before `applies` existed and a re-run that adds it show the finding unchanged;
    another fact value is another problem."""
    from app.services.findings import FindingSummary, finding_key

    def summary(**facts: Any) -> FindingSummary:
        return FindingSummary("sig", "Title", "error", [], "vcsc", facts, 1)

    before = summary(reason="self_signed")
    assert finding_key(summary(reason="self_signed", applies="disagrees")) == finding_key(before)
    assert finding_key(summary(reason="self_signed", version_unknown=True)) == finding_key(before)
    assert finding_key(summary(reason="unknown_ca")) != finding_key(before)
