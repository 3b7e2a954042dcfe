"""Fixtures for the HTML pages: an app without a worker; analyses written straight to the DB."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.bundle.stored import StoredWriter
from app.bundle.writer import BufferedWriter
from app.config import Settings
from app.db import Database
from app.ids import new_id
from app.main import create_app
from app.models import (
    Analysis,
    AnalysisRun,
    BundleFileRow,
    FindingRow,
    Node,
    SnippetRow,
    StoredFile,
)
from app.report import SEVERITY_ORDER
from app.services import storage

HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def quiet_settings(migrated: Settings) -> Settings:
    """Migrated settings with no embedded worker: rows written by a test stay as written."""
    return migrated.model_copy(update={"embedded_worker": False})


@pytest.fixture
def page_client(quiet_settings: Settings) -> Iterator[TestClient]:
    """A browser-like client (asks for HTML) on an app whose analyses never start by themselves."""
    with TestClient(create_app(quiet_settings), headers=HTML) as client:
        yield client


@dataclass
class SnippetSpec:
    file: str
    line: int
    text: str


@dataclass
class FindingSpec:
    signature_id: str = "mra-traffic-server-cert-verification"
    title: str = "MRA: Traffic Server cannot verify the UCM certificate"
    severity: str = "error"
    bug_ids: list[str] = field(default_factory=lambda: ["CSCwc69661", "CSCwa25108"])
    node: str | None = "vcsc"
    description: str = "Traffic Server refused the certificate.\n- first reason\n- second reason"
    condition: str = "MRA with TLS verify on."
    further_info: str = "See doc 218018."
    action: str = "Upload the CA to the Expressway-C trust store."
    facts: dict[str, Any] = field(default_factory=lambda: {"reason": "self_signed", "depth": 0})
    snippets: list[SnippetSpec] = field(default_factory=list)
    count: int = 2
    first_seen: str | None = "2022-07-11T19:49:01.533+02:00"
    last_seen: str | None = "2022-07-11T19:50:02.000+02:00"
    status: str | None = "stable"  # signature_status; None: a run saved before 0011


def add_analysis(
    settings: Settings,
    *,
    status: str = "done",
    title: str | None = "SR 1234",
    error: str | None = None,
    warnings: Sequence[str] = (),
    progress: int = 0,
    files: dict[str, bytes] | None = None,
    findings: Sequence[FindingSpec] = (),
    kinds: dict[str, str] | None = None,
    ruleset_version: str | None = "rs-test-1",
    coverage: list[dict[str, Any]] | None = None,
    examined: list[dict[str, Any]] | None = None,
    sha256: str = "ab" * 32,
    compressed: bool = False,
) -> str:
    """Write an analysis as the worker would have left it; `files` are its unpacked files
    (written plain, as analyses before compression kept them, or as the unpacker keeps them
    now when `compressed`), `coverage` and `examined` what its run stored (AnalysisRun
    columns)."""
    data_dir = settings.resolved_data_dir
    analysis_id = new_id()
    analysis = Analysis(
        id=analysis_id,
        title=title,
        status=status,
        error=error,
        warnings=list(warnings),
        progress=progress,
        ruleset_version=ruleset_version if status == "done" else None,
    )
    analysis.files.append(
        StoredFile(
            position=0,
            name="diagnostic_log_vcsc.tar.gz",
            size=12345,
            sha256=sha256,
            storage_path=f"analyses/{analysis_id}/uploads/000",
        )
    )
    if status == "done":
        analysis.nodes.append(
            Node(
                position=0,
                bundle="diagnostic_log_vcsc.tar.gz",
                hostname="vcsc",
                product="Expressway-C",
                version="X14.2.1",
            )
        )
    work = storage.work_dir(data_dir, analysis_id)
    for position, (name, content) in enumerate((files or {}).items()):
        path = work / f"{position:03d}" / name.rsplit("/", 1)[-1]
        path.parent.mkdir(parents=True, exist_ok=True)
        if compressed:
            path = write_stored(path, content)
        else:
            path.write_bytes(content)
        analysis.bundle_files.append(
            BundleFileRow(
                name=name,
                kind=(kinds or {}).get(name, "loggingsnapshot"),
                size=len(content),
                bundle="diagnostic_log_vcsc.tar.gz",
                storage_path=storage.relative_to_data(data_dir, path),
            )
        )
    run = AnalysisRun(
        number=1, ruleset_version=analysis.ruleset_version, coverage=coverage, examined=examined
    )
    for spec in findings:
        run.findings.append(
            FindingRow(
                signature_id=spec.signature_id,
                title=spec.title,
                severity=spec.severity,
                severity_rank=SEVERITY_ORDER.get(spec.severity, 9),
                signature_status=spec.status,
                bug_ids=spec.bug_ids,
                node=spec.node,
                description=spec.description,
                condition=spec.condition,
                further_info=spec.further_info,
                action=spec.action,
                facts=spec.facts,
                count=spec.count,
                first_seen=spec.first_seen,
                last_seen=spec.last_seen,
                snippets=[
                    SnippetRow(position=i, file=s.file, line=s.line, text=s.text)
                    for i, s in enumerate(spec.snippets)
                ],
            )
        )
    analysis.runs.append(run)
    db = Database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            session.add(analysis)
            session.commit()
    finally:
        db.dispose()
    return analysis_id


def write_stored(path: Path, content: bytes) -> Path:
    """Write `content` as the unpacker does (compressed from 1 MiB on); returns where it went."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    writer = StoredWriter(path, BufferedWriter(handle))
    writer.write(content)
    writer.close()
    return writer.path


def log_text(lines: int, prefix: str = "line") -> bytes:
    """A log of `lines` numbered lines: 'line 1', 'line 2', ..."""
    return "".join(f"{prefix} {n}\n" for n in range(1, lines + 1)).encode()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
