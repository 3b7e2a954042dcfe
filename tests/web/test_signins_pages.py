"""The MRA sign-in pages and API, checked from outside: list, one attempt's ladder, what the
view can and cannot see, escaping, redaction, and the analysis without call flows."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.calls.signinlog import START, auth_failed, ts_request, ts_response, uds_401
from tests.conftest import wait_for
from tests.corpus import xstat_dump
from tests.factories import make_tar
from tests.web.test_calls_pages import analyse

CLIENT = "198.51.100.20"
TRACKING = "f0000000-86f6-4030-8259-0b768c07723e"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sign-ins are read with the call flows (LOUPE_CALL_FLOWS, on by default)."""
    return settings.model_copy(update={"call_flows": True})


def bundle(host: str, product: str, lines: list[str]) -> bytes:
    stamp = "2026-01-29_19_01_00"
    return make_tar(
        {
            f"loggingsnapshot_{host}_{stamp}.txt": "\n".join(lines) + "\n",
            f"xstat_dump_{host}_{stamp}.txt": xstat_dump(host, product, "X14.2.1"),
        }
    )


def two_nodes(
    agent: str = "Jabber/14.1", path: str = "/ZXhhbXBsZS5jb20/get_edge_config/"
) -> list[tuple[str, bytes]]:
    """One client failing UDS (401, doc 211304), another getting 403 from the Exp-E (117811)."""
    expe = ts_request(
        "expe1",
        START,
        path,
        txn=11,
        tracking=TRACKING,
        dst="127.0.0.1",
        port=8443,
        client=CLIENT,
        agent=agent,
    ) + ts_response(
        "expe1",
        START + timedelta(milliseconds=400),
        401,
        "Unauthorized",
        txn=11,
        dst=CLIENT,
        port=50314,
    )
    expe += ts_response(
        "expe1",
        START + timedelta(minutes=3),
        403,
        "Forbidden",
        txn=12,
        dst="203.0.113.9",
        port=50400,
    )
    expc = ts_request(
        "expc1",
        START + timedelta(milliseconds=100),
        "/cucm-uds/user/bob/devices?access_token=sekrit",
        txn=3028,
        tracking=TRACKING,
        dst="10.0.0.10",
        port=8443,
        client=CLIENT,
        agent=agent,
    )
    expc += uds_401("expc1", START + timedelta(milliseconds=200), "bob", "10.0.0.10")
    expc += auth_failed("expc1", START + timedelta(milliseconds=200), "bob", "10.0.0.10")
    return [
        ("diagnostic_log_expe1.tar.gz", bundle("expe1", "Expressway-E", expe)),
        ("diagnostic_log_expc1.tar.gz", bundle("expc1", "Expressway-C", expc)),
    ]


