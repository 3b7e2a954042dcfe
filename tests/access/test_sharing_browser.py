"""A real Chromium: log in as team A, upload, share, open the link anonymously, revoke it;
a member of team B sees the analysis nowhere."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from app.config import Settings
from app.main import create_app
from tests.access.accounts import PASSWORD, add_user
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.web.test_upload_form import seed_bundle

pytestmark = pytest.mark.browser


@pytest.fixture
def local_server(migrated: Settings) -> Iterator[str]:
    """LOUPE_AUTH=local served by uvicorn on a free port, with alice (team a), carol (team b)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = migrated.model_copy(update={"auth": "local", "public_url": base})
    add_user(settings, "alice", team="a")
    add_user(settings, "carol", team="b")
    config = uvicorn.Config(
        create_app(settings), log_level="warning", ws="none", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while thread.is_alive() and not server.started:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_share_link_lifecycle_and_team_isolation_in_a_real_browser(
    local_server: str, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import Page, expect, sync_playwright

    bundle = tmp_path / "diagnostic_log_vcsc_2022-07-11_17_33_18.tar.gz"
    bundle.write_bytes(seed_bundle())
    problems: list[str] = []

    def watch(page: Page) -> Page:
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        return page

    def log_in(page: Page, name: str) -> None:
        page.goto("/")
        page.wait_for_url(re.compile(r"/login\?next="))
        page.locator("#name").fill(name)
        page.locator("#password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{local_server}/")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            alice = watch(browser.new_context(base_url=local_server).new_page())
            log_in(alice, "alice")
            alice.locator("input.file-input").set_input_files(str(bundle))
            alice.locator("#title").fill("SR 4242")
            alice.get_by_role("button", name="Analyse").click()
            alice.wait_for_url(re.compile(r"/a/[A-Za-z0-9_-]{22,}$"))
            analysis_url = alice.url
            expect(alice.locator(".status[data-status]").first).to_have_text("done", timeout=60_000)
            alice.get_by_role("button", name="Create share link").click()
            share_url = alice.locator("input.new-share-url").input_value()
            assert share_url.startswith(f"{local_server}/s/")

            anonymous = watch(browser.new_context().new_page())
            anonymous.goto(share_url)
            assert anonymous.url == analysis_url
            expect(anonymous.locator("h1")).to_have_text("SR 4242")
            expect(anonymous.locator(".rerun-form")).to_have_count(0)
            expect(anonymous.locator(".access-panel")).to_have_count(0)
            anonymous.locator("article.finding a.line-link").first.click()
            anonymous.wait_for_url(re.compile(r"/files/.+\?line=\d+#L\d+$"))

            alice.goto(analysis_url + "#access")
            alice.get_by_role("button", name="Revoke").click()
            expect(alice.locator(".shares-table")).to_contain_text("revoked")

            response = anonymous.goto(share_url)
            assert response is not None and response.status == 404
            anonymous.goto(analysis_url)
            anonymous.wait_for_url(re.compile(r"/login\?next="))

            carol_context = browser.new_context(base_url=local_server)
            carol = watch(carol_context.new_page())
            log_in(carol, "carol")
            expect(carol.locator(".recent")).not_to_contain_text("SR 4242")
            for url in (analysis_url, analysis_url + "/certificates"):
                response = carol.goto(url)
                assert response is not None and response.status == 404
            analysis_id = analysis_url.rsplit("/", 1)[-1]
            api = carol_context.request.get(f"/api/v1/analyses/{analysis_id}")
            assert api.status == 404
            listed = carol_context.request.get("/api/v1/analyses").json()
            assert listed == {"total": 0, "analyses": []}
        finally:
            browser.close()

    assert problems == []
