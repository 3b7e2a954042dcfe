"""Analyses: create one from an upload, read it for the views, move it through its states."""

from __future__ import annotations

import secrets
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from app import serialize
from app.errors import NotFound
from app.models import Analysis, AnalysisRun, FindingRow, StoredFile, utcnow
from app.schemas import AnalysisOut
from app.services import storage
from app.services.uploads import ReceivedUpload

ACTIVE = ("queued", "running")


def new_id() -> str:
    """An opaque, unguessable id: 128 bits from the OS's CSPRNG, URL-safe."""
    return secrets.token_urlsafe(16)


def create(session: Session, *, upload: ReceivedUpload, data_dir: Path) -> Analysis:
    """Store the staged files and a queued Analysis in one transaction; nothing remains on error."""
    analysis_id = new_id()
    target = storage.uploads_dir(data_dir, analysis_id)
    try:
        target.parent.mkdir(parents=True, exist_ok=False)
        shutil.move(str(upload.staging), str(target))
        analysis = Analysis(id=analysis_id, title=upload.title, status="queued", warnings=[])
        for position, incoming in enumerate(upload.files):
            stored = target / incoming.path.name
            analysis.files.append(
                StoredFile(
                    position=position,
                    name=incoming.name,
                    size=incoming.size,
                    sha256=incoming.sha256,
                    storage_path=storage.relative_to_data(data_dir, stored),
                )
            )
        analysis.runs.append(AnalysisRun(number=1))
        session.add(analysis)
        session.commit()
    except BaseException:
        session.rollback()
        storage.remove_analysis(data_dir, analysis_id)
        upload.discard()
        raise
    return analysis


def get(session: Session, analysis_id: str) -> Analysis:
    analysis = session.get(Analysis, analysis_id)
    if analysis is None:
        raise NotFound(
            f"No analysis with id '{analysis_id}'. Check the link, or upload the bundle again."
        )
    return analysis


def current_findings(session: Session, analysis: Analysis) -> list[FindingRow]:
    """The findings of the analysis' current run, with snippets, in display order."""
    stmt = (
        select(FindingRow)
        .join(AnalysisRun)
        .where(AnalysisRun.analysis_id == analysis.id, AnalysisRun.number == analysis.current_run)
        .options(selectinload(FindingRow.snippets))
        .order_by(FindingRow.severity_rank, FindingRow.signature_id, FindingRow.node, FindingRow.id)
    )
    return list(session.scalars(stmt))


def view(session: Session, analysis_id: str) -> AnalysisOut:
    """The public JSON view of an analysis (also what the HTML page renders)."""
    stmt = (
        select(Analysis)
        .where(Analysis.id == analysis_id)
        .options(selectinload(Analysis.files), selectinload(Analysis.nodes))
    )
    analysis = session.scalars(stmt).one_or_none()
    if analysis is None:
        raise NotFound(
            f"No analysis with id '{analysis_id}'. Check the link, or upload the bundle again."
        )
    findings = current_findings(session, analysis) if analysis.status == "done" else []
    return serialize.analysis_out(analysis, findings)


def list_recent(session: Session, limit: int = 20) -> list[Analysis]:
    stmt = select(Analysis).order_by(Analysis.created_at.desc()).limit(limit)
    return list(session.scalars(stmt))


def claim(session: Session, analysis_id: str, worker: str, stale_after: timedelta) -> bool:
    """Atomically move an analysis to running for `worker`; False if another worker has it."""
    now = utcnow()
    stmt = (
        update(Analysis)
        .where(Analysis.id == analysis_id)
        .where(
            (Analysis.status == "queued")
            | ((Analysis.status == "running") & (Analysis.heartbeat_at < now - stale_after))
            | ((Analysis.status == "running") & (Analysis.heartbeat_at.is_(None)))
        )
        .values(
            status="running",
            started_at=now,
            heartbeat_at=now,
            worker=worker,
            attempts=Analysis.attempts + 1,
            progress=0,
            error=None,
        )
    )
    claimed = bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]
    session.commit()
    return claimed


def heartbeat(session: Session, analysis_id: str, worker: str, progress: int | None = None) -> None:
    values: dict[str, object] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = progress
    session.execute(
        update(Analysis)
        .where(Analysis.id == analysis_id, Analysis.worker == worker, Analysis.status == "running")
        .values(**values)
    )
    session.commit()


def fail(session: Session, analysis_id: str, reason: str, worker: str | None = None) -> None:
    stmt = update(Analysis).where(Analysis.id == analysis_id)
    if worker is not None:
        stmt = stmt.where(Analysis.worker == worker)
    session.execute(stmt.values(status="failed", error=reason, finished_at=utcnow(), progress=100))
    session.commit()


def requeue_orphans(session: Session, *, older_than: datetime | None = None) -> list[str]:
    """Put back to queued the analyses whose worker is gone; returns their ids.

    With `older_than=None` every queued or running analysis is an orphan (the embedded runner
    calls this at start-up: in a single process, nothing else can be working on them).
    """
    stmt = select(Analysis.id).where(Analysis.status.in_(ACTIVE))
    if older_than is not None:
        stmt = stmt.where(
            (Analysis.status == "queued") & (Analysis.created_at < older_than)
            | (Analysis.status == "running")
            & ((Analysis.heartbeat_at < older_than) | Analysis.heartbeat_at.is_(None))
        )
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(
            update(Analysis)
            .where(Analysis.id.in_(ids), Analysis.status == "running")
            .values(status="queued", worker=None)
        )
        session.commit()
    return ids