def listing(client: TestClient, analysis_id: str, **params: Any) -> Any:
    response = client.get(f"/api/v1/analyses/{analysis_id}/signins", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_api_lists_attempts_per_client_with_the_failing_step(client: TestClient) -> None:
    analysis_id = analyse(client, *two_nodes())
    body = listing(client, analysis_id)
    assert body["extracted"] is True and body["total"] == 2
    first, second = body["attempts"]
    assert (first["client"], first["user"], first["outcome"]) == (CLIENT, "bob", "failed")
    assert (first["failed_step"], first["failed_status"]) == ("UDS", 401)  # the first error in time
    assert first["steps"] == ["edge config", "UDS"] and first["nodes"] == ["expe1", "expc1"]
    assert first["url"] == f"/a/{analysis_id}/signins/1" and first["user_agent"] == "Jabber/14.1"
    assert (second["client"], second["failed_status"]) == ("203.0.113.9", 403)
    assert second["failed_step"] == "HTTP (request not logged)"  # only the answer was logged
    assert any("debug logging" in line for line in body["cannot_see"])
    failed_only = listing(client, analysis_id, outcome="succeeded")
    assert failed_only["total"] == 0

    detail = client.get(f"/api/v1/analyses/{analysis_id}/signins/1").json()
    assert [p["label"] for p in detail["participants"]] == [
        "Client (Jabber/14.1)",
        "expe1 (Expressway-E)",
        "expc1 (Expressway-C)",
        "Unified CM",
    ]
    paths = [m["path"] for m in detail["messages"] if m["method"]]
    assert paths == [
        "/ZXhhbXBsZS5jb20/get_edge_config/",
        "/cucm-uds/user/bob/devices?access_token=REDACTED",
    ]
    assert "sekrit" not in str(detail) and "CONCEALED" not in str(detail)
    assert [m["status"] for m in detail["messages"] if m["status"]] == [401, 401]
    hops = [(m["hop"]["from"], m["hop"]["to"]) for m in detail["messages"]]
    assert hops[0] == ("expe1 (Expressway-E)", "expc1 (Expressway-C)")
    assert hops[2] == ("Unified CM", "expc1 (Expressway-C)")  # the UDS 401
    assert hops[-1] == ("expe1 (Expressway-E)", "Client (Jabber/14.1)")
    assert (
        detail["messages"][0]["file"].endswith("loggingsnapshot_expe1_2026-01-29_19_01_00.txt")
        and detail["messages"][0]["line"] == 1
    )
    missing = client.get(f"/api/v1/analyses/{analysis_id}/signins/9")
    assert missing.status_code == 404


def test_the_pages_say_what_they_can_and_cannot_see_and_draw_the_ladder(client: TestClient) -> None:
    analysis_id = analyse(client, *two_nodes())
    calls_page = client.get(f"/a/{analysis_id}/calls").text
    assert f'href="/a/{analysis_id}/signins"' in calls_page
    page = client.get(f"/a/{analysis_id}/signins").text
    assert "What this view can and cannot see" in page and page.count("signin-scope") == 1
    assert "HTTPMSG blocks appear only when the relevant debug logging was on" in page
    assert "client" in page and "Jabber, Webex, TC/CE" in page
    assert page.count('class="signin-row') == 2 and "401" in page and "bob" in page
    link = re.search(r'class="signin-link" href="([^"]+)"', page)
    assert link is not None
    ladder = client.get(link[1])
    assert ladder.status_code == 200
    assert "<svg" in ladder.text and 'aria-label="MRA sign-in ladder diagram"' in ladder.text
    assert 'href="#msg-1"' in ladder.text and 'id="msg-1"' in ladder.text
    assert "<script" not in ladder.text.split("</svg>")[0].split("<svg")[1]
    assert "/cucm-uds/user/bob/devices?access_token=REDACTED" in ladder.text
    log_link = re.search(r'class="log-line" href="([^"]+)"', ladder.text)
    assert log_link is not None and client.get(log_link[1].replace("&amp;", "&")).status_code == 200


def test_markup_from_the_log_is_escaped(client: TestClient) -> None:
    analysis_id = analyse(
        client, *two_nodes(agent="<script>ua()</script>", path="/<script>alert(1)</script>")
    )
    for url in (f"/a/{analysis_id}/signins", f"/a/{analysis_id}/signins/1"):
        text = client.get(url).text
        assert "<script>alert" not in text and "<script>ua" not in text, url
        assert "&lt;script&gt;" in text, url


def test_without_call_flows_the_sign_ins_were_not_extracted(migrated: Settings) -> None:
    from app.main import create_app

    off = migrated.model_copy(update={"call_flows": False})
    with TestClient(create_app(off)) as client:
        analysis_id = analyse(client, *two_nodes())
        body = listing(client, analysis_id)
        assert body["extracted"] is False and body["attempts"] == []
        assert "LOUPE_CALL_FLOWS=true" in body["detail"]
        one = client.get(f"/api/v1/analyses/{analysis_id}/signins/1")
        assert one.status_code == 404 and "LOUPE_CALL_FLOWS=true" in one.json()["detail"]
        page = client.get(f"/a/{analysis_id}/signins").text
        assert "MRA sign-ins were not extracted" in page and "What this view can" in page


def test_an_unknown_analysis_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/analyses/nope/signins").status_code == 404
    assert client.get("/a/nope/signins/1").status_code == 404


def test_an_attempt_s_ladder_downloads_as_svg_png_and_text(client: TestClient) -> None:
    analysis_id = analyse(
        client, *two_nodes(agent="<script>ua()</script>", path="/<script>alert(1)</script>")
    )
    base = f"/a/{analysis_id}/signins/1"
    page = client.get(base).text
    for name in ("ladder.svg", "ladder.png", "ladder.txt"):
        assert f'href="{base}/{name}"' in page
    svg = client.get(f"{base}/ladder.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert 'filename="signin-1.svg"' in svg.headers["content-disposition"]
    assert svg.text.startswith("<svg") and "<script" not in svg.text
    assert "href=" not in svg.text  # no links to a page the file is not on
    text = client.get(f"{base}/ladder.txt")
    assert text.headers["content-type"].startswith("text/plain")
    assert "expe1 (Expressway-E)" in text.text and "401 Unauthorized" in text.text
    png = client.get(f"{base}/ladder.png")
    assert png.status_code in (200, 503)
    if png.status_code == 200:
        assert png.content.startswith(b"\x89PNG") and png.headers["content-type"] == "image/png"
    assert client.get(f"/a/{analysis_id}/signins/9/ladder.txt").status_code == 404


@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        ({"outcome": "maybe"}, "outcome must be one of failed, succeeded, no response logged"),
        ({"page": "0"}, "page starts at 1 (it was 0)."),
        ({"page": "abc"}, "page must be a whole number from 1, not 'abc'."),
    ],
)
def test_a_filter_the_list_cannot_use_is_a_422_with_a_sentence(
    client: TestClient, params: dict[str, str], sentence: str
) -> None:
    analysis_id = analyse(client, *two_nodes())
    for url in (f"/api/v1/analyses/{analysis_id}/signins", f"/a/{analysis_id}/signins"):
        response = client.get(url, params=params)
        assert response.status_code == 422, url
        assert sentence in response.text.replace("&#39;", "'"), url
    empty = listing(client, analysis_id, outcome="", page="")  # an empty value is none given
    assert empty["total"] == 2
    assert listing(client, analysis_id, outcome="FAILED")["total"] == 2


