"""The only module that knows the order of the steps of an analysis.

    unpack (safe, per upload) → identify nodes → run the signature library → Report

`analyze()` is pure (files in, Report out; `loupe analyze` calls it directly, no database);
`process_analysis()` wraps it for the workers: claim the analysis, heartbeat while working,
store the report, or record a failure with a reason a person understands.
"""

from __future__ import annotations

import contextvars
import logging
import multiprocessing
import os
import shutil
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from app.analyzers.cert_findings import apply_certificates
from app.bundle.nodes import identify_node
from app.bundle.sources import SOURCES
from app.bundle.unpack import Limits, Tee, UnpackResult, unpack_upload
from app.config import Settings
from app.db import Database
from app.errors import BundleError
from app.report import Report
from app.services import analyses, storage
from app.services.findings import save_report
from app.signatures import Library, load_library, run_library
from app.signatures.alarms import resolve_alarm_lifecycle, split_cleared
from app.signatures.coverage import coverage_of
from app.signatures.prescan import PreScanner

log = logging.getLogger(__name__)

Progress = Callable[[float], None]  # fraction 0..1 of the whole analysis


@dataclass(frozen=True)
class Input:
    """One uploaded file: where it is, and the name the user gave it."""

    path: Path
    name: str


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_total_bytes=settings.unpack_max_total_bytes,
        max_members=settings.unpack_max_members,
        max_member_bytes=settings.unpack_max_member_bytes,
        max_ratio=settings.unpack_max_ratio,
        max_depth=settings.unpack_max_depth,
    )


