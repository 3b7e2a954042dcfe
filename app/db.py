"""Database engine and sessions: SQLite (WAL, foreign keys) by default, or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


CONNECT_TIMEOUT_SECONDS = 5
TRIM_WAIT_MS = 200
WAL_SIZE_LIMIT = 4 * 2**20
"""Bytes an SQLite write-ahead log is cut back to once checkpointed (journal_size_limit):
without it the -wal file keeps the size of the largest transaction for good, the ~15 MB of a
1 GiB analysis' calls written a second time in the data dir."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL and foreign keys, PostgreSQL a pre-pinged pool."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # a PostgreSQL that is down or unreachable must fail a request fast (503), not hang it
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )


class Database:
    """An engine plus its session factory; one per process (and per test)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that rolls back on error and always closes."""
        session = self.sessionmaker()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def trim_log(self) -> bool:
        """SQLite: checkpoint the write-ahead log and cut it to nothing, unless a reader or
        writer holds it for more than TRIM_WAIT_MS (then it is left for a later checkpoint,
        which cuts it back to WAL_SIZE_LIMIT). A large save (an analysis' calls, ~15 MB for
        1 GiB of logs) otherwise stays in the -wal file beside the database until then. True
        when the log was cut; PostgreSQL: nothing to do (False)."""
        if not self.url.startswith("sqlite"):
            return False
        with self.engine.connect() as connection:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={TRIM_WAIT_MS}")
            try:
                busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
            finally:
                connection.exec_driver_sql("PRAGMA busy_timeout=30000")
        return busy == 0

    def dispose(self) -> None:
        self.engine.dispose()
