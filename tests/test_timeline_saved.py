"""The timeline shows the counts the analysis pass saved, without opening the logs again; an
analysis without them (saved before the pass counted) is counted on first view, the same."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.search import timeline as counting
from app.services import storage
from app.web import logview
from tests.conftest import wait_for
from tests.test_api import seed_bundle, upload
from tests.test_cli_formats import REAL_LOG


def timeline(client: TestClient, analysis_id: str) -> Any:
    response = client.get(f"/api/v1/analyses/{analysis_id}/timeline")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("which", ["real log", "bundle"])
def test_saved_counts_equal_the_first_view_count_and_need_no_log(
    client: TestClient, migrated: Settings, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    if which == "real log":
        if not REAL_LOG.is_file():
            pytest.skip("the shared real log is not here")
        files = (REAL_LOG.name, REAL_LOG.read_bytes())
    else:
        files = ("diagnostic_log_vcsc.tar.gz", seed_bundle("self_signed"))
    analysis_id = upload(client, files).json()["id"]
    assert wait_for(client, analysis_id)["status"] == "done"
    data_dir = migrated.resolved_data_dir
    assert storage.timeline_counts_path(data_dir, analysis_id).is_file()

    # the saved counts: no log file is opened (they are not even there)
    work = storage.work_dir(data_dir, analysis_id)
    moved = work.with_name("work-elsewhere")
    work.rename(moved)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the timeline read a log file")

    with monkeypatch.context() as patched:
        patched.setattr(counting, "count_file", no_reading)
        patched.setattr(logview, "looks_binary", no_reading)
        saved = timeline(client, analysis_id)
        page = client.get(f"/a/{analysis_id}/timeline")
    assert page.status_code == 200 and "<svg" in page.text
    moved.rename(work)
    assert not storage.timeline_path(data_dir, analysis_id).exists()  # no first-view cache
    assert saved["complete"] is True and saved["nodes"] and saved["nodes"][0]["minutes"]
    if which == "real log":
        assert sum(m["lines"] for m in saved["nodes"][0]["minutes"]) > 1000

    # an analysis saved before the pass counted: counted from the files on first view
    storage.timeline_counts_path(data_dir, analysis_id).unlink()
    computed = timeline(client, analysis_id)
    assert storage.timeline_path(data_dir, analysis_id).is_file()
    assert computed == saved


def test_a_rerun_replaces_the_saved_counts(client: TestClient, migrated: Settings) -> None:
    analysis_id = upload(client, ("diagnostic_log_vcsc.tar.gz", seed_bundle("self_signed")))
    analysis_id = analysis_id.json()["id"]
    assert wait_for(client, analysis_id)["status"] == "done"
    path = storage.timeline_counts_path(migrated.resolved_data_dir, analysis_id)
    path.write_text('{"format": 1, "files": {}}')  # covers no file: not used
    body = timeline(client, analysis_id)
    assert body["nodes"]  # counted from the files instead
    shutil.rmtree(storage.timeline_path(migrated.resolved_data_dir, analysis_id).parent)
    assert client.post(f"/api/v1/analyses/{analysis_id}/rerun").status_code in (200, 202)
    assert wait_for(client, analysis_id)["status"] == "done"
    assert '"files": {}' not in path.read_text()
    assert timeline(client, analysis_id) == body