def unique_names(names: Sequence[str]) -> list[str]:
    """Upload names made unique ("diag.tar.gz", "diag.tar.gz (2)"): each is a node's key."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return result


def default_jobs() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _unpack_all(
    inputs: Sequence[Input],
    names: Sequence[str],
    workdir: Path,
    limits: Limits,
    jobs: int,
    tee: Tee | None,
) -> Iterator[UnpackResult]:
    """Unpack results in input order: one process per upload when there are several and jobs > 1.

    `tee` (used when the uploads are unpacked here) sees the unpacked bytes.
    """
    threads = 1 if jobs > 1 else 0
    targets = [workdir / f"{position:03d}" for position in range(len(inputs))]
    if jobs <= 1 or len(inputs) <= 1:
        for item, name, target in zip(inputs, names, targets, strict=True):
            yield unpack_upload(item.path, name, target, limits, inflate_threads=threads, tee=tee)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a threaded web or worker process
    with ProcessPoolExecutor(min(jobs, len(inputs)), mp_context=context) as pool:
        futures = [
            pool.submit(unpack_upload, item.path, name, target, limits, inflate_threads=threads)
            for item, name, target in zip(inputs, names, targets, strict=True)
        ]
        for future in futures:
            yield future.result()


def analyze(
    inputs: Sequence[Input],
    workdir: Path,
    library: Library,
    limits: Limits,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> Report:
    """Unpack every input into `workdir`, identify its node, run the library; raises BundleError.

    `jobs` (default: every core this process may use) bounds the parallelism: several uploads
    are unpacked in that many processes, gzip is inflated in a helper thread, and signatures are
    matched in that many threads. `jobs=1` runs everything in the calling thread.
    """
    jobs = max(1, jobs or default_jobs())
    report = Report(ruleset_version=library.version)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    names = unique_names([item.name for item in inputs])
    total_in = sum(item.path.stat().st_size for item in inputs) or 1
    done_in = 0
    with ExitStack() as stack:
        prescanner: PreScanner | None = None
        if jobs > 1 and len(inputs) == 1:  # one upload: scan its log while it is unpacked
            pool = stack.enter_context(ThreadPoolExecutor(jobs, thread_name_prefix="prescan"))
            prescanner = PreScanner(library.signatures, SOURCES, pool, window=2 * jobs + 1)
        unpacked = _unpack_all(inputs, names, workdir, limits, jobs, prescanner)
        for item, name, result in zip(inputs, names, unpacked, strict=True):
            report.files.extend(result.files)
            report.warnings.extend(result.warnings)
            report.nodes.append(identify_node(result.files, name))
            done_in += item.path.stat().st_size
            if progress:
                progress(0.3 * done_in / total_in)
    prescanned = prescanner.results if prescanner is not None else None
    if not report.files:
        raise BundleError(
            "The upload holds no file that could be read: every member was skipped "
            + ("(" + "; ".join(report.warnings[:3]) + ")" if report.warnings else "")
        )
    nodes = {node.bundle: node for node in report.nodes}
    total_bytes = sum(f.size for f in report.files) or 1
    scanned = 0

    def on_bytes(n: int) -> None:
        nonlocal scanned
        scanned += n
        if progress:
            progress(0.3 + 0.7 * min(1.0, scanned / total_bytes))

    findings = run_library(
        library, report.files, nodes, progress=on_bytes, jobs=jobs, prescanned=prescanned
    )
    report.findings, cleared = split_cleared(resolve_alarm_lifecycle(findings))
    apply_certificates(report, library.signatures)  # captures + PEMs: certificates, findings
    report.coverage = coverage_of(
        library.signatures, report.files, nodes, report.findings, notes=cleared
    )
    return report


# --- worker side ------------------------------------------------------------------------------

_LIBRARIES: dict[Path | None, Library] = {}


def default_library(path: Path | None = None) -> Library:
    """The library at `path` (LOUPE_LIBRARY_DIR; None: the packaged one), once per process."""
    if path not in _LIBRARIES:
        _LIBRARIES[path] = load_library(path)
    return _LIBRARIES[path]


def worker_name() -> str:
    return f"{os.uname().nodename}:{os.getpid()}:{threading.get_ident()}"


class _Heartbeat:
    """Touches the analysis row every few seconds: a sweeper tells live workers from dead ones."""

    def __init__(self, db: Database, analysis_id: str, worker: str, interval: float = 5.0) -> None:
        self.db = db
        self.analysis_id = analysis_id
        self.worker = worker
        self.interval = interval
        self.progress: int | None = None
        self._stop = threading.Event()
        context = contextvars.copy_context()  # log lines of the heartbeat carry the analysis id
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name="heartbeat", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.db.session() as session:
                    analyses.heartbeat(session, self.analysis_id, self.worker, self.progress)
            except Exception:  # a missed heartbeat is not fatal; the next one may get through
                log.warning("heartbeat failed for analysis %s", self.analysis_id, exc_info=True)

    def report(self, fraction: float) -> None:
        self.progress = int(fraction * 100)


def process_analysis(
    analysis_id: str, *, settings: Settings, db: Database, library: Library | None = None
) -> str:
    """Run one analysis end to end; returns its final status ("done", "failed" or "skipped")."""
    library = library or default_library(settings.library_dir)
    data_dir = settings.resolved_data_dir
    worker = worker_name()
    with db.session() as session:
        if not analyses.claim(
            session, analysis_id, worker, timedelta(seconds=settings.stale_after_seconds)
        ):
            return "skipped"
        analysis = analyses.get(session, analysis_id)
        inputs = [
            Input(path=storage.resolve_inside(data_dir, f.storage_path), name=f.name)
            for f in analysis.files
        ]
    log.info("analysis %s started by %s", analysis_id, worker)
    try:
        with _Heartbeat(db, analysis_id, worker) as beat:
            missing = [item.name for item in inputs if not item.path.is_file()]
            if missing:
                raise BundleError(
                    "The uploaded file(s) "
                    + ", ".join(missing)
                    + " cannot be read by this worker: check that every worker mounts the same "
                    "data dir (LOUPE_DATA_DIR)."
                )
            report = analyze(
                inputs,
                storage.work_dir(data_dir, analysis_id),
                library,
                limits_from(settings),
                beat.report,
            )
    except BundleError as exc:
        log.info("analysis %s failed: %s", analysis_id, exc)
        with db.session() as session:
            analyses.fail(session, analysis_id, str(exc), worker)
        return "failed"
    except Exception as exc:
        log.error("analysis %s crashed:\n%s", analysis_id, traceback.format_exc())
        with db.session() as session:
            analyses.fail(
                session,
                analysis_id,
                f"Internal error while analysing ({type(exc).__name__}: {exc}). "
                "The operator can find the traceback in the server log.",
                worker,
            )
        return "failed"
    with db.session() as session:
        saved = save_report(
            session, analysis_id=analysis_id, report=report, data_dir=data_dir, worker=worker
        )
    log.info(
        "analysis %s %s: %d findings",
        analysis_id,
        "done" if saved else "superseded",
        len(report.findings),
    )
    return "done" if saved else "skipped"
