"""Validate a signature file whose findings come from a certificate analyzer, not from log lines.

Such a file has the usual id, title, severity, texts, references and examples, and
`match: {source: pem | pcap, analyzer: <name of app/analyzers/cert_checks.CHECKS>}` (or
`{source: xconf, analyzer: <name of app/analyzers/config_checks.CHECKS>}`, a configuration
check) instead of `contains` and `patterns`. Its examples name fixture files (`fixture: x.pem` or
`fixtures: [a.pcap, b.pem]`, relative to `fixtures/` next to the YAML file) instead of lines;
`loupe signatures test` and the library tests run the analyzer on them. The facts a template
may use are listed in each check's docstring and in library/README.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from app.analyzers.cert_checks import CHECKS
from app.analyzers.config_checks import CHECKS as CONFIG_CHECKS
from app.signatures.loader import _Builder
from app.signatures.model import NO_MATCH, Example, Pattern, Signature

ANALYZER_SOURCES = ("pem", "pcap")
CONFIG_SOURCES = ("xconf",)
"""A configuration check (app/analyzers/config_checks.py) reads the xconf dumps."""
FIXTURE_DIR = "fixtures"


class AnalyzerBuilder(_Builder):
    """The loader's validation, with analyzer-specific `match` and `examples`."""

    def __init__(self, file: str, stem: str, *, fixture_dir: Path) -> None:
        super().__init__(file, stem)
        self.fixture_dir = fixture_dir / FIXTURE_DIR

    def build(self, data: Any) -> Signature:
        match = self.mapping(self.mapping(data, "(top level)").get("match"), "match")
        analyzer = match.get("analyzer")
        source = match.get("source")
        if source in CONFIG_SOURCES:
            if analyzer not in CONFIG_CHECKS:
                raise self.fail(
                    "match.analyzer", f"'{analyzer}' is not one of {', '.join(CONFIG_CHECKS)}"
                )
        elif source not in ANALYZER_SOURCES:
            raise self.fail("match.source", "an analyzer signature reads pem, pcap or xconf")
        elif analyzer not in CHECKS:
            raise self.fail("match.analyzer", f"'{analyzer}' is not one of {', '.join(CHECKS)}")
        for key in match:
            if key not in ("source", "analyzer"):
                raise self.fail(f"match.{key}", "not used by an analyzer signature")
        return dataclasses.replace(super().build(data), analyzer=str(analyzer))

    def contains(self, value: Any) -> tuple[str, ...]:
        return ()

    def patterns(self, value: Any) -> tuple[Pattern, ...]:
        return ()

    def example(self, item: Any, index: int, contains: tuple[str, ...]) -> Example:
        return self.fixture_example(item, index)

    def fixture_example(self, item: Any, index: int) -> Example:
        field = f"examples[{index}]"
        entry = self.mapping(item, field)
        name = self.text(entry, "name", f"{field}.name")
        if ("fixture" in entry) == ("fixtures" in entry):
            raise self.fail(f"{field}.fixture", "give exactly one of 'fixture' or 'fixtures'")
        if "fixture" in entry:
            names: tuple[str, ...] = (self.text(entry, "fixture", f"{field}.fixture"),)
        else:
            names = self.str_list(entry["fixtures"], f"{field}.fixtures")
        paths = []
        for fixture in names:
            path = (self.fixture_dir / fixture).resolve()
            if not path.is_relative_to(self.fixture_dir.resolve()) or not path.is_file():
                raise self.fail(f"{field}.fixture", f"no file '{fixture}' in {FIXTURE_DIR}/")
            paths.append(str(path))
        if "expect" not in entry:
            raise self.fail(f"{field}.expect", "missing required field")
        raw = entry["expect"]
        expect: dict[str, Any] | None = None
        if raw != NO_MATCH:
            expect = dict(self.mapping(raw, f"{field}.expect"))
        source = entry.get("source")
        if source is not None and not (
            isinstance(source, str) and source.startswith(("https://", "http://"))
        ):
            raise self.fail(f"{field}.source", "must be an http(s) URL")
        for key in entry:
            if key not in ("name", "fixture", "fixtures", "expect", "source"):
                raise self.fail(f"{field}.{key}", "unknown field")
        return Example(name=name, lines=(), expect=expect, fixtures=tuple(paths), source=source)
