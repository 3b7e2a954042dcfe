"""`GET /api/v1/analyses/{id}` and `loupe analyze --json` describe an analysis with the same keys,
nested objects included; each adds only the optional blocks the README names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.config import get_settings
from tests.conftest import wait_for
from tests.test_api import seed_bundle, upload

ONLY_CLI = {"certificates", "server_certificates"}  # the API lists them at …/certificates
ONLY_API: set[str] = set()  # findings_page, delta, owner, … are null or empty offline


def key_paths(value: Any, path: str = "") -> set[str]:
    """Every key of a JSON value, as dotted paths (`findings[].signature.id`)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(f"{path}.{key}")
            found |= key_paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            found |= key_paths(item, f"{path}[]")
    return found


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUPE_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()


def test_api_and_cli_json_have_the_same_keys(client: TestClient, tmp_path: Path) -> None:
    bundle = seed_bundle("self_signed")
    path = tmp_path / "diagnostic_log_vcsc.tar.gz"
    path.write_bytes(bundle)
    offline = json.loads(CliRunner().invoke(app, ["analyze", "--json", str(path)]).stdout)
    analysis_id = upload(client, (path.name, bundle)).json()["id"]
    served = wait_for(client, analysis_id)
    assert served["status"] == offline["status"] == "done"
    assert served["findings"] and offline["findings"]  # nested keys are compared too
    assert set(offline) - set(served) == ONLY_CLI
    assert set(served) - set(offline) == ONLY_API
    cli_keys = {k for k in key_paths(offline) if k.split(".")[1].split("[")[0] not in ONLY_CLI}
    assert key_paths(served) == cli_keys
    # the same values where the analysis is the same
    for key in ("status", "ruleset_version", "verdict", "findings_total", "warnings", "calls"):
        assert served[key] == offline[key], key
    assert served["nodes"] == offline["nodes"]
    assert served["coverage"] == offline["coverage"]
    assert served["verdict_detail"] == offline["verdict_detail"]
    assert served["findings"] == offline["findings"]
