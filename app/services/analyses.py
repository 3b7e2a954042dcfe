"""Analyses: create one from an upload, read it for the views, move it through its states."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic_core import from_json, to_json
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session, selectinload

from app import serialize
from app.bundle.identity.choice import read_choice
from app.errors import LoupeError, NotFound
from app.ids import new_id
from app.models import Analysis, AnalysisRun, StoredFile, utcnow
from app.report import SEVERITY_ORDER
from app.schemas import AnalysisOut, DeltaOut, FindingOut, FindingsPageOut, SameUploadOut
from app.services import calls as calls_service
from app.services import findings as findings_service
from app.services import storage
from app.services.uploads import ReceivedUpload
from app.worker.pipeline import unique_names

ACTIVE = ("queued", "running")
DELTA_LISTS = ("new", "resolved", "unchanged")
DELTA_SHOWN = 50  # items of each delta list on the overview page (the JSON has them all)
DEFAULT_API_PER_PAGE = 100  # findings per page when ?page= is given without ?per_page=
MAX_API_PER_PAGE = 1000
SAME_UPLOAD_LIMIT = 10  # earlier analyses of an identical upload listed


def create(
    session: Session,
    *,
    upload: ReceivedUpload,
    data_dir: Path,
    owner: str | None = None,
    team: str | None = None,
    expires_at: datetime | None = None,
) -> Analysis:
    """Store the staged files and a queued Analysis in one transaction; nothing remains on error.

    `owner` and `team` decide who sees it (app/auth/policy.py); `expires_at` when it is deleted.
    """
    analysis_id = new_id()
    target = storage.uploads_dir(data_dir, analysis_id)
    try:
        target.parent.mkdir(parents=True, exist_ok=False)
        shutil.move(str(upload.staging), str(target))
        analysis = Analysis(
            id=analysis_id,
            title=upload.title,
            status="queued",
            warnings=[],
            owner=owner,
            team=team,
            expires_at=expires_at,
        )
        products = upload.products + [None] * (len(upload.files) - len(upload.products))
        for position, (incoming, product) in enumerate(zip(upload.files, products, strict=True)):
            stored = target / incoming.path.name
            analysis.files.append(
                StoredFile(
                    position=position,
                    name=incoming.name,
                    size=incoming.size,
                    sha256=incoming.sha256,
                    storage_path=storage.relative_to_data(data_dir, stored),
                    product=product,
                )
            )
        analysis.runs.append(AnalysisRun(number=1))
        session.add(analysis)
        session.commit()
    except BaseException:
        session.rollback()
        storage.remove_analysis(data_dir, analysis_id)
        upload.discard()
        raise
    return analysis


def _not_found(analysis_id: str) -> NotFound:
    return NotFound(
        f"No analysis with id '{analysis_id}'. Check the link, or upload the bundle again."
    )


def get(session: Session, analysis_id: str) -> Analysis:
    analysis = session.get(Analysis, analysis_id)
    if analysis is None:
        raise _not_found(analysis_id)
    return analysis


def load(session: Session, analysis_id: str) -> Analysis:
    """The analysis with its uploaded files, nodes and runs; raises NotFound."""
    stmt = (
        select(Analysis)
        .where(Analysis.id == analysis_id)
        .options(
            selectinload(Analysis.files),
            selectinload(Analysis.nodes),
            selectinload(Analysis.runs),
        )
    )
    analysis = session.scalars(stmt).one_or_none()
    if analysis is None:
        raise _not_found(analysis_id)
    return analysis


def current_run(analysis: Analysis) -> AnalysisRun | None:
    return next((r for r in analysis.runs if r.number == analysis.current_run), None)


def shown_run(analysis: Analysis) -> AnalysisRun | None:
    """The run whose findings the views show: the current one, once the analysis is done."""
    return current_run(analysis) if analysis.status == "done" else None


def same_uploads(session: Session, analysis: Analysis) -> list[SameUploadOut]:
    """Earlier analyses with an uploaded file of the same SHA-256 as one of this analysis',
    newest first (at most SAME_UPLOAD_LIMIT). The user decides whether they are the same case."""
    digests = {file.sha256 for file in analysis.files}
    if not digests:
        return []
    stmt = (
        select(Analysis.id, Analysis.title, Analysis.created_at)
        .join(StoredFile, StoredFile.analysis_id == Analysis.id)
        .where(
            StoredFile.sha256.in_(digests),
            Analysis.id != analysis.id,
            Analysis.created_at <= analysis.created_at,
        )
        .distinct()
        .order_by(Analysis.created_at.desc(), Analysis.id)
        .limit(SAME_UPLOAD_LIMIT)
    )
    return [
        SameUploadOut(id=row_id, title=title, created_at=created_at)
        for row_id, title, created_at in session.execute(stmt)
    ]


def summary(
    session: Session,
    analysis: Analysis,
    findings: Sequence[FindingOut] = (),
    delta: DeltaOut | None = None,
    *,
    data_dir: Path,
    counts: dict[str, int] | None = None,
) -> AnalysisOut:
    """The public view of a loaded analysis (`load`) with these findings and delta.

    `counts` (findings by severity) are read from the database when not given; with the
    coverage and the examined lines they make the verdict of a done analysis. Whether its
    upload is still kept is read in `data_dir` (storage.uploads_kept).
    """
    run = shown_run(analysis)
    coverage = serialize.coverage_from_json(run.coverage) if run else []
    verdict = None
    if run is not None:
        if counts is None:
            counts = findings_service.severity_counts(session, run.id)
        verdict = serialize.stored_verdict(counts, coverage, run.examined, analysis.warnings)
    out = serialize.analysis_out(
        analysis,
        findings,
        runs=analysis.runs,
        coverage=coverage,
        delta=delta,
        verdict=verdict,
        same_upload_as=same_uploads(session, analysis),
    )
    if analysis.calls_extracted:  # else None: not extracted (LOUPE_CALL_FLOWS false)
        out.calls = calls_service.count_calls(session, analysis.id)
    out.uploads_kept = storage.uploads_kept(data_dir, analysis.id)
    return out


def view_json(
    session: Session,
    analysis_id: str,
    data_dir: Path,
    *,
    page: int | None = None,
    per_page: int | None = None,
) -> list[bytes]:
    """`GET /api/v1/analyses/{id}`: an AnalysisOut with every finding and snippet, as pieces of
    JSON to send one after the other (serialize.json_pieces).

    The findings are the bulk of it (tens of MB for 10,000 findings): they are read as JSON
    already encoded (findings_service.findings_json), never as objects to validate. With `page`
    or `per_page`, only that page of findings (display order), and `findings_page` says which.
    """
    analysis = load(session, analysis_id)
    run = shown_run(analysis)
    counts = findings_service.severity_counts(session, run.id) if run is not None else {}
    out = summary(session, analysis, data_dir=data_dir, counts=counts)
    paged = page is not None or per_page is not None
    size = per_page or DEFAULT_API_PER_PAGE
    if paged:
        out.findings_page = FindingsPageOut(page=1, per_page=size, pages=1)
    if run is None:
        return serialize.json_pieces(out, findings=b"[]")
    out.findings_total = sum(counts.values())
    if paged:
        pages = max(1, -(-out.findings_total // size))
        number = min(max(1, page or 1), pages)
        out.findings_page = FindingsPageOut(page=number, per_page=size, pages=pages)
        rows = findings_service.page_of_findings(
            session, run.id, offset=(number - 1) * size, limit=size
        )
        encoded = {"findings": to_json(rows)}
    else:
        encoded = {"findings": findings_service.findings_json(session, data_dir, analysis.id, run)}
    compared = compared_runs(analysis)
    if compared is not None:
        encoded["delta"] = findings_service.delta_json(session, data_dir, analysis.id, *compared)
    return serialize.json_pieces(out, **encoded)


@dataclass(frozen=True)
class FindingsPage:
    """One page of an analysis' findings for the overview, and where it sits among them all."""

    analysis: AnalysisOut  # its findings: only those of this page, in display order
    progress: int
    counts: dict[str, int]  # the run's findings by severity, 0 for a severity without any
    number: int  # 1-based, clamped to the pages there are
    page_count: int
    per_page: int
    delta_counts: dict[str, int]  # new/resolved/unchanged: the full lengths of the delta lists
    kept_run: int | None = None  # while a re-run is queued or running: the earlier run shown

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    def first_offset(self, severity: str) -> int:
        """Offset of the first finding of `severity` in the display order (severity first)."""
        rank = SEVERITY_ORDER[severity]
        return sum(n for s, n in self.counts.items() if SEVERITY_ORDER[s] < rank)

    def page_of(self, severity: str) -> int:
        """The page on which the findings of `severity` start (this one if there are none)."""
        if not self.counts.get(severity):
            return self.number
        return self.first_offset(severity) // self.per_page + 1


