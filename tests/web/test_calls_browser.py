"""A real Chromium finds a failed call by number, opens its ladder, clicks a message, reads the
log line it came from (no JavaScript needed on the way)."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from app.config import Settings
from tests.calls.scenarios import two_node_logs
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, live_server, require_chromium
from tests.web.test_calls_pages import bundle

pytestmark = pytest.mark.browser
__all__ = ["live_server"]  # the fixture, used by name below


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Call flows on (LOUPE_CALL_FLOWS, on by default)."""
    return settings.model_copy(update={"call_flows": True})


def upload_two_nodes(base: str) -> str:
    expe, expc = two_node_logs()
    files = [
        ("files", ("diagnostic_log_expe1.tar.gz", bundle(expe, "Expressway-E"))),
        ("files", ("diagnostic_log_expc1.tar.gz", bundle(expc, "Expressway-C"))),
    ]
    analysis_id: str = httpx.post(f"{base}/api/v1/analyses", files=files).json()["id"]
    deadline = time.monotonic() + 60
    while httpx.get(f"{base}/api/v1/analyses/{analysis_id}").json()["status"] != "done":
        assert time.monotonic() < deadline, "the analysis did not finish"
        time.sleep(0.2)
    return analysis_id


def test_find_a_failed_call_open_its_ladder_and_reach_the_log_line(live_server: str) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    analysis_id = upload_two_nodes(live_server)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_context(base_url=live_server).new_page()
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            page.goto(f"/a/{analysis_id}")
            page.locator("a.calls-link").click()
            page.wait_for_url(re.compile(rf"/a/{analysis_id}/calls$"))
            page.locator("#calls-q").fill("5551234")
            page.get_by_label("Failed only").check()
            page.get_by_role("button", name="Show").click()
            rows = page.locator("tr.call-row")
            expect(rows).to_have_count(1)
            expect(rows.first.locator(".status")).to_have_text("404 Not Found")
            rows.first.locator("a.call-link").click()
            page.wait_for_url(re.compile(rf"/a/{analysis_id}/calls/1$"))
            expect(page.locator("svg a")).to_have_count(12)

            arrow = page.locator('svg a[href="#msg-7"]')  # Unified CM's 404
            arrow.click()
            assert page.url.endswith("#msg-7")
            message = page.locator("#msg-7")
            expect(message).to_contain_text("404 Not Found")
            expect(message.locator("pre.sip-text")).to_contain_text("Unallocated number")
            assert page.evaluate("() => document.querySelector(':target').id") == "msg-7"

            link = message.locator("a.log-line").first
            line = re.search(r"line (\d+)", link.inner_text())
            assert line is not None
            link.click()
            page.wait_for_url(re.compile(rf"/files/.+\?line={line[1]}#L{line[1]}$"))
            target = page.locator(f"#L{line[1]}")  # the line that carries the SIPMSG block
            expect(target).to_contain_text('Module="network.sip"')
            expect(page.locator(f"#L{int(line[1]) + 2}")).to_contain_text("SIP/2.0 404 Not Found")
        finally:
            browser.close()
    assert problems == []


def test_the_list_and_the_ladder_work_with_javascript_off(live_server: str) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    analysis_id = upload_two_nodes(live_server)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(base_url=live_server, java_script_enabled=False)
            page = context.new_page()
            page.goto(f"/a/{analysis_id}/calls")
            page.get_by_label("Failed only").check()
            page.get_by_role("button", name="Show").click()  # a GET form: ?q=&failed=true&method=
            expect(page.locator("tr.call-row")).to_have_count(1)
            page.locator("tr.call-row a.call-link").click()
            page.wait_for_url(re.compile(rf"/a/{analysis_id}/calls/1$"))
            page.locator('svg a[href="#msg-7"]').click()
            assert page.url.endswith("#msg-7")
            expect(page.locator("#msg-7 pre.sip-text")).to_contain_text("Unallocated number")
            page.locator("#highlight").fill("Unallocated")
            page.get_by_role("button", name="Highlight").click()
            expect(page.locator("article.sip-message.marked")).to_have_count(1)
            expect(page.locator(".marked-count")).to_have_text("1 message contains it")
        finally:
            browser.close()
