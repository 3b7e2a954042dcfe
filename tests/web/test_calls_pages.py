"""The calls API and pages, checked from outside: list, filters, ladder, downloads, escaping."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.calls.scenarios import two_node_logs
from tests.calls.siplog import START, Node
from tests.conftest import SHARED, wait_for
from tests.corpus import xstat_dump
from tests.factories import make_tar

REAL = SHARED / "data/real/expressway-e_mra_call.txt"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The tests' settings with call flows on (LOUPE_CALL_FLOWS, on by default)."""
    return settings.model_copy(update={"call_flows": True})


def bundle(node: Node, product: str) -> bytes:
    stamp = "2018-01-01_17_56_00"
    return make_tar(
        {
            f"loggingsnapshot_{node.host}_{stamp}.txt": node.text(),
            f"xstat_dump_{node.host}_{stamp}.txt": xstat_dump(node.host, product, "X14.2.1"),
        }
    )


def analyse(client: TestClient, *files: tuple[str, bytes]) -> str:
    response = client.post(
        "/api/v1/analyses", files=[("files", (name, body)) for name, body in files]
    )
    assert response.status_code == 202, response.text
    analysis_id: str = response.json()["id"]
    assert wait_for(client, analysis_id)["status"] == "done"
    return analysis_id


@pytest.fixture
def two_nodes(client: TestClient) -> str:
    expe, expc = two_node_logs()
    return analyse(
        client,
        ("diagnostic_log_expe1.tar.gz", bundle(expe, "Expressway-E")),
        ("diagnostic_log_expc1.tar.gz", bundle(expc, "Expressway-C")),
    )


