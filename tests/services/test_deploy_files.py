"""docker-compose.yml and the Dockerfile describe the team topology (no Docker engine runs here,
so the structure is checked, and every `loupe` command line in them is parsed by the real CLI)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import app as cli
from app.config import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def test_the_five_services_and_the_shared_data_volume(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"migrate", "web", "worker", "postgres", "redis"}
    assert "loupe-data" in compose["volumes"]
    for name in ("web", "worker", "migrate"):
        assert "loupe-data:/data" in services[name]["volumes"], name
        assert services[name]["environment"]["LOUPE_DATA_DIR"] == "/data"


def test_the_worker_can_be_scaled(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N works
    assert worker["command"][:2] == ["loupe", "worker"]


def test_migrations_run_once_before_web_and_workers_start(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["loupe", "migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_every_long_running_service_has_a_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("web", "worker", "postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])


def test_the_environment_points_at_the_compose_services(compose: dict[str, Any]) -> None:
    env = compose["services"]["worker"]["environment"]
    settings = Settings(**{k.removeprefix("LOUPE_").lower(): v for k, v in env.items()})
    assert settings.database_url is not None
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in settings.database_url
    assert settings.broker_url == "redis://redis:6379/0"
    assert settings.log_json is True
    assert compose["services"]["web"]["environment"] == env


def loupe_command_lines() -> list[list[str]]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    lines = [
        s["command"] for s in compose["services"].values() if s.get("command", [""])[0] == "loupe"
    ]
    dockerfile = (REPO / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert cmd is not None
    lines.append(yaml.safe_load(cmd.group(1)))
    return lines


@pytest.mark.parametrize("line", loupe_command_lines(), ids=shlex.join)
def test_every_loupe_command_line_is_one_the_cli_accepts(line: list[str]) -> None:
    assert line[0] == "loupe"
    result = CliRunner().invoke(cli, [*line[1:], "--help"])
    assert result.exit_code == 0, result.output


def test_the_image_holds_what_the_app_reads_at_run_time() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    for needed in ("alembic.ini", "migrations", "templates", "static", "app"):
        assert re.search(rf"^COPY {needed} ", dockerfile, re.MULTILINE), needed
    assert re.search(r"^USER (?!root)", dockerfile, re.MULTILINE)  # not as root
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored and "data" in ignored
