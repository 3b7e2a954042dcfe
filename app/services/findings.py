"""Store what one run of the pipeline found (a re-run of the same run replaces); read it back
fast (plain column tuples, never ORM objects, for runs of 10,000 findings); compare runs.

The current run's findings as JSON (the `findings` array of `GET /api/v1/analyses/{id}`) are
also kept under the data dir, written when the run is saved and rebuilt from the database when
missing: a run's findings never change once it is saved (saving it again names a new file).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from pydantic_core import from_json, to_json
from sqlalchemy import Text, cast, delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app import serialize
from app.models import Analysis, AnalysisRun, BundleFileRow, FindingRow, Node, SnippetRow, utcnow
from app.report import SEVERITY_ORDER, Report
from app.schemas import DeltaFinding, DeltaOut, SignatureRef
from app.services import calls as calls_service
from app.services import signins as signins_service
from app.services import storage
from app.signatures.verdict import examined_to_json

log = logging.getLogger(__name__)

# The display order of a run's findings (index ix_finding_run_order, migration 0005)
DISPLAY_ORDER = (FindingRow.severity_rank, FindingRow.signature_id, FindingRow.node, FindingRow.id)
SEVERITY_OF_RANK = {rank: severity for severity, rank in SEVERITY_ORDER.items()}
# Bump when the shape of FindingOut changes: cached JSON of another format is never read
JSON_CACHE_FORMAT = 2  # 2: signature.status


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
                evidence=list(node.evidence),
                confidence=node.confidence,
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
    _insert_findings(session, run.id, report)
    # calls extracted anew replace the stored ones: their key goes first, and comes back with
    # the sign-ins once both are kept (a run that kept the calls leaves all three as they are)
    replaced = report.calls is not None and calls_service.forget_key(data_dir, analysis_id)
    calls_service.save_calls(session, analysis_id, report)
    # here, not at the top: app.services.timeline reads analyses through app.services.analyses,
    # which imports this module
    from app.services import timeline as timeline_service

    if report.timeline is not None:  # before the run shows as done: its timeline is ready
        timeline_service.save_counts(data_dir, analysis_id, report.timeline)
    else:
        timeline_service.forget_counts(data_dir, analysis_id)
    now = utcnow()
    run.ruleset_version = report.ruleset_version
    run.finished_at = now
    run.coverage = serialize.coverage_to_json(report.coverage)
    run.certificates = list(report.certificates)
    run.server_certificates = list(report.server_certificates)
    run.examined = examined_to_json(report.examined)
    analysis.status = "done"
    analysis.finished_at = now
    analysis.progress = 100
    analysis.ruleset_version = report.ruleset_version
    analysis.warnings = list(report.warnings)
    analysis.error = None
    session.commit()
    if signins_service.save_quietly(data_dir, analysis_id, report.signins) and replaced:
        calls_service.keep_key(data_dir, analysis_id, report)
    warm_findings_json(session, data_dir, analysis_id, run)
    return True


def _insert_findings(session: Session, run_id: int, report: Report) -> None:
    """Insert the findings and their snippets in two bulk statements (10,000 findings: ~1 s,
    where one ORM object per row took 8 s)."""
    if not report.findings:
        return
    finding_ids = session.scalars(
        insert(FindingRow).returning(FindingRow.id, sort_by_parameter_order=True),
        [
            {
                "run_id": run_id,
                "signature_id": finding.signature_id,
                "title": finding.title,
                "severity": finding.severity,
                "severity_rank": SEVERITY_ORDER.get(finding.severity, 9),
                "signature_status": finding.signature_status,
                "bug_ids": list(finding.bug_ids),
                "node": finding.node,
                "description": finding.description,
                "condition": finding.condition,
                "further_info": finding.further_info,
                "action": finding.action,
                "facts": dict(finding.facts),
                "count": finding.count,
                "first_seen": finding.first_seen,
                "last_seen": finding.last_seen,
            }
            for finding in report.findings
        ],
    ).all()
    snippets = [
        {
            "finding_id": finding_id,
            "position": position,
            "file": s.file,
            "line": s.line,
            "text": s.text,
        }
        for finding_id, finding in zip(finding_ids, report.findings, strict=True)
        for position, s in enumerate(finding.snippets)
    ]
    if snippets:
        session.execute(insert(SnippetRow), snippets)


# --- reading a run's findings back ----------------------------------------------------------

_FINDING_COLUMNS = (
    FindingRow.id,
    FindingRow.signature_id,
    FindingRow.title,
    FindingRow.severity,
    cast(FindingRow.bug_ids, Text),  # JSON text, parsed by the faster pydantic_core.from_json
    FindingRow.node,
    FindingRow.description,
    FindingRow.condition,
    FindingRow.further_info,
    FindingRow.action,
    cast(FindingRow.facts, Text),
    FindingRow.count,
    FindingRow.first_seen,
    FindingRow.last_seen,
    FindingRow.signature_status,
)
_SNIPPET_COLUMNS = (SnippetRow.finding_id, SnippetRow.file, SnippetRow.line, SnippetRow.text)


def _finding_dicts(
    rows: Sequence[Any], snippets: dict[int, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Rows of `_FINDING_COLUMNS` as FindingOut-shaped dicts (keys in FindingOut's order)."""
    return [
        {
            "signature": {
                "id": sig,
                "title": title,
                "severity": severity,
                "bug_ids": from_json(bug_ids),
                "status": status,
            },
            "node": node,
            "description": description,
            "condition": condition,
            "further_info": further_info,
            "action": action,
            "facts": from_json(facts),
            "snippets": snippets.get(finding_id, []),
            "count": count,
            "first_seen": first_seen,
            "last_seen": last_seen,
        }
        for (
            finding_id,
            sig,
            title,
            severity,
            bug_ids,
            node,
            description,
            condition,
            further_info,
            action,
            facts,
            count,
            first_seen,
            last_seen,
            status,
        ) in rows
    ]


