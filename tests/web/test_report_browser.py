"""A real Chromium downloads the Markdown and PDF reports of the real public log's analysis."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, live_server, require_chromium

__all__ = ["live_server"]  # the fixture, used by name

REAL_LOG = Path(__file__).resolve().parents[3] / "shared/data/real/expressway-e_mra_call.txt"

pytestmark = pytest.mark.browser


def analysed(base: str) -> str:
    with httpx.Client(base_url=base, timeout=30) as client:
        created = client.post(
            "/api/v1/analyses",
            files=[("files", (REAL_LOG.name, REAL_LOG.read_bytes()))],
            data={"title": "Real MRA call"},
        )
        assert created.status_code == 202, created.text
        analysis_id: str = created.json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/api/v1/analyses/{analysis_id}").json()["status"] != "done":
            assert time.monotonic() < deadline, "the analysis did not finish"
            time.sleep(0.2)
    return analysis_id


def test_both_reports_download_from_the_analysis_page(live_server: str, tmp_path: Path) -> None:
    require_chromium()
    if not REAL_LOG.is_file():
        pytest.skip(f"{REAL_LOG} is not here")
    from playwright.sync_api import sync_playwright

    analysis_id = analysed(live_server)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_context(base_url=live_server, accept_downloads=True).new_page()
            page.goto(f"/a/{analysis_id}")
            with page.expect_download() as markdown:
                page.get_by_role("link", name="Markdown").click()
            assert markdown.value.suggested_filename.startswith("logloupe-Real-MRA-call-")
            text = Path(markdown.value.path()).read_text(encoding="utf-8")
            assert text.startswith("# logloupe report: Real MRA call\n")
            assert "| vm-bluck-fed-vcse1 | Expressway-E | X8.11PreAlpha10 |" in text
            with page.expect_download() as pdf:
                page.get_by_role("link", name="PDF").click()
            assert pdf.value.suggested_filename.endswith(".pdf")
            assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF")
        finally:
            browser.close()
