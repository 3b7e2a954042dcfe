"""A re-run with many changes: the JSON lists every one, the overview shows the first ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import Analysis, AnalysisRun, FindingRow
from app.services import storage
from app.services.analyses import DELTA_SHOWN
from tests.web.conftest import HTML, FindingSpec, add_analysis

CHANGED = DELTA_SHOWN + 12


def _finding(run_number: int, index: int) -> FindingRow:
    return FindingRow(
        signature_id="demo-sig",
        title="Demo",
        severity="warning",
        severity_rank=2,
        bug_ids=[],
        node="vcsc",
        description="d",
        condition="c",
        further_info="f",
        action="a",
        facts={"peer": f"run{run_number}-peer{index:03d}"},
        count=1,
    )


def _with_second_run(settings: Settings) -> str:
    """An analysis whose run 2 shares one finding with run 1 and changes CHANGED others."""
    analysis_id = add_analysis(settings, findings=[FindingSpec(signature_id="stays")])
    db = Database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            analysis = session.get(Analysis, analysis_id)
            assert analysis is not None
            first = session.scalars(
                select(AnalysisRun).where(AnalysisRun.analysis_id == analysis_id)
            ).one()
            first.finished_at = datetime.now(UTC) - timedelta(hours=1)
            first.findings.extend(_finding(1, i) for i in range(CHANGED))
            second = AnalysisRun(number=2, ruleset_version="rs-2", finished_at=datetime.now(UTC))
            second.findings.extend(_finding(2, i) for i in range(CHANGED))
            second.findings.append(
                FindingRow(**{c: getattr(first.findings[0], c) for c in _COPIED})
            )
            analysis.runs.append(second)
            analysis.current_run = 2
            session.commit()
    finally:
        db.dispose()
    return analysis_id


_COPIED = (
    "signature_id",
    "title",
    "severity",
    "severity_rank",
    "bug_ids",
    "node",
    "description",
    "condition",
    "further_info",
    "action",
    "facts",
    "count",
)


def test_the_json_lists_every_change_and_keeps_it(
    quiet_settings: Settings, page_client: TestClient
) -> None:
    analysis_id = _with_second_run(quiet_settings)
    delta = page_client.get(f"/api/v1/analyses/{analysis_id}").json()["delta"]
    assert (delta["run"], delta["previous_run"]) == (2, 1)
    assert len(delta["new"]) == len(delta["resolved"]) == CHANGED
    assert [d["signature"]["id"] for d in delta["unchanged"]] == ["stays"]
    kept = storage.json_dir(quiet_settings.resolved_data_dir, analysis_id)
    assert len(list(kept.glob("delta-*.json"))) == 1
    again = page_client.get(f"/api/v1/analyses/{analysis_id}").json()["delta"]
    assert again == delta


def test_the_overview_shows_the_first_changes_and_says_how_many_more(
    quiet_settings: Settings, page_client: TestClient
) -> None:
    analysis_id = _with_second_run(quiet_settings)
    html = page_client.get(f"/a/{analysis_id}", headers=HTML).text
    assert f"{CHANGED} new" in html and f"{CHANGED} resolved" in html and "1 unchanged" in html
    section = html[html.index('id="delta"') :]
    section = section[: section.index("</section>")]
    assert section.count("run2-peer") == DELTA_SHOWN  # the new ones shown, capped
    assert section.count("run1-peer") == DELTA_SHOWN  # and the resolved ones
    assert section.count(f"… and {CHANGED - DELTA_SHOWN} more") == 2
