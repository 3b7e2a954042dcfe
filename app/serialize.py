"""Turn stored rows, or an offline Report, into the public contract objects of schemas.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic_core import to_json

from app.bundle.damage import read_in_part
from app.bundle.sources import PRODUCT_LOG_BY_SOURCE, source_words
from app.report import Coverage, Examined, Finding, NodeInfo, Report
from app.schemas import (
    AnalysisOut,
    AppliesToOut,
    CoverageOut,
    DeltaOut,
    EvidenceOut,
    ExaminedOut,
    ExampleOut,
    FileOut,
    FindingOut,
    MatchOut,
    NodeOut,
    PatternOut,
    RunOut,
    SameUploadOut,
    SignatureDetail,
    SignatureOut,
    SignatureRef,
    SignatureSource,
    SnippetOut,
    TextsOut,
    VerdictDetailOut,
)
from app.signatures.model import Signature
from app.signatures.verdict import (
    decide,
    examined_from_json,
    problem_count,
    without_product_log,
)

if TYPE_CHECKING:  # the offline CLI serialises reports without loading the ORM
    from app.models import Analysis, AnalysisRun, Node


def finding_out(finding: Finding) -> FindingOut:
    return FindingOut(
        signature=SignatureRef(
            id=finding.signature_id,
            title=finding.title,
            severity=finding.severity,
            bug_ids=list(finding.bug_ids),
            status=finding.signature_status,
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


def node_out(node: NodeInfo | Node) -> NodeOut:
    """A node as the contract shows it (a stored row or an offline NodeInfo)."""
    confidence = node.confidence if node.confidence in ("high", "medium", "low") else "low"
    return NodeOut(
        hostname=node.hostname,
        product=node.product,
        version=node.version,
        confidence=confidence,
        evidence=[EvidenceOut.model_validate(item) for item in node.evidence or ()],
    )


def coverage_out(coverage: Coverage) -> CoverageOut:
    return CoverageOut(
        signature_id=coverage.signature_id,
        title=coverage.title,
        outcome=coverage.outcome,
        reason=coverage.reason,
    )


def coverage_from_json(stored: Sequence[dict[str, Any]] | None) -> list[CoverageOut]:
    """The coverage a run stored (AnalysisRun.coverage); none for runs saved before it existed."""
    return [CoverageOut.model_validate(item) for item in stored or ()]


def coverage_to_json(coverage: Sequence[Coverage]) -> list[dict[str, Any]]:
    return [coverage_out(item).model_dump() for item in coverage]


def verdict_out(
    counts: Mapping[str, int],
    coverage: Sequence[CoverageOut],
    examined: Sequence[Examined] | None,
    warnings: Sequence[str] = (),
) -> tuple[str, VerdictDetailOut]:
    """The verdict (app/signatures/verdict.decide) and its detail, from the findings' counts by
    severity, the coverage, the examined lines (None: not recorded for the run) and the
    analysis' warnings (those of an upload read only in part: app.bundle.damage)."""
    decided = decide(
        problem_count(counts),
        (c.outcome for c in coverage),
        examined,
        elsewhere=sum(1 for c in coverage if without_product_log(c.outcome, c.reason)),
        read_in_part=read_in_part(warnings),
    )
    detail = VerdictDetailOut(
        summary=decided.summary,
        reason=decided.reason,
        problems=decided.problems,
        lines_examined=decided.lines,
        signatures_looked=decided.looked,
        signatures_could_not=decided.could_not,
        examined=[
            ExaminedOut(
                bundle=e.bundle,
                node=e.node,
                product=e.product,
                version=e.version,
                kind=e.kind,
                files=e.files,
                lines=e.lines,
                expressway=e.expressway,
                product_log=e.product_log,
            )
            for e in decided.examined
        ],
        read_in_part=decided.read_in_part,
        unread=decided.unread,
    )
    return decided.verdict, detail


def stored_verdict(
    counts: Mapping[str, int],
    coverage: Sequence[CoverageOut],
    examined: Sequence[Mapping[str, Any]] | None,
    warnings: Sequence[str] = (),
) -> tuple[str, VerdictDetailOut]:
    """The verdict of a saved run, from its severity counts, coverage and stored examined lines,
    and the analysis' stored warnings."""
    shown = None if examined is None else examined_from_json(examined)
    return verdict_out(counts, coverage, shown, warnings)


