"""Who sees what, from outside: 401 without credentials, 404 outside the team, tokens, shares."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.config import Settings
from app.models import utcnow
from tests.access.accounts import HTML, bearer, set_analysis, token_for
from tests.test_api import seed_bundle, upload
from tests.web.conftest import add_analysis, log_text


def upload_as(client: TestClient, token: str, title: str = "SR 1") -> str:
    response = client.post(
        "/api/v1/analyses",
        files=[("files", ("diagnostic_log_vcsc.tar.gz", seed_bundle("self_signed")))],
        data={"title": title},
        headers=bearer(token),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def owned_analysis(settings: Settings, owner: str, team: str | None) -> str:
    analysis_id = add_analysis(settings, files={"logs/loggingsnapshot_vcsc.txt": log_text(30)})
    set_analysis(settings, analysis_id, owner=owner, team=team)
    return analysis_id


def test_without_credentials_the_api_answers_401_and_stores_nothing(
    local_client: TestClient, local_settings: Settings
) -> None:
    analysis_id = owned_analysis(local_settings, "alice", "a")
    for method, path in [
        ("GET", "/api/v1/analyses"),
        ("GET", f"/api/v1/analyses/{analysis_id}"),
        ("GET", f"/api/v1/analyses/{analysis_id}/certificates"),
        ("POST", f"/api/v1/analyses/{analysis_id}/rerun"),
        ("DELETE", f"/api/v1/analyses/{analysis_id}"),
    ]:
        response = local_client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"
    response = upload(local_client, ("a.tar.gz", seed_bundle("self_signed")))
    assert response.status_code == 401
    assert (
        not (local_settings.resolved_data_dir / "analyses").exists()
        or len(list((local_settings.resolved_data_dir / "analyses").iterdir())) == 1
    )  # only the analysis the test wrote


def test_team_members_see_and_rerun_others_get_the_same_404_as_a_missing_id(
    local_client: TestClient, local_settings: Settings
) -> None:
    alice, bob, carol, root = (
        token_for(local_settings, name) for name in ("alice", "bob", "carol", "root")
    )
    analysis_id = upload_as(local_client, alice)
    path = f"/api/v1/analyses/{analysis_id}"

    body = local_client.get(path, headers=bearer(bob)).json()
    assert body["owner"] == "alice" and body["expires_at"]
    assert local_client.get(path, headers=bearer(root)).status_code == 200

    outsider = local_client.get(path, headers=bearer(carol))
    missing = local_client.get("/api/v1/analyses/no-such-id", headers=bearer(carol))
    assert outsider.status_code == missing.status_code == 404
    assert outsider.json()["detail"].replace(analysis_id, "X") == missing.json()["detail"].replace(
        "no-such-id", "X"
    )
    for suffix in ("/certificates", "/server-certificates", "/shares"):
        assert local_client.get(path + suffix, headers=bearer(carol)).status_code == 404
    assert local_client.post(path + "/rerun", headers=bearer(carol)).status_code == 404
    assert local_client.delete(path, headers=bearer(carol)).status_code == 404

    def listed(token: str) -> dict[str, Any]:
        return dict(local_client.get("/api/v1/analyses", headers=bearer(token)).json())

    assert [a["id"] for a in listed(bob)["analyses"]] == [analysis_id]
    assert listed(carol) == {"total": 0, "analyses": []}
    (item,) = listed(root)["analyses"]
    assert set(item) == {"id", "title", "status", "created_at", "owner", "expires_at"}
    assert item["title"] == "SR 1" and item["owner"] == "alice"


def test_a_team_b_member_cannot_open_the_pages_the_log_viewer_or_raw_files(
    local_client: TestClient, local_settings: Settings
) -> None:
    analysis_id = owned_analysis(local_settings, "alice", "a")
    carol, bob = token_for(local_settings, "carol"), token_for(local_settings, "bob")
    pages = [
        f"/a/{analysis_id}",
        f"/a/{analysis_id}/certificates",
        f"/a/{analysis_id}/files/logs/loggingsnapshot_vcsc.txt",
        f"/a/{analysis_id}/raw/logs/loggingsnapshot_vcsc.txt",
    ]
    for page in pages:
        assert local_client.get(page, headers={**HTML, **bearer(bob)}).status_code == 200, page
        assert local_client.get(page, headers={**HTML, **bearer(carol)}).status_code == 404, page
    index = local_client.get("/", headers={**HTML, **bearer(carol)})
    assert index.status_code == 200 and analysis_id not in index.text
    assert analysis_id in local_client.get("/", headers={**HTML, **bearer(bob)}).text


def test_pages_without_login_go_to_the_login_page(
    local_client: TestClient, local_settings: Settings
) -> None:
    analysis_id = owned_analysis(local_settings, "alice", "a")
    response = local_client.get(f"/a/{analysis_id}?page=2", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fa%2F{analysis_id}%3Fpage%3D2"
    assert local_client.get("/", headers=HTML, follow_redirects=False).status_code == 303
    assert local_client.get("/healthz").status_code == 200
    assert local_client.get("/signatures", headers=HTML).status_code == 200


def test_tokens_that_are_wrong_revoked_expired_or_of_a_disabled_user_get_401(
    local_client: TestClient, local_settings: Settings
) -> None:
    from app.auth import api_tokens, users
    from tests.access.accounts import database

    good = token_for(local_settings, "alice")
    assert local_client.get("/api/v1/analyses", headers=bearer(good)).status_code == 200
    for header in (bearer(good + "x"), bearer(""), {"authorization": f"Basic {good}"}):
        response = local_client.get("/api/v1/analyses", headers=header)
        assert response.status_code == 401 and response.json()["detail"]

    expiring = token_for(local_settings, "bob", expires_days=1)
    with database(local_settings) as session:
        for row in api_tokens.of_user(session, users.get(session, "bob")):
            row.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    assert local_client.get("/api/v1/analyses", headers=bearer(expiring)).status_code == 401

    with database(local_settings) as session:
        (row,) = api_tokens.of_user(session, users.get(session, "alice"))
        api_tokens.revoke(session, users.get(session, "alice"), row.id)
    assert local_client.get("/api/v1/analyses", headers=bearer(good)).status_code == 401

    carol = token_for(local_settings, "carol")
    with database(local_settings) as session:
        users.disable(session, "carol")
    assert local_client.get("/api/v1/analyses", headers=bearer(carol)).status_code == 401


def test_a_share_link_opens_one_analysis_read_only_until_it_is_revoked(
    local_client: TestClient, local_settings: Settings
) -> None:
    analysis_id = owned_analysis(local_settings, "alice", "a")
    other_id = owned_analysis(local_settings, "alice", "a")
    alice = bearer(token_for(local_settings, "alice"))
    created = local_client.post(
        f"/api/v1/analyses/{analysis_id}/shares", json={"expires_in_days": 3}, headers=alice
    )
    assert created.status_code == 201
    share = created.json()
    assert set(share) == {"id", "url", "expires_at"}
    assert share["url"].startswith("https://loupe.test/s/")
    secret = share["url"].rsplit("/", 1)[-1]
    assert len(secret) >= 22  # >= 128 bits

    # a second client on the running app: no cookies of alice's, no second start-up
    visitor = TestClient(local_client.app, base_url="https://testserver", headers=HTML)
    opened = visitor.get(f"/s/{secret}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/a/{analysis_id}"
    cookie = opened.headers["set-cookie"]
    assert f"Path=/a/{analysis_id}" in cookie and "HttpOnly" in cookie
    assert visitor.get(f"/a/{analysis_id}").status_code == 200
    for page in ("/certificates", "/files/logs/loggingsnapshot_vcsc.txt"):
        assert visitor.get(f"/a/{analysis_id}{page}").status_code == 200
    page = visitor.get(f"/a/{analysis_id}").text
    assert "rerun-form" not in page and "create-share" not in page
    # nothing else: not the API, not another analysis, not a re-run, not the list
    assert visitor.get(f"/api/v1/analyses/{analysis_id}").status_code == 401
    assert visitor.get(f"/a/{other_id}", follow_redirects=False).status_code == 303
    rerun = visitor.post(f"/a/{analysis_id}/rerun", follow_redirects=False)
    assert rerun.status_code == 303 and rerun.headers["location"] == "/login"
    assert visitor.get(f"/a/{analysis_id}/delete").status_code == 404

    listed = local_client.get(f"/api/v1/analyses/{analysis_id}/shares", headers=alice).json()
    assert [s["id"] for s in listed] == [share["id"]] and listed[0]["active"]
    revoked = local_client.delete(
        f"/api/v1/analyses/{analysis_id}/shares/{share['id']}", headers=alice
    )
    assert revoked.status_code == 204
    assert visitor.get(f"/s/{secret}").status_code == 404
    assert visitor.get(f"/a/{analysis_id}", follow_redirects=False).status_code == 303
    listed = local_client.get(f"/api/v1/analyses/{analysis_id}/shares", headers=alice).json()
    assert listed[0]["revoked_at"] and not listed[0]["active"]


def test_an_expired_share_link_answers_404(
    local_client: TestClient, local_settings: Settings
) -> None:
    from app.models import ShareLink
    from tests.access.accounts import database

    analysis_id = owned_analysis(local_settings, "alice", "a")
    alice = bearer(token_for(local_settings, "alice"))
    url = local_client.post(f"/api/v1/analyses/{analysis_id}/shares", headers=alice).json()["url"]
    with database(local_settings) as session:
        for row in session.query(ShareLink):
            row.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    assert local_client.get(url.replace("https://loupe.test", "")).status_code == 404
