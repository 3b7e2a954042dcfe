"""The HTML pages as a browser sees them: upload page, diagnostic overview, log viewer, errors."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.web.conftest import FindingSpec, SnippetSpec, add_analysis, log_text

LOG = "diagnostic_log_vcsc.tar.gz/loggingsnapshot_vcsc_2022-07-11_17_33_18.txt"


def test_index_has_the_upload_form_dropzone_and_help(page_client: TestClient) -> None:
    response = page_client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert re.search(
        r'<form[^>]+method="post"[^>]+action="/analyses"[^>]+multipart/form-data', html
    )
    assert re.search(r'<input[^>]+type="file"[^>]+name="files"[^>]+multiple', html)
    assert 'name="title"' in html
    assert "dropzone" in html and "<progress" in html
    assert "Maintenance &gt; Diagnostics &gt; Diagnostic logging" in html
    assert "No analysis yet." in html


def test_index_lists_recent_analyses_newest_first(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    older = add_analysis(quiet_settings, title="Older case", status="failed", error="x")
    newer = add_analysis(quiet_settings, title=None, status="queued")
    html = page_client.get("/").text
    assert html.index(f'href="/a/{newer}"') < html.index(f'href="/a/{older}"')
    assert "Older case" in html
    assert "diagnostic_log_vcsc.tar.gz" in html  # no title: the file names label it
    assert 'data-status="failed"' in html and 'data-status="queued"' in html


@pytest.mark.parametrize("status", ["queued", "running"])
def test_an_active_analysis_refreshes_itself_and_shows_progress(
    page_client: TestClient, quiet_settings: Settings, status: str
) -> None:
    analysis_id = add_analysis(quiet_settings, status=status, progress=42)
    html = page_client.get(f"/a/{analysis_id}").text
    assert '<meta http-equiv="refresh" content="2">' in html
    assert f'data-status="{status}"' in html
    assert re.search(r'<progress[^>]+value="42"', html)
    assert "No known problem found" not in html


def test_a_finished_analysis_does_not_refresh(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = add_analysis(quiet_settings, status="done")
    html = page_client.get(f"/a/{analysis_id}").text
    assert 'http-equiv="refresh"' not in html
    assert 'data-status="done"' in html


def test_a_failed_analysis_shows_its_reason(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    reason = "diagnostic_log_cut.tar.gz: the archive is truncated (unexpected end of data)."
    analysis_id = add_analysis(quiet_settings, status="failed", error=reason)
    html = page_client.get(f"/a/{analysis_id}").text
    assert 'data-status="failed"' in html
    assert "The analysis failed" in html
    assert reason in html
    assert 'http-equiv="refresh"' not in html


PASSED = [{"signature_id": "s1", "title": "One", "outcome": "passed", "reason": None}]
EXAMINED = [
    {
        "bundle": "diagnostic_log_vcsc.tar.gz",
        "node": "vcsc",
        "product": "Expressway-C",
        "version": "X14.2.1",
        "kind": "loggingsnapshot",
        "files": 1,
        "lines": 1163,
        "expressway": True,
    }
]


def test_no_finding_says_so_with_the_ruleset_version(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = add_analysis(
        quiet_settings, ruleset_version="rs-2026-11-27-abc", coverage=PASSED, examined=EXAMINED
    )
    html = page_client.get(f"/a/{analysis_id}").text
    assert "No known problem found" in html
    assert "rs-2026-11-27-abc" in html
    assert 'data-verdict="clear"' in html
    assert "1,163 lines of loggingsnapshot from vcsc (Expressway-C X14.2.1)" in html


def test_overview_shows_files_nodes_warnings_and_links(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = add_analysis(
        quiet_settings,
        warnings=["Skipped 'dev/null': not a regular file."],
        files={LOG: log_text(3)},
    )
    html = page_client.get(f"/a/{analysis_id}").text
    assert "diagnostic_log_vcsc.tar.gz" in html and "12.1 KiB" in html and "ab" * 32 in html
    assert "vcsc" in html and "Expressway-C" in html and "X14.2.1" in html
    assert "Skipped &#39;dev/null&#39;: not a regular file." in html
    api = f"/api/v1/analyses/{analysis_id}"
    assert f'<link rel="alternate" type="application/json" href="{api}">' in html
    assert f'href="{api}"' in html
    # the share link names the configured address (127.0.0.1:8000), not the Host header
    assert f'value="http://127.0.0.1:8000/a/{analysis_id}"' in html and "Copy link" in html
    assert f'href="/a/{analysis_id}/files/{LOG}"' in html  # the unpacked files are browsable
    assert page_client.get(api).json()["id"] == analysis_id


def test_findings_are_grouped_by_severity_with_counts_and_details(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    findings = [
        FindingSpec(severity="warning", title="A warning finding", signature_id="w-one"),
        FindingSpec(
            severity="critical",
            title="A critical finding",
            signature_id="c-one",
            snippets=[
                SnippetSpec(LOG, 1234, "WARNING: Core server certificate verification failed")
            ],
        ),
        FindingSpec(severity="warning", title="Another warning", signature_id="w-two"),
    ]
    analysis_id = add_analysis(quiet_settings, findings=findings, files={LOG: log_text(2000)})
    html = page_client.get(f"/a/{analysis_id}").text
    counts = {
        label: int(count)
        for count, label in re.findall(
            r'summary-count">(\d+)</span>\s*<span class="summary-label">(\w+)', html
        )
    }
    assert counts == {"critical": 1, "error": 0, "warning": 2, "info": 0}
    assert html.index("A critical finding") < html.index("A warning finding")
    assert html.index("A warning finding") < html.index("Another warning")
    for text in ("c-one", "vcsc", "2022-07-11T19:49:01.533+02:00", "2022-07-11T19:50:02.000+02:00"):
        assert text in html
    for heading in ("Description", "Condition", "Further information", "Action"):
        assert f"<h4>{heading}</h4>" in html
    assert "certificate.\n- first reason\n- second reason" in html  # line breaks kept
    assert re.search(r"<th[^>]*>reason</th><td>self_signed</td>", html)
    bug = re.search(r'<a href="([^"]+CSCwc69661)"([^>]*)>CSCwc69661</a>', html)
    assert bug and bug.group(1) == "https://bst.cloudapps.cisco.com/bugsearch/bug/CSCwc69661"
    assert 'target="_blank"' in bug.group(2) and 'rel="noopener noreferrer"' in bug.group(2)
    link = f'href="/a/{analysis_id}/files/{LOG}?line=1234#L1234"'
    assert link in html
    assert f"{LOG}</span>:<a" in html


def test_log_viewer_pages_anchors_and_highlights(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    findings = [FindingSpec(snippets=[SnippetSpec(LOG, 1234, "x"), SnippetSpec(LOG, 1990, "y")])]
    analysis_id = add_analysis(quiet_settings, files={LOG: log_text(2500)}, findings=findings)
    base = f"/a/{analysis_id}/files/{LOG}"

    response = page_client.get(f"{base}?line=1234")
    assert response.status_code == 200
    html = response.text
    assert "Page 2 of 3" in html and "2500 lines" in html
    assert re.search(r'class="log-line evidence target" id="L1234"', html)
    assert re.search(r'class="log-line evidence" id="L1990"', html)
    assert re.search(
        r'class="log-line" id="L1001"[^>]*><a class="ln" href="#L1001"[^>]*>1001</a>', html
    )
    assert "line 1001<" in html and "line 2000<" in html
    assert 'id="L1000"' not in html and 'id="L2001"' not in html
    assert f'href="{base}?page=1"' in html and f'href="{base}?page=3"' in html
    assert f'href="/a/{analysis_id}/raw/{LOG}"' in html

    last = page_client.get(f"{base}?page=3").text
    assert "Page 3 of 3" in last and 'id="L2500"' in last and 'id="L2001"' in last
    assert "evidence" not in last.split('class="log"')[1]  # no snippet on this page

    first = page_client.get(base).text
    assert (
        "Page 1 of 3" in first
        and 'id="L1"' in first
        and "target" not in first.split('class="log"')[1]
    )


def test_log_viewer_names_with_spaces_and_hashes_round_trip(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    name = "bundle.tar.gz/odd dir/log #1.txt"
    analysis_id = add_analysis(quiet_settings, files={name: b"hello\n"})
    overview = page_client.get(f"/a/{analysis_id}").text
    href = re.search(r'href="(/a/[^"]+/files/[^"]+)"', overview)
    assert href and "%20" in href.group(1) and "%23" in href.group(1)
    page = page_client.get(href.group(1))
    assert page.status_code == 200 and "hello" in page.text


def test_binary_file_is_offered_as_a_download(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    pcap = "diagnostic_log_vcsc.tar.gz/tcpdump/capture.pcap"
    body = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(range(256))
    analysis_id = add_analysis(quiet_settings, files={pcap: body}, kinds={pcap: "pcap"})
    html = page_client.get(f"/a/{analysis_id}/files/{pcap}").text
    assert "binary file" in html and "264 bytes" in html
    assert 'class="log"' not in html
    raw = page_client.get(f"/a/{analysis_id}/raw/{pcap}")
    assert raw.status_code == 200
    assert raw.content == body
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-disposition"].startswith("attachment")
    assert "capture.pcap" in raw.headers["content-disposition"]


def test_unknown_analysis_is_an_html_404(page_client: TestClient) -> None:
    response = page_client.get("/a/no-such-analysis")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text and "no-such-analysis" in response.text


def test_unknown_page_is_an_html_404(page_client: TestClient) -> None:
    response = page_client.get("/nowhere")
    assert response.status_code == 404
    assert "Nothing here" in response.text


def test_unknown_file_is_404(page_client: TestClient, quiet_settings: Settings) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: log_text(3)})
    for url in (f"/a/{analysis_id}/files/nope.txt", f"/a/{analysis_id}/raw/nope.txt"):
        response = page_client.get(url)
        assert response.status_code == 404
        assert "nope.txt" in response.text
    assert page_client.get(f"/a/no-such-analysis/files/{LOG}").status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "%2E%2E%2F%2E%2E%2Floupe.db",
        "%2Fetc%2Fpasswd",
    ],
)
@pytest.mark.parametrize("view", ["files", "raw"])
def test_path_traversal_in_the_file_name_is_404(
    page_client: TestClient, quiet_settings: Settings, name: str, view: str
) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: log_text(3)})
    response = page_client.get(f"/a/{analysis_id}/{view}/{name}")
    assert response.status_code == 404
    assert "root:" not in response.text and "SQLite" not in response.text


def test_bad_page_number_is_a_422_page(page_client: TestClient, quiet_settings: Settings) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: log_text(3)})
    response = page_client.get(f"/a/{analysis_id}/files/{LOG}?page=0")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")


def test_empty_file_renders(page_client: TestClient, quiet_settings: Settings) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: b""})
    html = page_client.get(f"/a/{analysis_id}/files/{LOG}").text
    assert "Page 1 of 1" in html and "The file is empty." in html


def test_a_page_of_a_log_of_quote_characters_stays_small(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    """8 MB of `"` gave 40 MB of HTML per page (each `"` is escaped as `&#34;`)."""
    log = (b'"' * 7999 + b"\n") * 1024  # 8 MiB, generated here
    analysis_id = add_analysis(quiet_settings, files={LOG: log})
    response = page_client.get(f"/a/{analysis_id}/files/{LOG}?page=1")
    assert response.status_code == 200
    assert len(response.content) < 3 * 2**20  # 512 KB of text at most 5 times longer as HTML
    html = response.text
    assert 'id="L1"' in html and 'id="L1000"' in html  # every line of the page is there
    assert "line cut" in html and f'href="/a/{analysis_id}/raw/{LOG}"' in html
    normal = add_analysis(quiet_settings, files={LOG: log_text(20)})
    assert "line 20<" in page_client.get(f"/a/{normal}/files/{LOG}").text
