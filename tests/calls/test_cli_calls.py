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
    assert analysis["calls"] == 2  # LOUPE_CALL_FLOWS is on by default
    monkeypatch.setenv("LOUPE_CALL_FLOWS", "false")
    get_settings.cache_clear()
    analysis = json.loads(runner.invoke(app, ["analyze", "--json", *paths]).output)
    assert analysis["calls"] is None  # off: `loupe calls` extracts anyway
    assert json.loads(runner.invoke(app, ["calls", "--json", *paths]).output)["total"] == 2
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


def test_ladder_takes_a_call_id_and_calls_lists_keepalive_rows(tmp_path: Path) -> None:
    paths = logs(tmp_path)
    by_id = runner.invoke(app, ["ladder", "--call", "c0ffee01@198.51.100.20", *paths])
    assert by_id.exit_code == 0, by_id.output
    assert by_id.output == runner.invoke(app, ["ladder", "--call", "1", *paths]).output
    unknown = runner.invoke(app, ["ladder", "--call", "nope@nowhere", *paths])
    assert unknown.exit_code == 2 and "no call nope@nowhere" in unknown.output
    body = json.loads(runner.invoke(app, ["calls", "--json", *paths]).output)
    (keepalive,) = body["background"]  # as the API gives it
    assert (keepalive["method"], keepalive["count"], keepalive["peer"]) == (
        "OPTIONS",
        10,
        "10.0.0.5:7001",
    )
    assert [c["messages"] for c in body["calls"]] == [16, 6]
    text = runner.invoke(app, ["calls", *paths]).output
    assert "Keep-alive and background traffic" in text and "OPTIONS   10 messages" in text
    assert "BYE from 198.51.100.20:50123" in text  # the end reason, as the list page shows it
    failed = json.loads(runner.invoke(app, ["calls", "--json", "--failed", *paths]).output)
    assert failed["background"] == []  # no OPTIONS failed
    # -q looks where the server's ?q= looks: the To URI of a message, the node
    assert (
        json.loads(runner.invoke(app, ["calls", "--json", "-q", "EXPC1", *paths]).output)["total"]
        == 1
    )


def test_calls_prints_a_logs_escape_sequences_as_pictures(tmp_path: Path) -> None:
    from tests.calls.scenarios import failed_mra_call
    from tests.calls.siplog import Node

    expe, expc = Node("expe1", "10.0.0.5"), Node("expc1", "10.0.0.2")
    failed_mra_call(expe, expc, number="55\x1b[2J51234")
    path = tmp_path / "loggingsnapshot_expe1_2018-01-01_17_56_00.txt"
    path.write_text(expe.text())
    text = runner.invoke(app, ["calls", str(path)]).output
    assert "\x1b" not in text and "55\u241b[2J51234" in text
    drawn = runner.invoke(app, ["ladder", "--call", "1", str(path)]).output
    assert "\x1b" not in drawn


def test_markdown_report_lists_the_failed_calls_when_call_flows_are_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = logs(tmp_path)
    text = runner.invoke(app, ["analyze", "--format", "md", *paths]).output  # on by default
    monkeypatch.setenv("LOUPE_CALL_FLOWS", "false")
    get_settings.cache_clear()
    without = runner.invoke(app, ["analyze", "--format", "md", *paths]).output
    assert "## Failed calls" not in without  # off: not extracted
    assert "## Failed calls" in text
    section = text.split("## Failed calls", 1)[1].split("\n## ", 1)[0]
    assert "sip:5551234@example.com" in section and "sip:5550000@example.com" not in section
