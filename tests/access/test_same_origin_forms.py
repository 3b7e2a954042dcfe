"""Our own forms under Referrer-Policy: no-referrer: the browser sends `Origin: null` with
`Sec-Fetch-Site: same-origin`, and the login (like every form) must go through; any other
`Origin: null` is still refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.access.accounts import HTML, PASSWORD, csrf_token


def test_a_same_origin_form_with_origin_null_logs_in(local_client: TestClient) -> None:
    browser = TestClient(local_client.app, base_url="https://testserver")  # Secure cookies
    token = csrf_token(browser)
    form = {"csrf_token": token, "name": "alice", "password": PASSWORD, "next": "/"}
    own = {**HTML, "origin": "null", "sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate"}
    response = browser.post("/login", data=form, headers=own, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    for site in ("cross-site", "same-site", "none"):
        other = {**own, "sec-fetch-site": site}
        refused = browser.post("/login", data=form, headers=other, follow_redirects=False)
        assert refused.status_code == 403, site
    no_token = browser.post(
        "/login", data={**form, "csrf_token": ""}, headers=own, follow_redirects=False
    )
    assert no_token.status_code == 403
