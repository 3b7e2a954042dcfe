"""The buttons of the analysis page: share link (shown once), revoke, keep longer, delete."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.models import utcnow
from tests.access.accounts import HTML, log_in, post_form, set_analysis
from tests.access.test_access_api import owned_analysis
from tests.access.test_deletion import files_of


@pytest.fixture
def browser(local_settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(local_settings), base_url="https://testserver", headers=HTML
    ) as client:
        yield client


def test_the_owner_shares_revokes_extends_and_deletes_from_the_page(
    browser: TestClient, local_settings: Settings
) -> None:
    analysis_id = owned_analysis(local_settings, "alice", "a")
    set_analysis(local_settings, analysis_id, expires_at=utcnow() + timedelta(days=1))
    log_in(browser, "alice")
    page = browser.get(f"/a/{analysis_id}").text
    assert "Create share link" in page and "Delete analysis" in page and "expires-at" in page

    created = post_form(browser, f"/a/{analysis_id}/shares", {"expires_in_days": "2"})
    assert created.status_code == 201
    url = re.search(r'class="share-url new-share-url"[^>]*value="([^"]+)"', created.text)
    assert url is not None and url.group(1).startswith("https://loupe.test/s/")
    secret_path = url.group(1).removeprefix("https://loupe.test")
    page = browser.get(f"/a/{analysis_id}").text
    assert secret_path not in page  # the link is shown once
    share_id = re.search(rf'action="/a/{analysis_id}/shares/([^/]+)/revoke"', page)
    assert share_id is not None
    visitor = TestClient(browser.app, base_url="https://testserver", headers=HTML)
    assert visitor.get(secret_path).status_code == 200
    post_form(browser, f"/a/{analysis_id}/shares/{share_id.group(1)}/revoke")
    assert visitor.get(secret_path).status_code == 404

    assert (
        post_form(browser, f"/a/{analysis_id}/shares", {"expires_in_days": "0"}).status_code == 422
    )

    before = re.search(r'class="expires-at" datetime="([^"]+)"', page)
    post_form(browser, f"/a/{analysis_id}/extend", {"days": "30"})
    after = re.search(
        r'class="expires-at" datetime="([^"]+)"', browser.get(f"/a/{analysis_id}").text
    )
    assert before is not None and after is not None and after.group(1) >= before.group(1)

    confirm = browser.get(f"/a/{analysis_id}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    gone = post_form(browser, f"/a/{analysis_id}/delete", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/"
    assert browser.get(f"/a/{analysis_id}").status_code == 404
    assert files_of(local_settings.resolved_data_dir, analysis_id) == []


def test_a_team_member_may_share_but_is_not_offered_delete(
    browser: TestClient, local_settings: Settings
) -> None:
    analysis_id = owned_analysis(local_settings, "alice", "a")
    log_in(browser, "bob")
    page = browser.get(f"/a/{analysis_id}").text
    assert "Create share link" in page and "rerun-form" in page
    assert "Delete analysis" not in page and "extend-form" not in page
    assert browser.get(f"/a/{analysis_id}/delete").status_code == 404
    assert post_form(browser, f"/a/{analysis_id}/delete").status_code == 404
    assert files_of(local_settings.resolved_data_dir, analysis_id)
