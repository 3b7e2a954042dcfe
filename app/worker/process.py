"""Run one stored analysis in a worker: claim it, heartbeat while working, store the report.

`process_analysis()` wraps the pure `app.worker.pipeline.analyze()` for the embedded worker and
Celery: it records a failure with a reason a person understands, and a crash as an internal
error whose traceback goes to the server log.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import traceback
from datetime import timedelta
from pathlib import Path

from app.config import Settings
from app.db import Database
from app.errors import BundleError
from app.services import analyses, storage
from app.services.findings import save_report
from app.signatures import Library, load_library
from app.worker.pipeline import Input, analyze, limits_from, output_limits_from

log = logging.getLogger(__name__)

_LIBRARIES: dict[Path | None, Library] = {}


def default_library(path: Path | None = None, cache_dir: Path | None = None) -> Library:
    """The library at `path` (LOUPE_LIBRARY_DIR; None: the packaged one), once per process."""
    if path not in _LIBRARIES:
        _LIBRARIES[path] = load_library(path, cache_dir=cache_dir)
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
    library = library or default_library(settings.library_dir, settings.cache_dir)
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
                jobs=settings.jobs,
                output=output_limits_from(settings),
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
