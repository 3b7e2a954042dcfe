"""What pages show and send about customer data: names cannot disguise themselves, links name
the public address, nothing is kept in caches."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app as cli
from app.config import Settings
from app.display import show_bidi, strip_bidi
from app.main import create_app
from app.services.uploads import safe_display_name
from tests.web.conftest import HTML, FindingSpec, SnippetSpec, add_analysis
from tests.web.live_server import sqlite_settings

RLO = "\u202e"
SPOOFED = f"invoice{RLO}gpj.exe"  # reads as "invoiceexe.jpg"
LOG = f"bundle/{SPOOFED}.log"
PUBLIC = "https://loupe.example.com"


@pytest.fixture
def public_settings(tmp_path: Path) -> Settings:
    return sqlite_settings(tmp_path, embedded_worker=False, public_url=PUBLIC)


@pytest.fixture
def client(public_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(public_settings), headers=HTML) as test_client:
        yield test_client


def spoofed_analysis(settings: Settings) -> str:
    finding = FindingSpec(
        node=f"vcs{RLO}c", snippets=[SnippetSpec(LOG, 1, f"user{RLO}nimda logged in")]
    )
    return add_analysis(
        settings,
        title=f"Case {SPOOFED}",
        files={LOG: f"user{RLO}nimda logged in\n".encode()},
        findings=[finding],
    )


def test_every_bidi_control_is_made_visible_or_removed() -> None:
    controls = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    shown = show_bidi(f"a{controls}b")
    assert shown.startswith("a<U+061C><U+200E><U+200F><U+202A>") and shown.endswith("<U+2069>b")
    assert not any(c in shown for c in controls)
    assert strip_bidi(f"a{controls}b") == "ab"
    assert show_bidi("plain ünïcode 日本") == "plain ünïcode 日本"
    assert safe_display_name(f"C:\\x\\{SPOOFED}") == "invoice<U+202E>gpj.exe"


def test_bidi_controls_in_names_and_lines_are_shown_not_obeyed(
    client: TestClient, public_settings: Settings
) -> None:
    analysis_id = spoofed_analysis(public_settings)
    pages = [
        client.get(f"/a/{analysis_id}"),
        client.get(f"/a/{analysis_id}/files/{LOG}"),
        client.get("/"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert RLO not in page.text
    overview = pages[0].text
    assert "Case invoice&lt;U+202E&gt;gpj.exe" in overview
    assert "vcs&lt;U+202E&gt;c" in overview
    assert "user&lt;U+202E&gt;nimda" in pages[1].text
    raw = client.get(f"/a/{analysis_id}/raw/{LOG}")
    assert raw.content == f"user{RLO}nimda logged in\n".encode()  # the bytes as they are
    assert "%E2%80%AE" not in raw.headers["content-disposition"]
    assert "invoicegpj.exe.log" in raw.headers["content-disposition"]
    api = client.get(f"/api/v1/analyses/{analysis_id}", headers={"accept": "application/json"})
    assert api.json()["title"] == f"Case {SPOOFED}"  # the raw text stays in the API


def test_the_cli_report_shows_bidi_controls(tmp_path: Path) -> None:
    empty = tmp_path / f"{SPOOFED}.txt"
    empty.write_bytes(b"")
    refused = CliRunner().invoke(cli, ["analyze", str(empty)])
    assert refused.exit_code == 2
    assert RLO not in refused.output and "invoice<U+202E>gpj.exe" in refused.output


def test_share_links_use_the_public_url_whatever_the_host_header(
    client: TestClient, public_settings: Settings
) -> None:
    analysis_id = add_analysis(public_settings)
    page = client.get(f"/a/{analysis_id}", headers={"host": "attacker.example"}).text
    assert f'value="{PUBLIC}/a/{analysis_id}"' in page
    assert "attacker.example" not in page
    index = client.get("/", headers={"host": "attacker.example"}).text
    assert f"{PUBLIC}/api/v1/analyses" in index and "attacker.example" not in index


def test_customer_data_is_never_cached_static_files_may_be(
    client: TestClient, public_settings: Settings
) -> None:
    analysis_id = add_analysis(public_settings, files={"b/x.log": b"line\n"})
    private = [
        "/",
        f"/a/{analysis_id}",
        f"/a/{analysis_id}/files/b/x.log",
        f"/a/{analysis_id}/raw/b/x.log",
        f"/a/{analysis_id}/certificates",
        f"/api/v1/analyses/{analysis_id}",
        f"/api/v1/analyses/{analysis_id}/certificates",
        f"/api/v1/analyses/{analysis_id}/server-certificates",
        "/a/no-such-analysis",
    ]
    for path in private:
        response = client.get(path)
        assert response.headers.get("cache-control") == "no-store", path
        assert response.headers.get("referrer-policy") == "no-referrer", path
    refused = client.post("/api/v1/analyses", headers={"origin": "https://evil.example"})
    assert refused.status_code == 403 and refused.headers["cache-control"] == "no-store"
    static = client.get("/static/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")
    assert re.search(r"max-age|etag", " ".join(static.headers.keys()), re.IGNORECASE)
