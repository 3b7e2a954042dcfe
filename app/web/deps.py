"""FastAPI dependencies: the app's settings, database sessions, signature library, dispatcher."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.errors import ServiceUnavailable
from app.jobs import Dispatcher
from app.signatures import Library


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(request: Request) -> Iterator[Session]:
    db: Database = request.app.state.db
    try:
        with db.session() as session:
            yield session
    except OperationalError as exc:
        raise ServiceUnavailable(
            "The database is not reachable right now; nothing was stored. Try again in a minute."
        ) from exc


def get_library(request: Request) -> Library:
    library: Library = request.app.state.library
    return library


def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, Depends(get_session)]
LibraryDep = Annotated[Library, Depends(get_library)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
