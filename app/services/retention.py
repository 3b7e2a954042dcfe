"""Deleting analyses (on request or when they expire) and extending how long they are kept.

An analysis is deleted in two steps: its rows (the database cascades to files, runs, findings,
share links) in one atomic statement that refuses a running analysis, then its directory under
the data dir (upload, unpacked files, indexes, saved JSON). The URL answers 404 from the first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.errors import LoupeError, NotFound
from app.models import Analysis, utcnow
from app.services import storage

log = logging.getLogger(__name__)

MAX_EXTEND_DAYS = 3650


class AnalysisRunning(LoupeError):
    status_code = 409


class ExtendInvalid(LoupeError):
    status_code = 422


def expiry(retention_days: int, start: datetime | None = None) -> datetime | None:
    """When an analysis made at `start` (default now) expires; None when kept forever."""
    if retention_days <= 0:
        return None
    return (start or utcnow()) + timedelta(days=retention_days)


def delete_analysis(session: Session, data_dir: Path, analysis_id: str) -> bool:
    """Remove the analysis' rows and files; False if it was already gone.

    Raises AnalysisRunning while a worker holds it (its files are being written).
    """
    removed = session.execute(
        delete(Analysis).where(Analysis.id == analysis_id, Analysis.status != "running")
    )
    session.commit()
    if removed.rowcount != 1:  # type: ignore[attr-defined]
        if session.get(Analysis, analysis_id) is not None:
            raise AnalysisRunning(
                "The analysis is running: wait until it is done or failed, then delete it."
            )
        return False
    remove_files(data_dir, analysis_id)
    return True


def remove_files(data_dir: Path, analysis_id: str) -> None:
    directory = storage.analysis_dir(data_dir, analysis_id)
    storage.remove_analysis(data_dir, analysis_id)
    if directory.exists():
        log.error("analysis %s: could not remove every file under %s", analysis_id, directory)


def extend(session: Session, analysis_id: str, days: int) -> datetime | None:
    """Keep the analysis until `days` days from now (never shortens it); returns the expiry,
    None for an analysis kept forever."""
    if not 1 <= days <= MAX_EXTEND_DAYS:
        raise ExtendInvalid(f"Extend by 1 to {MAX_EXTEND_DAYS} days.")
    analysis = session.get(Analysis, analysis_id)
    if analysis is None:
        raise NotFound(f"No analysis with id '{analysis_id}'.")
    wanted = utcnow() + timedelta(days=days)
    if analysis.expires_at is None or analysis.expires_at >= wanted:
        return analysis.expires_at
    session.execute(update(Analysis).where(Analysis.id == analysis_id).values(expires_at=wanted))
    session.commit()
    return wanted


def expired(session: Session, now: datetime | None = None, limit: int = 100) -> list[str]:
    """Ids of analyses past their expiry that no worker holds, oldest first."""
    stmt = (
        select(Analysis.id)
        .where(Analysis.expires_at < (now or utcnow()), Analysis.status != "running")
        .order_by(Analysis.expires_at)
        .limit(limit)
    )
    return list(session.scalars(stmt))
