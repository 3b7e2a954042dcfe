"""Shared fixtures: settings on a temp data dir, a migrated database, the app and its client.

Every test that uses a database runs twice: on SQLite and on PostgreSQL (a schema of its own,
dropped afterwards). Tests that need PostgreSQL are skipped when it is not reachable, except
when `CI=true`, where they fail.
"""

from __future__ import annotations

import gc
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.migrate import upgrade

REPO = Path(__file__).resolve().parent.parent
SHARED = (REPO / ".." / "shared").resolve()
POSTGRES = os.environ.get("LOUPE_TEST_POSTGRES", "postgres@127.0.0.1:5432/test")


def needs_service(problem: str | None) -> None:
    """Skip a test whose server is missing; in CI (CI=true) fail it instead."""
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: services must be there)")
    pytest.skip(problem)


@cache
def postgres_problem() -> str | None:
    try:
        psycopg.connect(f"postgresql://{POSTGRES}", connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"PostgreSQL at {POSTGRES} is not reachable: {exc}"
    return None


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A SQLAlchemy URL on a new, empty PostgreSQL schema; the schema is dropped on exit."""
    needs_service(postgres_problem())
    schema = f"loupe_test_{os.getpid()}_{secrets.token_hex(6)}"
    with psycopg.connect(f"postgresql://{POSTGRES}", autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            f"postgresql+psycopg://{POSTGRES}"
            f"?application_name={schema}&options=-csearch_path%3D{schema}"
        )
    finally:
        gc.collect()  # a connection the test forgot to close warns here, in the test that forgot
        with psycopg.connect(f"postgresql://{POSTGRES}", autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s AND pid <> pg_backend_pid()",
                (schema,),
            )
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'loupe.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for one test: its own data dir and database, a fast sweeper."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
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