def test_a_rerun_keeps_the_calls_and_sign_ins_and_restores_them_when_gone(
    client: TestClient, migrated: Settings
) -> None:
    """Calls and sign-ins come from the logs alone: a re-run of the same files keeps those of
    the run before (as they were shown), and reads them again when its files are missing."""
    from app.services import storage

    analysis_id = analyse(client, *two_nodes())
    data_dir = migrated.resolved_data_dir
    shown = (listing(client, analysis_id), client.get(f"/api/v1/analyses/{analysis_id}/calls"))
    signins_dir = storage.signins_dir(data_dir, analysis_id)
    attempts_file = sorted(p.name for p in signins_dir.glob("attempts-*"))
    assert storage.calls_key_path(data_dir, analysis_id).is_file()

    def rerun() -> None:
        response = client.post(f"/api/v1/analyses/{analysis_id}/rerun")
        assert response.status_code == 202, response.text
        assert wait_for(client, analysis_id)["status"] == "done"

    rerun()
    assert listing(client, analysis_id) == shown[0]
    assert client.get(f"/api/v1/analyses/{analysis_id}/calls").json() == shown[1].json()
    assert sorted(p.name for p in signins_dir.glob("attempts-*")) == attempts_file  # kept

    shutil.rmtree(signins_dir)  # an operator's clean-up went too far
    rerun()
    assert listing(client, analysis_id) == shown[0]  # read from the logs again
    assert sorted(p.name for p in signins_dir.glob("attempts-*")) != attempts_file


@pytest.mark.parametrize(
    "kept_key",
    [b"{not json", b"[]", b'{"format": 1, "key": 5, "warnings": []}', b'{"format": 99}'],
)
def test_a_damaged_key_of_the_stored_calls_makes_the_rerun_read_them_again(
    client: TestClient, migrated: Settings, kept_key: bytes
) -> None:
    from app.services import storage

    analysis_id = analyse(client, *two_nodes())
    data_dir = migrated.resolved_data_dir
    before = listing(client, analysis_id)
    storage.calls_key_path(data_dir, analysis_id).write_bytes(kept_key)
    attempts = sorted(storage.signins_dir(data_dir, analysis_id).glob("attempts-*"))
    assert client.post(f"/api/v1/analyses/{analysis_id}/rerun").status_code == 202
    assert wait_for(client, analysis_id)["status"] == "done"
    assert listing(client, analysis_id) == before
    assert sorted(storage.signins_dir(data_dir, analysis_id).glob("attempts-*")) != attempts
    assert b'"format": 1' in storage.calls_key_path(data_dir, analysis_id).read_bytes()
