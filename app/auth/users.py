"""Accounts: add, list, disable, and check a name and password (LOUPE_AUTH=local)."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.identity import Caller
from app.auth.passwords import hash_password, verify_password
from app.errors import LoupeError, NotFound
from app.models import User

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")


class UserInvalid(LoupeError):
    status_code = 422


def check_name(name: str, what: str = "user name") -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise UserInvalid(
            f"The {what} '{name}' is not valid: use 1 to 100 letters, digits, '.', '_', '@' or "
            "'-', starting with a letter or digit."
        )
    return name


def add(
    session: Session, name: str, password: str, *, team: str | None = None, admin: bool = False
) -> User:
    """A new account; raises UserInvalid for a taken or invalid name or a weak password."""
    check_name(name)
    if team is not None:
        check_name(team, "team name")
    if find(session, name) is not None:
        raise UserInvalid(f"There is already a user named '{name}'.")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise UserInvalid(str(exc)) from exc
    user = User(name=name, password_hash=password_hash, team=team, admin=admin, disabled=False)
    session.add(user)
    session.commit()
    return user


def find(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(func.lower(User.name) == name.lower())).first()


def get(session: Session, name: str) -> User:
    user = find(session, name)
    if user is None:
        raise NotFound(f"There is no user named '{name}'.")
    return user


def sign_on(session: Session, name: str, team: str | None) -> User | None:
    """The account of someone the sign-on provider vouched for, made at the first login; its
    team follows the provider's. None for a disabled account."""
    user = find(session, name)
    if user is None:
        user = User(name=name, password_hash=None, team=team, admin=False, disabled=False)
        session.add(user)
    elif team is not None and user.team != team:
        user.team = team
    session.commit()
    return None if user.disabled else user


def list_all(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def disable(session: Session, name: str) -> User:
    """Disable an account: its logins, sessions and API tokens stop working at once."""
    user = get(session, name)
    user.disabled = True
    session.commit()
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The enabled user with this name and password, else None (same cost either way)."""
    user = find(session, name) if NAME_PATTERN.fullmatch(name) else None
    ok = verify_password(password, user.password_hash if user is not None else None)
    if user is None or not ok or user.disabled:
        return None
    return user


def caller_of(user: User, via: str) -> Caller:
    return Caller(name=user.name, team=user.team, admin=user.admin, via=via)


def only_admin(session: Session) -> User:
    """The one enabled admin (the default owner of tokens made on the command line)."""
    admins = list(session.scalars(select(User).where(User.admin, User.disabled.is_(False))))
    if len(admins) != 1:
        raise UserInvalid(
            "Name the user with --user: there are "
            + ("no admins" if not admins else f"{len(admins)} admins")
            + " to choose from."
        )
    return admins[0]
