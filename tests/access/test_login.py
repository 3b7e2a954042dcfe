"""Browser logins: the login page, the session cookie, logout, rate limiting, tokens page, audit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.access.accounts import HTML, PASSWORD, bearer, log_in, post_form, token_for


@pytest.fixture
def browser(local_settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(local_settings), base_url="https://testserver", headers=HTML
    ) as client:
        yield client


def test_login_sets_a_secure_httponly_lax_cookie_and_goes_where_the_user_was_going(
    browser: TestClient,
) -> None:
    page = browser.get("/login?next=/a/xyz")
    assert page.status_code == 200 and 'name="next" value="/a/xyz"' in page.text
    response = post_form(
        browser,
        "/login",
        data={"name": "alice", "password": PASSWORD, "next": "/tokens"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/tokens"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    home = browser.get("/")
    assert home.status_code == 200 and "alice" in home.text and "Log out" in home.text

    post_form(browser, "/logout", follow_redirects=False)
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_login_never_sends_the_user_to_another_site(browser: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = post_form(
            browser,
            "/login",
            data={"name": "alice", "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"


def test_wrong_passwords_are_refused_then_rate_limited_per_user_and_address(
    browser: TestClient,
) -> None:
    for _ in range(5):
        wrong = post_form(browser, "/login", {"name": "alice", "password": "nope-nope"})
        assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    limited = post_form(browser, "/login", {"name": "alice", "password": PASSWORD})
    assert limited.status_code == 429 and "wait a minute" in limited.text
    assert "set-cookie" not in limited.headers
    log_in(browser, "bob")  # another user from the same address is not locked out


def test_a_disabled_user_cannot_log_in_and_loses_the_session(
    browser: TestClient, local_settings: Settings
) -> None:
    from app.auth import users
    from tests.access.accounts import database

    log_in(browser, "carol")
    assert browser.get("/", follow_redirects=False).status_code == 200
    with database(local_settings) as session:
        users.disable(session, "carol")
    assert browser.get("/", follow_redirects=False).status_code == 303
    refused = post_form(browser, "/login", {"name": "carol", "password": PASSWORD})
    assert refused.status_code == 401


def test_the_tokens_page_shows_a_new_token_once_and_revokes_it(browser: TestClient) -> None:
    log_in(browser, "alice")
    created = post_form(browser, "/tokens", {"name": "nightly", "expires_days": "30"})
    assert created.status_code == 201
    start = created.text.index('class="share-url token-value"')
    token = created.text[start:].split('value="', 1)[1].split('"', 1)[0]
    api = TestClient(browser.app, base_url="https://testserver")
    assert api.get("/api/v1/analyses", headers=bearer(token)).status_code == 200
    listing = browser.get("/tokens").text
    assert "nightly" in listing and token not in listing  # shown once
    token_id = listing.split('action="/tokens/', 1)[1].split("/", 1)[0]
    assert (
        post_form(browser, f"/tokens/{token_id}/revoke", follow_redirects=False).status_code == 303
    )
    assert api.get("/api/v1/analyses", headers=bearer(token)).status_code == 401
    assert "revoked" in browser.get("/tokens").text


def test_the_audit_log_is_for_admins_and_records_logins_and_uploads(
    browser: TestClient, local_settings: Settings
) -> None:
    from tests.access.test_access_api import upload_as

    alice = token_for(local_settings, "alice")
    api = TestClient(browser.app, base_url="https://testserver")
    analysis_id = upload_as(api, alice)
    post_form(browser, "/login", {"name": "alice", "password": "wrong-password"})
    log_in(browser, "alice")
    assert browser.get("/admin/audit").status_code == 403
    assert api.get("/api/v1/audit", headers=bearer(alice)).status_code == 403
    root = token_for(local_settings, "root")
    events = api.get("/api/v1/audit", headers=bearer(root)).json()
    actions = [(e["action"], e["actor"], e["analysis_id"]) for e in events["events"]]
    assert ("upload", "alice", analysis_id) in actions
    assert ("login", "alice", None) in actions and ("login_failed", "alice", None) in actions
    assert events["total"] == len(actions)
    assert all(alice not in str(event) for event in events["events"])  # tokens never logged
    log_in(browser, "root")
    page = browser.get("/admin/audit")
    assert page.status_code == 200 and analysis_id in page.text


def test_in_mode_none_nothing_asks_for_a_login(migrated: Settings) -> None:
    settings = migrated.model_copy(update={"embedded_worker": False})
    with TestClient(create_app(settings), headers=HTML) as client:
        assert client.get("/login", follow_redirects=False).headers["location"] == "/"
        assert client.get("/api/v1/analyses").json() == {"total": 0, "analyses": []}
        home = client.get("/")
        assert home.status_code == 200 and "Log out" not in home.text
