"""Run the Alembic migrations programmatically (`loupe migrate`, tests, `make run`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")


def schema_problem(url: str) -> str | None:
    """Why the database at `url` cannot be served as it is (None when its schema is the newest):
    unreachable, never migrated, or at an older (or unknown, newer) revision. Read only: nothing
    is created, so a wrong LOUPE_DATABASE_URL or data dir is reported, not filled."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import SQLAlchemyError

    from app.db import make_engine  # (PostgreSQL: its connect timeout, no hang at start)

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return "it does not exist yet"
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        return f"it cannot be read ({type(cause).__name__}: {cause})"
    finally:
        engine.dispose()
    if current == heads:
        return None
    if not current:
        return "it has never been migrated"
    return (
        f"its schema is at revision {', '.join(sorted(current))}, this version needs "
        f"{', '.join(sorted(heads))}"
    )
