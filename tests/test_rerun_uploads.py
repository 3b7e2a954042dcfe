"""Once an analysis is done its upload goes (LOUPE_KEEP_UPLOADS keeps it): re-runs read the work
dir. A worker that dies between the steps (record, compaction, removal) leaves an analysis that
re-runs; one made before the record re-runs from its upload."""

from __future__ import annotations

import fcntl
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.bundle import stored
from app.config import Settings
from app.main import create_app
from app.services import storage
from tests.conftest import wait_for
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_tar

HTML = {"accept": "text/html"}
SEED = "mra-traffic-server-cert-verification"


def bundle(host: str = "vcsc", n_lines: int = 12_000) -> bytes:
    """A node's bundle whose log (about 2 MiB) is kept compressed once the analysis is done."""
    lines = [
        re.sub(r"^(\S+) \S+ ", rf"\1 {host} ", line) for line in seed_scenario_lines("self_signed")
    ]
    log = healthy_expressway_c_loggingsnapshot(host, n_lines=n_lines) + "\n".join(lines) + "\n"
    assert len(log) > stored.PLAIN_BELOW
    return make_tar(
        {
            f"loggingsnapshot_{host}_2022-07-11_17_33_18.txt": log,
            f"xstat_dump_{host}_2022-07-11_17_33_18.txt": xstat_dump(
                host, "Expressway-C", "X14.2.1"
            ),
        }
    )


def settled(client: TestClient, settings: Settings, analysis_id: str) -> dict[str, Any]:
    """The analysis once its worker is through with it: done or failed, and its files kept
    (the worker holds the analysis lock until the record, compaction and removal are done)."""
    body = wait_for(client, analysis_id)
    lock = storage.analysis_dir(settings.resolved_data_dir, analysis_id) / ".lock"
    deadline = time.monotonic() + 60
    while lock.exists():
        handle = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            assert time.monotonic() < deadline, "the worker kept the analysis lock"
            time.sleep(0.05)
        finally:
            os.close(handle)
    return body


def seen(body: dict[str, Any]) -> dict[str, Any]:
    """What a user reads of a run: findings with their lines, nodes, warnings, files."""
    return {
        "findings": sorted(
            (f["signature"]["id"], f["node"], f["count"], str(f["snippets"]))
            for f in body["findings"]
        ),
        "nodes": body["nodes"],
        "warnings": body["warnings"],
        "files": body["files"],
        "coverage": body["coverage"],
    }


def paths(settings: Settings, analysis_id: str) -> dict[str, Path]:
    data_dir = settings.resolved_data_dir
    return {
        "uploads": storage.uploads_dir(data_dir, analysis_id),
        "work": storage.work_dir(data_dir, analysis_id),
        "manifest": storage.manifest_path(data_dir, analysis_id),
    }


def rerun(client: TestClient, settings: Settings, analysis_id: str) -> dict[str, Any]:
    assert client.post(f"/api/v1/analyses/{analysis_id}/rerun").status_code == 202
    return settled(client, settings, analysis_id)


@pytest.fixture
def keeping(migrated: Settings) -> Settings:
    return migrated.model_copy(update={"keep_uploads": True})


def test_the_upload_goes_once_done_and_a_rerun_reads_the_stored_logs(migrated: Settings) -> None:
    data = bundle()
    with TestClient(create_app(migrated)) as client:
        created = client.post("/api/v1/analyses", files=[("files", ("diag.tar.gz", data))]).json()
        first = settled(client, migrated, created["id"])
        assert first["status"] == "done", first["error"]
        assert SEED in {f["signature"]["id"] for f in first["findings"]}
        where = paths(migrated, created["id"])
        assert not where["uploads"].exists()
        assert where["manifest"].is_file()
        assert list(where["work"].rglob("*" + stored.SUFFIX))
        # name, size and SHA-256 of the upload stay; an identical upload is still recognised
        assert [(f["name"], f["size"]) for f in first["files"]] == [("diag.tar.gz", len(data))]
        html = client.get(f"/a/{created['id']}", headers=HTML).text
        assert "Original upload not kept; re-runs read the stored logs." in html
        assert client.get(f"/api/v1/analyses/{created['id']}").json()["uploads_kept"] is False
        second = client.post("/api/v1/analyses", files=[("files", ("copy.tar.gz", data))]).json()
        copy = settled(client, migrated, second["id"])
        assert [item["id"] for item in copy["same_upload_as"]] == [created["id"]]

        again = rerun(client, migrated, created["id"])
        assert again["status"] == "done", again["error"]
        assert [run["number"] for run in again["runs"]] == [1, 2]
        assert seen(again) == seen(first)
        assert again["delta"]["new"] == [] and again["delta"]["resolved"] == []
        member = "diag.tar.gz/loggingsnapshot_vcsc_2022-07-11_17_33_18.txt"
        raw = client.get(f"/a/{created['id']}/raw/{member}")
        assert raw.status_code == 200 and raw.content.endswith(b"\n")

        # nothing of it is left anywhere once deleted
        assert client.delete(f"/api/v1/analyses/{created['id']}").status_code == 204
    assert not storage.analysis_dir(migrated.resolved_data_dir, created["id"]).exists()