def run_out(run: AnalysisRun) -> RunOut:
    return RunOut(
        number=run.number,
        ruleset_version=run.ruleset_version,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def analysis_out(
    analysis: Analysis,
    findings: Sequence[FindingOut],
    *,
    runs: Sequence[AnalysisRun] = (),
    coverage: Sequence[CoverageOut] = (),
    delta: DeltaOut | None = None,
    verdict: tuple[str, VerdictDetailOut] | None = None,
    same_upload_as: Sequence[SameUploadOut] = (),
) -> AnalysisOut:
    return AnalysisOut(
        id=analysis.id,
        status=analysis.status,
        created_at=analysis.created_at,
        started_at=analysis.started_at,
        finished_at=analysis.finished_at,
        title=analysis.title,
        files=[
            FileOut(name=f.name, size=f.size, sha256=f.sha256, product=f.product)
            for f in analysis.files
        ],
        nodes=[node_out(n) for n in analysis.nodes],
        findings=list(findings),
        findings_total=len(findings),
        error=analysis.error,
        warnings=list(analysis.warnings or []),
        ruleset_version=analysis.ruleset_version,
        coverage=list(coverage),
        runs=[run_out(run) for run in runs],
        delta=delta,
        owner=analysis.owner,
        expires_at=analysis.expires_at,
        verdict=verdict[0] if verdict else None,
        verdict_detail=verdict[1] if verdict else None,
        same_upload_as=list(same_upload_as),
    )


def json_pieces(model: BaseModel, **encoded: bytes) -> list[bytes]:
    """`model` as JSON (fields in its order), the named fields' values given already encoded.

    The JSON is the concatenation of the pieces; each encoded value is one piece of its own, so
    that the bulk of a response that exists as JSON already is never copied or parsed again.
    """
    pieces: list[bytes] = []
    buffer = bytearray(b"{")
    for position, (name, value) in enumerate(model.model_dump(mode="json").items()):
        if position:
            buffer += b","
        buffer += to_json(name) + b":"
        if name in encoded:
            pieces += (bytes(buffer), encoded[name])
            buffer = bytearray()
        else:
            buffer += to_json(value)
    buffer += b"}"
    pieces.append(bytes(buffer))
    return pieces


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
    coverage = [] if error else [coverage_out(c) for c in report.coverage]
    verdict = (
        None
        if error
        else verdict_out(
            Counter(f.severity for f in report.findings),
            coverage,
            report.examined,
            report.warnings,
        )
    )
    return AnalysisOut(
        id=analysis_id,
        status="failed" if error else "done",
        created_at=created_at,
        started_at=started_at,
        finished_at=finished_at,
        title=title,
        files=list(files),
        nodes=[node_out(n) for n in report.nodes],
        findings=[] if error else [finding_out(f) for f in report.findings],
        findings_total=0 if error else len(report.findings),
        error=error,
        warnings=list(report.warnings),
        ruleset_version=report.ruleset_version,
        coverage=coverage,
        verdict=verdict[0] if verdict else None,
        verdict_detail=verdict[1] if verdict else None,
        runs=[
            RunOut(
                number=1,
                ruleset_version=report.ruleset_version,
                created_at=created_at,
                finished_at=finished_at,
            )
        ],
        calls=len(report.calls) if report.calls is not None else None,
    )


def signature_out(signature: Signature) -> SignatureOut:
    """A catalogue row (`GET /api/v1/signatures`)."""
    return SignatureOut(
        id=signature.id,
        title=signature.title,
        severity=signature.severity,
        bug_ids=list(signature.bug_ids),
        product=signature.product,
    )


def _source_text(library_root: Path, file: str) -> str | None:
    path = library_root / file
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def signature_detail(signature: Signature, library_root: Path) -> SignatureDetail:
    """Everything a signature says (`GET /api/v1/signatures/{id}`); texts stay templates."""
    applies = signature.applies_to
    return SignatureDetail(
        **signature_out(signature).model_dump(),
        family=signature.family,
        status=signature.status,
        applies_to=AppliesToOut(
            products=list(applies.products),
            min_version=applies.min_version,
            max_version=applies.max_version,
            only_on_product=applies.only_on_product,
        ),
        references=list(signature.references),
        match=MatchOut(
            source=signature.source,
            reads=source_words(signature.source),
            upload_hint=log.hint if (log := PRODUCT_LOG_BY_SOURCE.get(signature.source)) else None,
            contains=list(signature.contains),
            patterns=[
                PatternOut(regex=p.regex.pattern, facts=dict(p.facts)) for p in signature.patterns
            ],
            group_by=list(signature.group_by),
        ),
        texts=TextsOut(
            description=signature.text.description,
            condition=signature.text.condition,
            further_info=signature.text.further_info,
            action=signature.text.action,
        ),
        examples=[
            ExampleOut(
                name=example.name,
                lines=list(example.lines),
                expect=dict(example.expect) if example.expect is not None else None,
                count=example.count,
            )
            for example in signature.examples
        ],
        source=SignatureSource(
            file=signature.file, text=_source_text(library_root, signature.file)
        ),
    )
