"""The audit log: uploads, share links made, used and revoked, deletions, logins."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.identity import Caller
from app.models import AuditEvent, utcnow

ACTIONS = (
    "upload",
    "login",
    "login_failed",
    "share_created",
    "share_revoked",
    "share_viewed",
    "deleted",
    "expired",
    "extended",
    "token_created",
    "token_revoked",
)


def record(
    session: Session,
    action: str,
    *,
    actor: Caller | str | None,
    analysis_id: str | None = None,
    address: str | None = None,
    detail: str = "",
) -> None:
    """Add one event and commit it."""
    name = actor.label if isinstance(actor, Caller) else actor
    session.add(
        AuditEvent(
            at=utcnow(),
            actor=name,
            action=action,
            analysis_id=analysis_id,
            address=(address or "")[:64] or None,
            detail=detail[:2000],
        )
    )
    session.commit()


def page(session: Session, *, offset: int, limit: int) -> tuple[int, list[AuditEvent]]:
    """The newest events first, and how many there are."""
    total = int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    stmt = (
        select(AuditEvent)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return total, list(session.scalars(stmt))
