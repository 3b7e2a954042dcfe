"""Analyses: create one from an upload, read it for the views, move it through its states."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from app import serialize
from app.errors import LoupeError, NotFound
from app.ids import new_id
from app.models import Analysis, AnalysisRun, FindingRow, StoredFile, utcnow
from app.schemas import AnalysisOut, DeltaOut
from app.services import findings as findings_service
from app.services import storage
from app.services.uploads import ReceivedUpload

ACTIVE = ("queued", "running")


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
        .options(
            selectinload(Analysis.files),
            selectinload(Analysis.nodes),
            selectinload(Analysis.runs),
        )
    )
    analysis = session.scalars(stmt).one_or_none()
    if analysis is None:
        raise NotFound(
            f"No analysis with id '{analysis_id}'. Check the link, or upload the bundle again."
        )
    done = analysis.status == "done"
    findings = current_findings(session, analysis) if done else []
    current = next((r for r in analysis.runs if r.number == analysis.current_run), None)
    return serialize.analysis_out(
        analysis,
        findings,
        runs=analysis.runs,
        coverage=serialize.coverage_from_json(current.coverage) if done and current else [],
        delta=run_delta(session, analysis, findings) if done else None,
    )


# --- re-runs: the same files through the current library, history kept ---------------------


class AnalysisBusy(LoupeError):
    """The analysis is queued or running: it cannot be re-run now."""

    status_code = 409


def run_delta(session: Session, analysis: Analysis, findings: list[FindingRow]) -> DeltaOut | None:
    """The current run against the latest earlier run that finished; None for a first run."""
    current = next((r for r in analysis.runs if r.number == analysis.current_run), None)
    earlier = [
        r for r in analysis.runs if r.number < analysis.current_run and r.finished_at is not None
    ]
    if current is None or not earlier:
        return None
    previous = max(earlier, key=lambda r: r.number)
    before = findings_service.run_findings(session, previous.id)
    return findings_service.delta(previous, before, current, findings)


def rerun(session: Session, analysis_id: str) -> Analysis:
    """Queue a new run of a finished (done or failed) analysis; raises NotFound, AnalysisBusy.

    The earlier runs keep their findings and coverage; the new run's row is added and becomes
    the current one. The caller dispatches the analysis after this commits.
    """
    analysis = get(session, analysis_id)
    if analysis.status in ACTIVE:
        raise AnalysisBusy(
            f"The analysis is {analysis.status}: wait until it is done, then re-run it."
        )
    number = analysis.current_run + 1
    moved = session.execute(
        update(Analysis)
        .where(
            Analysis.id == analysis_id,
            Analysis.status.not_in(ACTIVE),
            Analysis.current_run == analysis.current_run,
        )
        .values(
            status="queued",
            current_run=number,
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
            worker=None,
            error=None,
            progress=0,
            attempts=0,
            ruleset_version=None,
            dispatched_at=utcnow(),
        )
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise AnalysisBusy("The analysis was re-run by someone else a moment ago.")
    session.add(AnalysisRun(analysis_id=analysis_id, number=number))
    session.commit()
    session.refresh(analysis)
    return analysis


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
            # the same worker thread again (a retry after a database outage): it is not busy
            | ((Analysis.status == "running") & (Analysis.worker == worker))
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


def requeue_stale(session: Session, *, stale_before: datetime) -> list[str]:
    """Put back to queued (to be sent again) the running analyses with no heartbeat since then.

    A worker that is only slow, not dead, loses the analysis: its `save_report` sees another
    worker's claim and stores nothing, so findings are never duplicated.
    """
    stmt = select(Analysis.id).where(
        Analysis.status == "running",
        (Analysis.heartbeat_at < stale_before) | Analysis.heartbeat_at.is_(None),
    )
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(
            update(Analysis)
            .where(
                Analysis.id.in_(ids),
                Analysis.status == "running",
                (Analysis.heartbeat_at < stale_before) | Analysis.heartbeat_at.is_(None),
            )
            .values(status="queued", worker=None, dispatched_at=None)
        )
    session.commit()
    return ids


def due_for_dispatch(session: Session, *, sent_before: datetime, limit: int = 500) -> list[str]:
    """Queued analyses never sent to the broker, or last sent before `sent_before`, oldest first."""
    stmt = (
        select(Analysis.id)
        .where(
            Analysis.status == "queued",
            Analysis.dispatched_at.is_(None) | (Analysis.dispatched_at < sent_before),
        )
        .order_by(Analysis.created_at)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def mark_dispatched(session: Session, analysis_id: str, *, sent_before: datetime) -> bool:
    """Record that this process sends the analysis now; False if another sweeper just did."""
    stmt = (
        update(Analysis)
        .where(
            Analysis.id == analysis_id,
            Analysis.status == "queued",
            Analysis.dispatched_at.is_(None) | (Analysis.dispatched_at < sent_before),
        )
        .values(dispatched_at=utcnow())
    )
    marked = bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]
    session.commit()
    return marked


def forget_dispatch(session: Session, analysis_id: str) -> None:
    """The message could not be sent: the next sweep sends it."""
    session.execute(
        update(Analysis)
        .where(Analysis.id == analysis_id, Analysis.status == "queued")
        .values(dispatched_at=None)
    )
    session.commit()


def count_with_status(session: Session, status: str) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Analysis).where(Analysis.status == status))
        or 0
    )


@dataclass(frozen=True)
class Stats:
    """What the metrics endpoint reports, read from the database at scrape time."""

    by_status: dict[str, int]
    durations: list[float]  # seconds from start to finish of every finished analysis
    bytes_analysed: int  # uploaded bytes of the analyses that are done


def stats(session: Session) -> Stats:
    counted = select(Analysis.status, func.count()).group_by(Analysis.status)
    by_status: dict[str, int] = dict(session.execute(counted).all())
    durations = [
        (finished - started).total_seconds()
        for started, finished in session.execute(
            select(Analysis.started_at, Analysis.finished_at).where(
                Analysis.status.in_(("done", "failed")),
                Analysis.started_at.is_not(None),
                Analysis.finished_at.is_not(None),
            )
        )
        if started is not None and finished is not None
    ]
    analysed = session.scalar(
        select(func.coalesce(func.sum(StoredFile.size), 0))
        .join(Analysis, StoredFile.analysis_id == Analysis.id)
        .where(Analysis.status == "done")
    )
    return Stats(by_status=by_status, durations=durations, bytes_analysed=int(analysed or 0))
