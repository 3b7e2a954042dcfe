"""The Celery application for scale-out: tasks carry only an analysis id.

`acks_late` + `reject_on_worker_lost` + prefetch 1: a message is acknowledged only after the
analysis is stored, so a worker killed mid-analysis leaves it to another worker. The task never
runs the pipeline itself: it supervises a child process (app/worker/process.py) that does, under
the wall-clock and memory limits, so the worker survives a bundle that crashes or exhausts the
child; an attempt whose child died is sent again at once, until LOUPE_MAX_ATTEMPTS. The Redis
visibility timeout (`LOUPE_VISIBILITY_TIMEOUT_SECONDS`) is longer than the longest analysis;
the sweeper in `loupe serve` (jobs/celery_dispatch.py) re-sends from the database whatever a
dead worker or a lost message left behind. Database outages are retried with back-off; a bad
bundle is not retried (the pipeline records it as failed with a reason).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, signals
from sqlalchemy.exc import DisconnectionError, OperationalError

from app.config import Settings, get_settings
from app.db import Database
from app.observability import analysis_context, configure_logging

log = logging.getLogger(__name__)

TASK_NAME = "analysis.process"


def make_celery(settings: Settings) -> Celery:
    celery = Celery("logloupe", broker=settings.broker_url, set_as_current=False)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.queue_name,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_seconds,
            "socket_connect_timeout": 3,
        },
        # keep running analyses when Redis restarts: they end in the database either way
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        worker_hijack_root_logger=False,
    )
    return celery


_settings = get_settings()
celery_app = make_celery(_settings)
QUEUE = _settings.queue_name
_db: Database | None = None


def _database(settings: Settings) -> Database:
    global _db
    if _db is None or _db.url != settings.sqlalchemy_url:
        _db = Database(settings.sqlalchemy_url)
    return _db


@signals.setup_logging.connect  # type: ignore[untyped-decorator]
def _setup_logging(**_: Any) -> None:
    """Celery leaves logging to us: one handler, the analysis id on every line."""
    configure_logging(json_lines=get_settings().log_json)


@signals.worker_process_init.connect  # type: ignore[untyped-decorator]
def _allow_pipeline_processes(**_: Any) -> None:
    """Let a pool process start the pipeline's own process pool (several uploads unpack in
    parallel): billiard makes it a daemonic process with an authkey the standard library
    cannot pass on, so it would refuse to spawn children."""
    import multiprocessing.process

    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    config["daemon"] = False
    config["authkey"] = multiprocessing.process.AuthenticationString(  # type: ignore[attr-defined]
        os.urandom(32)
    )
    from app.worker.supervisor import warm_up

    warm_up()  # the fork server its analyses are forked from imports the pipeline meanwhile


@celery_app.task(  # type: ignore[untyped-decorator]
    name=TASK_NAME,
    bind=True,
    autoretry_for=(OperationalError, DisconnectionError),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=20,
)
def process(self: Any, analysis_id: str) -> str:
    """Run one analysis; database outages are retried with back-off, bad input is not."""
    from app.worker.process import process_analysis

    settings = get_settings()
    db = _database(settings)
    with analysis_context(analysis_id):
        try:
            status = process_analysis(analysis_id, settings=settings, db=db)
            if status == "queued":  # the child died: try again (the claim counts attempts)
                _send_again(analysis_id, settings, db)
            return status
        except (OperationalError, DisconnectionError):
            log.warning(
                "database unreachable; retry %d of analysis %s follows",
                self.request.retries + 1,
                analysis_id,
            )
            raise


def _send_again(analysis_id: str, settings: Settings, db: Database) -> None:
    """Send a message for an analysis queued again; if the broker refuses, the sweeper will."""
    from app.models import utcnow
    from app.services import analyses

    with db.session() as session:
        if not analyses.mark_dispatched(session, analysis_id, sent_before=utcnow()):
            return  # a sweeper sent it already
    try:
        celery_app.send_task(TASK_NAME, args=[analysis_id], queue=settings.queue_name)
    except Exception:
        log.warning("broker unreachable; analysis %s waits for the sweeper", analysis_id)
        with db.session() as session:
            analyses.forget_dispatch(session, analysis_id)
