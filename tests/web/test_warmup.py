"""A server's start compiles the page templates and configures the ORM mappers in the
background (app.web.warmup), so that its first page views do not pay for them."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
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
