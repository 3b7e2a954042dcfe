"""Log text is hostile: every page escapes it, sends the CSP, has no inline script or style."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.corpus import xss_line
from tests.web.conftest import FindingSpec, SnippetSpec, add_analysis, log_text

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_IMG = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
EVIL = SCRIPT + IMG
LOG = f"bundle.tar.gz/{EVIL}.log"


def hostile_analysis(settings: Settings) -> str:
    finding = FindingSpec(
        title=f"Title {EVIL}",
        signature_id="sig-evil",
        node=f"node{EVIL}",
        description=f"Description {EVIL}",
        condition=f"Condition {EVIL}",
        further_info=f"Further {EVIL}",
        action=f"Action {EVIL}",
        bug_ids=[f"CSC{IMG}"],
        facts={f"key{EVIL}": f"value{EVIL}", "list": [EVIL, 1]},
        first_seen=EVIL,
        snippets=[SnippetSpec(LOG, 2, xss_line())],
    )
    return add_analysis(
        settings,
        title=f"Case {EVIL}",
        warnings=[f"warning {EVIL}"],
        files={LOG: f"first\n{xss_line()}\n{EVIL}\n".encode()},
        findings=[finding],
    )


def pages_of(client: TestClient, settings: Settings) -> dict[str, str]:
    analysis_id = hostile_analysis(settings)
    failed = add_analysis(settings, status="failed", error=f"Reason {EVIL}", title=EVIL)
    running = add_analysis(settings, status="running", title=EVIL)
    urls = {
        "index": "/",
        "overview": f"/a/{analysis_id}",
        "failed": f"/a/{failed}",
        "running": f"/a/{running}",
        "viewer": f"/a/{analysis_id}/files/{LOG}?line=2",
        "404": f"/a/{EVIL}",
        "404 file": f"/a/{analysis_id}/files/{EVIL}",
    }
    responses = {label: client.get(url) for label, url in urls.items()}
    for label, response in responses.items():
        assert response.status_code == (404 if label.startswith("404") else 200), label
    return {label: response.text for label, response in responses.items()}


def test_hostile_text_is_escaped_on_every_page(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    for label, html in pages_of(page_client, quiet_settings).items():
        assert "<script>alert" not in html, label
        assert "<img" not in html, label
        assert "onerror=alert(1)>" not in html.replace("onerror=alert(1)&gt;", ""), label
        assert ESCAPED_SCRIPT in html or label == "404", label


def test_each_hostile_field_shows_as_text(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    html = pages_of(page_client, quiet_settings)["overview"]
    for prefix in ("Title ", "Description ", "Condition ", "Further ", "Action ", "warning "):
        assert prefix + ESCAPED_SCRIPT + ESCAPED_IMG in html, prefix
    assert "key" + ESCAPED_SCRIPT in html and "value" + ESCAPED_SCRIPT in html
    assert "WARNING: Core server certificate verification failed for (" + ESCAPED_SCRIPT in html
    assert "https://bst.cloudapps.cisco.com/bugsearch/bug/CSC%22%3E%3Cimg" in html


def test_the_404_page_escapes_the_id(page_client: TestClient) -> None:
    response = page_client.get('/a/"><img src=x onerror=alert(1)>')
    assert response.status_code == 404
    assert ESCAPED_IMG in response.text  # the id is quoted back, as text
    assert "<img" not in response.text


@pytest.mark.parametrize("url", ["/", "/a/unknown", "/static/app.css"])
def test_security_headers_on_pages(page_client: TestClient, url: str) -> None:
    headers = page_client.get(url).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert headers["x-content-type-options"] == "nosniff"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


class InlineCodeFinder(HTMLParser):
    """Collects what a strict CSP would block: <style>, style= and on*= attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "style":
            self.blocked.append("<style>")
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.blocked.append(f"<{tag} {name}=>")


def blocked_inline_code(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    finder.close()
    return finder.blocked


def test_no_inline_script_style_or_handler_in_any_page(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    for label, html in pages_of(page_client, quiet_settings).items():
        assert not INLINE_SCRIPT.search(html), label
        assert blocked_inline_code(html) == [], label
        assert re.search(r'<script src="/static/app.js" defer></script>', html), label


def test_the_inline_checks_catch_what_they_should() -> None:
    assert INLINE_SCRIPT.search("<p><script>x()</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/app.js"></script>')
    assert blocked_inline_code('<div style="color:red"><img src=x onerror="x()">') == [
        "<div style=>",
        "<img onerror=>",
    ]
    assert blocked_inline_code('<p title="&lt;img onerror=x&gt;">') == []


def test_external_links_do_not_leak_the_opener(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    html = pages_of(page_client, quiet_settings)["overview"]
    external = re.findall(r'<a [^>]*href="https?://[^"]*"[^>]*>', html)
    assert external
    for tag in external:
        assert 'rel="noopener noreferrer"' in tag


def test_log_viewer_escapes_lines(page_client: TestClient, quiet_settings: Settings) -> None:
    analysis_id = add_analysis(quiet_settings, files={"b/x.log": log_text(1) + EVIL.encode()})
    html = page_client.get(f"/a/{analysis_id}/files/b/x.log").text
    assert ESCAPED_SCRIPT + ESCAPED_IMG in html
    assert "<script>alert" not in html
