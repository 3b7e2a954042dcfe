"""The signature catalogue: /signatures and /api/v1/signatures, filters, search, detail, 404s."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.signatures import LIBRARY_DIR
from app.web.catalogue import reference_links

SEED = "mra-traffic-server-cert-verification"
SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
HTML = {"accept": "text/html"}

HOSTILE = """\
id: zz-hostile-texts
title: "Hostile <script>alert(1)</script> title"
severity: info
status: experimental
product: testproduct
references:
  - https://example.com/<script>alert(1)</script>
match:
  source: loggingsnapshot
  contains: ["zz-marker-hostile"]
  patterns:
    - regex: 'zz-marker-hostile (?P<what>\\S+)'
facts:
  what: {from: what}
group_by: [node]
text:
  description: "Saw {{ what }} <script>alert(1)</script>"
  condition: "<img src=x onerror=alert(1)>"
  further_info: "Nothing more."
  action: "Do nothing."
examples:
  - name: "example <script>alert(1)</script>"
    line: "2022-07-11T19:33:06+02:00 host tvcs: zz-marker-hostile <script>alert(1)</script>"
    expect: {what: "<script>alert(1)</script>"}
  - name: near miss
    line: "2022-07-11T19:33:06+02:00 host tvcs: zz-marker-hostile"
    expect: no_match
