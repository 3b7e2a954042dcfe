"""Pages that read well: one header in every state, findings kept while a re-run runs, evidence
in file order, signature texts as safe HTML, certificates with short fingerprints."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import AnalysisRun
from tests.web.conftest import FindingSpec, SnippetSpec, add_analysis

LOG = "diagnostic_log_vcsc.tar.gz/loggingsnapshot_vcsc.txt"


@pytest.mark.parametrize("status", ["queued", "running", "done", "failed"])
def test_the_header_is_the_same_in_every_state(
    page_client: TestClient, quiet_settings: Settings, status: str
) -> None:
    analysis_id = add_analysis(quiet_settings, status=status, error="boom" if status else None)
    html = page_client.get(f"/a/{analysis_id}").text
    head = html[html.index('<section class="overview-head">') :]
    head = head[: head.index("</section>")]
    for piece in (
        'id="share-url"',
        f'href="/api/v1/analyses/{analysis_id}"',
        f'href="/a/{analysis_id}/report.md"',
        f'href="/a/{analysis_id}/report.pdf"',
        f'action="/a/{analysis_id}/rerun"',
    ):
        assert piece in head, (status, piece)
    disabled = re.search(r'class="button rerun" disabled', head) is not None
    assert disabled == (status in ("queued", "running"))


def test_a_rerun_keeps_the_findings_on_screen_until_it_is_done(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = add_analysis(
        quiet_settings, findings=[FindingSpec(title="The finding of run one")]
    )
    _finish_first_run(quiet_settings, analysis_id)
    assert page_client.post(f"/a/{analysis_id}/rerun", follow_redirects=False).status_code == 303
    html = page_client.get(f"/a/{analysis_id}").text
    assert 'data-status="queued"' in html
    assert "The finding of run one" in html
    assert "these are the findings of run 1 until it is done" in html


def _finish_first_run(settings: Settings, analysis_id: str) -> None:
    from app.models import utcnow

    db = Database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            run = session.scalars(
                select(AnalysisRun).where(AnalysisRun.analysis_id == analysis_id)
            ).one()
            run.finished_at = utcnow()
            session.commit()
    finally:
        db.dispose()


def test_evidence_lines_are_in_file_order(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    other = "diagnostic_log_vcsc.tar.gz/a_first.txt"
    analysis_id = add_analysis(
        quiet_settings,
        findings=[
            FindingSpec(
                snippets=[
                    SnippetSpec(LOG, 90, "ninety"),
                    SnippetSpec(LOG, 7, "seven"),
                    SnippetSpec(other, 500, "other file"),
                ]
            )
        ],
    )
    html = page_client.get(f"/a/{analysis_id}").text
    assert html.index("other file") < html.index("seven") < html.index("ninety")


def test_signature_texts_render_as_safe_html(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = add_analysis(
        quiet_settings,
        findings=[
            FindingSpec(
                description="Server <script>alert(1)</script> said *no* to `cucm`.",
                action="Open *Maintenance > Security*. See [docs](https://example.com/doc) "
                "or [this](javascript:alert(2)).",
            )
        ],
    )
    html = page_client.get(f"/a/{analysis_id}").text
    assert "<script>alert(1)" not in html
    assert (
        "Server &lt;script&gt;alert(1)&lt;/script&gt; said <em>no</em> to <code>cucm</code>."
        in html
    )
    assert "<em>Maintenance &gt; Security</em>" in html
    assert 'href="https://example.com/doc"' in html
    assert 'href="javascript:' not in html
    assert "*no*" not in html and "`cucm`" not in html


def test_certificates_show_short_fingerprints_a_legend_and_one_line_dates(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = add_analysis(quiet_settings)
    fingerprint = "0123456789abcdef" * 4
    entry = {
        "node": "vcsc",
        "server_ip": "192.0.2.10",
        "port": 8443,
        "sni": "cucm.lab",
        "tls_version": "TLS 1.2",
        "alerts": [],
        "chain": [
            {
                "subject": "CN=cucm.lab",
                "issuer": "CN=ca",
                "sans": ["cucm.lab"],
                "self_signed": True,
                "key_type": "RSA",
                "key_bits": 2048,
                "not_before": "2022-07-01T00:00:00Z",
                "not_after": "2032-07-01T00:00:00Z",
                "sha256": fingerprint,
            }
        ],
        "trusted": False,
        "trust_reason": "self-signed, not in the trust store",
        "count": 1,
        "first_seen": "2022-07-11T16:55:25.650549Z",
    }
    db = Database(quiet_settings.sqlalchemy_url)
    try:
        with db.session() as session:
            run = session.scalars(select(AnalysisRun).where(AnalysisRun.analysis_id == analysis_id))
            run.one().certificates = [entry]
            session.commit()
    finally:
        db.dispose()
    html = page_client.get(f"/a/{analysis_id}/certificates").text
    assert "01234567…89abcdef</code>" in html  # first 8 … last 8
    # the full value without JavaScript: in the title and in the opened details
    assert f'title="SHA-256 {fingerprint}"' in html
    assert re.search(rf'<input id="fp-1" class="hash-full"[^>]+value="{fingerprint}"', html)
    assert 'data-copy-target="fp-1"' in html
    assert '<td class="nowrap validity">2022-07-01 – 2032-07-01</td>' in html
    assert 'class="legend"' in html and "the bundle had no <code>ca_*.pem</code>" in html
    assert 'title="The chain does not lead to a CA in this node\'s trust store"' in html
    assert "2022-07-11 16:55:25.650Z" in html  # the one time format
