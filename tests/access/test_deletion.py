"""DELETE and retention: the rows and every file of the analysis go; the URL then answers 404."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.jobs.retention import sweep_expired
from app.main import create_app
from app.models import (
    Analysis,
    AnalysisRun,
    AuditEvent,
    BundleFileRow,
    FindingRow,
    ShareLink,
    StoredFile,
    utcnow,
)
from tests.access.accounts import bearer, database, set_analysis, token_for
from tests.access.test_access_api import owned_analysis, upload_as


@pytest.fixture
def working_client(local_settings: Settings) -> Iterator[TestClient]:
    """LOUPE_AUTH=local with the embedded worker: uploads are analysed."""
    settings = local_settings.model_copy(update={"embedded_worker": True})
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        yield client


def wait_done(client: TestClient, analysis_id: str, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(
            f"/api/v1/analyses/{analysis_id}", headers=bearer(token)
        ).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError("the analysis did not finish")


def files_of(data_dir: Path, analysis_id: str) -> list[Path]:
    return [p for p in data_dir.rglob("*") if analysis_id in str(p.relative_to(data_dir))]


def rows_of(settings: Settings, analysis_id: str) -> dict[str, int]:
    with database(settings) as session:
        counts = {
            table.__tablename__: int(
                session.scalar(
                    select(func.count()).select_from(table).where(table.analysis_id == analysis_id)
                )
                or 0
            )
            for table in (StoredFile, BundleFileRow, AnalysisRun, ShareLink)
        }
        counts["analysis"] = int(
            session.scalar(select(func.count()).where(Analysis.id == analysis_id)) or 0
        )
        counts["finding"] = int(session.scalar(select(func.count()).select_from(FindingRow)) or 0)
    return counts


def test_delete_removes_every_row_and_file_of_the_analysis(
    working_client: TestClient, local_settings: Settings
) -> None:
    alice, bob = token_for(local_settings, "alice"), token_for(local_settings, "bob")
    analysis_id = upload_as(working_client, alice)
    kept_id = upload_as(working_client, alice, title="kept")
    assert wait_done(working_client, analysis_id, alice)["status"] == "done"
    assert wait_done(working_client, kept_id, alice)["status"] == "done"
    working_client.post(f"/api/v1/analyses/{analysis_id}/shares", headers=bearer(alice))
    data_dir = local_settings.resolved_data_dir
    manifest = data_dir / "analyses" / analysis_id / "unpacked.json"
    deadline = time.monotonic() + 30
    while not manifest.exists() and time.monotonic() < deadline:  # kept after the save
        time.sleep(0.05)
    stored = files_of(data_dir, analysis_id)
    assert manifest in stored and any("work" in p.parts for p in stored)
    assert any("json" in p.parts for p in stored)
    assert rows_of(local_settings, analysis_id)["finding"] > 0

    # a team member may read it but not delete it; the owner may
    path = f"/api/v1/analyses/{analysis_id}"
    assert working_client.delete(path, headers=bearer(bob)).status_code == 404
    response = working_client.delete(path, headers=bearer(alice))
    assert response.status_code == 204 and response.content == b""

    assert working_client.get(path, headers=bearer(alice)).status_code == 404
    assert working_client.delete(path, headers=bearer(alice)).status_code == 404
    assert files_of(data_dir, analysis_id) == []
    left = rows_of(local_settings, analysis_id)
    assert {k: v for k, v in left.items() if k != "finding"} == dict.fromkeys(
        left.keys() - {"finding"}, 0
    )
    # the other analysis and its findings are untouched
    assert files_of(data_dir, kept_id)
    assert working_client.get(f"/api/v1/analyses/{kept_id}", headers=bearer(alice)).json()[
        "findings"
    ]


def test_a_running_analysis_is_not_deleted_under_its_worker(
    local_client: TestClient, local_settings: Settings
) -> None:
    analysis_id = owned_analysis(local_settings, "alice", "a")
    set_analysis(local_settings, analysis_id, status="running")
    alice = bearer(token_for(local_settings, "alice"))
    response = local_client.delete(f"/api/v1/analyses/{analysis_id}", headers=alice)
    assert response.status_code == 409 and "running" in response.json()["detail"]
    assert files_of(local_settings.resolved_data_dir, analysis_id)


def test_uploads_expire_after_the_retention_and_the_owner_can_extend(
    local_client: TestClient, local_settings: Settings
) -> None:
    alice, bob = token_for(local_settings, "alice"), token_for(local_settings, "bob")
    analysis_id = upload_as(local_client, alice)
    body = local_client.get(f"/api/v1/analyses/{analysis_id}", headers=bearer(alice)).json()
    assert body["expires_at"][:10] == (utcnow() + timedelta(days=30)).date().isoformat()

    set_analysis(local_settings, analysis_id, expires_at=utcnow() + timedelta(days=1))
    path = f"/api/v1/analyses/{analysis_id}/extend"
    assert local_client.post(path, json={"days": 90}, headers=bearer(bob)).status_code == 404
    extended = local_client.post(path, json={"days": 90}, headers=bearer(alice))
    assert extended.status_code == 200
    assert extended.json()["expires_at"][:10] == (utcnow() + timedelta(days=90)).date().isoformat()
    assert local_client.post(path, json={"days": 0}, headers=bearer(alice)).status_code == 422


def test_the_sweeper_deletes_expired_analyses_as_delete_does(
    local_client: TestClient, local_settings: Settings
) -> None:
    expired_id = owned_analysis(local_settings, "alice", "a")
    running_id = owned_analysis(local_settings, "alice", "a")
    fresh_id = owned_analysis(local_settings, "alice", "a")
    past = utcnow() - timedelta(minutes=1)
    set_analysis(local_settings, expired_id, expires_at=past)
    set_analysis(local_settings, running_id, expires_at=past, status="running")
    set_analysis(local_settings, fresh_id, expires_at=utcnow() + timedelta(days=1))
    db = Database(local_settings.sqlalchemy_url)
    try:
        assert sweep_expired(db, local_settings) == [expired_id]
    finally:
        db.dispose()
    data_dir = local_settings.resolved_data_dir
    assert files_of(data_dir, expired_id) == []
    assert files_of(data_dir, running_id) and files_of(data_dir, fresh_id)
    root = bearer(token_for(local_settings, "root"))
    assert local_client.get(f"/api/v1/analyses/{expired_id}", headers=root).status_code == 404
    with database(local_settings) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.analysis_id == expired_id)
        ).all()
    assert actions == ["expired"]


def test_retention_zero_keeps_uploads_forever(
    local_settings: Settings,
) -> None:
    settings = local_settings.model_copy(update={"retention_days": 0})
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        alice = token_for(settings, "alice")
        analysis_id = upload_as(client, alice)
        body = client.get(f"/api/v1/analyses/{analysis_id}", headers=bearer(alice)).json()
    assert body["expires_at"] is None
