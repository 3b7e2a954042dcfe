"""A real Chromium searches the real public log for a Call-ID, filters, opens a hit, goes back.

Skipped where /usr/bin/chromium is missing (except on CI), like tests/web/test_browser.py.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SHARED
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, live_server, require_chromium

__all__ = ["live_server"]

pytestmark = pytest.mark.browser

REAL_LOG = SHARED / "data" / "real" / "expressway-e_mra_call.txt"
CALL_ID = "e7e75ff9a67fb2435b25eab2a1498171"


def upload_real_log(base: str) -> str:
    with httpx.Client(base_url=base, timeout=60) as client:
        created = client.post(
            "/api/v1/analyses",
            files={"files": ("loggingsnapshot_vm-bluck-fed-vcse1.txt", REAL_LOG.read_bytes())},
        )
        assert created.status_code == 202, created.text
        analysis_id: str = created.json()["id"]
        for _ in range(600):
            status = client.get(f"/api/v1/analyses/{analysis_id}").json()["status"]
            if status in ("done", "failed"):
                break
            time.sleep(0.1)
        assert status == "done"
    return analysis_id


def test_search_a_call_id_filter_by_module_and_open_a_hit(live_server: str, tmp_path: Path) -> None:
    require_chromium()
    if not REAL_LOG.is_file():
        pytest.skip(f"{REAL_LOG} is not here")
    from playwright.sync_api import expect, sync_playwright

    analysis_id = upload_real_log(live_server)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(base_url=live_server)
            page.goto(f"/a/{analysis_id}")
            page.get_by_role("link", name="Search", exact=True).first.click()
            page.wait_for_url(re.compile(rf"/a/{analysis_id}/search$"))
            page.locator("#q").fill(CALL_ID)
            page.get_by_role("button", name="Search").click()
            expect(page.locator(".search-summary")).to_contain_text("11 matching lines")
            page.locator("input[name=module]").fill("network.sip")
            page.get_by_role("button", name="Search").click()
            expect(page.locator(".search-summary")).to_contain_text("8 matching lines")
            first = page.locator(".log-line.hit").first
            expect(first.locator("mark").first).to_have_text(CALL_ID)
            link = first.locator("a.ln")
            line = link.inner_text()
            link.click()
            page.wait_for_url(re.compile(rf"/files/.+line={line}.*#L{line}$"))
            target = page.locator(f"#L{line}")
            expect(target).to_have_class(re.compile(r"\btarget\b"))
            expect(target.locator("mark").first).to_have_text(CALL_ID)
            page.get_by_role("link", name="← Back to the search").click()
            page.wait_for_url(re.compile(r"/search\?q=.+module=network.sip"))
            expect(page.locator(".search-summary")).to_contain_text("8 matching lines")
        finally:
            browser.close()
