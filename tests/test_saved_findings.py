"""What save_report stores is what the views read back, also through the findings JSON it
keeps under the data dir: saving the same run again replaces it, a lost copy is rebuilt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from app.config import Settings
from app.db import Database
from app.models import Analysis, AnalysisRun
from app.report import Finding, Report, Snippet
from app.services import analyses, storage
from app.services.findings import save_report


@pytest.fixture
def db(migrated: Settings) -> Iterator[Database]:
    database = Database(migrated.sqlalchemy_url)
    yield database
    database.dispose()


def finding(signature_id: str, severity: str, n_snippets: int) -> Finding:
    return Finding(
        signature_id=signature_id,
        title=f"Title of {signature_id}",
        severity=severity,
        bug_ids=["CSCwc69661"],
        node="vcsc",
        description="Description\nwith a line break and ünïcode",
        condition="Condition",
        further_info="Further info",
        action="Action",
        facts={"server": "cucm.example.com", "depth": 1},
        snippets=[
            Snippet("a.log", 10 + i, f"line {i} of {signature_id}") for i in range(n_snippets)
        ],
        count=3,
        first_seen="2022-07-11T19:49:01.533+02:00",
        last_seen=None,
    )


def claimed_analysis(db: Database) -> str:
    """An analysis a worker named 'w' is running."""
    with db.session() as session:
        analysis = Analysis(id="a1", status="running", worker="w", warnings=[])
        analysis.runs.append(AnalysisRun(number=1))
        session.add(analysis)
        session.commit()
    return "a1"


def save(db: Database, settings: Settings, analysis_id: str, findings: list[Finding]) -> None:
    with db.session() as session:
        session.execute(
            update(Analysis).where(Analysis.id == analysis_id).values(status="running", worker="w")
        )
        session.commit()
        report = Report(ruleset_version="rs-1", findings=findings)
        assert save_report(
            session,
            analysis_id=analysis_id,
            report=report,
            data_dir=settings.resolved_data_dir,
            worker="w",
        )


def shown(db: Database, settings: Settings, analysis_id: str) -> list[dict[str, Any]]:
    with db.session() as session:
        pieces = analyses.view_json(session, analysis_id, settings.resolved_data_dir)
    findings: list[dict[str, Any]] = json.loads(b"".join(pieces))["findings"]
    return findings


def test_a_saved_run_is_shown_and_saving_it_again_replaces_it(
    db: Database, migrated: Settings
) -> None:
    analysis_id = claimed_analysis(db)
    save(
        db,
        migrated,
        analysis_id,
        [finding("s-warn", "warning", 2), finding("s-crit", "critical", 1)],
    )
    kept = storage.json_dir(migrated.resolved_data_dir, analysis_id)
    assert len(list(kept.iterdir())) == 1  # written when saved, before anyone asks
    first = shown(db, migrated, analysis_id)
    assert [f["signature"]["id"] for f in first] == ["s-crit", "s-warn"]
    assert [s["text"] for s in first[1]["snippets"]] == ["line 0 of s-warn", "line 1 of s-warn"]
    assert first[0]["description"] == "Description\nwith a line break and ünïcode"
    assert first[0]["facts"] == {"server": "cucm.example.com", "depth": 1}

    # a worker saves the same run again (a retry): the new findings, never the old copy
    save(db, migrated, analysis_id, [finding("s-info", "info", 0)])
    assert [f["signature"]["id"] for f in shown(db, migrated, analysis_id)] == ["s-info"]
    assert len(list(kept.iterdir())) == 1  # the old copy is gone


def test_the_findings_are_shown_when_they_cannot_be_kept_on_disk(
    db: Database, migrated: Settings
) -> None:
    analysis_id = claimed_analysis(db)
    kept = storage.json_dir(migrated.resolved_data_dir, analysis_id)
    kept.parent.mkdir(parents=True)
    kept.write_text("not a directory")  # every write below it fails
    save(db, migrated, analysis_id, [finding("s-err", "error", 1)])
    assert [f["signature"]["id"] for f in shown(db, migrated, analysis_id)] == ["s-err"]
    assert kept.read_text() == "not a directory"


def test_saving_a_rerun_keeps_its_delta_before_anyone_asks(
    db: Database, migrated: Settings
) -> None:
    analysis_id = claimed_analysis(db)
    save(db, migrated, analysis_id, [finding("sig-a", "error", 1), finding("sig-b", "info", 0)])
    kept = storage.json_dir(migrated.resolved_data_dir, analysis_id)
    assert not list(kept.glob("delta-*.json"))  # a first run has no delta
    with db.session() as session:  # what analyses.rerun does: a second run, queued
        session.add(AnalysisRun(analysis_id=analysis_id, number=2))
        session.execute(update(Analysis).where(Analysis.id == analysis_id).values(current_run=2))
        session.commit()
    save(db, migrated, analysis_id, [finding("sig-b", "info", 0), finding("sig-c", "error", 2)])
    (delta_file,) = kept.glob("delta-*.json")
    delta = json.loads(delta_file.read_bytes())
    assert [d["signature"]["id"] for d in delta["new"]] == ["sig-c"]
    assert [d["signature"]["id"] for d in delta["resolved"]] == ["sig-a"]
    assert [d["signature"]["id"] for d in delta["unchanged"]] == ["sig-b"]
    with db.session() as session:
        pieces = analyses.view_json(session, analysis_id, migrated.resolved_data_dir)
    assert json.loads(b"".join(pieces))["delta"] == delta
