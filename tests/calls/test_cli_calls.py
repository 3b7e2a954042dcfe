"""`loupe calls` and `loupe ladder` on generated C and E bundles, offline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import get_settings
from tests.calls.scenarios import two_node_logs

runner = CliRunner()


@pytest.fixture(autouse=True)
def _own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment's settings, read again for each test (LOUPE_CALL_FLOWS unset)."""
    monkeypatch.setenv("LOUPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LOUPE_CALL_FLOWS", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def logs(tmp_path: Path) -> list[str]:
    expe, expc = two_node_logs()
    paths = []
    for node in (expe, expc):
        path = tmp_path / f"loggingsnapshot_{node.host}_2018-01-01_17_56_00.txt"
        path.write_text(node.text())
        paths.append(str(path))
    return paths


def test_calls_lists_the_joined_call_and_filters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = logs(tmp_path)
    result = runner.invoke(app, ["calls", "--json", *paths])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["total"] == 2
    assert body["calls"][0]["nodes"] == ["expe1", "expc1"]
    assert body["calls"][0]["joined_by"] == "call-id"
    failed = json.loads(runner.invoke(app, ["calls", "--json", "--failed", *paths]).output)
    assert [c["to"] for c in failed["calls"]] == ["sip:5551234@example.com"]
    analysis = json.loads(runner.invoke(app, ["analyze", "--json", *paths]).output)
    assert analysis["calls"] is None  # LOUPE_CALL_FLOWS is off: `loupe calls` extracted anyway
    monkeypatch.setenv("LOUPE_CALL_FLOWS", "true")
    get_settings.cache_clear()
    analysis = json.loads(runner.invoke(app, ["analyze", "--json", *paths]).output)
    assert analysis["calls"] == 2
    found = runner.invoke(app, ["calls", "-q", "5550000", *paths]).output
    assert "sip:5550000@example.com" in found and "5551234" not in found


def test_ladder_draws_text_and_svg_and_refuses_an_unknown_call(tmp_path: Path) -> None:
    paths = logs(tmp_path)
    text = runner.invoke(app, ["ladder", "--call", "1", *paths])
    assert text.exit_code == 0, text.output
    assert "Unified CM" in text.output and "404 Not Found" in text.output
    svg = runner.invoke(app, ["ladder", "--call", "1", "--format", "svg", *paths])
    assert svg.output.startswith("<svg") and "#msg-" not in svg.output
    missing = runner.invoke(app, ["ladder", "--call", "9", *paths])
    assert missing.exit_code == 2 and "no call 9" in missing.output
    bad = runner.invoke(app, ["ladder", "--call", "1", "--format", "png", *paths])
    assert bad.exit_code == 2


def test_markdown_report_lists_the_failed_calls_when_call_flows_are_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = logs(tmp_path)
    without = runner.invoke(app, ["analyze", "--format", "md", *paths]).output
    assert "## Failed calls" not in without  # LOUPE_CALL_FLOWS off: not extracted
    monkeypatch.setenv("LOUPE_CALL_FLOWS", "true")
    get_settings.cache_clear()
    text = runner.invoke(app, ["analyze", "--format", "md", *paths]).output
    assert "## Failed calls" in text
    section = text.split("## Failed calls", 1)[1].split("\n## ", 1)[0]
    assert "sip:5551234@example.com" in section and "sip:5550000@example.com" not in section
