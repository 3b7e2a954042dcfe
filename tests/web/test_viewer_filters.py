"""The log viewer's highlight, module/level filters, markers, time jump and back link."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.web.backlink import safe_back_link
from tests.web.conftest import FindingSpec, SnippetSpec, add_analysis

NAME = "diagnostic_log_vcsc/loggingsnapshot_vcsc.txt"
LOG = (
    '2018-01-01T12:56:48.965-05:00 vcsc tvcs: UTCTime="2018-01-01 17:56:48,965" '
    'Module="network.sip" Level="DEBUG":  Action="Received"\n'
    " SIPMSG:\n"
    " |INVITE sip:1004@cucm.example.com SIP/2.0\n"
    '2018-01-01T12:57:10.000-05:00 vcsc tvcs: UTCTime="2018-01-01 17:57:10,000" '
    'Module="developer.sip.leg" Level="INFO": Detail="leg for INVITE"\n'
    '2018-01-01T12:58:00.000-05:00 vcsc tvcs: Event="DEBUG_MARKER" Detail="before the test call"'
    ' Level="1" UTCTime="2018-01-01 17:58:00,000"\n'
    "2018-01-01T13:10:00.000-05:00 vcsc traffic_server[3936]: [ET_NET 1] ERROR: SSL failed\n"
)


@pytest.fixture
def analysis_id(quiet_settings: Settings) -> str:
    return add_analysis(quiet_settings, files={NAME: LOG.encode()})


def viewer(client: TestClient, analysis_id: str, **params: str) -> str:
    response = client.get(f"/a/{analysis_id}/files/{NAME}", params=params)
    assert response.status_code == 200, response.text
    return response.text


def test_search_text_is_highlighted(page_client: TestClient, analysis_id: str) -> None:
    html = viewer(page_client, analysis_id, q="invite", line="3")
    assert html.count("<mark>INVITE</mark>") == 2
    assert "2 lines on this page contain the highlighted text" in html


def test_module_filter_keeps_whole_records(page_client: TestClient, analysis_id: str) -> None:
    html = viewer(page_client, analysis_id, module="network.sip")
    assert 'id="L1"' in html and 'id="L2"' in html and 'id="L3"' in html
    assert 'id="L4"' not in html and 'id="L6"' not in html
    assert "3 of 6 lines on this page match" in html


def test_level_filter(page_client: TestClient, analysis_id: str) -> None:
    html = viewer(page_client, analysis_id, level="error")
    assert 'id="L6"' in html and 'id="L1"' not in html


def test_debug_marker_lines_are_shown_as_markers(page_client: TestClient, analysis_id: str) -> None:
    html = viewer(page_client, analysis_id)
    marker = html.split('id="L5"')[0].rsplit("<div", 1)[1]
    assert "marker" in marker
    assert '<span class="marker-tag">Marker</span>' in html.split('id="L5"')[1].split("</div>")[0]


def test_time_jump_opens_the_first_line_at_or_after(
    page_client: TestClient, analysis_id: str
) -> None:
    jump = page_client.get(
        f"/a/{analysis_id}/files/{NAME}",
        params={"time": "2018-01-01T17:57:30Z", "q": "call"},
        follow_redirects=False,
    )
    assert jump.status_code == 303  # to the line's own URL: the browser scrolls to it
    assert jump.headers["location"] == f"/a/{analysis_id}/files/{NAME}?line=5&q=call#L5"
    html = viewer(page_client, analysis_id, time="2018-01-01T17:57:30Z")
    assert 'class="log-line target marker" id="L5"' in html
    response = page_client.get(f"/a/{analysis_id}/files/{NAME}", params={"time": "soon"})
    assert response.status_code == 400 and "is not a time" in response.text


def test_back_link_returns_to_the_search(page_client: TestClient, analysis_id: str) -> None:
    back = f"/a/{analysis_id}/search?q=INVITE&page=2"
    html = viewer(page_client, analysis_id, line="3", **{"from": back})
    assert f'<a class="back-link" href="/a/{analysis_id}/search?q=INVITE&amp;page=2">' in html
    assert "Back to the search" in html


def test_back_link_returns_to_the_finding(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    finding = FindingSpec(snippets=[SnippetSpec(NAME, 3, "line three")])
    analysis_id = add_analysis(quiet_settings, files={NAME: LOG.encode()}, findings=[finding])
    overview = page_client.get(f"/a/{analysis_id}").text
    assert 'id="error-1"' in overview
    link = f"/a/{analysis_id}/files/{NAME}?line=3&amp;from=/a/{analysis_id}%23error-1#L3"
    assert f'href="{link}"' in overview  # the snippet's line number
    opened = page_client.get(link.replace("&amp;", "&").split("#L3")[0]).text
    assert f'<a class="back-link" href="/a/{analysis_id}#error-1">' in opened
    assert "Back to the finding" in opened


@pytest.mark.parametrize(
    "hostile",
    [
        "https://evil.example",
        "//evil.example/a/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "/a/other-analysis/search?q=x",
        "/a/{id}\n/search",
    ],
)
def test_foreign_back_links_are_ignored(
    page_client: TestClient, analysis_id: str, hostile: str
) -> None:
    html = viewer(page_client, analysis_id, **{"from": hostile.format(id=analysis_id)})
    assert "back-link" not in html
    assert "evil.example" not in html


def test_safe_back_link_keeps_finding_anchors() -> None:
    assert safe_back_link("/a/abc?page=2#error-3", "abc") == "/a/abc?page=2#error-3"
    assert safe_back_link("/a/abcd", "abc") is None
