"""SQLite's write-ahead log does not keep a large save a second time beside the database."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from app.config import Settings
from app.db import WAL_SIZE_LIMIT, Database
from app.services import analyses


def _save(db: Database, rows: int) -> None:
    with db.session() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS big (payload TEXT)"))
        session.execute(
            text("INSERT INTO big (payload) VALUES (:payload)"),
            [{"payload": "x" * 1000} for _ in range(rows)],
        )
        session.commit()


def test_a_large_save_is_cut_out_of_the_log(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'loupe.db'}")
    wal = tmp_path / "loupe.db-wal"
    try:
        _save(db, 12_000)  # ~12 MB in one transaction
        assert wal.stat().st_size > 2 * WAL_SIZE_LIMIT  # (what the save left behind)
        assert db.trim_log()
        assert wal.stat().st_size == 0
        with db.session() as session:  # nothing lost
            assert session.execute(text("SELECT count(*) FROM big")).scalar() == 12_000
        _save(db, 12_000)
        _save(db, 1)  # a later write cuts the log back to the limit (journal_size_limit)
        assert wal.stat().st_size <= WAL_SIZE_LIMIT
    finally:
        db.dispose()


def test_a_reader_holding_the_log_leaves_it_for_later(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'loupe.db'}")
    try:
        _save(db, 100)
        reading, done = threading.Event(), threading.Event()

        def reader() -> None:
            with db.engine.connect() as connection:
                connection.exec_driver_sql("BEGIN")
                connection.exec_driver_sql("SELECT count(*) FROM big").scalar()
                reading.set()
                done.wait(10)
                connection.exec_driver_sql("COMMIT")

        thread = threading.Thread(target=reader)
        thread.start()
        assert reading.wait(10)
        _save(db, 100)  # (a snapshot newer than the reader's)
        assert not db.trim_log()  # busy: not cut, not blocked for long
        done.set()
        thread.join()
        assert db.trim_log()
    finally:
        db.dispose()


def test_postgresql_has_nothing_to_trim() -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        assert not db.trim_log()
    finally:
        db.dispose()


def _run_claimed(
    settings: Settings, db: Database, name: str, data: bytes, *, own_process: bool = False
) -> str:
    """Upload `data`, claim it as worker w1 and analyse it in process (as the child does)."""
    from app.worker import child
    from tests.test_jobs import stage

    with db.session() as session:
        analysis_id = analyses.create(
            session, upload=stage(settings, name, data), data_dir=settings.resolved_data_dir
        ).id
        assert analyses.claim(session, analysis_id, "w1", timedelta(minutes=5))
    return child.run_claimed(analysis_id, "w1", settings, db, own_process=own_process)


def test_the_worker_cuts_the_log_after_it_saves_an_analysis(
    migrated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(In process: `loupe serve` runs `run_claimed` in a forkserver child.)"""
    from tests.test_api import seed_bundle

    trimmed: list[str] = []
    monkeypatch.setattr(Database, "trim_log", lambda self: trimmed.append(self.url) or True)
    db = Database(migrated.sqlalchemy_url)
    try:
        assert _run_claimed(migrated, db, "a.tar.gz", seed_bundle("self_signed")) == "done"
        assert trimmed == [migrated.sqlalchemy_url]
        assert _run_claimed(migrated, db, "b.tar.gz", b"not a bundle at all") == "failed"
        assert trimmed == [migrated.sqlalchemy_url]  # nothing saved: nothing to cut
    finally:
        db.dispose()


def test_the_child_freezes_its_report_before_the_collector_runs_again(
    migrated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forked child (own_process) moves what the analysis made out of the collector's
    reach before the collector is on again: its first pass walked all of it, ~50 ms for the
    bench's 1 GiB bundle. In a process that goes on (the default), nothing is frozen."""
    import gc

    from app.worker import child
    from tests.test_api import seed_bundle

    frozen: list[bool] = []  # whether the collector was on at each freeze
    monkeypatch.setattr(child.gc, "freeze", lambda: frozen.append(gc.isenabled()))
    db = Database(migrated.sqlalchemy_url)
    try:
        assert _run_claimed(migrated, db, "a.tar.gz", seed_bundle("self_signed")) == "done"
        assert frozen == []
        bundle = seed_bundle("unknown_ca")
        assert _run_claimed(migrated, db, "b.tar.gz", bundle, own_process=True) == "done"
        assert frozen == [False]
        assert gc.isenabled()
    finally:
        db.dispose()