def test_a_failed_analysis_keeps_its_upload_for_a_retry(migrated: Settings) -> None:
    with TestClient(create_app(migrated)) as client:
        created = client.post(
            "/api/v1/analyses", files=[("files", ("cut.tar.gz", bundle()[:40]))]
        ).json()
        body = settled(client, migrated, created["id"])
        assert body["status"] == "failed"
        where = paths(migrated, created["id"])
        assert [p.stat().st_size for p in where["uploads"].iterdir()] == [40]
        assert not where["manifest"].exists()
        html = client.get(f"/a/{created['id']}", headers=HTML).text
        assert "Original upload not kept" not in html
        assert client.get(f"/api/v1/analyses/{created['id']}").json()["uploads_kept"] is True


def test_keep_uploads_keeps_them(keeping: Settings) -> None:
    data = bundle()
    with TestClient(create_app(keeping)) as client:
        created = client.post("/api/v1/analyses", files=[("files", ("diag.tar.gz", data))]).json()
        body = settled(client, keeping, created["id"])
        assert body["status"] == "done", body["error"]
        where = paths(keeping, created["id"])
        assert [p.read_bytes() for p in where["uploads"].iterdir()] == [data]
        assert where["manifest"].is_file() and list(where["work"].rglob("*" + stored.SUFFIX))
        assert (
            "Original upload not kept" not in client.get(f"/a/{created['id']}", headers=HTML).text
        )
        assert client.get(f"/api/v1/analyses/{created['id']}").json()["uploads_kept"] is True


def first_run_kept(client: TestClient, settings: Settings) -> tuple[str, dict[str, Any]]:
    """A done analysis whose upload is still there (LOUPE_KEEP_UPLOADS at the time)."""
    created = client.post("/api/v1/analyses", files=[("files", ("diag.tar.gz", bundle()))]).json()
    body = settled(client, settings, created["id"])
    assert body["status"] == "done", body["error"]
    return created["id"], body


def unpack_stores(work: Path) -> None:
    """Put the work dir back as it was before its compaction: every store plain again."""
    for packed in list(work.rglob("*" + stored.SUFFIX)):
        plain = packed.with_name(packed.name[: -len(stored.SUFFIX)])
        with stored.open_stored(packed) as source:
            plain.write_bytes(source.read())
        packed.unlink()


def test_a_worker_dead_between_the_steps_leaves_a_rerunnable_analysis(
    keeping: Settings, migrated: Settings
) -> None:
    with TestClient(create_app(keeping)) as client:
        analysis_id, first = first_run_kept(client, keeping)
    where = paths(migrated, analysis_id)

    # died after the record, in the middle of the compaction: plain files, a partial store
    unpack_stores(where["work"])
    log = next(where["work"].rglob("loggingsnapshot_*.txt"))
    partial = log.with_name(log.name + stored.SUFFIX + ".partial-99999-1")
    partial.write_bytes(b"\x28\xb5\x2f\xfd half a frame")
    with TestClient(create_app(migrated)) as client:
        again = rerun(client, migrated, analysis_id)
        assert again["status"] == "done", again["error"]
        assert seen(again) == seen(first)
        assert not partial.exists() and stored.compressed_path(log).is_file()
        assert not where["uploads"].exists()  # this time everything was kept: it went

        # died after the compaction, before the removal: the store is read, not the upload
        where["uploads"].mkdir()
        (where["uploads"] / "000").write_bytes(b"not a bundle at all")
        again = rerun(client, migrated, analysis_id)
        assert again["status"] == "done", again["error"]
        assert seen(again) == seen(first)
        assert not where["uploads"].exists()


def test_an_analysis_made_before_the_record_reruns_from_its_upload(
    keeping: Settings, migrated: Settings
) -> None:
    with TestClient(create_app(keeping)) as client:
        analysis_id, first = first_run_kept(client, keeping)
    where = paths(migrated, analysis_id)
    # as a worker that died before writing the record, or a version before it, left it
    where["manifest"].unlink()
    unpack_stores(where["work"])
    with TestClient(create_app(migrated)) as client:
        again = rerun(client, migrated, analysis_id)
        assert again["status"] == "done", again["error"]
        assert seen(again) == seen(first)
        assert where["manifest"].is_file() and not where["uploads"].exists()


def test_stored_files_gone_fall_back_to_the_upload_or_fail_with_a_reason(
    keeping: Settings, migrated: Settings
) -> None:
    with TestClient(create_app(keeping)) as client:
        analysis_id, first = first_run_kept(client, keeping)
        where = paths(keeping, analysis_id)
        for path in where["work"].rglob("xstat_dump_*"):
            path.unlink()
        again = rerun(client, keeping, analysis_id)  # the upload is still here: unpacked again
        assert again["status"] == "done", again["error"]
        assert seen(again) == seen(first)
    with TestClient(create_app(migrated)) as client:
        again = rerun(client, migrated, analysis_id)
        assert again["status"] == "done" and not where["uploads"].exists()
        for path in where["work"].rglob("xstat_dump_*"):
            path.unlink()
        broken = rerun(client, migrated, analysis_id)
        assert broken["status"] == "failed"
        assert "cannot be run again" in broken["error"] and "is gone" in broken["error"]
        assert "Upload the bundle again" in broken["error"]
