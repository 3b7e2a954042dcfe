"""The embedded runner: analyses run in child processes supervised by threads of `loupe serve`.

A dispatcher thread wakes when `dispatch()` is called or every sweep interval, and hands every
queued analysis that is not already in flight, oldest first, to one of `worker_threads`
supervising threads. Each analysis runs in a child process of its own (app/worker/process.py),
so neither a crash in native code, nor a regex that holds the GIL, nor an analysis over its
time or memory limit can take the web server down or silence its heartbeat. At start-up it
first puts back to queued whatever a previous process left queued or running (failing those
out of attempts), and each round it does the same for a running analysis whose heartbeat
stopped (its supervisor could not record the end, e.g. the database was down).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import Analysis, utcnow
from app.observability import analysis_context
from app.services import analyses
from app.worker.malloc import ARENA_MAX
from app.worker.supervisor import warm_up

log = logging.getLogger(__name__)

# glibc malloc returns big buffers to the kernel and faults them back in; this halves the
# scanning throughput (performance.md §3.3); and each thread's arena keeps its own freed blocks
# (app/worker/malloc.py). Children inherit these before they allocate.
MALLOC_TUNING = {
    "MALLOC_MMAP_THRESHOLD_": "268435456",
    "MALLOC_TRIM_THRESHOLD_": "1073741824",
    "MALLOC_ARENA_MAX": str(ARENA_MAX),
}


def _supervise(analysis_id: str, settings: Settings, db: Database, stop: threading.Event) -> str:
    from app.worker.process import process_analysis

    with analysis_context(analysis_id):
        return process_analysis(analysis_id, settings=settings, db=db, stop=stop)


class EmbeddedRunner:
    """Runs queued analyses in child processes, `worker_threads` at a time."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.capacity = max(1, settings.worker_threads)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._in_flight: dict[str, Future[str]] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        for key, value in MALLOC_TUNING.items():
            os.environ.setdefault(key, value)
        with self.db.session() as session:
            orphans = analyses.requeue_orphans(session, max_attempts=self.settings.max_attempts)
        if orphans:
            log.info("re-dispatching %d analyses left unfinished: %s", len(orphans), orphans)
        warm_up()
        self._pool = ThreadPoolExecutor(self.capacity, thread_name_prefix="supervisor")
        self._thread = threading.Thread(target=self._loop, name="embedded-runner", daemon=True)
        self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        """Stop taking work; running analyses are killed and given back to the queue."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
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
    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=self.settings.sweep_interval_seconds)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self._requeue_silent()
                self._submit_queued()
            except Exception:
                log.exception("embedded runner could not look for queued analyses")

    def _requeue_silent(self) -> None:
        """Running analyses whose heartbeat stopped (no supervisor of ours has them) go back
        to queued, or fail when out of attempts."""
        stale_before = utcnow() - timedelta(seconds=self.settings.stale_after_seconds)
        with self.db.session() as session:
            silent = analyses.requeue_stale(
                session, stale_before=stale_before, max_attempts=self.settings.max_attempts
            )
        for analysis_id in silent:
            log.warning("analysis %s: no heartbeat for a while; queued again", analysis_id)

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
        with self._lock:
            future = self._pool.submit(
                _supervise, analysis_id, self.settings, self.db, self._stopping
            )
            self._in_flight[analysis_id] = future
        future.add_done_callback(functools.partial(self._finished, analysis_id))

    def _finished(self, analysis_id: str, future: Future[Any]) -> None:
        with self._lock:
            self._in_flight.pop(analysis_id, None)
        if not future.cancelled() and future.exception() is not None:
            # the end could not be recorded (database down): the heartbeat has stopped, so
            # a later round queues it again (`_requeue_silent`)
            log.error("analysis %s: supervisor failed: %r", analysis_id, future.exception())
        if not self._stopping.is_set():
            self._wake.set()