def _group_snippets(rows: Sequence[Any]) -> dict[int, list[dict[str, Any]]]:
    """Snippet rows (`_SNIPPET_COLUMNS`, by finding, then position) by finding id."""
    return {
        finding_id: [{"file": file, "line": line, "text": text} for _, file, line, text in group]
        for finding_id, group in groupby(rows, key=itemgetter(0))
    }


def all_findings(session: Session, run_id: int) -> list[dict[str, Any]]:
    """Every finding of the run with its snippets, in display order, as FindingOut-shaped dicts.

    Two selects of plain columns (findings, then all their snippets) whatever the count.
    """
    connection = session.connection()  # Core: plain rows, no ORM result machinery
    rows = connection.execute(
        select(*_FINDING_COLUMNS).where(FindingRow.run_id == run_id).order_by(*DISPLAY_ORDER)
    ).all()
    snippets = connection.execute(
        select(*_SNIPPET_COLUMNS)
        .join(FindingRow, FindingRow.id == SnippetRow.finding_id)
        .where(FindingRow.run_id == run_id)
        .order_by(*DISPLAY_ORDER, SnippetRow.position)
    ).all()
    return _finding_dicts(rows, _group_snippets(snippets))


def page_of_findings(
    session: Session, run_id: int, *, offset: int, limit: int
) -> list[dict[str, Any]]:
    """The findings at `offset`..`offset + limit` of the display order, with their snippets."""
    connection = session.connection()
    ids = list(
        connection.scalars(  # from the index alone
            select(FindingRow.id)
            .where(FindingRow.run_id == run_id)
            .order_by(*DISPLAY_ORDER)
            .offset(offset)
            .limit(limit)
        )
    )
    if not ids:
        return []
    position = {finding_id: i for i, finding_id in enumerate(ids)}
    rows = sorted(
        connection.execute(select(*_FINDING_COLUMNS).where(FindingRow.id.in_(ids))).all(),
        key=lambda row: position[row[0]],
    )
    snippets = connection.execute(
        select(*_SNIPPET_COLUMNS)
        .where(SnippetRow.finding_id.in_(ids))
        .order_by(SnippetRow.finding_id, SnippetRow.position)
    ).all()
    return _finding_dicts(rows, _group_snippets(snippets))


def severity_counts(session: Session, run_id: int) -> dict[str, int]:
    """How many findings of each severity the run has (severities without any are left out)."""
    stmt = (
        select(FindingRow.severity_rank, func.count())
        .where(FindingRow.run_id == run_id)
        .group_by(FindingRow.severity_rank)
    )
    return {
        SEVERITY_OF_RANK[rank]: int(count)
        for rank, count in session.execute(stmt)
        if rank in SEVERITY_OF_RANK
    }


def evidence_lines(session: Session, run_id: int, file: str) -> list[int]:
    """Line numbers of `file` that the run's findings quote as evidence (once per quote)."""
    stmt = (
        select(SnippetRow.line)
        .join(FindingRow, FindingRow.id == SnippetRow.finding_id)
        .where(FindingRow.run_id == run_id, SnippetRow.file == file)
    )
    return list(session.scalars(stmt))


# --- the findings JSON of a run, kept under the data dir ------------------------------------


def findings_json_path(data_dir: Path, analysis_id: str, run: AnalysisRun) -> Path | None:
    """Where the run's findings JSON is kept; None for a run that was never saved.

    The name holds the run's id and the moment it was saved: saving the run again (a worker's
    retry) names another file, so a file, once written, never goes stale.
    """
    if run.finished_at is None:
        return None
    name = f"findings-v{JSON_CACHE_FORMAT}-run{run.id}-{_saved(run)}.json"
    return storage.json_dir(data_dir, analysis_id) / name


