"""Coverage, runs and delta panels of the overview, and the catalogue pages, in a browser."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import Analysis, AnalysisRun, FindingRow, utcnow
from tests.web.conftest import FindingSpec, add_analysis
from tests.web.test_security import (
    ESCAPED_SCRIPT,
    EVIL,
    INLINE_SCRIPT,
    SCRIPT,
    blocked_inline_code,
)

SEED = "mra-traffic-server-cert-verification"


def with_second_run(
    settings: Settings, analysis_id: str, coverage: list[dict[str, object]]
) -> None:
    """Make the analysis' run 1 the previous run of a finished run 2 (as a re-run leaves it)."""
    db = Database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            analysis = session.get(Analysis, analysis_id)
            assert analysis is not None
            first = session.scalars(
                select(AnalysisRun).where(AnalysisRun.analysis_id == analysis_id)
            ).one()
            first.finished_at = utcnow()
            first.ruleset_version = "rs-old"
            second = AnalysisRun(
                analysis_id=analysis_id,
                number=2,
                ruleset_version="rs-new",
                finished_at=utcnow(),
                coverage=coverage,
            )
            session.add(second)
            session.flush()
            kept = session.scalars(
                select(FindingRow).where(
                    FindingRow.run_id == first.id, FindingRow.signature_id == "kept"
                )
            ).one()
            session.add(  # the same problem found again by run 2
                FindingRow(
                    run_id=second.id,
                    **{
                        column: getattr(kept, column)
                        for column in ("signature_id", "title", "severity", "severity_rank")
                        + ("bug_ids", "node", "description", "condition", "further_info")
                        + ("action", "facts", "count", "first_seen", "last_seen")
                    },
                )
            )
            analysis.current_run = 2
            analysis.ruleset_version = "rs-new"
            session.commit()
    finally:
        db.dispose()


def test_panels_show_skips_runs_and_delta_and_escape_log_derived_text(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = add_analysis(
        quiet_settings,
        findings=[
            FindingSpec(signature_id="gone", title="Gone problem", node=f"n{EVIL}"),
            FindingSpec(signature_id="kept", title="Kept problem"),
        ],
    )
    with_second_run(
        quiet_settings,
        analysis_id,
        [
            {
                "signature_id": SEED,
                "title": "MRA cert",
                "outcome": "skipped",
                "reason": f"no traffic_server lines in the upload of node {EVIL}",
            },
            {"signature_id": "kept", "title": "Kept problem", "outcome": "matched", "reason": None},
        ],
    )
    html = page_client.get(f"/a/{analysis_id}").text
    assert "Coverage: did you upload the right logs?" in html
    assert f"no traffic_server lines in the upload of node {ESCAPED_SCRIPT}" in html
    assert f'href="/signatures/{SEED}"' in html
    assert "Changes since run 1" in html
    assert "rs-old" in html and "rs-new" in html
    assert "0 new" in html and "1 resolved" in html and "1 unchanged" in html
    assert f"on n{ESCAPED_SCRIPT}" in html  # the resolved finding's node, from run 1
    assert SCRIPT not in html and "<img" not in html
    assert not INLINE_SCRIPT.search(html) and blocked_inline_code(html) == []

    body = page_client.get(f"/api/v1/analyses/{analysis_id}", headers={"accept": "*/*"}).json()
    assert [c["outcome"] for c in body["coverage"]] == ["skipped", "matched"]
    assert [r["number"] for r in body["runs"]] == [1, 2]
    assert [f["signature"]["id"] for f in body["delta"]["resolved"]] == ["gone"]


def test_a_first_run_has_no_delta_or_runs_panel(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    analysis_id = add_analysis(quiet_settings, findings=[FindingSpec()])
    html = page_client.get(f"/a/{analysis_id}").text
    assert "Changes since run" not in html
    assert "<h2>Runs</h2>" not in html
    assert "Re-run with the current signatures" in html


def test_catalogue_pages_have_no_inline_code(page_client: TestClient) -> None:
    for url in ("/signatures", f"/signatures/{SEED}", "/signatures?q=x&severity=error"):
        response = page_client.get(url)
        assert response.status_code == 200, url
        assert not INLINE_SCRIPT.search(response.text), url
        assert blocked_inline_code(response.text) == [], url
        assert "unsafe-inline" not in response.headers["content-security-policy"]