def view_page(
    session: Session, analysis_id: str, data_dir: Path, *, page: int, per_page: int
) -> FindingsPage:
    """What the overview page shows: the analysis, the counts, the findings of page `page`."""
    analysis = load(session, analysis_id)
    run = shown_run(analysis) or run_kept_on_screen(analysis)
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    if run is not None:
        counts.update(findings_service.severity_counts(session, run.id))
    page_count = max(1, -(-sum(counts.values()) // per_page))
    number = min(max(1, page), page_count)
    findings = (
        findings_service.page_of_findings(
            session, run.id, offset=(number - 1) * per_page, limit=per_page
        )
        if run is not None
        else []
    )
    delta, delta_counts = page_delta(session, analysis, data_dir)
    return FindingsPage(
        analysis=summary(
            session,
            analysis,
            [FindingOut.model_validate(f) for f in findings],
            delta,
            data_dir=data_dir,
            counts=counts,
        ),
        delta_counts=delta_counts,
        progress=analysis.progress,
        counts=counts,
        number=number,
        page_count=page_count,
        per_page=per_page,
        kept_run=run.number if run is not None and analysis.status in ACTIVE else None,
    )


def run_kept_on_screen(analysis: Analysis) -> AnalysisRun | None:
    """While a re-run is queued or running: the latest earlier run that finished, whose findings
    the overview keeps showing until the new run is done."""
    current = current_run(analysis)
    if analysis.status not in ACTIVE or current is None:
        return None
    return findings_service.previous_run(analysis.runs, current)


def evidence_lines(session: Session, analysis_id: str, file: str) -> list[int]:
    """Lines of `file` quoted as evidence by the findings the views show; raises NotFound."""
    run = shown_run(load(session, analysis_id))
    return findings_service.evidence_lines(session, run.id, file) if run else []


# --- re-runs: the same files through the current library, history kept ---------------------


class AnalysisBusy(LoupeError):
    """The analysis is queued or running: it cannot be re-run now."""

    status_code = 409


class RerunInvalid(LoupeError):
    """A re-run's product overrides name an unknown upload or product."""

    status_code = 422


def product_overrides(
    files: Sequence[StoredFile], products: Mapping[str, str]
) -> dict[int, str | None]:
    """StoredFile.id → the product chosen for it, from `{"<upload name>": "<product>"}`.

    Upload names are as listed in the analysis' `files` (a name uploaded twice is also known as
    "<name> (2)", the name its node has). "auto" clears an earlier choice. Raises RerunInvalid.
    """
    by_name: dict[str, StoredFile] = {}
    for stored, unique in zip(files, unique_names([f.name for f in files]), strict=True):
        by_name.setdefault(stored.name, stored)
        by_name[unique] = stored
    chosen: dict[int, str | None] = {}
    for name, value in products.items():
        found = by_name.get(name)
        if found is None:
            known = ", ".join(f"'{n}'" for n in list(by_name)[:10])
            raise RerunInvalid(
                f"The analysis has no uploaded file named '{name[:200]}': use one of {known}."
            )
        try:
            chosen[found.id] = read_choice(value)
        except ValueError as exc:
            raise RerunInvalid(f"Product for '{name[:200]}': {exc}") from exc
    return chosen


def compared_runs(analysis: Analysis) -> tuple[AnalysisRun, AnalysisRun] | None:
    """(previous, current): the current run and the latest earlier run that finished, once the
    analysis is done; None for a first run."""
    current = shown_run(analysis)
    previous = findings_service.previous_run(analysis.runs, current) if current else None
    return (previous, current) if current is not None and previous is not None else None


def page_delta(
    session: Session, analysis: Analysis, data_dir: Path, shown: int = DELTA_SHOWN
) -> tuple[DeltaOut | None, dict[str, int]]:
    """The delta for the overview: at most `shown` items per list, and each list's full length."""
    compared = compared_runs(analysis)
    if compared is None:
        return None, {}
    data = from_json(findings_service.delta_json(session, data_dir, analysis.id, *compared))
    counts = {key: len(data[key]) for key in DELTA_LISTS}
    for key in DELTA_LISTS:
        data[key] = data[key][:shown]
    return DeltaOut.model_validate(data), counts


def rerun(
    session: Session, analysis_id: str, products: Mapping[str, str] | None = None
) -> Analysis:
    """Queue a new run of a finished (done or failed) analysis; raises NotFound, AnalysisBusy,
    RerunInvalid.

    `products` ({"<upload name>": "Expressway-C" | "Expressway-E" | "VCS" | "auto"}) changes the
    product chosen for those uploads, in the same transaction. The earlier runs keep their
    findings and coverage; the new run's row is added and becomes the current one. The caller
    dispatches the analysis after this commits.
    """
    analysis = get(session, analysis_id)
    if analysis.status in ACTIVE:
        raise AnalysisBusy(
            f"The analysis is {analysis.status}: wait until it is done, then re-run it."
        )
    overrides = product_overrides(analysis.files, products or {})
    number = analysis.current_run + 1
    moved = session.execute(
        update(Analysis)
        .where(
            Analysis.id == analysis_id,
            Analysis.status.not_in(ACTIVE),
            Analysis.current_run == analysis.current_run,
        )
        .values(
            status="queued",
            current_run=number,
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
            worker=None,
            error=None,
            progress=0,
            attempts=0,
            ruleset_version=None,
            dispatched_at=utcnow(),
        )
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise AnalysisBusy("The analysis was re-run by someone else a moment ago.")
    for stored in analysis.files:
        if stored.id in overrides:
            stored.product = overrides[stored.id]
    session.add(AnalysisRun(analysis_id=analysis_id, number=number))
    session.commit()
    session.refresh(analysis)
    return analysis


def claimable(worker: str, stale_after: timedelta) -> ColumnElement[bool]:
    """Analyses `worker` may take: queued, or running for a worker that stopped beating, or
    running for this very worker thread (a retry after a database outage: it is not busy)."""
    now = utcnow()
    return (
        (Analysis.status == "queued")
        | ((Analysis.status == "running") & (Analysis.heartbeat_at < now - stale_after))
        | ((Analysis.status == "running") & (Analysis.heartbeat_at.is_(None)))
        | ((Analysis.status == "running") & (Analysis.worker == worker))
    )


def claim(
    session: Session,
    analysis_id: str,
    worker: str,
    stale_after: timedelta,
    max_attempts: int | None = None,
) -> bool:
    """Atomically move an analysis to running for `worker` and count the attempt; False if
    another worker has it, or if it already had `max_attempts` attempts (see `give_up`)."""
    now = utcnow()
    stmt = (
        update(Analysis)
        .where(Analysis.id == analysis_id, claimable(worker, stale_after))
        .values(
            status="running",
            started_at=now,
            heartbeat_at=now,
            worker=worker,
            attempts=Analysis.attempts + 1,
            progress=0,
            error=None,
        )
    )
    if max_attempts is not None:
        stmt = stmt.where(Analysis.attempts < max_attempts)
    claimed = bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]
    session.commit()
    return claimed


def gave_up_reason(attempts: int, what_happened: str) -> str:
    """The error of an analysis that is not tried again (LOUPE_MAX_ATTEMPTS)."""
    return (
        f"Gave up after {attempts} attempts: {what_happened} each time "
        f"(LOUPE_MAX_ATTEMPTS={attempts}). The bundle probably makes the worker crash or run "
        "out of memory; report it to the operator with the server log."
    )


WORKER_DIED = "the worker analysing it died"


def give_up(
    session: Session, analysis_id: str, worker: str, stale_after: timedelta, max_attempts: int
) -> bool:
    """Fail a claimable analysis that already had `max_attempts` attempts; True if it did."""
    stmt = (
        update(Analysis)
        .where(
            Analysis.id == analysis_id,
            claimable(worker, stale_after),
            Analysis.attempts >= max_attempts,
        )
        .values(
            status="failed",
            error=gave_up_reason(max_attempts, WORKER_DIED),
            finished_at=utcnow(),
            progress=100,
        )
    )
    failed = bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]
    session.commit()
    return failed


def retry_later(
    session: Session, analysis_id: str, worker: str, max_attempts: int, what_happened: str
) -> str:
    """The attempt of `worker` ended without a result: queue the analysis again, or fail it
    when it had `max_attempts` attempts. Returns the new status ("queued" or "failed");
    "skipped" when `worker` no longer holds the analysis."""
    mine = (Analysis.id == analysis_id, Analysis.worker == worker, Analysis.status == "running")
    failed = session.execute(
        update(Analysis)
        .where(*mine, Analysis.attempts >= max_attempts)
        .values(
            status="failed",
            error=gave_up_reason(max_attempts, what_happened),
            finished_at=utcnow(),
            progress=100,
        )
    ).rowcount  # type: ignore[attr-defined]
    queued = 0
    if not failed:
        queued = session.execute(
            update(Analysis)
            .where(*mine)
            .values(status="queued", worker=None, heartbeat_at=None, dispatched_at=None)
        ).rowcount  # type: ignore[attr-defined]
    session.commit()
    return "failed" if failed else "queued" if queued else "skipped"


def release(session: Session, analysis_id: str, worker: str) -> bool:
    """Put back to queued an analysis `worker` stopped on purpose (the server shuts down):
    the attempt does not count. True if it was still the worker's."""
    stmt = (
        update(Analysis)
        .where(Analysis.id == analysis_id, Analysis.worker == worker, Analysis.status == "running")
        .values(
            status="queued",
            worker=None,
            heartbeat_at=None,
            dispatched_at=None,
            attempts=Analysis.attempts - 1,
        )
    )
    released = bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]
    session.commit()
    return released