def calls(client: TestClient, analysis_id: str, **params: Any) -> Any:
    response = client.get(f"/api/v1/analyses/{analysis_id}/calls", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_call_crossing_both_nodes_is_one_call(client: TestClient, two_nodes: str) -> None:
    assert client.get(f"/api/v1/analyses/{two_nodes}").json()["calls"] == 2
    body = calls(client, two_nodes)
    assert body["total"] == 2
    first = body["calls"][0]
    assert first["call_ids"] == ["c0ffee01@198.51.100.20"]
    assert first["nodes"] == ["expe1", "expc1"] and first["joined_by"] == "call-id"
    assert first["final_status"] == "404 Not Found" and first["messages"] == 16
    assert first["from"] == "sip:1003@example.com" and first["to"] == "sip:5551234@example.com"
    assert first["started_at"].startswith("2018-01-01T17:56:48.964")
    assert body["calls"][1]["final_status"] == "200 OK"
    assert body["calls"][1]["end_reason"] == "BYE from 198.51.100.20:50123"
    (keepalive,) = body["background"]
    assert (keepalive["node"], keepalive["method"], keepalive["count"]) == ("expc1", "OPTIONS", 10)

    detail = client.get(f"/api/v1/analyses/{two_nodes}/calls/1").json()
    assert [p["label"] for p in detail["participants"]] == [
        "DX80 (ce9.15.0.1)",
        "expe1 (Expressway-E)",
        "expc1 (Expressway-C)",
        "Unified CM",
    ]
    assert len(detail["messages"]) == 16
    invite = detail["messages"][0]
    assert (invite["src"], invite["dst"], invite["method"], invite["cseq"]) == (
        "198.51.100.20:50123",
        "10.0.0.5:5061",
        "INVITE",
        100,
    )
    assert invite["file"].endswith(".txt") and invite["line"] > 0


def test_search_filters_and_paging(client: TestClient, two_nodes: str) -> None:
    assert [c["id"] for c in calls(client, two_nodes, q="5551234")["calls"]] == [1]
    assert [c["id"] for c in calls(client, two_nodes, q="BEEF02")["calls"]] == [2]
    assert [c["id"] for c in calls(client, two_nodes, q="10.0.0.10")["calls"]] == [1]
    assert [c["id"] for c in calls(client, two_nodes, failed="true")["calls"]] == [1]
    assert calls(client, two_nodes, method="bye")["total"] == 0
    assert calls(client, two_nodes, q="100%_")["total"] == 0  # LIKE wildcards are literal
    past = calls(client, two_nodes, page=99)  # past the end: empty (a client paging stops)
    assert (past["page"], past["page_count"], past["total"], past["calls"]) == (99, 1, 2, [])
    assert client.get(f"/api/v1/analyses/{two_nodes}/calls/99").status_code == 404
    assert client.get(f"/api/v1/analyses/{two_nodes}/calls/{10**30}").status_code == 404
    assert client.get(f"/a/{two_nodes}/calls/0/ladder.svg").status_code == 404
    assert client.get("/api/v1/analyses/nope/calls").status_code == 404
    assert (
        client.get(f"/api/v1/analyses/{two_nodes}/calls", params={"q": "x" * 1001}).status_code
        == 422
    )


def test_the_pages_list_calls_and_draw_the_ladder_without_script(
    client: TestClient, two_nodes: str
) -> None:
    overview = client.get(f"/a/{two_nodes}").text
    assert f'href="/a/{two_nodes}/calls"' in overview
    listing = client.get(f"/a/{two_nodes}/calls", params={"failed": "true"}).text
    assert "404 Not Found" in listing and "5551234" in listing and "5550000" not in listing
    page = client.get(f"/a/{two_nodes}/calls/1", params={"highlight": "Unallocated"}).text
    assert "<svg" in page and page.count('href="#msg-') == 12  # 16 messages, 4 seen on both
    assert 'id="msg-7"' in page and "Q.850;cause=1" in page
    assert "1 message contains it" in page  # the 404 from Unified CM carries the Reason
    line_link = re.search(r'href="(/a/[^"]+/files/[^"]+\?line=(\d+)#L\d+)"', page)
    assert line_link is not None
    viewer = client.get(line_link[1].replace("&amp;", "&"))
    assert viewer.status_code == 200 and "network.sip" in viewer.text
    assert f'id="L{line_link[2]}"' in viewer.text
    in_404 = page.split('id="msg-7"', 1)[1]  # Unified CM's 404: its link opens its block
    link_404 = re.search(r'href="(/a/[^"]+/files/[^"]+\?line=(\d+)#L\d+)"', in_404)
    assert link_404 is not None
    lines = client.get(link_404[1].replace("&amp;", "&")).text
    status_line = int(link_404[2]) + 2  # the block line, " SIPMSG:", then the start line
    shown = lines.split(f'id="L{status_line}"', 1)[1].split('id="L', 1)[0]
    assert "SIP/2.0 404 Not Found" in shown
    svg = client.get(f"/a/{two_nodes}/calls/1/ladder.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text
    png = client.get(f"/a/{two_nodes}/calls/1/ladder.png")
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    text = client.get(f"/a/{two_nodes}/calls/1/ladder.txt").text
    assert "Unified CM" in text and "404 Not Found" in text


def test_markup_from_the_log_is_escaped_everywhere(client: TestClient) -> None:
    expe, expc = Node("expe1", "10.0.0.5"), Node("expc1", "10.0.0.2")
    from tests.calls.scenarios import failed_mra_call

    failed_mra_call(
        expe, expc, number="<script>alert(1)</script>", ua="<script>ua()</script> Cisco-<b>x"
    )
    analysis_id = analyse(client, ("e.tar.gz", bundle(expe, "Expressway-E")))
    for url in (
        f"/a/{analysis_id}/calls",
        f"/a/{analysis_id}/calls/1",
        f"/a/{analysis_id}/calls/1/ladder.svg",
    ):
        text = client.get(url).text
        assert "<script>alert" not in text and "<script>ua" not in text, url
        assert "&lt;script" in text, url


def test_the_real_public_log_shows_its_call(client: TestClient) -> None:
    if not REAL.is_file():
        pytest.skip("the real public log is not on this machine")
    analysis_id = analyse(client, ("expressway-e_mra_call.txt", REAL.read_bytes()))
    (call,) = calls(client, analysis_id)["calls"]
    assert call["messages"] == 6 and call["joined_by"] == "session-id"
    detail = client.get(f"/api/v1/analyses/{analysis_id}/calls/1").json()
    assert [m["line"] for m in detail["messages"]] == [2, 210, 831, 967, 995, 1148]
    assert [p["address"] for p in detail["participants"]] == [
        "10.122.73.183:47177",
        "10.81.54.5",
        "10.81.54.102:25017",
    ]
    page = client.get(f"/a/{analysis_id}/calls/1").text
    assert "a=crypto:0 AEAD_AES_128_GCM" in page  # the full message with its SDP
    assert START.year == 2018


def test_the_findings_of_a_call_are_listed_above_its_ladder(client: TestClient) -> None:
    from tests.calls.siplog import sip

    expc = Node("expc1", "10.0.30.2")
    common = {"call_id": "abcd12345678@127.0.0.1", "cseq": 4616, "method": "SERVICE"}
    common["to_uri"] = "sip:serviceserver@cucm02.example.local"
    sip(
        expc,
        START,
        direction="in",
        local_port=27901,
        remote="64.100.0.10:7003",
        start_line="SERVICE sip:serviceserver@cucm02.example.local SIP/2.0",
        **common,
    )  # type: ignore[arg-type]
    sip(
        expc,
        START.replace(second=58),
        direction="out",
        local_port=27901,
        remote="64.100.0.10:7003",
        start_line="SIP/2.0 408 Request Timeout",
        **common,
    )  # type: ignore[arg-type]
    analysis_id = analyse(client, ("c.tar.gz", bundle(expc, "Expressway-C")))
    (call,) = calls(client, analysis_id)["calls"]
    assert (call["method"], call["final_status"], call["failed"]) == (
        "SERVICE",
        "408 Request Timeout",
        True,
    )
    page = client.get(f"/a/{analysis_id}/calls/1").text
    assert "Findings in this call" in page and "mra-sip-service-request-timeout" in page
    overview = client.get(f"/a/{analysis_id}").text  # each finding links to its call
    link = re.search(r'class="snippet-call" href="([^"]+)"', overview)
    assert link is not None and "abcd12345678%40127.0.0.1" in link[1]
    listing = client.get(link[1].replace("&amp;", "&")).text
    assert listing.count('class="call-row') == 1 and "408 Request Timeout" in listing


def test_without_call_flows_the_analysis_says_they_were_not_extracted(
    migrated: Settings,
) -> None:
    from app.main import create_app
    from app.services.calls import NOT_EXTRACTED

    off = migrated.model_copy(update={"call_flows": False})
    assert Settings().call_flows is True  # the default: on
    expe, expc = two_node_logs()
    with TestClient(create_app(off)) as client:
        analysis_id = analyse(
            client,
            ("diagnostic_log_expe1.tar.gz", bundle(expe, "Expressway-E")),
            ("diagnostic_log_expc1.tar.gz", bundle(expc, "Expressway-C")),
        )
        body = client.get(f"/api/v1/analyses/{analysis_id}").json()
        assert "calls" in body and body["calls"] is None
        listed = calls(client, analysis_id)
        assert listed["extracted"] is False and listed["total"] == 0 and listed["calls"] == []
        assert listed["detail"] == NOT_EXTRACTED and "LOUPE_CALL_FLOWS=true" in NOT_EXTRACTED
        one = client.get(f"/api/v1/analyses/{analysis_id}/calls/1")
        assert one.status_code == 404 and "LOUPE_CALL_FLOWS=true" in one.json()["detail"]
        page = client.get(f"/a/{analysis_id}/calls").text
        assert "Call flows were not extracted for this analysis" in page
        assert 'class="calls-filter' not in page
        overview = client.get(f"/a/{analysis_id}").text
        assert "Calls (not extracted)" in overview


def test_a_rerun_without_call_flows_keeps_the_calls_of_the_run_that_extracted_them(
    migrated: Settings,
) -> None:
    from app.main import create_app

    expe, expc = two_node_logs()
    with TestClient(create_app(migrated)) as on:  # call flows on (the module's settings)
        analysis_id = analyse(
            on,
            ("diagnostic_log_expe1.tar.gz", bundle(expe, "Expressway-E")),
            ("diagnostic_log_expc1.tar.gz", bundle(expc, "Expressway-C")),
        )
    off = migrated.model_copy(update={"call_flows": False})
    with TestClient(create_app(off)) as client:  # the only worker now: it does not extract
        response = client.post(f"/api/v1/analyses/{analysis_id}/rerun")
        assert response.status_code == 202, response.text
        body = wait_for(client, analysis_id)
        assert body["status"] == "done" and len(body["runs"]) == 2
        assert body["calls"] == 2
        assert calls(client, analysis_id)["extracted"] is True


def test_the_highlight_box_takes_as_much_as_the_server_reads(
    client: TestClient, two_nodes: str
) -> None:
    """The box lets one type what the server reads (a whole Call-ID, up to 300 characters)."""
    from app.web.calls import MAX_HIGHLIGHT_CHARS

    page = client.get(f"/a/{two_nodes}/calls/1").text
    box = re.search(r'<input id="highlight"[^>]*maxlength="(\d+)"', page)
    assert box is not None and int(box[1]) == MAX_HIGHLIGHT_CHARS
    longest = client.get(f"/a/{two_nodes}/calls/1", params={"highlight": "x" * int(box[1])})
    assert longest.status_code == 200
