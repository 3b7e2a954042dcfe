"""Turn stored rows, or an offline Report, into the public contract objects of schemas.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.models import Analysis, FindingRow
from app.report import Finding, Report
from app.schemas import (
    AnalysisOut,
    FileOut,
    FindingOut,
    NodeOut,
    SignatureRef,
    SnippetOut,
)


def finding_out_from_row(row: FindingRow) -> FindingOut:
    return FindingOut(
        signature=SignatureRef(
            id=row.signature_id,
            title=row.title,
            severity=row.severity,
            bug_ids=row.bug_ids,
        ),
        node=row.node,
        description=row.description,
        condition=row.condition,
        further_info=row.further_info,
        action=row.action,
        facts=row.facts,
        snippets=[SnippetOut(file=s.file, line=s.line, text=s.text) for s in row.snippets],
        count=row.count,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
    )


def finding_out(finding: Finding) -> FindingOut:
    return FindingOut(
        signature=SignatureRef(
            id=finding.signature_id,
            title=finding.title,
            severity=finding.severity,
            bug_ids=list(finding.bug_ids),
        ),
        node=finding.node,
        description=finding.description,
        condition=finding.condition,
        further_info=finding.further_info,
        action=finding.action,
        facts=dict(finding.facts),
        snippets=[SnippetOut(file=s.file, line=s.line, text=s.text) for s in finding.snippets],
        count=finding.count,
        first_seen=finding.first_seen,
        last_seen=finding.last_seen,
    )


def analysis_out(analysis: Analysis, findings: Sequence[FindingRow]) -> AnalysisOut:
    return AnalysisOut(
        id=analysis.id,
        status=analysis.status,
        created_at=analysis.created_at,
        started_at=analysis.started_at,
        finished_at=analysis.finished_at,
        title=analysis.title,
        files=[FileOut(name=f.name, size=f.size, sha256=f.sha256) for f in analysis.files],
        nodes=[
            NodeOut(hostname=n.hostname, product=n.product, version=n.version)
            for n in analysis.nodes
        ],
        findings=[finding_out_from_row(row) for row in findings],
        error=analysis.error,
        warnings=list(analysis.warnings or []),
        ruleset_version=analysis.ruleset_version,
    )


def report_out(
    report: Report,
    *,
    analysis_id: str,
    files: Sequence[FileOut],
    title: str | None,
    created_at: datetime,
    started_at: datetime,
    finished_at: datetime,
    error: str | None = None,
) -> AnalysisOut:
    """The same object `GET /api/v1/analyses/{id}` returns, for an offline `loupe analyze`."""
    return AnalysisOut(
        id=analysis_id,
        status="failed" if error else "done",
        created_at=created_at,
        started_at=started_at,
        finished_at=finished_at,
        title=title,
        files=list(files),
        nodes=[
            NodeOut(hostname=n.hostname, product=n.product, version=n.version) for n in report.nodes
        ],
        findings=[] if error else [finding_out(f) for f in report.findings],
        error=error,
        warnings=list(report.warnings),
        ruleset_version=report.ruleset_version,
    )
