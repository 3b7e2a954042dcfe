"""API tokens for scripts: made (shown once), listed, revoked, and looked up by their hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth import keys
from app.auth.users import UserInvalid, check_name
from app.errors import NotFound
from app.models import ApiToken, User, utcnow

MAX_DAYS = 3650
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


@dataclass(frozen=True)
class NewToken:
    row: ApiToken
    secret: str  # shown once, never stored


def create(session: Session, user: User, name: str, expires_days: int | None) -> NewToken:
    check_name(name, "token name")
    if expires_days is not None and not 1 <= expires_days <= MAX_DAYS:
        raise UserInvalid(f"A token expires after 1 to {MAX_DAYS} days.")
    secret = keys.new_secret()
    now = utcnow()
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=keys.digest(secret),
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    session.add(row)
    session.commit()
    return NewToken(row=row, secret=secret)


def of_user(session: Session, user: User) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
    return list(session.scalars(stmt))


def revoke(session: Session, user: User, token_id: int) -> None:
    """Revoke one of `user`'s tokens (an admin may revoke anyone's); NotFound otherwise."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != user.id and not user.admin):
        raise NotFound("No such token.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()


def user_of(session: Session, secret: str) -> User | None:
    """The enabled user of a live token, else None."""
    hashed = keys.digest(secret)
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == hashed)).first()
    now = utcnow()
    if row is None or not keys.matches(secret, row.token_hash) or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at < now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    if row.last_used_at is None or row.last_used_at < now - TOUCH_EVERY:
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        session.commit()
    return user
