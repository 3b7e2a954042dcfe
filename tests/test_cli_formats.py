"""`loupe analyze --format text|md|json` and `--coverage`: what the terminal and case notes get."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import EXIT_FINDINGS, app
from tests.test_api import seed_bundle

runner = CliRunner()
REAL_LOG = (
    Path(__file__).resolve().parent.parent.parent / "shared/data/real/expressway-e_mra_call.txt"
)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUPE_CACHE_DIR", str(tmp_path / "cache"))
    from app.config import get_settings

    get_settings.cache_clear()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "diagnostic_log_vcsc.tar.gz"
    path.write_bytes(seed_bundle("self_signed"))
    return path


def test_text_prints_findings_first_then_one_coverage_line(bundle: Path) -> None:
    result = runner.invoke(app, ["analyze", str(bundle)])
    assert result.exit_code == EXIT_FINDINGS, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"\d+ finding\(s\), ruleset \w+:", lines[0])
    summary = [line for line in lines if re.search(r"signatures? looked, \d+ could not", line)]
    assert len(summary) == 1 and summary[0] == lines[-1]
    if not summary[0].endswith("could not."):
        assert summary[0].endswith("--coverage lists those that could not.")
    assert "could not  " not in result.stdout  # the list itself only with --coverage
    # signature texts as plain text: no Markdown marks, menu paths readable
    assert "Maintenance > Security > Trusted CA certificate" in result.stdout
    assert "*Maintenance" not in result.stdout
    # times: UTC to the millisecond
    assert re.search(r"seen 1x, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z\n", result.stdout)


def test_coverage_option_lists_every_signature(bundle: Path) -> None:
    result = runner.invoke(app, ["analyze", "--coverage", str(bundle)])
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "looked," in line)
    listed = lines[start + 1 :]
    assert listed and all(re.match(r"  (could not|matched|passed)\s+[a-z0-9-]+", x) for x in listed)
    assert any(line.startswith("  matched    mra-traffic-server-cert") for line in listed)


def test_markdown_format_is_the_case_report(bundle: Path) -> None:
    result = runner.invoke(app, ["analyze", "--format", "md", "--title", "SR 42", str(bundle)])
    assert result.exit_code == EXIT_FINDINGS, result.output
    text = result.stdout
    assert text.startswith("# logloupe report: SR 42\n")
    assert "| vcsc | Expressway-C | X14.2.1 |" in text
    assert "## Verdict\n\nProblems:" in text
    assert "### 1. \\[ERROR\\] MRA fails: Traffic Server rejects" in text
    assert "CSCwc69661" in text or "bugsearch" in text
    assert re.search(
        r"\n```text\n[^`]*Core server certificate verification failed[^`]*\n```\n", text
    )
    assert "analysing" not in text  # no progress bar in the report


def test_format_json_and_the_json_alias_agree(bundle: Path) -> None:
    by_format = json.loads(runner.invoke(app, ["analyze", "--format", "json", str(bundle)]).stdout)
    by_alias = json.loads(runner.invoke(app, ["analyze", "--json", str(bundle)]).stdout)
    assert by_format.keys() == by_alias.keys()
    assert by_format["findings"] == by_alias["findings"]


@pytest.mark.skipif(not REAL_LOG.is_file(), reason="the shared real log is not here")
def test_the_real_public_log_reads_in_both_formats() -> None:
    text = runner.invoke(app, ["analyze", str(REAL_LOG)])
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0].startswith("No known problem found")
    assert re.search(r"\d+ signatures looked, \d+ could not", text.stdout.splitlines()[-1])
    md = runner.invoke(app, ["analyze", "--format", "md", str(REAL_LOG)]).stdout
    assert "| vm-bluck-fed-vcse1 | Expressway-E |" in md
    assert "## Findings (0)" in md
