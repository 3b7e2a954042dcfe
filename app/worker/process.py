"""Run one stored analysis in a worker: claim it, analyse it in a child process, record the end.

`process_analysis()` is what the embedded runner and the Celery task call. It claims the
analysis (counting the attempt), has the child process of app/worker/child.py analyse it under
the watch of app/worker/supervisor.py, and records whatever the child could not: a limit
passed (LOUPE_ANALYSIS_TIMEOUT_SECONDS, LOUPE_ANALYSIS_MAX_MEMORY_MB), a child that died (sent
again until LOUPE_MAX_ATTEMPTS, then failed), a stop because the worker shuts down (queued
again, the attempt not counted). The worker itself never runs the pipeline, so it survives all
of these and takes the next analysis.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.models import Analysis
from app.services import analyses
from app.worker.supervisor import Ending, Supervisor, memory_reason, timeout_reason

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{os.uname().nodename}:{os.getpid()}:{threading.get_ident()}"


def process_analysis(
    analysis_id: str, *, settings: Settings, db: Database, stop: threading.Event | None = None
) -> str:
    """Run one analysis end to end; returns its status afterwards: "done" or "failed", "queued"
    (to be tried again) or "skipped" (another worker has it). `stop` asks it to give the
    analysis back to the queue (the worker shuts down)."""
    worker = worker_name()
    stale_after = timedelta(seconds=settings.stale_after_seconds)
    with db.session() as session:
        if not analyses.claim(session, analysis_id, worker, stale_after, settings.max_attempts):
            if analyses.give_up(session, analysis_id, worker, stale_after, settings.max_attempts):
                log.warning("analysis %s: out of attempts, failed", analysis_id)
                return "failed"
            return "skipped"
    supervisor = Supervisor(analysis_id, worker, settings, db, stop)
    outcome = supervisor.run()
    log.info(
        "analysis %s: attempt ended (%s), its processes held at most %d MB",
        analysis_id,
        outcome.ending.value,
        supervisor.peak_bytes // 2**20,
    )
    if outcome.ending is Ending.RECORDED:
        return outcome.status or "done"
    with db.session() as session:
        if outcome.ending is Ending.STOPPED:
            analyses.release(session, analysis_id, worker)
            log.info("analysis %s given back to the queue: the worker stops", analysis_id)
            return "queued"
        if outcome.ending is Ending.TIMEOUT:
            log.warning("analysis %s: over the wall-clock limit, killed", analysis_id)
            return _failed(session, analysis_id, timeout_reason(settings), worker)
        if outcome.ending is Ending.MEMORY:
            log.warning(
                "analysis %s: over the memory limit (%s), killed", analysis_id, outcome.detail
            )
            return _failed(session, analysis_id, memory_reason(settings), worker)
        log.warning("analysis %s: attempt lost: %s", analysis_id, outcome.detail)
        return analyses.retry_later(
            session, analysis_id, worker, settings.max_attempts, outcome.detail
        )


def _failed(session: Session, analysis_id: str, reason: str, worker: str) -> str:
    """Fail the analysis its killed child was running; "done" when its findings had been saved
    (the child was compacting its work dir: the plain files left read as well)."""
    if analyses.fail(session, analysis_id, reason, worker):
        return "failed"
    status = session.scalar(select(Analysis.status).where(Analysis.id == analysis_id))
    if status == "done":
        log.warning("analysis %s: killed after its findings were saved; it stays done", analysis_id)
        return "done"
    return "skipped"  # taken over by another worker meanwhile, or deleted
