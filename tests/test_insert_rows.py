"""insert_rows stores what SQLAlchemy's own executemany stores, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Table, insert, select

from app.config import Settings
from app.db import Database
from app.models import CallBackgroundRow, CallMessagesRow, CallRow
from app.services import analyses
from app.services.calls import BACKGROUND_COLUMNS, CALL_COLUMNS
from app.services.rows import insert_rows
from tests.test_jobs import stage

CALLS: Table = CallRow.__table__  # type: ignore[assignment]
MESSAGES: Table = CallMessagesRow.__table__  # type: ignore[assignment]
BACKGROUND: Table = CallBackgroundRow.__table__  # type: ignore[assignment]
WHEN = datetime(2026, 11, 20, 10, 15, 33, 120000, tzinfo=UTC)


def _call(number: int) -> tuple[Any, ...]:
    """A call's values in CALL_COLUMNS order, every kind of value the columns hold."""
    return (
        number,
        "INVITE",
        "sip:1001@example.com",
        "sip:2002@exämple.com",  # non-ASCII text
        WHEN if number % 2 else None,
        (WHEN + timedelta(seconds=number)).astimezone(timezone(timedelta(hours=5))),
        "408 Request Timeout" if number % 3 else "200 OK",
        number % 3 != 0,
        'Reason: SIP;cause=408;text="<script>"',
        ["expc1", "expe1"][: number % 3],
        [f"{number}@host", "ünïcode-ïd"],
        None if number % 2 else "Call-ID",
        number * 7,
        "sip:1001@example.com\nsip:2002@exämple.com",
    )


def _background(number: int) -> tuple[Any, ...]:
    return (
        "expe1",
        f"192.0.2.{number}:5061",
        "REGISTER",
        number,
        number // 2,
        {"200": number, "401": 1} if number % 2 else {},
        WHEN,
        None if number % 3 == 0 else WHEN + timedelta(minutes=number),
        "loggingsnapshot_expe1.txt",
        number + 100,
    )


def _analysis(settings: Settings, db: Database, name: str) -> str:
    with db.session() as session:
        return analyses.create(
            session, upload=stage(settings, name, b"x"), data_dir=settings.resolved_data_dir
        ).id


def _rows(db: Database, table: Table, analysis_id: str, order: str) -> list[tuple[Any, ...]]:
    """The table's rows of an analysis, but their ids, in `order`."""
    left_out = {"id", "analysis_id", "call_id"}
    columns = [c for c in table.c if c.name not in left_out]
    with db.session() as session:
        found = session.execute(
            select(*columns).where(table.c.analysis_id == analysis_id).order_by(table.c[order])
        )
        return [tuple(row) for row in found]


def test_rows_read_back_as_sqlalchemy_stored_them(migrated: Settings) -> None:
    db = Database(migrated.sqlalchemy_url)
    try:
        by_core = _analysis(migrated, db, "a.tar.gz")
        by_rows = _analysis(migrated, db, "b.tar.gz")
        calls = [_call(number) for number in range(1, 40)]
        background = [_background(number) for number in range(1, 40)]
        with db.session() as session:
            connection = session.connection()
            connection.execute(
                insert(CALLS),
                [dict(zip(CALL_COLUMNS, (by_core, *call), strict=True)) for call in calls],
            )
            insert_rows(connection, CALLS, CALL_COLUMNS, [(by_rows, *call) for call in calls])
            connection.execute(
                insert(BACKGROUND),
                [dict(zip(BACKGROUND_COLUMNS, (by_core, *row), strict=True)) for row in background],
            )
            insert_rows(
                connection, BACKGROUND, BACKGROUND_COLUMNS, [(by_rows, *r) for r in background]
            )
            insert_rows(connection, BACKGROUND, BACKGROUND_COLUMNS, [])  # nothing: no statement
            ids = {
                (row.analysis_id, row.number): row.id
                for row in connection.execute(
                    select(CALLS.c.analysis_id, CALLS.c.number, CALLS.c.id)
                )
            }
            messages = [[{"method": "INVITE", "n": n, "text": "héllo\n<b>"}] * n for n in range(5)]
            connection.execute(
                insert(MESSAGES),
                [
                    {"call_id": ids[(by_core, n + 1)], "analysis_id": by_core, "messages": m}
                    for n, m in enumerate(messages)
                ],
            )
            insert_rows(
                connection,
                MESSAGES,
                ("messages", "analysis_id", "call_id"),  # in another order than the table's
                [(m, by_rows, ids[(by_rows, n + 1)]) for n, m in enumerate(messages)],
            )
            session.commit()
        for table, order in ((CALLS, "number"), (BACKGROUND, "line"), (MESSAGES, "call_id")):
            stored = _rows(db, table, by_rows, order)
            assert stored == _rows(db, table, by_core, order)
            assert len(stored) == (len(messages) if table is MESSAGES else 39)
        assert _rows(db, MESSAGES, by_rows, "call_id")[3] == (messages[3],)
        first = _rows(db, CALLS, by_rows, "number")[0]
        assert first[CALL_COLUMNS.index("started_at") - 1] == WHEN  # (analysis_id left out)
    finally:
        db.dispose()
