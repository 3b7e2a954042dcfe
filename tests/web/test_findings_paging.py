"""Analyses with many findings: the overview pages them, the JSON has every one of them."""

from __future__ import annotations

import html as htmlib
import json
import re
import shutil
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.config import Settings
from app.db import Database
from app.models import AnalysisRun, utcnow
from app.schemas import AnalysisOut
from app.services import storage
from app.web.pages import page_links
from tests.web.conftest import FindingSpec, SnippetSpec, add_analysis

LOG = "diagnostic_log_vcsc.tar.gz/loggingsnapshot_vcsc_2022-07-11_17_33_18.txt"
# 250 findings: more than two pages of 100; every severity, errors across pages 1 and 2
PER_SEVERITY = {"critical": 30, "error": 120, "warning": 60, "info": 40}
RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def many_findings() -> list[FindingSpec]:
    """Written in an order unlike the display order, each with its own title and snippets."""
    specs = []
    n = 0
    for severity, count in PER_SEVERITY.items():
        for i in range(count):
            specs.append(
                FindingSpec(
                    signature_id=f"sig-{severity}-{i // 2:03d}",  # two findings per signature
                    title=f"Finding {severity} {i:03d}",
                    severity=severity,
                    node=("vcsc", "vcse")[i % 2],
                    description=f"Description of finding {n}: <b>not markup</b>",
                    facts={"server": f"cucm{n}.example.com", "n": n, "tags": ["a", "b"]},
                    count=n + 1,
                    snippets=[
                        SnippetSpec(LOG, 1000 + 10 * n + k, f"evidence {n}.{k}")
                        for k in range(n % 4)  # 0 to 3 snippets
                    ],
                )
            )
            n += 1
    return specs[::-1]


def display_order(specs: list[FindingSpec]) -> list[FindingSpec]:
    """Severity, signature, node, then the order they were stored in (the row id)."""
    stored = list(enumerate(specs))
    stored.sort(
        key=lambda item: (RANK[item[1].severity], item[1].signature_id, item[1].node, item[0])
    )
    return [spec for _, spec in stored]


def finding_json(spec: FindingSpec) -> dict[str, Any]:
    return {
        "signature": {
            "id": spec.signature_id,
            "title": spec.title,
            "severity": spec.severity,
            "bug_ids": spec.bug_ids,
            "status": spec.status,
        },
        "node": spec.node,
        "description": spec.description,
        "condition": spec.condition,
        "further_info": spec.further_info,
        "action": spec.action,
        "facts": spec.facts,
        "snippets": [{"file": s.file, "line": s.line, "text": s.text} for s in spec.snippets],
        "count": spec.count,
        "first_seen": spec.first_seen,
        "last_seen": spec.last_seen,
    }


def titles(html: str) -> list[str]:
    return re.findall(r'<h3 class="finding-title">([^<]+)</h3>', html)


def next_link(html: str) -> str:
    found = re.search(r'<a class="next" href="([^"]+)" rel="next">', html)
    assert found, "no link to the next page"
    return htmlib.unescape(found.group(1))


