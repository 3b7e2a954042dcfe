"""The gate every use of an analysis goes through: the caller, the action, the policy."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.identity import Caller
from app.auth.policy import Action, permits, visible
from app.errors import NotFound
from app.models import Analysis


def not_found(analysis_id: str) -> NotFound:
    """The same answer for an analysis that does not exist and one the caller may not see."""
    return NotFound(
        f"No analysis with id '{analysis_id}'. Check the link, or upload the bundle again."
    )


def authorize(session: Session, caller: Caller, analysis_id: str, action: Action) -> Analysis:
    """The analysis, if `caller` may do `action` with it; NotFound otherwise."""
    analysis = session.get(Analysis, analysis_id)
    if analysis is None or not permits(caller, action, analysis):
        raise not_found(analysis_id)
    return analysis


@dataclass(frozen=True)
class Listing:
    total: int
    analyses: list[Analysis]


def list_visible(session: Session, caller: Caller, *, offset: int, limit: int) -> Listing:
    """The analyses `caller` may read, newest first, and how many there are."""
    condition = visible(caller)
    total = int(session.scalar(select(func.count()).select_from(Analysis).where(condition)) or 0)
    stmt = (
        select(Analysis)
        .where(condition)
        .order_by(Analysis.created_at.desc(), Analysis.id)
        .offset(offset)
        .limit(limit)
    )
    return Listing(total=total, analyses=list(session.scalars(stmt)))