"""


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    """The packaged library plus one signature whose every text is hostile."""
    root = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, root)
    (root / "expressway" / "zz-hostile-texts.yaml").write_text(HOSTILE)
    return root


@pytest.fixture
def catalogue(migrated: Settings, library_dir: Path) -> Iterator[TestClient]:
    settings = migrated.model_copy(update={"embedded_worker": False, "library_dir": library_dir})
    with TestClient(create_app(settings)) as client:
        yield client


def ids(client: TestClient, **params: str) -> list[str]:
    response = client.get("/api/v1/signatures", params=params)
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()]


def test_the_list_keeps_its_contract_and_comes_from_the_configured_library(
    catalogue: TestClient,
) -> None:
    rows = catalogue.get("/api/v1/signatures").json()
    assert {SEED, "zz-hostile-texts"} <= {row["id"] for row in rows}
    for row in rows:
        assert set(row) >= {"id", "title", "severity", "bug_ids", "product"}


def test_api_filters_by_product_severity_status_and_text(catalogue: TestClient) -> None:
    assert ids(catalogue, product="testproduct") == ["zz-hostile-texts"]
    assert ids(catalogue, product="TESTPRODUCT") == ["zz-hostile-texts"]
    assert SEED in ids(catalogue, severity="error")
    assert SEED not in ids(catalogue, severity="info")
    assert "zz-hostile-texts" in ids(catalogue, status="experimental")
    assert "zz-hostile-texts" not in ids(catalogue, status="stable")
    assert SEED in ids(catalogue, q="cscwc69661")  # a bug ID, any case
    assert SEED in ids(catalogue, q="Traffic Server rejects")  # the title
    assert SEED in ids(catalogue, q="VerifyOriginServer")  # the action text
    assert ids(catalogue, q="no signature says this") == []
    assert ids(catalogue, product="testproduct", severity="error") == []


def test_api_and_page_filter_by_family(catalogue: TestClient) -> None:
    tls = ids(catalogue, family="tls")
    assert "tls-inbound-untrusted-ca" in tls and SEED not in tls
    assert SEED in ids(catalogue, family="mra")
    assert all(i.startswith("expressway-alarm-") for i in ids(catalogue, family="alarm"))
    assert ids(catalogue, family="no-such-family") == []
    assert catalogue.get(f"/api/v1/signatures/{SEED}").json()["family"] == "mra"
    other = ids(catalogue, family="other")  # Hybrid Services connectors have no family of their own
    assert "zz-hostile-texts" in other and "hybrid-calendar-exchange-unauthorized" in other
    assert not set(other) & set(tls)

    html = catalogue.get("/signatures", params={"family": "cluster"}, headers=HTML).text
    assert 'href="/signatures/cluster-database-inconsistent"' in html
    assert f'href="/signatures/{SEED}"' not in html
    assert '<option value="cluster" selected>' in html


def test_api_rejects_an_unknown_severity(catalogue: TestClient) -> None:
    response = catalogue.get("/api/v1/signatures", params={"severity": "fatal"})
    assert response.status_code == 422
    assert "severity" in response.json()["detail"]


def test_api_detail_has_everything_the_signature_says(catalogue: TestClient) -> None:
    response = catalogue.get(f"/api/v1/signatures/{SEED}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == SEED and body["status"] == "stable"
    assert body["applies_to"] == {
        "products": ["Expressway-C"],
        "min_version": "X14.2",
        "max_version": None,
        "only_on_product": False,
    }
    assert any("218018" in ref for ref in body["references"])
    assert body["match"]["source"] == "traffic_server"
    assert "certificate verification failed" in body["match"]["contains"]
    assert any("Action" in p["regex"] for p in body["match"]["patterns"])
    assert "{{ server }}" in body["texts"]["description"]  # templates, not rendered text
    assert set(body["texts"]) == {"description", "condition", "further_info", "action"}
    negative = [e for e in body["examples"] if e["expect"] is None]
    positive = [e for e in body["examples"] if e["expect"] is not None]
    assert negative and positive
    assert positive[0]["lines"] and "traffic_server[" in positive[0]["lines"][0]
    assert body["source"]["file"] == f"expressway/{SEED}.yaml"
    assert body["source"]["text"].startswith("#") and f"id: {SEED}" in body["source"]["text"]


def test_unknown_signature_is_404_in_json_and_html(catalogue: TestClient) -> None:
    response = catalogue.get("/api/v1/signatures/no-such-signature")
    assert response.status_code == 404
    assert "no-such-signature" in response.json()["detail"]
    page = catalogue.get("/signatures/no-such-signature", headers=HTML)
    assert page.status_code == 404
    assert "no-such-signature" in page.text


def test_catalogue_page_lists_filters_and_searches(catalogue: TestClient) -> None:
    html = catalogue.get("/signatures", headers=HTML).text
    assert f'href="/signatures/{SEED}"' in html
    assert 'href="/signatures/zz-hostile-texts"' in html
    assert '<a href="/signatures">Signatures</a>' in html  # in the navigation

    html = catalogue.get("/signatures", params={"q": "CSCwc69661"}, headers=HTML).text
    assert f'href="/signatures/{SEED}"' in html
    assert 'href="/signatures/zz-hostile-texts"' not in html
    assert 'value="CSCwc69661"' in html  # the form keeps what was asked

    html = catalogue.get(
        "/signatures", params={"severity": "info", "product": "testproduct"}, headers=HTML
    ).text
    assert f'href="/signatures/{SEED}"' not in html
    assert 'href="/signatures/zz-hostile-texts"' in html
    assert '<option value="info" selected>' in html

    html = catalogue.get("/signatures", params={"q": "nothing says this"}, headers=HTML).text
    assert "No signature matches these filters." in html


def test_signature_page_shows_texts_condition_references_and_examples(
    catalogue: TestClient,
) -> None:
    html = catalogue.get(f"/signatures/{SEED}", headers=HTML).text
    assert "Starting with version X14.2" in html  # further_info template
    assert "{{ server }}" in html  # shown as a template
    assert "traffic_server" in html and "certificate verification failed" in html
    assert 'href="https://cisco.com/c/en/us/support/docs/unified-communications/expressway/' in html
    assert "must not match" in html and "permissive policy (Action=Continue)" in html
    assert "CSCwc69661" in html


def test_signature_texts_are_escaped_on_both_pages(
    catalogue: TestClient,
) -> None:
    for url in ("/signatures", "/signatures/zz-hostile-texts"):
        html = catalogue.get(url, headers=HTML).text
        assert SCRIPT not in html, url
        assert "<img" not in html, url
        assert ESCAPED_SCRIPT in html, url
    html = catalogue.get("/signatures/zz-hostile-texts", headers=HTML).text
    assert 'href="https://example.com/&lt;script&gt;' in html


def test_only_http_references_become_links() -> None:
    links = reference_links(["javascript:alert(1)", "HTTPS://example.com/a", "doc 218018"])
    assert links == [
        ("javascript:alert(1)", None),
        ("HTTPS://example.com/a", "HTTPS://example.com/a"),
        ("doc 218018", None),
    ]


def test_signature_page_renders_the_texts_with_the_first_example_facts(
    catalogue: TestClient,
) -> None:
    html = catalogue.get(f"/signatures/{SEED}", headers=HTML).text
    texts = html[html.index('class="prose-block signature-texts"') :]
    rendered = texts[: texts.index('<details class="template-source"')]
    assert "the facts read from the example" in rendered
    assert "{{" not in rendered and "{%" not in rendered  # rendered, not the Jinja source
    assert "10.48.36.215" in rendered  # a fact of the first example
    assert "2022-07-11 17:33:06.740Z" in rendered  # its time, in the one format
    assert "<em>Configuration &gt; Unified Communications &gt; Refresh servers</em>" in rendered
    assert "*Configuration" not in rendered
    # the hostile signature: its fact from the example is shown escaped, never run
    hostile = catalogue.get("/signatures/zz-hostile-texts", headers=HTML).text
    assert "Saw &lt;script&gt;alert(1)&lt;/script&gt; &lt;script&gt;" in hostile


def test_a_signature_over_another_products_log_says_which_log_it_reads(
    catalogue: TestClient,
) -> None:
    jabber = "mra-jabber-xauth-cookie-invalid"
    match = catalogue.get(f"/api/v1/signatures/{jabber}").json()["match"]
    assert (match["source"], match["reads"]) == ("jabber_log", "Jabber log")
    assert "jabber.log" in match["upload_hint"]
    own = catalogue.get(f"/api/v1/signatures/{SEED}").json()["match"]
    assert own["reads"].startswith("Expressway log") and own["upload_hint"] is None
    page = catalogue.get(f"/signatures/{jabber}", headers=HTML).text
    reads = page[page.index("<dt>Reads</dt>") :].split("</dd>")[0]
    assert "Jabber log: another product" in reads and "jabber.log" in reads
    listing = catalogue.get("/signatures", params={"q": "cookie"}, headers=HTML).text
    assert "reads the Jabber log, uploaded as a plain log" in listing
    assert "reads the" not in catalogue.get("/signatures", params={"q": SEED}, headers=HTML).text


def test_api_and_page_filter_by_the_log_a_signature_reads(catalogue: TestClient) -> None:
    jabber = ids(catalogue, source="jabber_log")
    assert "mra-jabber-xauth-cookie-invalid" in jabber and SEED not in jabber
    assert set(ids(catalogue, source="endpoint_log")) >= {"mra-endpoint-edge-ca-untrusted"}
    assert ids(catalogue, source="ENDPOINT_LOG") == ids(catalogue, source="endpoint_log")
    assert ids(catalogue, source="no_such_log") == []
    assert ids(catalogue, source="endpoint_log", family="tls") == []

    html = catalogue.get("/signatures", params={"source": "jabber_log"}, headers=HTML).text
    assert 'href="/signatures/mra-jabber-xauth-cookie-invalid"' in html
    assert f'href="/signatures/{SEED}"' not in html
    assert '<option value="jabber_log" selected>Jabber log (' in html
    assert '<option value="endpoint_log">TC/CE endpoint log (' in html


def test_the_page_reads_a_family_as_the_api_does(catalogue: TestClient) -> None:
    """Any case; a family the library does not have matches nothing, on both forms."""
    upper = catalogue.get("/signatures", params={"family": "PLATFORM"}, headers=HTML).text
    assert 'href="/signatures/platform-maintenance-mode-rejecting"' in upper
    assert f'href="/signatures/{SEED}"' not in upper
    assert '<option value="platform" selected>' in upper
    unknown = catalogue.get("/signatures", params={"family": "no-such-family"}, headers=HTML).text
    assert "No signature matches these filters." in unknown
    assert ids(catalogue, family="PLATFORM") == ["platform-maintenance-mode-rejecting"]
