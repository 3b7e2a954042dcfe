"""The upload form without JavaScript: POST /analyses, 303 to the overview or the form again."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.config import Settings
from tests.conftest import wait_for
from tests.corpus import seed_scenario_lines, xstat_dump
from tests.factories import make_tar
from tests.web.conftest import HTML


def seed_bundle(host: str = "vcsc") -> bytes:
    log = "\n".join(seed_scenario_lines("self_signed")) + "\n"
    return make_tar(
        {
            f"loggingsnapshot_{host}_2022-07-11_17_33_18.txt": log,
            f"xstat_dump_{host}_2022-07-11_17_33_18.txt": xstat_dump(
                host, "Expressway-C", "X14.2.1"
            ),
        },
        compress=True,
    )


def test_form_upload_redirects_to_the_new_analysis(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    response = page_client.post(
        "/analyses",
        files=[("files", ("diagnostic_log_vcsc.tar.gz", seed_bundle()))],
        data={"title": "SR 42"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/a/[A-Za-z0-9_-]{22,}", location)
    page = page_client.get(location)
    assert page.status_code == 200
    assert "SR 42" in page.text and 'data-status="queued"' in page.text
    assert "diagnostic_log_vcsc.tar.gz" in page.text
    assert location in page_client.get("/").text  # listed among the recent analyses


def test_form_upload_of_an_empty_file_shows_the_form_again_with_why(
    page_client: TestClient,
) -> None:
    response = page_client.post(
        "/analyses", files=[("files", ("empty.log", b""))], follow_redirects=False
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert re.search(
        r'class="alert alert-error upload-error" role="alert">[^<]*empty\.log', response.text
    )
    assert 'action="/analyses"' in response.text


def test_form_upload_of_an_unsupported_file_is_415_with_the_form(page_client: TestClient) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    response = page_client.post(
        "/analyses", files=[("files", ("screenshot.png", png))], follow_redirects=False
    )
    assert response.status_code == 415
    assert "screenshot.png" in response.text and 'action="/analyses"' in response.text


def test_form_posted_without_choosing_a_file_is_refused(page_client: TestClient) -> None:
    """What a browser sends when the file input is empty: one part with filename=""."""
    body = (
        b'--B\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n'
        b'--B\r\nContent-Disposition: form-data; name="files"; filename=""\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\r\n--B--\r\n"
    )
    response = page_client.post(
        "/analyses",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=B"},
        follow_redirects=False,
    )
    assert 400 <= response.status_code < 500
    assert re.search(r'role="alert">[^<]*(empty|No file)', response.text)
    assert 'action="/analyses"' in response.text


def test_form_posted_as_urlencoded_is_refused_with_a_hint(page_client: TestClient) -> None:
    response = page_client.post("/analyses", data={"title": "x"}, follow_redirects=False)
    assert response.status_code in (415, 422)
    assert "multipart/form-data" in response.text


def test_form_upload_is_analysed_and_the_overview_shows_the_finding(client: TestClient) -> None:
    response = client.post(
        "/analyses",
        files=[("files", ("diagnostic_log_vcsc.tar.gz", seed_bundle()))],
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303
    analysis_id = response.headers["location"].rsplit("/", 1)[-1]
    body = wait_for(client, analysis_id)
    assert body["status"] == "done", body["error"]
    html = client.get(f"/a/{analysis_id}", headers=HTML).text
    assert 'data-status="done"' in html
    assert "mra-traffic-server-cert-verification" in html
    assert "CSCwc69661" in html
    links = re.findall(r'href="(/a/[^"]+\?line=\d+#L\d+)"', html)
    assert links
    snippet_link = links[0]
    viewer = client.get(snippet_link.split("#")[0], headers=HTML)
    line = snippet_link.rsplit("#L", 1)[1]
    assert viewer.status_code == 200
    assert re.search(rf'class="log-line evidence target" id="L{line}"', viewer.text)


def test_the_plain_form_offers_one_product_select_for_every_file(
    page_client: TestClient,
) -> None:
    page = page_client.get("/", headers=HTML).text
    assert '<select id="product_default" name="product_default">' in page
    for choice in ("Expressway-C", "Expressway-E", "VCS", "auto"):
        assert f'<option value="{choice}"' in page
    files = [("files", (f"{n}.tar.gz", seed_bundle())) for n in range(2)]

    done = page_client.post(
        "/analyses", files=files, data={"product_default": "Expressway-E"}, follow_redirects=False
    )
    refused = page_client.post("/analyses", files=files, data={"product_default": "Exp-E"})

    assert done.status_code == 303
    body = page_client.get("/api/v1/analyses/" + done.headers["location"].rsplit("/", 1)[-1])
    assert [f["product"] for f in body.json()["files"]] == ["Expressway-E", "Expressway-E"]
    assert refused.status_code == 422
    assert "&#39;Exp-E&#39; is not a product" in refused.text
