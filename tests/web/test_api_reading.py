"""Reading analyses: findings a page at a time, HEAD wherever GET works, a sentence in every 404."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.web.conftest import FindingSpec, add_analysis

LOG = "diagnostic_log_vcsc.tar.gz/loggingsnapshot_vcsc.txt"
JSON = {"accept": "application/json"}


def many_findings(settings: Settings, count: int = 7) -> str:
    return add_analysis(
        settings,
        findings=[
            FindingSpec(signature_id=f"sig-{n:02d}", title=f"Finding {n:02d}", severity="warning")
            for n in range(count)
        ],
        files={LOG: b"line 1\nline 2\n"},
    )


def test_findings_paginate_with_the_total_and_the_page_said(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = many_findings(quiet_settings)
    everything = page_client.get(f"/api/v1/analyses/{analysis_id}", headers=JSON).json()
    assert everything["findings_total"] == 7 and len(everything["findings"]) == 7
    assert everything["findings_page"] is None
    ids = [f["signature"]["id"] for f in everything["findings"]]

    pages = [
        page_client.get(f"/api/v1/analyses/{analysis_id}?page={n}&per_page=3", headers=JSON).json()
        for n in (1, 2, 3)
    ]
    assert [[f["signature"]["id"] for f in p["findings"]] for p in pages] == [
        ids[0:3],
        ids[3:6],
        ids[6:7],
    ]
    assert pages[2]["findings_total"] == 7
    assert pages[2]["findings_page"] == {"page": 3, "per_page": 3, "pages": 3}
    past_the_end = page_client.get(
        f"/api/v1/analyses/{analysis_id}?page=99&per_page=3", headers=JSON
    ).json()
    assert past_the_end["findings_page"]["page"] == 3


@pytest.mark.parametrize("query", ["page=0", "per_page=0", "per_page=100000", "page=x"])
def test_a_bad_page_is_a_422_with_a_sentence(
    page_client: TestClient, quiet_settings: Settings, query: str
) -> None:
    analysis_id = many_findings(quiet_settings, 1)
    response = page_client.get(f"/api/v1/analyses/{analysis_id}?{query}", headers=JSON)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("The request is not valid:")


def test_head_answers_like_get_without_a_body(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = many_findings(quiet_settings, 2)
    for path in (
        "/",
        f"/a/{analysis_id}",
        f"/a/{analysis_id}/certificates",
        f"/a/{analysis_id}/files/{LOG}",
        f"/a/{analysis_id}/raw/{LOG}",
        f"/a/{analysis_id}/report.md",
        f"/api/v1/analyses/{analysis_id}",
        "/api/v1/signatures",
        "/signatures",
        "/healthz",
    ):
        got = page_client.get(path)
        head = page_client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        if "content-length" in got.headers:
            assert head.headers["content-length"] == got.headers["content-length"], path
    missing = page_client.head("/a/no-such-analysis", headers=JSON)
    assert missing.status_code == 404 and missing.content == b""


def test_every_404_has_a_sentence(page_client: TestClient, quiet_settings: Settings) -> None:
    analysis_id = many_findings(quiet_settings, 1)
    for path in (
        "/a/nope",
        "/a/nope/certificates",
        "/a/nope/report.md",
        "/a/nope/report.pdf",
        f"/a/{analysis_id}/files/no-such.log",
        f"/a/{analysis_id}/raw/no-such.log",
        "/api/v1/analyses/nope",
        "/api/v1/analyses/nope/certificates",
        "/api/v1/analyses/nope/server-certificates",
        "/api/v1/signatures/no-such-signature",
        "/signatures/no-such-signature",
        "/no/such/page",
        "/static/no-such.css",
    ):
        response = page_client.get(path, headers=JSON)
        assert response.status_code == 404, path
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail.endswith("."), (path, detail)
        assert len(detail.split()) >= 4 and detail != "Not Found", (path, detail)


def test_head_of_a_raw_download_does_not_read_the_file(
    page_client: TestClient, quiet_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: b"abc\n" * 100})

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("HEAD read the file")

    monkeypatch.setattr("app.web.downloads.open_raw", no_reading)
    response = page_client.head(f"/a/{analysis_id}/raw/{LOG}")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == "400"
    assert response.headers["content-disposition"].startswith("attachment;")
