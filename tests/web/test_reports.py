"""The report for a case: `/a/{id}/report.md` and `/a/{id}/report.pdf` as downloads."""

from __future__ import annotations

import io
import re

import pypdf
from fastapi.testclient import TestClient

from app.config import Settings
from tests.web.conftest import FindingSpec, SnippetSpec, add_analysis

LOG = "diagnostic_log_vcsc.tar.gz/loggingsnapshot_vcsc.txt"


def seeded(settings: Settings) -> str:
    return add_analysis(
        settings,
        title="SR 694 MRA <b>down</b>",
        findings=[
            FindingSpec(
                description="Traffic Server refused the certificate of *cucm.lab*.",
                action="Upload the CA to the `trusted CA list` on every Expressway-C.",
                snippets=[
                    SnippetSpec(LOG, 90, "WARNING: Core server certificate verification failed"),
                    SnippetSpec(LOG, 12, "line with ``` backticks"),
                ],
            ),
            FindingSpec(
                signature_id="alarm-raised",
                title="Alarm raised",
                severity="info",
                bug_ids=[],
                description="An alarm was raised.",
                action="",
            ),
        ],
    )


def test_markdown_report_has_nodes_verdict_findings_actions_bugs_and_log_lines(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = seeded(quiet_settings)
    response = page_client.get(f"/a/{analysis_id}/report.md")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="logloupe-[A-Za-z0-9._-]+\.md"', disposition)
    text = response.text
    assert text.startswith("# logloupe report: SR 694 MRA \\<b\\>down\\</b\\>\n")
    assert "| vcsc | Expressway-C | X14.2.1 |" in text
    assert "## Verdict\n\nProblems: 1 problem found" in text  # the analysis' own verdict
    assert "## Findings (2)" in text
    assert "[ERROR\\] MRA: Traffic Server cannot verify the UCM certificate" in text
    assert "**Action:**\n\nUpload the CA to the `trusted CA list` on every Expressway-C." in text
    assert "CSCwc69661 (https://bst.cloudapps.cisco.com/bugsearch/bug/CSCwc69661)" in text
    # the key log lines in file order, in a fence no line can close
    fence = re.search(r"\n(`{4,})text\n(.*?)\n\1\n", text, re.S)
    assert fence is not None
    assert fence.group(2).splitlines() == [
        f"{LOG}:12: line with ``` backticks",
        f"{LOG}:90: WARNING: Core server certificate verification failed",
    ]
    # one time format: UTC to the millisecond, the node's local time beside it
    assert "2022-07-11 17:49:01.533Z (local 2022-07-11 19:49:01.533+02:00)" in text


def test_pdf_report_is_a_pdf_with_the_title_and_findings(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = seeded(quiet_settings)
    response = page_client.get(f"/a/{analysis_id}/report.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].endswith('.pdf"')
    assert response.content.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "logloupe report: SR 694 MRA <b>down</b>" in text
    assert "Traffic Server refused the certificate of cucm.lab." in text  # no raw *…*
    assert "Core server certificate verification failed" in text
    assert b"http://" not in response.content.replace(b"http://ns.adobe.com", b"")


def test_report_of_a_running_analysis_says_so(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = add_analysis(quiet_settings, status="running", title="Busy")
    text = page_client.get(f"/a/{analysis_id}/report.md").text
    assert "The analysis is running: the report is complete once it is done." in text
    assert "## Findings" not in text


def test_report_of_an_unknown_analysis_is_a_404_with_a_sentence(page_client: TestClient) -> None:
    for suffix in ("md", "pdf"):
        response = page_client.get(f"/a/nope/report.{suffix}", headers={"accept": "*/*"})
        assert response.status_code == 404
        assert response.json()["detail"].startswith("No analysis with id 'nope'.")


def test_analysis_page_links_both_reports(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = seeded(quiet_settings)
    html = page_client.get(f"/a/{analysis_id}").text
    assert f'href="/a/{analysis_id}/report.md"' in html
    assert f'href="/a/{analysis_id}/report.pdf"' in html
