"""In a real Chromium: a page of another site that posts to logloupe is refused; logloupe's own
re-run button (a plain form with its CSRF token) works."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import Settings
from tests.web.conftest import add_analysis
from tests.web.live_server import LiveServer, live_server, sqlite_settings
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.web.test_csrf import counts

pytestmark = pytest.mark.browser


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(sqlite_settings(tmp_path, embedded_worker=False)) as server:
        yield server


@pytest.fixture
def attacker_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Another site (http://localhost:<port>, not 127.0.0.1) serving the files of a directory."""
    root = tmp_path / "evil"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_another_site_cannot_rerun_but_the_button_can(
    app_server: LiveServer, attacker_site: tuple[str, Path]
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    settings: Settings = app_server.settings
    analysis_id = add_analysis(settings)
    evil_url, evil_root = attacker_site
    (evil_root / "index.html").write_text(
        f'<form method="post" action="{app_server.url}/a/{analysis_id}/rerun">'
        '<button id="go">win a prize</button></form>'
    )
    assert socket.gethostbyname("localhost") == "127.0.0.1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_context().new_page()
            page.goto(f"{app_server.url}/a/{analysis_id}")  # the victim has logloupe open
            page.goto(evil_url)
            with page.expect_response(f"**/a/{analysis_id}/rerun") as attack:
                page.click("#go")
            assert attack.value.status == 403
            expect(page.locator("body")).to_contain_text("another site")
            assert counts(settings, analysis_id) == (1, 1)

            page.goto(f"{app_server.url}/a/{analysis_id}")
            with page.expect_response(f"**/a/{analysis_id}/rerun") as rerun:
                page.get_by_role("button", name="Re-run with the current signatures").click()
            assert rerun.value.status == 303
            assert counts(settings, analysis_id) == (1, 2)
        finally:
            browser.close()
