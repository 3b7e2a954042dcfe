"""LOUPE_AUTH=oidc against a real OpenID Connect provider on a local port (oidc-provider-mock):
the login goes there and back, the team comes from a claim, a forged answer is refused."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.access.accounts import HTML, set_analysis
from tests.access.test_access_api import owned_analysis

with warnings.catch_warnings():  # the mock provider (not logloupe) imports authlib.jose
    warnings.simplefilter("ignore", DeprecationWarning)
    import oidc_provider_mock

# the mock provider (not logloupe) calls an Authlib hook that newer Authlib deprecates
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # the provider and the test talk plain http on loopback; real deployments use https
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    users = [
        oidc_provider_mock.User(sub="u-1", claims={"preferred_username": "alice", "team": "a"}),
        oidc_provider_mock.User(sub="u-2", claims={"preferred_username": "carol", "team": "b"}),
    ]
    with oidc_provider_mock.run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def sso_client(migrated: Settings, provider: str) -> Iterator[TestClient]:
    settings = migrated.model_copy(
        update={
            "auth": "oidc",
            "embedded_worker": False,
            "oidc_issuer": provider,
            "oidc_client_id": "logloupe",
            "oidc_client_secret": "s3cret",
            "oidc_team_claim": "team",
            "public_url": "http://testserver",
        }
    )
    with TestClient(create_app(settings), headers=HTML) as client:
        yield client


def sign_on(client: TestClient, sub: str, next_path: str = "/") -> httpx.Response:
    """Through the provider's consent form as a browser would, back to logloupe's callback."""
    start = client.get(f"/auth/oidc/start?next={next_path}", follow_redirects=False)
    assert start.status_code == 303
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    answer = httpx.post(authorize, data={"sub": sub}, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert back.path == "/auth/oidc/callback"
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_single_sign_on_logs_in_with_the_team_of_the_claim(
    sso_client: TestClient, migrated: Settings
) -> None:
    page = sso_client.get("/login")
    assert "Log in with single sign-on" in page.text and 'name="password"' not in page.text
    theirs = owned_analysis(migrated, "bob", "a")
    others = owned_analysis(migrated, "dave", "b")
    set_analysis(migrated, others, owner="dave", team="b")

    done = sign_on(sso_client, "u-1", next_path="/tokens")
    assert done.status_code == 303 and done.headers["location"] == "/tokens"
    assert "HttpOnly" in done.headers["set-cookie"]
    listed = sso_client.get("/api/v1/analyses").json()
    assert [a["id"] for a in listed["analyses"]] == [theirs]
    assert sso_client.get(f"/a/{others}").status_code == 404
    assert sso_client.get(f"/a/{theirs}").status_code == 200


def test_a_forged_or_replayed_answer_is_refused(sso_client: TestClient) -> None:
    start = sso_client.get("/auth/oidc/start", follow_redirects=False)
    answer = httpx.post(start.headers["location"], data={"sub": "u-2"}, follow_redirects=False)
    back = urlsplit(answer.headers["location"])
    forged = back.query.replace("state=", "state=x")
    refused = sso_client.get(f"{back.path}?{forged}", follow_redirects=False)
    assert refused.status_code == 401
    # another browser (no pending cookie) with the real answer: refused too
    stranger = TestClient(sso_client.app, headers=HTML)
    assert stranger.get(f"{back.path}?{back.query}").status_code == 401
    assert sso_client.get("/api/v1/analyses").status_code == 401
    denied = sso_client.get("/auth/oidc/callback?error=access_denied")
    assert denied.status_code == 401 and "access_denied" in denied.text


def test_passwords_are_not_accepted_with_single_sign_on(sso_client: TestClient) -> None:
    response = sso_client.post(
        "/login", data={"name": "alice", "password": "whatever!"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_oidc_without_a_provider_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="LOUPE_OIDC_ISSUER"):
        Settings(auth="oidc")
