"""Privacy hygiene: the API docs load nothing from another origin; no page sends a referrer."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def test_the_api_docs_load_their_assets_from_this_server(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assert not EXTERNAL.search(page.text), path
        csp = page.headers["content-security-policy"]
        assert "http" not in csp  # the browser refuses any other origin
        for asset in re.findall(r"""(?:src|href)=["'](/[^"']+)["']""", page.text):
            assert client.get(asset).status_code == 200, asset
    assert '"validatorUrl": null' in client.get("/docs").text


def test_every_page_and_the_api_send_no_referrer(client: TestClient) -> None:
    for path in ("/", "/docs", "/api/v1/analyses", "/healthz", "/s/not-a-share"):
        assert client.get(path).headers["referrer-policy"] == "no-referrer", path


def test_share_secrets_and_sign_on_codes_stay_out_of_the_access_log() -> None:
    import logging

    from app.web.redact import SecretUrlFilter

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.1:5555", "GET", "/s/SeCrEt-token_123?x=1", "1.1", 303),
        None,
    )
    SecretUrlFilter().filter(record)
    assert "SeCrEt" not in record.getMessage() and "/s/[redacted]?x=1" in record.getMessage()
    record.args = ("a", "GET", "/auth/oidc/callback?code=abc&state=def", "1.1", 303)
    SecretUrlFilter().filter(record)
    message = record.getMessage()
    assert "abc" not in message and "def" not in message
    record.args = ("a", "GET", "/a/Xyz/files/logs/s/kept.txt", "1.1", 200)
    SecretUrlFilter().filter(record)
    assert "/a/Xyz/files/logs/s/kept.txt" in record.getMessage()
