"""A healthy Expressway log exported by a syslog server with BSD timestamps, uploaded alone under
a name that says nothing, earns a verdict: clear, resting on its lines, never inconclusive."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import EXIT_INCONCLUSIVE, app
from tests.corpus import healthy_expressway_c_loggingsnapshot

runner = CliRunner()
_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\S+) ")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUPE_CACHE_DIR", str(tmp_path / "cache"))
    from app.config import get_settings

    get_settings.cache_clear()


def bsd_export(host: str, lines: int) -> str:
    """The healthy loggingsnapshot as rsyslog's traditional file format writes it: `<PRI>`,
    `Mar  2 10:00:00`, host, the tag twice."""

    def relayed(line: str) -> str:
        match = _ISO.match(line)
        if match is None:
            return line
        moment = datetime.fromisoformat(match[1])
        rest = line[match.end() :]
        host_field, _, after = rest.partition(" ")
        tag, _, message = after.partition(" ")
        name = tag.split("[", 1)[0].removesuffix(":")
        stamp = f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S}"
        return f"<166>{stamp} {host_field} {tag} {name}: {message}"

    text = healthy_expressway_c_loggingsnapshot(host, n_lines=lines)
    return "\r\n".join(relayed(line) for line in text.splitlines()) + "\r\n"


def test_a_healthy_bsd_export_is_clear_not_inconclusive(tmp_path: Path) -> None:
    export = tmp_path / "syslog-export"
    export.write_text(bsd_export("vcsc", 300), newline="")
    assert not re.search(r"(?m)^\d{4}-", export.read_text())
    result = runner.invoke(app, ["analyze", "--json", str(export)])
    assert result.exit_code not in (EXIT_INCONCLUSIVE, 2), result.output
    body = json.loads(result.stdout)
    assert body["verdict"] == "clear", body["verdict_detail"]
    detail = body["verdict_detail"]
    assert detail["lines_examined"] >= 300
    assert [(e["node"], e["kind"], e["expressway"]) for e in detail["examined"]] == [
        ("vcsc", "log", True)  # read by content as an Expressway log, its node from the lines
    ]
