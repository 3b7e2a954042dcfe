"""Shared fixtures: settings on a temp data dir, a migrated database, the app and its client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.migrate import upgrade

REPO = Path(__file__).resolve().parent.parent
SHARED = (REPO / ".." / "shared").resolve()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for one test: its own data dir and SQLite file, a fast sweeper."""
    data = tmp_path / "data"
    return Settings(
        data_dir=data,
        database_url=f"sqlite:///{data / 'loupe.db'}",
        sweep_interval_seconds=1,
        worker_threads=1,
    )


@pytest.fixture
def migrated(settings: Settings) -> Settings:
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    return settings


@pytest.fixture
def client(migrated: Settings) -> Iterator[TestClient]:
    """The whole app with its embedded worker, as `loupe serve` runs it."""
    from app.main import create_app

    app = create_app(migrated)
    with TestClient(app) as test_client:
        yield test_client


def wait_for(client: TestClient, analysis_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll the API until the analysis is done or failed; returns its JSON."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/api/v1/analyses/{analysis_id}").json()
        if body["status"] in ("done", "failed"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"analysis still {body['status']} after {timeout}s: {body}")
        time.sleep(0.1)
