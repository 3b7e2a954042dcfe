"""Read the certificates of an analysis' current run: what its captures showed, and the nodes'
own server certificates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AnalysisRun
from app.services import analyses


def current_certificates(session: Session, analysis_id: str) -> list[dict[str, Any]]:
    """The chains of the current run; empty until the run is done. Raises NotFound."""
    return _current(session, analysis_id, AnalysisRun.certificates)


def current_server_certificates(session: Session, analysis_id: str) -> list[dict[str, Any]]:
    """The nodes' own server certificates of the current run (empty until done). Raises NotFound."""
    return _current(session, analysis_id, AnalysisRun.server_certificates)


def _current(session: Session, analysis_id: str, column: Any) -> list[dict[str, Any]]:
    analysis = analyses.get(session, analysis_id)
    if analysis.status != "done":
        return []
    stored = session.scalars(
        select(column).where(
            AnalysisRun.analysis_id == analysis_id, AnalysisRun.number == analysis.current_run
        )
    ).one_or_none()
    return list(stored or [])
