"""The Alembic migrations: they build exactly the models' schema, and 0005 goes both ways."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.db import Base
from app.migrate import alembic_config, schema_problem, upgrade


def index_names(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {str(index["name"]) for index in inspect(connection).get_indexes(table)}
    finally:
        engine.dispose()


def test_the_migrations_build_the_schema_of_the_models(database_url: str) -> None:
    upgrade(database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_0005_indexes_the_display_order_and_can_be_undone(database_url: str) -> None:
    upgrade(database_url)
    assert {"ix_finding_run_order"} <= index_names(database_url, "finding")
    assert "ix_finding_run_id" not in index_names(database_url, "finding")
    assert "ix_snippet_finding_position" in index_names(database_url, "snippet")

    command.downgrade(alembic_config(database_url), "0004")
    assert "ix_finding_run_id" in index_names(database_url, "finding")
    assert "ix_finding_run_order" not in index_names(database_url, "finding")
    assert "ix_snippet_finding_id" in index_names(database_url, "snippet")

    upgrade(database_url)
    assert "ix_finding_run_order" in index_names(database_url, "finding")


def test_schema_problem_names_what_an_operator_must_do_before_serving(database_url: str) -> None:
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        assert schema_problem(database_url) == "it does not exist yet"
        assert not path.exists()  # read only: a mistyped data dir is reported, not created
        path.parent.mkdir(parents=True)
    engine = create_engine(database_url)
    try:
        with engine.connect():  # an empty database (SQLite: the file made)
            pass
    finally:
        engine.dispose()
    assert schema_problem(database_url) == "it has never been migrated"
    upgrade(database_url)
    assert schema_problem(database_url) is None
    command.downgrade(alembic_config(database_url), "0004")
    problem = schema_problem(database_url)
    assert problem is not None and problem.startswith("its schema is at revision 0004")


def test_a_database_that_cannot_be_reached_is_named_with_its_cause(tmp_path: Path) -> None:
    (tmp_path / "not-a-db").write_bytes(b"this is not a SQLite file" * 100)
    problem = schema_problem(f"sqlite:///{tmp_path / 'not-a-db'}")
    assert problem is not None and problem.startswith("it cannot be read (DatabaseError")
