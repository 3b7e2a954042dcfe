"""A server's start compiles the page templates and configures the ORM mappers in the
background (app.web.warmup), so that its first page views do not pay for them."""

from __future__ import annotations

import gc
import importlib
from pathlib import Path
from typing import Any

import jinja2
import pytest
from fastapi.testclient import TestClient

from app import cli
from app.config import Settings, get_settings
from app.main import create_app
from app.migrate import upgrade
from app.web import warmup
from app.web.templating import TEMPLATES_DIR, templates


def _cached() -> set[str]:
    return {key[1] for key in templates.env.cache}  # type: ignore[union-attr]


def test_warm_up_compiles_every_page_template() -> None:
    templates.env.cache.clear()  # type: ignore[union-attr]
    pages = {path.name for path in Path(TEMPLATES_DIR).glob("*.html")}
    assert "log_viewer.html" in pages
    assert warmup.warm_up() == len(pages)
    assert pages <= _cached()


def test_the_server_warms_up_as_it_starts(tmp_path: Path) -> None:
    templates.env.cache.clear()  # type: ignore[union-attr]
    app = create_app(Settings(data_dir=tmp_path, embedded_worker=False))
    with TestClient(app):
        app.state.warm_up.join(timeout=30)
        assert not app.state.warm_up.is_alive()
        assert {"log_viewer.html", "analysis.html", "calls.html"} <= _cached()


def test_a_template_that_does_not_compile_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"bad.html": "{% if %}", "ok.html": "x"}))
    monkeypatch.setattr(templates, "env", env)
    assert warmup.warm_up() == 1
    assert "bad.html does not compile" in caplog.text


@pytest.mark.parametrize("served", [False, True])
def test_a_served_app_freezes_its_start_up_out_of_the_collector(
    tmp_path: Path, served: bool
) -> None:
    """`loupe serve` (served) moves start-up's objects out of the garbage collector once warm:
    a full collection walked them all, 65–90 ms falling on whichever request came then. An app
    in a process that goes on (tests, scripts) freezes nothing."""
    gc.unfreeze()
    try:
        app = create_app(Settings(data_dir=tmp_path, embedded_worker=False), served=served)
        with TestClient(app):
            app.state.warm_up.join(timeout=30)
            frozen = gc.get_freeze_count()
            assert (frozen > 10_000) is served, frozen
    finally:
        gc.unfreeze()


def test_loupe_serve_serves_served_apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from typer.testing import CliRunner

    runs: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: runs.append((target, options)))
    monkeypatch.setenv("LOUPE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LOUPE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        upgrade(get_settings().sqlalchemy_url)  # (serve refuses a database never migrated)
        assert CliRunner().invoke(cli.app, ["serve"]).exit_code == 0
        monkeypatch.setenv("LOUPE_BROKER_URL", "redis://127.0.0.1:1/0")
        get_settings.cache_clear()
        assert CliRunner().invoke(cli.app, ["serve", "--web-workers", "2"]).exit_code == 0
        (one, _), (factory, options) = runs
        assert one.state.served is True
        assert options["factory"] is True
        module, name = factory.split(":")
        assert getattr(importlib.import_module(module), name)().state.served is True
    finally:
        get_settings.cache_clear()
