"""Helpers for the access tests: users, tokens and analyses made straight in the database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.auth import api_tokens, users
from app.config import Settings
from app.db import Database
from app.models import Analysis

PASSWORD = "correct horse battery staple"
HTML = {"accept": "text/html,application/xhtml+xml"}


@contextmanager
def database(settings: Settings) -> Iterator[Session]:
    db = Database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            yield session
    finally:
        db.dispose()


def add_user(
    settings: Settings, name: str, *, team: str | None = None, admin: bool = False
) -> None:
    with database(settings) as session:
        users.add(session, name, PASSWORD, team=team, admin=admin)


def token_for(settings: Settings, name: str, expires_days: int | None = None) -> str:
    with database(settings) as session:
        return api_tokens.create(session, users.get(session, name), "test", expires_days).secret


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def set_analysis(settings: Settings, analysis_id: str, **values: str | datetime | None) -> None:
    with database(settings) as session:
        session.execute(update(Analysis).where(Analysis.id == analysis_id).values(**values))
        session.commit()


def csrf_token(client: TestClient) -> str:
    """The CSRF token of this client's cookie, as the login page's form carries it."""
    page = client.get("/login", headers=HTML)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def post_form(
    client: TestClient, path: str, data: dict[str, str] | None = None, **kwargs: Any
) -> Any:
    """A form post as the browser sends it: the fields and the page's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token(client), **(data or {})}, **kwargs)


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> None:
    response = post_form(
        client, "/login", {"name": name, "password": password, "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
