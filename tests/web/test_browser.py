"""A real Chromium drives the app end to end: drag-and-drop upload, overview, log viewer.

Debian's /usr/bin/chromium through Playwright's sync API; no browser is ever downloaded. The
test is skipped where that binary is missing, except on CI (CI=true), where it must run.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from app.config import Settings
from app.main import create_app
from tests.web.test_upload_form import seed_bundle

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing on CI: install the Debian chromium package")
    pytest.skip(f"{CHROMIUM} is not installed")


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The whole app (embedded worker included) served by uvicorn on a free local port; its
    base URL. Also the server of docs/screenshots*.py."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    served = settings.model_copy(update={"host": "127.0.0.1", "port": port})  # share links
    config = uvicorn.Config(
        create_app(served), log_level="warning", ws="none", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while thread.is_alive() and not server.started:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def live_server(migrated: Settings) -> Iterator[str]:
    with serving(migrated) as url:
        yield url


def test_upload_overview_and_log_viewer_in_a_real_browser(live_server: str, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import Route, expect, sync_playwright

    bundle = tmp_path / "diagnostic_log_vcsc_2022-07-11_17_33_18.tar.gz"
    bundle.write_bytes(seed_bundle())
    problems: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(base_url=live_server)
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
            page = context.new_page()
            page.on(
                "console",
                lambda message: (
                    problems.append(f"console {message.type}: {message.text}")
                    if message.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

            page.goto("/")
            expect(page.locator("h1")).to_contain_text("Diagnostic overview")
            page.locator("input.file-input").set_input_files(str(bundle))
            expect(page.locator(".chosen-files li")).to_contain_text(bundle.name)
            page.locator("#title").fill("Browser test")

            held: list[Route] = []

            def hold(route: Route) -> None:  # keep the upload pending to see its progress
                held.append(route)

            page.route("**/api/v1/analyses", hold)
            with page.expect_request("**/api/v1/analyses") as upload:
                page.get_by_role("button", name="Analyse").click()
            assert upload.value.method == "POST"
            assert upload.value.resource_type == "xhr"  # the JS uploader, not the plain form
            expect(page.locator(".upload-progress")).to_be_visible()
            expect(page.locator(".upload-progress-text")).not_to_be_empty()
            expect(page.get_by_role("button", name="Analyse")).to_be_disabled()
            while not held:
                page.wait_for_timeout(20)  # the route handler runs on Playwright's next event
            held[0].continue_()

            page.wait_for_url(re.compile(r"/a/[A-Za-z0-9_-]{22,}$"))
            expect(page.locator(".status[data-status]").first).to_have_text("done", timeout=60_000)
            expect(page.locator("h1")).to_have_text("Browser test")
            finding = page.locator("article.finding").first
            expect(finding).to_contain_text("mra-traffic-server-cert-verification")
            expect(finding.locator(".bugs a").first).to_have_attribute("rel", "noopener noreferrer")

            page.get_by_role("button", name="Copy link").click()
            expect(page.locator(".copy-status")).to_have_text("Link copied.")
            copied = page.evaluate("() => navigator.clipboard.readText()")
            assert copied == page.url

            link = finding.locator("a.line-link").first
            line = link.inner_text()
            snippet_text = finding.locator(".snippet-text").first.inner_text()
            link.click()
            page.wait_for_url(re.compile(rf"/files/.+\?line={line}&from=[^#]+#L{line}$"))
            target = page.locator(f"#L{line}")
            expect(target).to_have_class(re.compile(r"\btarget\b"))
            expect(target).to_have_class(re.compile(r"\bevidence\b"))
            expect(target.locator(".lt")).to_have_text(snippet_text)
            assert page.evaluate("() => document.querySelector(':target').id") == f"L{line}"
            expect(page.locator(".page-of").first).to_contain_text("Page 1 of 1")
        finally:
            browser.close()

    assert problems == []


def test_each_chosen_file_gets_its_own_product_select(live_server: str, tmp_path: Path) -> None:
    require_chromium()
    import httpx
    from playwright.sync_api import expect, sync_playwright

    bundles = []
    for host in ("vcsc1", "vcse1"):
        bundle = tmp_path / f"diagnostic_log_{host}_2022-07-11_17_33_18.tar.gz"
        bundle.write_bytes(seed_bundle(host))
        bundles.append(str(bundle))
    problems: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_context(base_url=live_server).new_page()
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.goto("/")
            expect(page.locator(".product-default")).to_be_visible()  # the no-JS fallback
            page.locator("input.file-input").set_input_files(bundles)

            selects = page.locator(".chosen-files select.file-product")
            expect(selects).to_have_count(2)
            expect(page.locator(".product-default")).to_be_hidden()
            selects.nth(1).select_option("Expressway-E")
            page.get_by_role("button", name="Analyse").click()
            page.wait_for_url(re.compile(r"/a/[A-Za-z0-9_-]{22,}$"))
            analysis_id = page.url.rsplit("/", 1)[-1]
            expect(page.locator(".status[data-status]").first).to_have_text("done", timeout=60_000)
            expect(page.locator(".node-product").nth(1)).to_have_text("Expressway-E")
            page.locator(".node-evidence summary").nth(1).click()
            expect(page.locator(".node-evidence .evidence").nth(1)).to_contain_text(
                "product chosen as Expressway-E at upload"
            )
        finally:
            browser.close()

    body = httpx.get(f"{live_server}/api/v1/analyses/{analysis_id}").json()
    assert [f["product"] for f in body["files"]] == [None, "Expressway-E"]
    assert problems == []
