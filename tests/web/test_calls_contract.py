"""Issue 13's call-list contract as a client outside sees it: the query string (empty values,
unusable ones), pages past the end, calls named by Call-ID, keep-alive rows under the filters,
downloads and their headers, and what the list says while an analysis is not done."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.web.templating import call_link
from tests.calls.scenarios import C_IP, CUCM, two_node_logs
from tests.calls.siplog import START, sip
from tests.web.conftest import add_analysis
from tests.web.test_calls_pages import analyse, bundle

FAILED_CALL_ID = "c0ffee01@198.51.100.20"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"call_flows": True})


@pytest.fixture
def analysis(client: TestClient) -> str:
    """The C and E logs of tests.calls.scenarios (a failed call across both nodes, an answered
    call on the E, OPTIONS between C and E), and on the C: OPTIONS to Unified CM answered 503."""
    expe, expc = two_node_logs()
    for n in range(3):
        common: dict[str, Any] = {"call_id": f"ucm-ping{n}@{C_IP}", "cseq": 1}
        common["method"] = "OPTIONS"
        when = START + timedelta(seconds=90 + n)
        sip(
            expc,
            when,
            direction="out",
            local_port=5061,
            remote=CUCM,
            start_line=f"OPTIONS sip:{CUCM} SIP/2.0",
            **common,
        )
        sip(
            expc,
            when + timedelta(milliseconds=5),
            direction="in",
            local_port=5061,
            remote=CUCM,
            start_line="SIP/2.0 503 Service Unavailable",
            headers=('Reason: Q.850;cause=41;text="Temporary failure"',),
            **common,
        )
    return analyse(
        client,
        ("diagnostic_log_expe1.tar.gz", bundle(expe, "Expressway-E")),
        ("diagnostic_log_expc1.tar.gz", bundle(expc, "Expressway-C")),
    )


def listing(client: TestClient, analysis_id: str, query: str = "") -> Any:
    response = client.get(f"/api/v1/analyses/{analysis_id}/calls{query}")
    assert response.status_code == 200, response.text
    return response.json()


def test_the_contracts_empty_query_values_are_values_not_given(
    client: TestClient, analysis: str
) -> None:
    body = listing(client, analysis, "?q=&failed=&page=&method=&per_page=")
    assert body["total"] == 2 and [c["id"] for c in body["calls"]] == [1, 2]
    assert (body["page"], body["per_page"], body["page_count"]) == (1, 50, 1)
    page = client.get(f"/a/{analysis}/calls?q=&failed=&page=")
    assert page.status_code == 200 and page.text.count('class="call-row') == 2
    assert listing(client, analysis, "?failed=TRUE")["total"] == 1
    assert listing(client, analysis, "?failed=false")["total"] == 2  # not only the good ones


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("failed=garbage", "failed must be true or false, not 'garbage'."),
        ("page=abc", "page must be a whole number from 1, not 'abc'."),
        ("page=0", "page starts at 1 (it was 0)."),
        ("page=-2", "page must be a whole number from 1, not '-2'."),
        ("per_page=0", "per_page starts at 1 (it was 0)."),
    ],
)
def test_an_unusable_query_value_is_a_422_with_a_sentence(
    client: TestClient, analysis: str, query: str, sentence: str
) -> None:
    response = client.get(f"/api/v1/analyses/{analysis}/calls?{query}")
    assert response.status_code == 422 and response.json() == {"detail": sentence}
    page = client.get(f"/a/{analysis}/calls?{query}", headers={"Accept": "text/html"})
    assert page.status_code == 422 and sentence.replace("'", "&#39;") in page.text


def test_pages_past_the_end_are_empty_and_per_page_is_bounded(
    client: TestClient, analysis: str
) -> None:
    second = listing(client, analysis, "?per_page=1&page=2")
    assert [c["id"] for c in second["calls"]] == [2] and second["page_count"] == 2
    past = listing(client, analysis, "?per_page=1&page=3")
    assert (past["calls"], past["page"], past["page_count"], past["total"]) == ([], 3, 2, 2)
    far = listing(client, analysis, f"?page={10**30}")  # no overflow in the database's OFFSET
    assert far["calls"] == [] and far["total"] == 2
    huge = listing(client, analysis, f"?per_page={10**30}")
    assert huge["per_page"] == 1000 and len(huge["calls"]) == 2
    page = client.get(f"/a/{analysis}/calls?per_page=1&page=7").text
    assert "Page 7 is past the last page: 2 calls fill 2 pages." in page
    assert 'href="/a/' + analysis + '/calls?per_page=1&amp;page=2">Go to page 2</a>' in page
    first = client.get(f"/a/{analysis}/calls?per_page=1&failed=false").text
    assert 'rel="next" href="/a/' + analysis + '/calls?per_page=1&amp;page=2"' in first
    twin = f'href="/api/v1/analyses/{analysis}/calls?q=5551234&amp;failed=true&amp;page=1"'
    assert twin in client.get(f"/a/{analysis}/calls?q=5551234&failed=true").text


def test_a_call_is_named_by_its_number_or_one_of_its_call_ids(
    client: TestClient, analysis: str
) -> None:
    by_id = client.get(f"/api/v1/analyses/{analysis}/calls/{FAILED_CALL_ID}")
    assert by_id.status_code == 200 and by_id.json()["id"] == 1
    assert by_id.json()["url"] == f"/a/{analysis}/calls/1"
    assert client.get(f"/api/v1/analyses/{analysis}/calls/C0FFEE01@198.51.100.20").json()["id"] == (
        1
    )
    page = client.get(f"/a/{analysis}/calls/{FAILED_CALL_ID}")
    assert page.status_code == 200 and "Call 1 · INVITE" in page.text
    text = client.get(f"/a/{analysis}/calls/{FAILED_CALL_ID}/ladder.txt")
    assert text.headers["content-disposition"] == 'attachment; filename="call-1.txt"'
    for unknown in ("0", "3", str(10**30), "nope@nowhere", "c0ffee01"):
        response = client.get(f"/api/v1/analyses/{analysis}/calls/{unknown}")
        assert response.status_code == 404, unknown
        assert response.json()["detail"] == (
            f"The analysis has no call '{unknown}': name a call by its number in the call "
            f"list (/a/{analysis}/calls) or by one of its Call-IDs."
        )
        html = client.get(f"/a/{analysis}/calls/{unknown}/ladder.svg")
        assert html.status_code == 404
    html = client.get(f"/a/{analysis}/calls/nope", headers={"Accept": "text/html"})
    assert html.status_code == 404 and "The analysis has no call &#39;nope&#39;" in html.text


def test_downloads_say_what_they_are_and_answer_head(client: TestClient, analysis: str) -> None:
    kinds = {"svg": "image/svg+xml", "png": "image/png", "txt": "text/plain; charset=utf-8"}
    for extension, media_type in kinds.items():
        url = f"/a/{analysis}/calls/1/ladder.{extension}"
        got = client.get(url)
        assert got.status_code == 200 and got.headers["content-type"] == media_type
        disposition = f'attachment; filename="call-1.{extension}"'
        assert got.headers["content-disposition"] == disposition
        head = client.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == media_type
    for url in (f"/a/{analysis}/calls", f"/api/v1/analyses/{analysis}/calls/1"):
        assert client.head(url).status_code == 200


def test_keepalive_rows_follow_the_filters(client: TestClient, analysis: str) -> None:
    every = listing(client, analysis)["background"]
    assert sorted((b["peer"], b["failures"]) for b in every) == [
        ("10.0.0.10:5061", 3),
        ("10.0.0.5:7001", 0),
    ]
    options = listing(client, analysis, "?method=options")
    assert options["total"] == 0 and len(options["background"]) == 2
    assert listing(client, analysis, "?method=INVITE")["background"] == []
    failing = listing(client, analysis, "?failed=true")["background"]
    assert [(b["peer"], b["statuses"]) for b in failing] == [("10.0.0.10:5061", {"503": 3})]
    by_peer = listing(client, analysis, "?q=10.0.0.10:5061")["background"]
    assert [b["peer"] for b in by_peer] == ["10.0.0.10:5061"]
    assert listing(client, analysis, f"?q={FAILED_CALL_ID}")["background"] == []
    page = client.get(f"/a/{analysis}/calls?method=OPTIONS").text
    assert '<option value="OPTIONS" selected>OPTIONS</option>' in page
    assert "No call matches these filters. Keep-alive traffic is not listed as calls" in page


def test_a_finding_on_keepalive_traffic_links_to_its_rows_not_to_a_missing_call(
    client: TestClient, analysis: str
) -> None:
    overview = client.get(f"/a/{analysis}").text
    assert f'href="/a/{analysis}/calls?method=OPTIONS">its OPTIONS traffic</a>' in overview
    assert f"/a/{analysis}/calls?q=ucm-ping" not in overview
    rows = listing(client, analysis, "?method=OPTIONS")["background"]
    assert any(b["failures"] == 3 for b in rows)


def test_call_link_names_the_call_or_the_keepalive_method() -> None:
    summary = (
        'Detail="Receive Response Code=503, Method=OPTIONS, CSeq=1, To=sip:x, '
        'Call-ID=ping1@10.0.0.2, From-Tag=a"'
    )
    assert call_link(summary) == ("method=OPTIONS", "its OPTIONS traffic")
    block = "SIP/2.0 200 OK\nCall-ID: reg9@host\nCSeq: 4 REGISTER"
    assert call_link(block) == ("method=REGISTER", "its REGISTER traffic")
    invite = summary.replace("OPTIONS", "INVITE")
    assert call_link(invite) == ("q=ping1%4010.0.0.2", "its call")
    assert call_link('Detail="TCP Connection Failed"') is None


def test_the_list_of_an_analysis_not_done_says_so(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    running = add_analysis(quiet_settings, status="running")
    waiting = "The analysis is running: its calls are listed once it is done."
    body = page_client.get(f"/api/v1/analyses/{running}/calls").json()
    assert (body["extracted"], body["calls"], body["detail"]) == (False, [], waiting)
    assert waiting in page_client.get(f"/a/{running}/calls").text
    one = page_client.get(f"/api/v1/analyses/{running}/calls/1")
    assert one.status_code == 404 and one.json()["detail"].endswith(waiting)
    failed = add_analysis(quiet_settings, status="failed", error="bad archive")
    detail = page_client.get(f"/api/v1/analyses/{failed}/calls").json()["detail"]
    assert detail.startswith("The analysis failed, so no calls were extracted")


def test_control_characters_from_a_log_are_shown_not_obeyed(client: TestClient) -> None:
    """BEL and ESC in a reason phrase and a User-Agent: the SVG stays XML, the text download
    and the page show their pictures (a terminal printing ladder.txt is not driven by them)."""
    from xml.etree import ElementTree

    from tests.calls.siplog import Node

    node = Node("expe1", "10.0.0.5")
    common: dict[str, Any] = {"call_id": "bell-1@192.0.2.20", "cseq": 1, "method": "INVITE"}
    sip(
        node,
        START,
        direction="in",
        local_port=5061,
        remote="192.0.2.20:5060",
        start_line="INVITE sip:777@example.com SIP/2.0",
        headers=("User-Agent: Evil\x1b[2J Cisco-DX80",),
        **common,
    )
    sip(
        node,
        START + timedelta(milliseconds=3),
        direction="out",
        local_port=5061,
        remote="192.0.2.20:5060",
        start_line="SIP/2.0 486 Busy\x07Here",
        headers=("Server: TANDBERG/4352 (X15.0.2)",),
        **common,
    )
    analysis_id = analyse(client, ("e.tar.gz", bundle(node, "Expressway-E")))
    assert listing(client, analysis_id)["calls"][0]["final_status"] == "486 Busy\x07Here"
    svg = client.get(f"/a/{analysis_id}/calls/1/ladder.svg").text
    ElementTree.fromstring(svg)  # well-formed: no BEL in the XML
    assert "486 Busy\u2407Here" in svg
    text = client.get(f"/a/{analysis_id}/calls/1/ladder.txt").text
    assert "\x07" not in text and "\x1b" not in text and "Busy\u2407Here" in text
    page = client.get(f"/a/{analysis_id}/calls/1").text
    assert "\x07" not in page and "\x1b" not in page
    assert "Evil\u241b[2J Cisco-DX80" in page and "Busy\u2407Here" in page


def test_a_call_id_of_digits_names_its_call_when_no_call_has_that_number(
    client: TestClient,
) -> None:
    from tests.calls.scenarios import answered_call
    from tests.calls.siplog import Node

    node = Node("expe1", "10.0.0.5")
    answered_call(node, call_id="8675309", number="5550000", start=START)
    analysis_id = analyse(client, ("e.tar.gz", bundle(node, "Expressway-E")))
    assert client.get(f"/api/v1/analyses/{analysis_id}/calls/1").json()["call_ids"] == ["8675309"]
    by_id = client.get(f"/api/v1/analyses/{analysis_id}/calls/8675309")
    assert by_id.status_code == 200 and by_id.json()["id"] == 1
    assert client.get(f"/api/v1/analyses/{analysis_id}/calls/867530").status_code == 404


def test_logs_of_keepalive_traffic_only_say_so_not_that_sip_logging_was_off(
    client: TestClient,
) -> None:
    from tests.calls.siplog import Node

    node = Node("expc1", C_IP)
    for n in range(4):
        common: dict[str, Any] = {"call_id": f"ping{n}@{C_IP}", "cseq": 1, "method": "OPTIONS"}
        for direction, start_line in (("out", "OPTIONS sip:x SIP/2.0"), ("in", "SIP/2.0 200 OK")):
            sip(
                node,
                START + timedelta(seconds=n),
                direction=direction,
                local_port=5061,
                remote=CUCM,
                start_line=start_line,
                **common,
            )
    analysis_id = analyse(client, ("c.tar.gz", bundle(node, "Expressway-C")))
    body = listing(client, analysis_id)
    assert body["total"] == 0 and [b["count"] for b in body["background"]] == [8]
    page = client.get(f"/a/{analysis_id}/calls").text
    assert "hold no SIP call: only keep-alive and background traffic, counted below." in page
    assert "SIP logging may have been off" not in page
