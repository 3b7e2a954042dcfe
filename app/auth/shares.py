"""Share links: a secret URL that opens one analysis read-only until it expires or is revoked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import keys
from app.errors import NotFound
from app.ids import new_id
from app.models import ShareLink, utcnow

MAX_DAYS = 365


@dataclass(frozen=True)
class NewShare:
    row: ShareLink
    secret: str  # in the URL; shown once, never stored


def share_path(secret: str) -> str:
    return f"/s/{secret}"


def create(session: Session, analysis_id: str, created_by: str | None, days: int) -> NewShare:
    secret = keys.new_secret()
    now = utcnow()
    row = ShareLink(
        id=new_id(),
        analysis_id=analysis_id,
        token_hash=keys.digest(secret),
        created_by=created_by,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(row)
    session.commit()
    return NewShare(row=row, secret=secret)


def of_analysis(session: Session, analysis_id: str) -> list[ShareLink]:
    stmt = (
        select(ShareLink)
        .where(ShareLink.analysis_id == analysis_id)
        .order_by(ShareLink.created_at.desc())
    )
    return list(session.scalars(stmt))


def revoke(session: Session, analysis_id: str, share_id: str) -> ShareLink:
    row = session.get(ShareLink, share_id)
    if row is None or row.analysis_id != analysis_id:
        raise NotFound("This analysis has no such share link.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
    return row


def live(session: Session, secret: str) -> ShareLink | None:
    """The share link of `secret` if it is neither revoked nor expired."""
    hashed = keys.digest(secret)
    row = session.scalars(select(ShareLink).where(ShareLink.token_hash == hashed)).first()
    if row is None or not keys.matches(secret, row.token_hash):
        return None
    if row.revoked_at is not None or row.expires_at < utcnow():
        return None
    return row
