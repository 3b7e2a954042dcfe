"""Store what one run of the pipeline found (a re-run of the same run replaces); compare runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import serialize
from app.models import Analysis, AnalysisRun, BundleFileRow, FindingRow, Node, SnippetRow, utcnow
from app.report import SEVERITY_ORDER, Report
from app.schemas import DeltaFinding, DeltaOut, SignatureRef
from app.services import storage


def save_report(
    session: Session, *, analysis_id: str, report: Report, data_dir: Path, worker: str
) -> bool:
    """Write the report and mark the analysis done; False if another worker took it over."""
    analysis = session.get(Analysis, analysis_id, with_for_update=True)
    if analysis is None or analysis.status != "running" or analysis.worker != worker:
        session.rollback()
        return False
    run = session.scalars(
        select(AnalysisRun).where(
            AnalysisRun.analysis_id == analysis_id, AnalysisRun.number == analysis.current_run
        )
    ).one_or_none()
    if run is None:
        run = AnalysisRun(analysis_id=analysis_id, number=analysis.current_run)
        session.add(run)
        session.flush()
    session.execute(delete(FindingRow).where(FindingRow.run_id == run.id))
    session.execute(delete(BundleFileRow).where(BundleFileRow.analysis_id == analysis_id))
    session.execute(delete(Node).where(Node.analysis_id == analysis_id))
    for position, node in enumerate(report.nodes):
        session.add(
            Node(
                analysis_id=analysis_id,
                position=position,
                bundle=node.bundle,
                hostname=node.hostname,
                product=node.product,
                version=node.version,
            )
        )
    for file in report.files:
        session.add(
            BundleFileRow(
                analysis_id=analysis_id,
                name=file.name,
                kind=str(file.kind),
                size=file.size,
                bundle=file.bundle,
                storage_path=storage.relative_to_data(data_dir, file.path),
            )
        )
    for finding in report.findings:
        row = FindingRow(
            run_id=run.id,
            signature_id=finding.signature_id,
            title=finding.title,
            severity=finding.severity,
            severity_rank=SEVERITY_ORDER.get(finding.severity, 9),
            bug_ids=list(finding.bug_ids),
            node=finding.node,
            description=finding.description,
            condition=finding.condition,
            further_info=finding.further_info,
            action=finding.action,
            facts=dict(finding.facts),
            count=finding.count,
            first_seen=finding.first_seen,
            last_seen=finding.last_seen,
        )
        row.snippets = [
            SnippetRow(position=i, file=s.file, line=s.line, text=s.text)
            for i, s in enumerate(finding.snippets)
        ]
        session.add(row)
    now = utcnow()
    run.ruleset_version = report.ruleset_version
    run.finished_at = now
    run.coverage = serialize.coverage_to_json(report.coverage)
    run.certificates = list(report.certificates)
    analysis.status = "done"
    analysis.finished_at = now
    analysis.progress = 100
    analysis.ruleset_version = report.ruleset_version
    analysis.warnings = list(report.warnings)
    analysis.error = None
    session.commit()
    return True


def run_findings(session: Session, run_id: int) -> list[FindingRow]:
    """The findings of one run, in display order (snippets not loaded)."""
    stmt = (
        select(FindingRow)
        .where(FindingRow.run_id == run_id)
        .order_by(FindingRow.severity_rank, FindingRow.signature_id, FindingRow.node, FindingRow.id)
    )
    return list(session.scalars(stmt))


def finding_key(row: FindingRow) -> tuple[str, str, str]:
    """What makes two runs' findings the same problem: signature, node and facts."""
    return row.signature_id, row.node or "", json.dumps(row.facts, sort_keys=True, default=str)


def _delta_finding(row: FindingRow) -> DeltaFinding:
    return DeltaFinding(
        signature=SignatureRef(
            id=row.signature_id, title=row.title, severity=row.severity, bug_ids=row.bug_ids
        ),
        node=row.node,
        facts=row.facts,
        count=row.count,
    )


def delta(
    previous: AnalysisRun,
    previous_rows: Sequence[FindingRow],
    current: AnalysisRun,
    current_rows: Sequence[FindingRow],
) -> DeltaOut:
    """New, resolved and unchanged findings of `current` against `previous`."""
    before = {finding_key(row): row for row in previous_rows}
    after = {finding_key(row): row for row in current_rows}
    return DeltaOut(
        run=current.number,
        ruleset_version=current.ruleset_version,
        previous_run=previous.number,
        previous_ruleset_version=previous.ruleset_version,
        new=[_delta_finding(row) for key, row in after.items() if key not in before],
        resolved=[_delta_finding(row) for key, row in before.items() if key not in after],
        unchanged=[_delta_finding(row) for key, row in after.items() if key in before],
    )
