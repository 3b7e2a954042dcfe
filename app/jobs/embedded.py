"""The embedded runner: analyses run in a small process pool inside `loupe serve`.

A dispatcher thread owns the pool. It wakes when `dispatch()` is called or every sweep
interval, and submits every queued analysis that is not already in flight, oldest first. At
start-up it first puts back to queued whatever a previous process left queued or running, so
a server restart re-dispatches unfinished analyses. Each analysis runs in a child process, so a
crash in native code (decompression, regex engines) cannot take the web server down: the
analysis is marked failed with a reason and the pool is rebuilt.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import Analysis
from app.observability import analysis_context, configure_logging
from app.services import analyses

log = logging.getLogger(__name__)

# glibc malloc returns big buffers to the kernel and faults them back in; this halves the
# scanning throughput (performance.md §3.3). Children inherit these before they allocate.
MALLOC_TUNING = {"MALLOC_MMAP_THRESHOLD_": "268435456", "MALLOC_TRIM_THRESHOLD_": "1073741824"}

_child_db: Database | None = None


def _run_in_child(analysis_id: str, settings_json: str) -> str:
    """Entry point inside a pool process: one Database per process, reused across analyses."""
    global _child_db
    from app.worker.process import process_analysis

    settings = Settings.model_validate_json(settings_json)
    if _child_db is None or _child_db.url != settings.sqlalchemy_url:
        _child_db = Database(settings.sqlalchemy_url)
        if settings.log_json:
            configure_logging(json_lines=True)
    with analysis_context(analysis_id):
        return process_analysis(analysis_id, settings=settings, db=_child_db)


class EmbeddedRunner:
    """Runs queued analyses in a process pool owned by the web process."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.capacity = max(1, settings.worker_threads)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._in_flight: dict[str, Future[str]] = {}
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        for key, value in MALLOC_TUNING.items():
            os.environ.setdefault(key, value)
        with self.db.session() as session:
            orphans = analyses.requeue_orphans(session)
        if orphans:
            log.info("re-dispatching %d analyses left unfinished: %s", len(orphans), orphans)
        self._pool = self._new_pool()
        self._thread = threading.Thread(target=self._loop, name="embedded-runner", daemon=True)
        self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._pool is not None:
            processes = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
                process.join(timeout=5)
            self._pool = None

    def dispatch(self, analysis_id: str) -> None:
        self._wake.set()

    def queue_depth(self) -> int | None:
        """Queued analyses: the database is this runner's queue."""
        with self.db.session() as session:
            return analyses.count_with_status(session, "queued")

    def check(self) -> str | None:
        if self._thread is not None and not self._thread.is_alive() and not self._stopping.is_set():
            return "the embedded worker stopped; restart loupe serve"
        return None

    def idle(self) -> bool:
        with self._lock:
            return not self._in_flight

    # internals --------------------------------------------------------------------------------
    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.capacity, mp_context=multiprocessing.get_context("spawn")
        )

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=self.settings.sweep_interval_seconds)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self._submit_queued()
            except Exception:
                log.exception("embedded runner could not look for queued analyses")

    def _submit_queued(self) -> None:
        with self._lock:
            free = self.capacity - len(self._in_flight)
            busy = set(self._in_flight)
        if free <= 0:
            return
        with self.db.session() as session:
            stmt = (
                select(Analysis.id)
                .where(Analysis.status == "queued")
                .order_by(Analysis.created_at)
                .limit(free + len(busy))
            )
            queued = [aid for aid in session.scalars(stmt) if aid not in busy][:free]
        for analysis_id in queued:
            self._submit(analysis_id)

    def _submit(self, analysis_id: str) -> None:
        assert self._pool is not None
        payload = self.settings.model_dump_json()
        try:
            future = self._pool.submit(_run_in_child, analysis_id, payload)
        except (BrokenProcessPool, RuntimeError):
            self._pool = self._new_pool()
            future = self._pool.submit(_run_in_child, analysis_id, payload)
        with self._lock:
            self._in_flight[analysis_id] = future
        future.add_done_callback(functools.partial(self._finished, analysis_id))

    def _finished(self, analysis_id: str, future: Future[Any]) -> None:
        with self._lock:
            self._in_flight.pop(analysis_id, None)
        if self._stopping.is_set():
            return  # shutting down: the next start puts it back to queued, it did not fail
        if not future.cancelled():
            error = future.exception()
            if error is not None:
                log.error("analysis %s: worker process failed: %r", analysis_id, error)
                reason = (
                    "The worker process died while analysing this bundle (for example out of "
                    "memory). Try again; if it fails again, report it to the operator."
                    if isinstance(error, BrokenProcessPool)
                    else f"Internal error in the worker ({type(error).__name__}: {error})."
                )
                try:
                    with self.db.session() as session:
                        analyses.fail(session, analysis_id, reason)
                except Exception:
                    log.exception("could not record the failure of analysis %s", analysis_id)
                if isinstance(error, BrokenProcessPool) and not self._stopping.is_set():
                    self._pool = self._new_pool()
        if not self._stopping.is_set():
            self._wake.set()
