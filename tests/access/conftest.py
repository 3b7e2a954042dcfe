"""An app with LOUPE_AUTH=local and no worker; users alice, bob (team a), carol (team b), root."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from app.auth import passwords
from app.config import Settings
from app.main import create_app
from tests.access.accounts import add_user


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with the smallest cost: the tests hash many passwords on a shared machine."""
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def local_settings(migrated: Settings) -> Settings:
    settings = migrated.model_copy(
        update={"auth": "local", "embedded_worker": False, "public_url": "https://loupe.test"}
    )
    add_user(settings, "alice", team="a")
    add_user(settings, "bob", team="a")
    add_user(settings, "carol", team="b")
    add_user(settings, "root", admin=True)
    return settings


@pytest.fixture
def local_client(local_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(local_settings)) as client:
        yield client
