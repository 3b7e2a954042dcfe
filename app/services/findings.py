"""Store what one run of the pipeline found; a re-run of the same run replaces, never duplicates."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import Analysis, AnalysisRun, BundleFileRow, FindingRow, Node, SnippetRow, utcnow
from app.report import SEVERITY_ORDER, Report
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
    analysis.status = "done"
    analysis.finished_at = now
    analysis.progress = 100
    analysis.ruleset_version = report.ruleset_version
    analysis.warnings = list(report.warnings)
    analysis.error = None
    session.commit()
    return True
