"""The Alembic migrations: they build exactly the models' schema, and 0005 goes both ways."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.db import Base
from app.migrate import alembic_config, upgrade


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