def test_many_findings_are_paged_with_links_that_work_without_javascript(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    specs = many_findings()
    analysis_id = add_analysis(quiet_settings, findings=specs)
    ordered = [spec.title for spec in display_order(specs)]

    first = page_client.get(f"/a/{analysis_id}")
    assert first.status_code == 200
    page1 = first.text
    assert titles(page1) == ordered[:100]
    counts = {
        label: int(count)
        for count, label in re.findall(
            r'summary-count">(\d+)</span>\s*<span class="summary-label">(\w+)', page1
        )
    }
    assert counts == PER_SEVERITY  # the whole analysis, not the page
    assert "Findings 1–100 of 250" in page1
    assert page1.count('aria-label="Pages of findings"') == 2  # above and below the findings
    assert '<span class="disabled">‹ Previous</span>' in page1
    assert "evidence 0.1" not in page1  # finding 0 has no snippet; finding 1 is on page 3
    shown = display_order(specs)[:100]
    for spec in shown:
        for snippet in spec.snippets:
            assert f">{snippet.text}</pre>" in page1
    hidden = [s.text for spec in display_order(specs)[100:] for s in spec.snippets]
    assert hidden and not any(f">{text}</pre>" in page1 for text in hidden)
    # the summary links to where each severity starts: critical here, info on page 3
    assert 'href="#critical"' in page1
    assert f'href="/a/{analysis_id}?page=3#info"' in page1
    assert f'href="/api/v1/analyses/{analysis_id}"' in page1  # the JSON twin

    link = next_link(page1)
    assert link == f"/a/{analysis_id}?page=2#findings"
    page2 = page_client.get(link.split("#")[0]).text
    assert titles(page2) == ordered[100:200]
    assert "Findings 101–200 of 250" in page2
    assert f'href="/a/{analysis_id}?page=1#findings" rel="prev"' in page2
    assert re.search(r'<span class="page-current" aria-current="page">2</span>', page2)
    # errors continue from page 1 (30 critical + 70 errors there): anchors stay unique
    assert 'id="error-71"' in page2 and 'id="error-70"' not in page2
    assert "120 findings" in page2 and "(71–120 on this page)" in page2
    for spec in display_order(specs)[100:200]:
        for snippet in spec.snippets:
            assert f">{snippet.text}</pre>" in page2
            link_to_line = f"/a/{analysis_id}/files/{LOG}?line={snippet.line}#L{snippet.line}"
            assert f'href="{link_to_line}"' in page2  # the log viewer links

    page3 = page_client.get(next_link(page2).split("#")[0]).text
    assert titles(page3) == ordered[200:]
    assert "Findings 201–250 of 250" in page3
    assert '<span class="disabled">Next ›</span>' in page3
    assert titles(page_client.get(f"/a/{analysis_id}?page=99").text) == ordered[200:]
    assert page_client.get(f"/a/{analysis_id}?page=0").status_code == 422


def test_a_few_findings_are_one_page_without_a_pager(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    findings = [
        FindingSpec(severity="warning", title="A warning", signature_id="w"),
        FindingSpec(severity="critical", title="A critical one", signature_id="c"),
    ]
    analysis_id = add_analysis(quiet_settings, findings=findings)
    html = page_client.get(f"/a/{analysis_id}").text
    assert titles(html) == ["A critical one", "A warning"]
    assert "Pages of findings" not in html and "?page=" not in html
    assert 'href="#critical"' in html and 'href="#info"' in html
    assert 'id="critical-1"' in html and 'id="warning-1"' in html
    assert "1 finding</h2>" in html and "on this page" not in html


def test_the_json_has_every_finding_with_its_snippets_in_display_order(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    specs = many_findings()
    analysis_id = add_analysis(quiet_settings, findings=specs, files={LOG: b"x\n"})
    url = f"/api/v1/analyses/{analysis_id}"

    response = page_client.get(url, headers={"accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    body = response.json()
    assert body["findings"] == [finding_json(spec) for spec in display_order(specs)]
    assert AnalysisOut.model_validate(body).id == analysis_id
    assert list(body) == list(AnalysisOut.model_fields)  # the contract's fields, in its order
    assert body["status"] == "done" and body["nodes"][0]["hostname"] == "vcsc"
    assert [run["number"] for run in body["runs"]] == [1] and body["delta"] is None

    # a run saved by a worker has its findings kept encoded under the data dir: the same answer
    # from there, and again once that copy is lost (rebuilt from the database)
    kept = storage.json_dir(quiet_settings.resolved_data_dir, analysis_id)
    assert not kept.exists()
    finish_run(quiet_settings, analysis_id)
    saved = page_client.get(url).content
    assert [p.suffix for p in kept.iterdir()] == [".json"]
    assert json.loads(saved)["findings"] == body["findings"]
    assert page_client.get(url).content == saved
    shutil.rmtree(kept)
    assert page_client.get(url).content == saved


def finish_run(settings: Settings, analysis_id: str) -> None:
    """Mark the analysis' run as saved, as the worker's save_report does (add_analysis doesn't)."""
    db = Database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            session.execute(
                update(AnalysisRun)
                .where(AnalysisRun.analysis_id == analysis_id)
                .values(finished_at=utcnow())
            )
            session.commit()
    finally:
        db.dispose()


@pytest.mark.parametrize("status", ["queued", "running", "failed"])
def test_the_json_of_an_unfinished_analysis_has_no_findings(
    page_client: TestClient, quiet_settings: Settings, status: str
) -> None:
    analysis_id = add_analysis(quiet_settings, status=status, findings=[FindingSpec()])
    body = page_client.get(f"/api/v1/analyses/{analysis_id}").json()
    assert body["status"] == status and body["findings"] == []
    assert AnalysisOut.model_validate(body).coverage == []


def test_exactly_one_page_of_findings_has_no_pager(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    findings = [FindingSpec(signature_id=f"s{i:03d}", title=f"T{i:03d}") for i in range(100)]
    analysis_id = add_analysis(quiet_settings, findings=findings)
    html = page_client.get(f"/a/{analysis_id}").text
    assert len(titles(html)) == 100
    assert "Pages of findings" not in html and "?page=" not in html
    assert 'href="#warning"' in html  # no warning at all: the link stays on this page


@pytest.mark.parametrize(
    ("number", "page_count", "links"),
    [
        (1, 1, [1]),
        (2, 3, [1, 2, 3]),
        (1, 100, [1, 2, 3, None, 100]),
        (5, 100, [1, 2, 3, 4, 5, 6, 7, None, 100]),
        (50, 100, [1, None, 48, 49, 50, 51, 52, None, 100]),
        (100, 100, [1, None, 98, 99, 100]),
    ],
)
def test_the_pager_links_to_the_ends_and_the_neighbours(
    number: int, page_count: int, links: list[int | None]
) -> None:
    assert page_links(number, page_count) == links
