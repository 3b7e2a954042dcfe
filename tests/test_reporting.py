"""The report builder on its own: Markdown and PDF from the analysis JSON, hostile text inert."""

from __future__ import annotations

import io
import re
from typing import Any

import pypdf

from app.reporting.document import build
from app.reporting.markdown import render_markdown
from app.reporting.pdf import render_pdf

EVIL = "<script>alert(1)</script>"


def analysis(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "abc123",
        "status": "done",
        "title": "SR 7",
        "files": [{"name": "diag.tar.gz", "size": 1, "sha256": "00"}],
        "nodes": [{"hostname": f"vcsc{EVIL}", "product": "Expressway-C", "version": "X14.2"}],
        "findings": [
            {
                "signature": {
                    "id": "s1",
                    "title": "Bad *cert*",
                    "severity": "warning",
                    "bug_ids": ["CSCwc69661"],
                },
                "node": "vcsc",
                "description": f"Server {EVIL} is *not* trusted.",
                "condition": "",
                "further_info": "",
                "action": "Open *Maintenance > Security*.",
                "facts": {"server": EVIL},
                "snippets": [{"file": "a.log", "line": 3, "text": f"``` {EVIL} ```"}],
                "count": 1,
                "first_seen": "2022-07-11T19:49:01.533+02:00",
                "last_seen": "2022-07-11T19:49:01.533+02:00",
            }
        ],
        "warnings": [],
        "coverage": [],
        "ruleset_version": "rs1",
    }
    base.update(extra)
    return base


def test_markdown_keeps_hostile_text_inert() -> None:
    text = render_markdown(build(analysis()))
    assert EVIL not in text.replace(f"``` {EVIL} ```", "")  # only inside the fenced log line
    assert "| vcsc\\<script\\>alert(1)\\</script\\> | Expressway-C | X14.2 |" in text
    assert "Server \\<script>alert(1)\\</script> is *not* trusted." in text
    assert "### 1. \\[WARNING\\] Bad \\*cert\\*" in text
    fence = re.search(r"\n(`+)text\n(.*)\n\1\n", text)
    assert fence is not None and len(fence.group(1)) == 4  # longer than the ``` inside


def test_the_verdict_of_the_analysis_is_used_when_it_has_one() -> None:
    detail = {"summary": "Signatures read 2,000 lines and found nothing."}
    text = render_markdown(build(analysis(findings=[], verdict="clear", verdict_detail=detail)))
    assert "## Verdict\n\nClear: Signatures read 2,000 lines and found nothing." in text
    derived = render_markdown(build(analysis(findings=[])))
    assert "No findings: no signature matched these logs" in derived


def test_failed_calls_are_listed_and_absent_calls_leave_no_section() -> None:
    calls = [
        {
            "number": 3,
            "started_at": "2026-01-29T19:01:16.974Z",
            "from_uri": "sip:alice@example.com",
            "to_uri": "sip:bob@example.com",
            "final_status": "408 Request Timeout",
            "failed": True,
            "end_reason": "no answer",
        },
        {"number": 4, "failed": False, "from_uri": "sip:ok@example.com"},
    ]
    text = render_markdown(build(analysis(), calls=calls))
    assert "## Failed calls" in text
    assert "| 3 | 2026-01-29 19:01:16.974Z | sip:alice@example.com |" in text
    assert "sip:ok@example.com" not in text
    assert "Failed calls" not in render_markdown(build(analysis(), calls=None))


def test_the_report_counts_every_failed_call_it_does_not_list() -> None:
    listed = [{"number": n, "failed": True, "from_uri": f"sip:{n}@x"} for n in range(1, 51)]
    text = render_markdown(build(analysis(), calls=listed, failed_calls=230))
    assert "| 50 |" in text
    assert "… and 180 more failed calls." in text


def test_pdf_says_the_same_as_plain_text() -> None:
    pdf = render_pdf(build(analysis()))
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None and reader.metadata.title == "logloupe report: SR 7"
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Open Maintenance > Security." in text  # the Markdown marks are gone
    assert f"Server {EVIL} is not trusted." in text  # shown as text
    assert "2022-07-11 17:49:01.533Z (local 2022-07-11 19:49:01.533+02:00)" in text.replace(
        "\n", " "
    )


def test_certificates_are_summarised_with_their_trust() -> None:
    own = [
        {
            "node": "vcsc",
            "subject": "CN=vcsc.lab",
            "not_after": "2032-07-01T00:00:00Z",
            "trusted": False,
            "trust_reason": "issuer not in the trust store",
            "sha256": "ab" * 32,
        }
    ]
    chains = [
        {
            "node": "vcsc",
            "server_ip": "192.0.2.10",
            "port": 8443,
            "trusted": None,
            "chain": [{"subject": "CN=cucm.lab", "not_after": "2030-01-01T00:00:00Z"}],
        }
    ]
    text = render_markdown(build(analysis(), certificates=chains, server_certificates=own))
    assert "## Certificates" in text
    assert (
        "| vcsc | CN=vcsc.lab | 2032-07-01 | not trusted (issuer not in the trust store) |" in text
    )
    assert "| vcsc | 192.0.2.10:8443 | CN=cucm.lab | 2030-01-01 | no trust store |" in text
    assert "## Certificates" not in render_markdown(build(analysis()))
