"""The Certificates page: every chain by node and server:port, with its trust verdict."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import AnalysisRun
from tests.analyzers.scenarios import scenario_bundle
from tests.conftest import wait_for
from tests.web.conftest import HTML, add_analysis


def test_page_shows_both_chains_of_the_article_with_verdicts(client: TestClient) -> None:
    created = client.post(
        "/api/v1/analyses",
        files=[("files", ("diagnostic_log_vcsc.tar.gz", scenario_bundle("self_signed")))],
    ).json()
    assert wait_for(client, created["id"])["status"] == "done"
    overview = client.get(f"/a/{created['id']}", headers=HTML).text
    assert f'href="/a/{created["id"]}/certificates"' in overview
    response = client.get(f"/a/{created['id']}/certificates", headers=HTML)
    assert response.status_code == 200
    html = response.text
    assert "Node vcsc" in html
    ec_at, rsa_at = html.index("10.48.36.215:6972"), html.index("10.48.36.215:8443")
    ec_part, rsa_part = html[ec_at:rsa_at], html[rsa_at:]
    assert "CN=cucm-EC.steven.lab" in ec_part and "self-signed" in ec_part
    assert "verdict-untrusted" in ec_part and "client: fatal unknown_ca" in ec_part
    assert "EC 384" in ec_part
    assert "CN=cucm-ms.steven.lab" in rsa_part and "CN=steven-DC-CA,DC=steven,DC=lab" in rsa_part
    assert "verdict-trusted" in rsa_part and "RSA 2048" in rsa_part
    assert "issued by trusted CA CN=steven-DC-CA" in rsa_part
    assert f'href="/api/v1/analyses/{created["id"]}/certificates"' in html


def test_page_without_captures_says_how_to_get_them(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = add_analysis(quiet_settings)
    html = page_client.get(f"/a/{analysis_id}/certificates").text
    assert "No TLS handshake with a readable certificate" in html
    assert "Take tcpdump while logging" in html


def test_certificate_text_is_escaped(page_client: TestClient, quiet_settings: Settings) -> None:
    analysis_id = add_analysis(quiet_settings)
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    entry = {
        "node": "vcsc",
        "server_ip": "192.0.2.10",
        "port": 8443,
        "sni": hostile,
        "tls_version": "TLS 1.2",
        "alerts": [],
        "chain": [
            {
                "subject": f"CN={hostile}",
                "issuer": "CN=x",
                "sans": [hostile],
                "self_signed": False,
                "key_type": "RSA",
                "key_bits": 2048,
                "not_before": "2022-07-01T00:00:00Z",
                "not_after": "2032-07-01T00:00:00Z",
                "sha256": "00" * 32,
            }
        ],
        "trusted": None,
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
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "no trust store" in html
    assert re.search(r"192\.0\.2\.10:8443", html)


def test_unknown_analysis_page_is_404(page_client: TestClient) -> None:
    response = page_client.get("/a/nope/certificates")
    assert response.status_code == 404
