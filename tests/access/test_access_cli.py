"""`loupe users`, `loupe tokens` and the refusal of `loupe serve` to listen openly without login."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import EXIT_UNUSABLE, app, is_loopback, open_without_login
from app.config import Settings, get_settings
from app.main import create_app
from tests.access.accounts import bearer

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, migrated: Settings) -> Iterator[Settings]:
    monkeypatch.setenv("LOUPE_DATA_DIR", str(migrated.data_dir))
    monkeypatch.setenv("LOUPE_DATABASE_URL", migrated.sqlalchemy_url)
    monkeypatch.setenv("LOUPE_AUTH", "local")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_users_add_reads_the_password_from_stdin_and_list_shows_it(cli_env: Settings) -> None:
    added = runner.invoke(app, ["users", "add", "alice", "--team", "a"], input="s3cret-pass\n")
    assert added.exit_code == 0, added.output
    assert "s3cret" not in added.output
    runner.invoke(app, ["users", "add", "root", "--admin"], input="another-pass\n")
    listed = runner.invoke(app, ["users", "list"])
    assert "alice" in listed.stdout and "root" in listed.stdout and "admin" in listed.stdout
    again = runner.invoke(app, ["users", "add", "alice"], input="s3cret-pass\n")
    assert again.exit_code == EXIT_UNUSABLE and "already" in again.output
    short = runner.invoke(app, ["users", "add", "bob"], input="short\n")
    assert short.exit_code == EXIT_UNUSABLE and "at least 8" in short.output


def test_tokens_create_prints_only_a_token_that_works(cli_env: Settings) -> None:
    runner.invoke(app, ["users", "add", "root", "--admin"], input="another-pass\n")
    created = runner.invoke(app, ["tokens", "create", "nightly", "--expires", "30"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and len(token) >= 43
    settings = cli_env.model_copy(update={"embedded_worker": False})
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/analyses", headers=bearer(token)).status_code == 200

    runner.invoke(app, ["users", "add", "root2", "--admin"], input="another-pass\n")
    ambiguous = runner.invoke(app, ["tokens", "create", "x"])
    assert ambiguous.exit_code == EXIT_UNUSABLE and "--user" in ambiguous.output
    assert runner.invoke(app, ["tokens", "create", "x", "--user", "root2"]).exit_code == 0


def test_users_disable_stops_the_users_tokens(cli_env: Settings) -> None:
    runner.invoke(app, ["users", "add", "alice", "--team", "a"], input="s3cret-pass\n")
    token = runner.invoke(app, ["tokens", "create", "t", "--user", "alice"]).stdout.strip()
    assert runner.invoke(app, ["users", "disable", "alice"]).exit_code == 0
    assert "disabled" in runner.invoke(app, ["users", "list"]).stdout
    settings = cli_env.model_copy(update={"embedded_worker": False})
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/analyses", headers=bearer(token)).status_code == 401
    missing = runner.invoke(app, ["users", "disable", "nobody"])
    assert missing.exit_code == EXIT_UNUSABLE and "no user" in missing.output


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost", "[::1]"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "loupe.example.com"])
def test_serve_refuses_an_open_address_without_login_and_says_why(
    host: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOUPE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LOUPE_AUTH", raising=False)
    monkeypatch.delenv("LOUPE_ALLOW_OPEN", raising=False)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["serve", "--host", host])
    finally:
        get_settings.cache_clear()
    assert not is_loopback(host)
    assert result.exit_code == EXIT_UNUSABLE
    assert "LOUPE_AUTH=none" in result.output and "LOUPE_ALLOW_OPEN=true" in result.output


def test_serve_may_listen_openly_with_logins_or_when_the_operator_says_so() -> None:
    assert open_without_login(Settings(auth="local"), "0.0.0.0") is None
    assert open_without_login(Settings(allow_open=True), "0.0.0.0") is None
    assert open_without_login(Settings(), "127.0.0.1") is None


def test_the_shipped_images_listen_openly_only_with_logins() -> None:
    import yaml

    from tests.conftest import REPO

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert compose["services"]["web"]["environment"]["LOUPE_AUTH"] == "local"
    assert "LOUPE_AUTH=local" in (REPO / "Dockerfile").read_text()
