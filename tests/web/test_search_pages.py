"""The search page and its JSON twin over an analysis written straight to the database."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.web.conftest import HTML, add_analysis

SNAPSHOT = "diagnostic_log_vcsc/loggingsnapshot_vcsc.txt"
LOG = (
    '2018-01-01T12:56:48.965-05:00 vcsc tvcs: UTCTime="2018-01-01 17:56:48,965" '
    'Module="network.sip" Level="DEBUG":  Action="Received"\n'
    " SIPMSG:\n"
    " |INVITE sip:1004@cucm.example.com SIP/2.0\n"
    " Call-ID: abc123\n"
    '2018-01-01T12:57:10.000-05:00 vcsc tvcs: UTCTime="2018-01-01 17:57:10,000" '
    'Module="developer.sip.leg" Level="INFO": Detail="leg for INVITE"\n'
)


def analysis_with_log(settings: Settings, text: str = LOG) -> str:
    return add_analysis(settings, files={SNAPSHOT: text.encode()})


def test_json_search_gives_node_file_line_time_and_text(
    quiet_settings: Settings, page_client: TestClient
) -> None:
    analysis_id = analysis_with_log(quiet_settings)
    response = page_client.get(f"/api/v1/analyses/{analysis_id}/search", params={"q": "abc123"})
    assert response.status_code == 200
    assert response.json() == {
        "total": 1,
        "truncated": False,
        "stopped": None,
        "page": 1,
        "per_page": 100,
        "pages": 1,
        "hits": [
            {
                "node": "vcsc",
                "file": SNAPSHOT,
                "line": 4,
                "time": "2018-01-01T17:56:48.965Z",
                "text": " Call-ID: abc123",
            }
        ],
    }


def test_json_filters_by_module_and_regex(
    quiet_settings: Settings, page_client: TestClient
) -> None:
    analysis_id = analysis_with_log(quiet_settings)
    url = f"/api/v1/analyses/{analysis_id}/search"
    sip = page_client.get(url, params={"q": "invite", "module": "network.sip"}).json()
    assert [hit["line"] for hit in sip["hits"]] == [3]
    leg = page_client.get(url, params={"q": r"leg\s+for", "regex": "1"}).json()
    assert [hit["line"] for hit in leg["hits"]] == [5]
    exact = page_client.get(url, params={"q": "invite", "case": "1"}).json()
    assert exact["total"] == 0


def test_pages_and_the_limit_are_told(quiet_settings: Settings) -> None:
    text = "".join(f"2018-01-01T12:00:00Z vcsc x: needle {n}\n" for n in range(1, 151))
    analysis_id = analysis_with_log(quiet_settings, text)
    with TestClient(create_app(quiet_settings)) as client:
        second = client.get(
            f"/api/v1/analyses/{analysis_id}/search", params={"q": "needle", "page": 2}
        ).json()
    assert second["total"] == 150 and second["pages"] == 2
    assert [hit["line"] for hit in second["hits"]] == list(range(101, 151))
    limited_settings = quiet_settings.model_copy(update={"search_max_hits": 20})
    with TestClient(create_app(limited_settings), headers=HTML) as client:
        body = client.get(f"/api/v1/analyses/{analysis_id}/search", params={"q": "needle"}).json()
        page = client.get(f"/a/{analysis_id}/search", params={"q": "needle"})
    assert body["total"] == 20 and body["truncated"] is True and body["stopped"] == "limit"
    assert "stopped after 20 matching lines: there are more" in page.text


def test_a_search_with_a_million_hits_stops_at_the_limit_and_says_so(
    quiet_settings: Settings,
) -> None:
    line = b"2018-01-01T12:00:00Z vcsc x: needle\n"
    analysis_id = analysis_with_log(quiet_settings, (line * 1_000_000).decode())
    with TestClient(create_app(quiet_settings), headers=HTML) as client:
        body = client.get(f"/api/v1/analyses/{analysis_id}/search", params={"q": "needle"}).json()
        page = client.get(f"/a/{analysis_id}/search", params={"q": "needle"})
    limit = quiet_settings.search_max_hits
    assert limit == 10_000
    assert body["total"] == limit and body["truncated"] is True and body["stopped"] == "limit"
    assert set(body) >= {"total", "truncated", "hits"}
    assert set(body["hits"][0]) == {"node", "file", "line", "time", "text"}
    assert "<strong>10,000</strong>+ matching lines" in page.text
    assert "stopped after 10,000 matching lines: there are more" in page.text


def test_a_bad_regex_is_a_400_with_re2_reason(
    quiet_settings: Settings, page_client: TestClient
) -> None:
    analysis_id = analysis_with_log(quiet_settings)
    response = page_client.get(
        f"/api/v1/analyses/{analysis_id}/search", params={"q": "(abc", "regex": "1"}
    )
    assert response.status_code == 400
    assert "not a valid regular expression: missing )" in response.json()["detail"]
    page = page_client.get(f"/a/{analysis_id}/search", params={"q": "(abc", "regex": "1"})
    assert page.status_code == 400 and "missing )" in page.text


def test_unknown_analysis_is_404_with_a_sentence_and_head_works(
    quiet_settings: Settings, page_client: TestClient
) -> None:
    missing = page_client.get("/api/v1/analyses/nope/search", params={"q": "x"})
    assert missing.status_code == 404
    assert missing.json()["detail"].endswith(".")
    assert page_client.get("/a/nope/search").status_code == 404
    analysis_id = analysis_with_log(quiet_settings)
    head = page_client.head(f"/api/v1/analyses/{analysis_id}/search", params={"q": "abc"})
    assert head.status_code == 200 and head.content == b""
    assert page_client.head(f"/a/{analysis_id}/search").status_code == 200


def test_unknown_node_filter_is_refused(quiet_settings: Settings, page_client: TestClient) -> None:
    analysis_id = analysis_with_log(quiet_settings)
    response = page_client.get(
        f"/api/v1/analyses/{analysis_id}/search", params={"q": "x", "node": "expe"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "The analysis has no node named 'expe'."


def test_page_groups_hits_by_file_highlights_and_links_to_the_viewer(
    quiet_settings: Settings, page_client: TestClient
) -> None:
    analysis_id = analysis_with_log(quiet_settings)
    page = page_client.get(f"/a/{analysis_id}/search", params={"q": "abc123"})
    assert page.status_code == 200
    assert f'<h2 class="file-name">{SNAPSHOT}' in page.text
    assert "<mark>abc123</mark>" in page.text
    assert "|INVITE sip:1004" in page.text  # the line before, as context
    link = page.text.split('<a class="ln" href="')[1].split('"')[0].replace("&amp;", "&")
    parts = urlsplit(link)
    assert parts.path == f"/a/{analysis_id}/files/{SNAPSHOT}"
    query = parse_qs(parts.query)
    assert query["line"] == ["4"] and query["q"] == ["abc123"]
    assert query["from"][0].startswith(f"/a/{analysis_id}/search?q=abc123")