def _saved(run: AnalysisRun) -> str:
    assert run.finished_at is not None
    return run.finished_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _keep(path: Path, body: bytes) -> None:
    """Write `body` at `path` atomically and remove the analysis' other files of its family
    (what its name says before the first "-": findings, delta)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        partial.write_bytes(body)
        os.replace(partial, path)  # a concurrent reader sees no file or the whole file
    finally:
        partial.unlink(missing_ok=True)
    family = path.name.split("-", 1)[0]
    for other in path.parent.glob(f"{family}-*.json"):
        if other.name != path.name:
            other.unlink(missing_ok=True)


def _kept_or_built(path: Path | None, build: Callable[[], bytes], analysis_id: str) -> bytes:
    """The bytes kept at `path`, or `build()` (then kept there; a disk error only costs time)."""
    if path is not None:
        try:
            return path.read_bytes()
        except OSError:
            pass
    body = build()
    if path is not None:
        try:
            _keep(path, body)
        except OSError as exc:  # a full or read-only disk: answer anyway, from the database
            log.warning("cannot keep %s of analysis %s: %s", path.name, analysis_id, exc)
    return body


def findings_json(session: Session, data_dir: Path, analysis_id: str, run: AnalysisRun) -> bytes:
    """The run's findings as the JSON array of the API: read from the data dir, or built (and
    kept there) from the database."""
    path = findings_json_path(data_dir, analysis_id, run)
    return _kept_or_built(path, lambda: to_json(all_findings(session, run.id)), analysis_id)


def delta_json(
    session: Session, data_dir: Path, analysis_id: str, previous: AnalysisRun, current: AnalysisRun
) -> bytes:
    """`delta` of two saved runs as JSON (DeltaOut), kept under the data dir like the findings.

    Both runs are saved and never change, so neither does their delta (a re-run of 10,000
    findings compares 20,000 rows: about a second, paid once).
    """
    path = None
    if current.finished_at is not None and previous.finished_at is not None:
        name = f"delta-v{JSON_CACHE_FORMAT}-run{current.id}-{_saved(current)}-from-run{previous.id}"
        path = storage.json_dir(data_dir, analysis_id) / f"{name}-{_saved(previous)}.json"

    def build() -> bytes:
        before = run_findings(session, previous.id)
        after = run_findings(session, current.id)
        return delta(previous, before, current, after).model_dump_json().encode()

    return _kept_or_built(path, build, analysis_id)


def warm_findings_json(
    session: Session, data_dir: Path, analysis_id: str, run: AnalysisRun
) -> None:
    """Write the findings JSON (and a re-run's delta) of a run just saved: its first view is
    fast too.

    Best effort: the run is already committed, and a missing file is rebuilt when first asked for.
    """
    try:
        findings_json(session, data_dir, analysis_id, run)
        previous = previous_run(run.analysis.runs, run)
        if previous is not None:  # a re-run: its delta too
            delta_json(session, data_dir, analysis_id, previous, run)
    except SQLAlchemyError as exc:
        session.rollback()
        log.warning("cannot prepare the findings JSON of analysis %s: %s", analysis_id, exc)


# --- comparing runs ---------------------------------------------------------------------------


def previous_run(runs: Sequence[AnalysisRun], current: AnalysisRun) -> AnalysisRun | None:
    """The run `current` is compared with: the latest earlier run that finished."""
    earlier = [r for r in runs if r.number < current.number and r.finished_at is not None]
    return max(earlier, key=lambda r: r.number, default=None)


@dataclass(frozen=True, slots=True)
class FindingSummary:
    """What a delta shows of a finding (no texts, no snippets)."""

    signature_id: str
    title: str
    severity: str
    bug_ids: list[str]
    node: str | None
    facts: dict[str, Any]
    count: int


def run_findings(session: Session, run_id: int) -> list[FindingSummary]:
    """The findings of one run, in display order, without their texts and snippets."""
    stmt = (
        select(
            FindingRow.signature_id,
            FindingRow.title,
            FindingRow.severity,
            cast(FindingRow.bug_ids, Text),
            FindingRow.node,
            cast(FindingRow.facts, Text),
            FindingRow.count,
        )
        .where(FindingRow.run_id == run_id)
        .order_by(*DISPLAY_ORDER)
    )
    return [
        FindingSummary(sig, title, severity, from_json(bug_ids), node, from_json(facts), count)
        for sig, title, severity, bug_ids, node, facts, count in session.connection().execute(stmt)
    ]


QUALIFYING_FACTS = frozenset({"applies", "version_unknown"})
"""Facts that say how a finding's applies_to fits its node: they qualify it, they do not make
it another problem (runs saved before they existed lack them)."""


def finding_key(row: FindingSummary) -> tuple[str, str, str]:
    """What makes two runs' findings the same problem: signature, node and facts."""
    facts = {k: v for k, v in row.facts.items() if k not in QUALIFYING_FACTS}
    return row.signature_id, row.node or "", json.dumps(facts, sort_keys=True, default=str)


def _delta_finding(row: FindingSummary) -> DeltaFinding:
    return DeltaFinding(
        signature=SignatureRef(
            id=row.signature_id,
            title=row.title,
            severity=row.severity,
            bug_ids=row.bug_ids,
        ),
        node=row.node,
        facts=row.facts,
        count=row.count,
    )


def delta(
    previous: AnalysisRun,
    previous_rows: Sequence[FindingSummary],
    current: AnalysisRun,
    current_rows: Sequence[FindingSummary],
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