def heartbeat(session: Session, analysis_id: str, worker: str, progress: int | None = None) -> None:
    values: dict[str, object] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = progress
    session.execute(
        update(Analysis)
        .where(Analysis.id == analysis_id, Analysis.worker == worker, Analysis.status == "running")
        .values(**values)
    )
    session.commit()


def fail(session: Session, analysis_id: str, reason: str, worker: str | None = None) -> bool:
    """Mark a running analysis failed with `reason`; False when it is not running (any more):
    one already saved as done stays done (its worker may be killed while it compacts the
    work dir, after the save)."""
    stmt = update(Analysis).where(Analysis.id == analysis_id, Analysis.status == "running")
    if worker is not None:
        stmt = stmt.where(Analysis.worker == worker)
    result = session.execute(
        stmt.values(status="failed", error=reason, finished_at=utcnow(), progress=100)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _requeue(
    session: Session,
    ids: list[str],
    max_attempts: int | None,
    *conditions: ColumnElement[bool],
    **values: object,
) -> None:
    """Running analyses among `ids` (still meeting `conditions`) back to queued, or failed
    when out of attempts."""
    running = (Analysis.id.in_(ids), Analysis.status == "running", *conditions)
    if max_attempts is not None:
        session.execute(
            update(Analysis)
            .where(*running, Analysis.attempts >= max_attempts)
            .values(
                status="failed",
                error=gave_up_reason(max_attempts, WORKER_DIED),
                finished_at=utcnow(),
                progress=100,
            )
        )
    session.execute(update(Analysis).where(*running).values(status="queued", **values))


def requeue_orphans(
    session: Session, *, older_than: datetime | None = None, max_attempts: int | None = None
) -> list[str]:
    """Put back to queued the analyses whose worker is gone; returns their ids.

    With `older_than=None` every queued or running analysis is an orphan (the embedded runner
    calls this at start-up: in a single process, nothing else can be working on them). A
    running one that had `max_attempts` attempts fails instead.
    """
    stmt = select(Analysis.id).where(Analysis.status.in_(ACTIVE))
    if older_than is not None:
        stmt = stmt.where(
            (Analysis.status == "queued") & (Analysis.created_at < older_than)
            | (Analysis.status == "running")
            & ((Analysis.heartbeat_at < older_than) | Analysis.heartbeat_at.is_(None))
        )
    ids = list(session.scalars(stmt))
    if ids:
        _requeue(session, ids, max_attempts, worker=None)
        session.commit()
    return ids


def requeue_stale(
    session: Session, *, stale_before: datetime, max_attempts: int | None = None
) -> list[str]:
    """Put back to queued (to be sent again) the running analyses with no heartbeat since then;
    those that had `max_attempts` attempts fail instead.

    A worker that is only slow, not dead, loses the analysis: its `save_report` sees another
    worker's claim and stores nothing, so findings are never duplicated.
    """
    silent = (Analysis.heartbeat_at < stale_before) | Analysis.heartbeat_at.is_(None)
    stmt = select(Analysis.id).where(Analysis.status == "running", silent)
    ids = list(session.scalars(stmt))
    if ids:
        _requeue(session, ids, max_attempts, silent, worker=None, dispatched_at=None)
    session.commit()
    return ids


def due_for_dispatch(session: Session, *, sent_before: datetime, limit: int = 500) -> list[str]:
    """Queued analyses never sent to the broker, or last sent before `sent_before`, oldest first."""
    stmt = (
        select(Analysis.id)
        .where(
            Analysis.status == "queued",
            Analysis.dispatched_at.is_(None) | (Analysis.dispatched_at < sent_before),
        )
        .order_by(Analysis.created_at)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def mark_dispatched(session: Session, analysis_id: str, *, sent_before: datetime) -> bool:
    """Record that this process sends the analysis now; False if another sweeper just did."""
    stmt = (
        update(Analysis)
        .where(
            Analysis.id == analysis_id,
            Analysis.status == "queued",
            Analysis.dispatched_at.is_(None) | (Analysis.dispatched_at < sent_before),
        )
        .values(dispatched_at=utcnow())
    )
    marked = bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]
    session.commit()
    return marked


def forget_dispatch(session: Session, analysis_id: str) -> None:
    """The message could not be sent: the next sweep sends it."""
    session.execute(
        update(Analysis)
        .where(Analysis.id == analysis_id, Analysis.status == "queued")
        .values(dispatched_at=None)
    )
    session.commit()


def count_with_status(session: Session, status: str) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Analysis).where(Analysis.status == status))
        or 0
    )


@dataclass(frozen=True)
class Stats:
    """What the metrics endpoint reports, read from the database at scrape time."""

    by_status: dict[str, int]
    durations: list[float]  # seconds from start to finish of every finished analysis
    bytes_analysed: int  # uploaded bytes of the analyses that are done


def stats(session: Session) -> Stats:
    counted = select(Analysis.status, func.count()).group_by(Analysis.status)
    by_status: dict[str, int] = dict(session.execute(counted).all())
    durations = [
        (finished - started).total_seconds()
        for started, finished in session.execute(
            select(Analysis.started_at, Analysis.finished_at).where(
                Analysis.status.in_(("done", "failed")),
                Analysis.started_at.is_not(None),
                Analysis.finished_at.is_not(None),
            )
        )
        if started is not None and finished is not None
    ]
    analysed = session.scalar(
        select(func.coalesce(func.sum(StoredFile.size), 0))
        .join(Analysis, StoredFile.analysis_id == Analysis.id)
        .where(Analysis.status == "done")
    )
    return Stats(by_status=by_status, durations=durations, bytes_analysed=int(analysed or 0))
