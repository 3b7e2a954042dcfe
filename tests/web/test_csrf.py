"""Cross-site pages cannot upload, re-run or change anything; the app's own forms still work.

Browsers are imitated by their headers: `Origin`, `Sec-Fetch-*` and the `loupe_csrf` cookie,
exactly what Chromium sends (tests/web/test_browser.py drives the real one through the same
forms).
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Analysis, AnalysisRun
from app.services import secret_key, storage
from app.web.public_url import origin_of, server_address
from tests.web.conftest import add_analysis
from tests.web.live_server import sqlite_settings

OWN = "http://127.0.0.1:8000"  # the configured host and port of the test settings
LOG = b'2026-12-02T06:00:00+00:00 vcsc tvcs: Event="Startup"\n'
CROSS_SITE = {
    "origin": "https://evil.example",
    "sec-fetch-site": "cross-site",
    "sec-fetch-mode": "navigate",
    "accept": "text/html",
}
SAME_ORIGIN = {
    "origin": OWN,
    "sec-fetch-site": "same-origin",
    "sec-fetch-mode": "navigate",
    "sec-fetch-dest": "document",
    "accept": "text/html",
}


@pytest.fixture
def quiet(tmp_path: Path) -> Settings:
    return sqlite_settings(tmp_path, embedded_worker=False)


@pytest.fixture
def browser(quiet: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(quiet)) as client:
        yield client


def page_token(client: TestClient, path: str = "/") -> str:
    """The token of the form on `path`, as a browser gets it (the cookie lands in the jar)."""
    html = client.get(path, headers={"accept": "text/html"}).text
    found = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', html)
    assert found, "the page has no csrf_field()"
    return found.group(1)


def counts(settings: Settings, analysis_id: str | None = None) -> tuple[int, int]:
    """(analyses stored, runs of `analysis_id`)."""
    db = Database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            analyses = session.scalar(select(func.count()).select_from(Analysis)) or 0
            runs = session.scalar(
                select(func.count())
                .select_from(AnalysisRun)
                .where(AnalysisRun.analysis_id == analysis_id)
            )
            return analyses, runs or 0
    finally:
        db.dispose()


def staged(settings: Settings) -> list[Path]:
    root = storage.staging_root(settings.resolved_data_dir)
    return list(root.iterdir()) if root.exists() else []


def upload(client: TestClient, path: str, headers: dict[str, str], **form: str) -> Any:
    return client.post(
        path,
        data=form,  # httpx writes the fields before the files: the token is the first part
        files={"files": ("vcsc.log", LOG)},
        headers=headers,
        follow_redirects=False,
    )


def test_a_cross_site_page_cannot_upload_or_rerun(browser: TestClient, quiet: Settings) -> None:
    analysis_id = add_analysis(quiet)
    token = page_token(browser)  # even holding a valid token and cookie
    before = counts(quiet, analysis_id)
    for path in ("/api/v1/analyses", "/analyses"):
        response = upload(browser, path, CROSS_SITE, csrf_token=token)
        assert response.status_code == 403, path
        assert "another site" in response.text
    for path in (f"/api/v1/analyses/{analysis_id}/rerun", f"/a/{analysis_id}/rerun"):
        response = browser.post(path, data={"csrf_token": token}, headers=CROSS_SITE)
        assert response.status_code == 403, path
    assert counts(quiet, analysis_id) == before
    assert staged(quiet) == []
    ok = upload(browser, "/analyses", SAME_ORIGIN, csrf_token=token, title="after")
    assert ok.status_code == 303  # the next honest upload goes through


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},  # an older browser: no Sec-Fetch-* headers
        {"origin": "null"},  # a sandboxed frame or a data: page
        {"origin": "http://127.0.0.1:8000.evil.example"},
        {"origin": "https://127.0.0.1:8000"},  # another scheme is another origin
        {"sec-fetch-site": "same-site", "origin": "https://other.example"},  # a sibling subdomain
        {"sec-fetch-site": "same-site"},  # ... that did not say which
    ],
)
def test_a_foreign_origin_is_refused_for_every_state_change(
    browser: TestClient, quiet: Settings, headers: dict[str, str]
) -> None:
    analysis_id = add_analysis(quiet)
    assert upload(browser, "/api/v1/analyses", headers).status_code == 403
    rerun = browser.post(f"/api/v1/analyses/{analysis_id}/rerun", headers=headers)
    assert rerun.status_code == 403
    assert "Refused" in rerun.json()["detail"]
    assert counts(quiet, analysis_id) == (1, 1)


def test_a_browser_form_without_its_token_is_refused(browser: TestClient, quiet: Settings) -> None:
    analysis_id = add_analysis(quiet)
    page_token(browser)  # the browser has its cookie, but the post lacks the field
    response = upload(browser, "/analyses", SAME_ORIGIN, title="no token")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "carries no CSRF token" in response.text and "Reload the page" in response.text
    rerun = browser.post(f"/a/{analysis_id}/rerun", headers=SAME_ORIGIN)
    assert rerun.status_code == 403
    wrong = upload(browser, "/analyses", SAME_ORIGIN, csrf_token="x" * 43)
    assert wrong.status_code == 403 and "outdated CSRF token" in wrong.text
    assert counts(quiet, analysis_id) == (1, 1)
    assert staged(quiet) == []


def test_same_origin_forms_with_their_token_work(browser: TestClient, quiet: Settings) -> None:
    analysis_id = add_analysis(quiet)
    token = page_token(browser, f"/a/{analysis_id}")  # the re-run button's form
    rerun = browser.post(
        f"/a/{analysis_id}/rerun",
        data={"csrf_token": token},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert rerun.status_code == 303
    assert counts(quiet, analysis_id) == (1, 2)
    response = upload(browser, "/analyses", SAME_ORIGIN, csrf_token=page_token(browser))
    assert response.status_code == 303
    assert counts(quiet)[0] == 2


def test_the_drag_and_drop_upload_sends_the_token_in_a_header(browser: TestClient) -> None:
    token = page_token(browser)
    xhr = {**SAME_ORIGIN, "sec-fetch-mode": "cors", "sec-fetch-dest": "empty"}
    assert upload(browser, "/api/v1/analyses", xhr).status_code == 403
    ok = upload(browser, "/api/v1/analyses", {**xhr, "x-csrf-token": token})
    assert ok.status_code == 202


def test_a_token_only_works_with_the_cookie_it_was_made_for(quiet: Settings) -> None:
    app = create_app(quiet)
    with TestClient(app) as alice, TestClient(app) as mallory:
        token = page_token(mallory)
        page_token(alice)  # alice has a cookie of her own
        stolen = upload(alice, "/api/v1/analyses", {**SAME_ORIGIN, "x-csrf-token": token})
        assert stolen.status_code == 403
        planted = upload(
            alice,
            "/api/v1/analyses",
            {**SAME_ORIGIN, "x-csrf-token": token, "cookie": "loupe_csrf=" + "A" * 43},
        )
        assert planted.status_code == 403  # a cookie planted by a subdomain needs its HMAC


def test_scripts_and_bearer_tokens_skip_the_form_token_but_not_the_origin_check(
    browser: TestClient,
) -> None:
    assert upload(browser, "/api/v1/analyses", {}).status_code == 202  # curl
    bearer = {"authorization": "Bearer abc", "sec-fetch-site": "same-origin", "origin": OWN}
    assert upload(browser, "/api/v1/analyses", bearer).status_code == 202
    hostile = {**bearer, "origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    assert upload(browser, "/api/v1/analyses", hostile).status_code == 403


def test_with_a_public_url_the_host_header_is_not_trusted(tmp_path: Path) -> None:
    public = "https://loupe.example.com"
    settings = sqlite_settings(tmp_path, embedded_worker=False, public_url=public)
    with TestClient(create_app(settings), base_url="https://loupe.example.com") as client:
        assert "; Secure" in client.get("/").headers["set-cookie"]
        token = page_token(client)
        good = {**SAME_ORIGIN, "origin": public}
        assert upload(client, "/analyses", good, csrf_token=token).status_code == 303
        forged = {**SAME_ORIGIN, "origin": "http://attacker.example", "host": "attacker.example"}
        response = upload(client, "/analyses", forged, csrf_token=token)
        assert response.status_code == 403
        assert "LOUPE_PUBLIC_URL" in response.text


def test_a_wildcard_bind_without_public_url_compares_with_the_host(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path, embedded_worker=False, host="0.0.0.0")
    with TestClient(create_app(settings)) as client:  # Host: testserver
        token = page_token(client)
        same = {**SAME_ORIGIN, "origin": "http://testserver"}
        assert upload(client, "/analyses", same, csrf_token=token).status_code == 303
        other = {**SAME_ORIGIN, "origin": "http://evil.example"}
        assert upload(client, "/analyses", other, csrf_token=token).status_code == 403


def test_the_cookie_is_lax_httponly_and_set_once(browser: TestClient) -> None:
    first = browser.get("/", headers={"accept": "text/html"})
    cookie = first.headers["set-cookie"]
    assert re.match(r"loupe_csrf=[A-Za-z0-9_-]{43}; Path=/; SameSite=Lax; HttpOnly$", cookie)
    again = browser.get("/", headers={"accept": "text/html"})
    assert "set-cookie" not in again.headers  # the browser keeps the one it has
    assert "set-cookie" not in browser.get("/healthz").headers  # no form, no cookie


def test_the_key_is_kept_0600_in_the_data_dir_and_survives_a_restart(quiet: Settings) -> None:
    with TestClient(create_app(quiet)) as first:
        token = page_token(first)
        cookie = first.cookies.get("loupe_csrf")
    path = secret_key.key_path(quiet.resolved_data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with TestClient(create_app(quiet), cookies={"loupe_csrf": cookie or ""}) as second:
        headers = {**SAME_ORIGIN, "x-csrf-token": token}
        assert upload(second, "/api/v1/analyses", headers).status_code == 202


def test_a_configured_secret_key_writes_no_key_file(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path, embedded_worker=False, secret_key="s" * 40)
    with TestClient(create_app(settings)) as client:
        page_token(client)
    assert not secret_key.key_path(settings.resolved_data_dir).exists()


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Loupe.Example.com:443/x", "https://loupe.example.com"),
        ("http://loupe.example.com:80", "http://loupe.example.com"),
        ("http://loupe.example.com:8000", "http://loupe.example.com:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("ftp://loupe.example.com", None),
        ("null", None),
        ("http://host:99999", None),
    ],
)
def test_origins_are_compared_in_their_normal_form(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def test_the_server_address_comes_from_settings_never_from_requests(tmp_path: Path) -> None:
    public = Settings(data_dir=tmp_path, public_url="https://loupe.example.com/")
    assert server_address(public).base_url == "https://loupe.example.com"
    assert server_address(public).origins == {"https://loupe.example.com"}
    loopback = server_address(Settings(data_dir=tmp_path, host="127.0.0.1", port=9000))
    assert loopback.base_url == "http://127.0.0.1:9000"
    assert "http://localhost:9000" in loopback.origins and not loopback.trusts_host_header
    named = server_address(Settings(data_dir=tmp_path, host="loupe.lan", port=80))
    assert named.origins == {"http://loupe.lan"} and named.base_url == "http://loupe.lan"
    assert server_address(Settings(data_dir=tmp_path, host="0.0.0.0")).trusts_host_header
    with pytest.raises(ValueError, match="LOUPE_PUBLIC_URL"):
        Settings(data_dir=tmp_path, public_url="loupe.example.com")


def test_the_form_token_is_found_before_the_files_not_after(browser: TestClient) -> None:
    token = page_token(browser)
    after_title = upload(browser, "/analyses", SAME_ORIGIN, title="first", csrf_token=token)
    assert after_title.status_code == 303  # title first, then the token: found
    boundary = "tokenlast"
    late = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="files"; filename="a.log"\r\n\r\n'
        ).encode()
        + LOG
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{token}\r\n--{boundary}--\r\n"
        ).encode()
    )
    response = browser.post(
        "/analyses",
        content=late,
        headers={**SAME_ORIGIN, "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 403  # after a file is too late: files are not buffered


def test_every_post_form_of_every_template_starts_with_its_token() -> None:
    templates = Path(__file__).resolve().parents[2] / "templates"
    forms = 0
    for template in sorted(templates.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        for match in re.finditer(r"<form\b[^>]*>", text):
            if not re.search(r'method="post"', match.group(), re.IGNORECASE):
                continue
            forms += 1
            following = text[match.end() :].lstrip()
            assert following.startswith("{{ csrf_field() }}"), (
                f"{template.name}: a POST form must open with {{{{ csrf_field() }}}}"
            )
    assert forms >= 2  # the upload form and the re-run button at least


def test_a_short_secret_or_a_damaged_key_file_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        Settings(data_dir=tmp_path, secret_key="short")
    settings = sqlite_settings(tmp_path, embedded_worker=False)
    secret_key.key_path(settings.resolved_data_dir).write_text("x\n")
    damaged = pytest.raises(secret_key.SecretKeyError, match="delete it to make a new one")
    with damaged, TestClient(create_app(settings)):
        pass
