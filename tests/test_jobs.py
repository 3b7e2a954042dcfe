"""Analyses survive restarts: whatever was queued or running when the server stopped gets done."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Analysis
from app.services import analyses, storage
from app.services.uploads import IncomingFile, ReceivedUpload
from tests.conftest import wait_for
from tests.test_api import seed_bundle


def stage(settings: Settings, name: str, data: bytes) -> ReceivedUpload:
    staging = storage.staging_root(settings.resolved_data_dir) / f"upload-{name}"
    staging.mkdir(parents=True)
    path = staging / "000"
    path.write_bytes(data)
    incoming = IncomingFile(
        name=name, path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest()
    )
    return ReceivedUpload(staging=staging, files=[incoming])


def test_queued_and_running_analyses_are_redispatched_after_a_restart(migrated: Settings) -> None:
    db = Database(migrated.sqlalchemy_url)
    with db.session() as session:
        queued = analyses.create(
            session,
            upload=stage(migrated, "q.tar.gz", seed_bundle("self_signed")),
            data_dir=migrated.resolved_data_dir,
        ).id
        running = analyses.create(
            session,
            upload=stage(migrated, "r.tar.gz", seed_bundle("unknown_ca")),
            data_dir=migrated.resolved_data_dir,
        ).id
        # a worker claimed it, then the server died
        row = session.get(Analysis, running)
        assert row is not None
        row.status, row.worker = "running", "dead-host:1:1"
        session.commit()
    db.dispose()

    with TestClient(create_app(migrated)) as client:
        assert wait_for(client, queued)["status"] == "done"
        body = wait_for(client, running)
        assert body["status"] == "done"
        assert body["findings"][0]["facts"]["reason"] == "unknown_ca"


def test_a_rerun_of_the_pipeline_replaces_findings(client: TestClient, migrated: Settings) -> None:
    from app.worker.process import process_analysis

    created = client.post(
        "/api/v1/analyses", files=[("files", ("x.tar.gz", seed_bundle("sni_mismatch")))]
    ).json()
    first = wait_for(client, created["id"])
    assert first["status"] == "done"
    db = Database(migrated.sqlalchemy_url)
    with db.session() as session:
        row = session.get(Analysis, created["id"])
        assert row is not None
        row.status = "queued"
        session.commit()
    assert process_analysis(created["id"], settings=migrated, db=db) == "done"
    db.dispose()
    second = client.get(created["api_url"]).json()
    assert second["findings"] == first["findings"]


def test_missing_upload_file_fails_with_a_reason_about_the_data_dir(
    client: TestClient, migrated: Settings
) -> None:
    db = Database(migrated.sqlalchemy_url)
    with db.session() as session:
        analysis_id = analyses.create(
            session,
            upload=stage(migrated, "gone.tar.gz", seed_bundle("self_signed")),
            data_dir=migrated.resolved_data_dir,
        ).id
        stored = session.get(Analysis, analysis_id)
        assert stored is not None
        Path(
            storage.resolve_inside(migrated.resolved_data_dir, stored.files[0].storage_path)
        ).unlink()
    db.dispose()
    client.app.state.dispatcher.dispatch(analysis_id)  # type: ignore[attr-defined]
    body = wait_for(client, analysis_id)
    assert body["status"] == "failed"
    assert "gone.tar.gz" in body["error"] and "LOUPE_DATA_DIR" in body["error"]
