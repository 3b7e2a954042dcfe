"""Browser logins: a session row per login (the cookie holds the secret, the row its hash)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.auth import keys
from app.models import LoginSession, User, utcnow


def start(session: Session, user: User, lifetime: timedelta) -> str:
    """Record a login for `user`; returns the secret to put in the cookie."""
    secret = keys.new_secret()
    now = utcnow()
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    session.add(
        LoginSession(
            user_id=user.id,
            token_hash=keys.digest(secret),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.commit()
    return secret


def user_of(session: Session, secret: str) -> User | None:
    """The enabled user of a live login, else None."""
    hashed = keys.digest(secret)
    row = session.scalars(select(LoginSession).where(LoginSession.token_hash == hashed)).first()
    if row is None or not keys.matches(secret, row.token_hash) or row.expires_at < utcnow():
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and not user.disabled else None


def end(session: Session, secret: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == keys.digest(secret)))
    session.commit()
