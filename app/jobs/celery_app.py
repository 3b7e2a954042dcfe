"""The Celery application for scale-out: tasks carry only an analysis id.

`acks_late` + `reject_on_worker_lost` + prefetch 1: a message is acknowledged only after the
analysis is stored, so a worker killed mid-analysis leaves it to another worker. The Redis
visibility timeout is longer than the longest analysis; the sweeper in `loupe serve`
(jobs/celery_dispatch.py) re-dispatches from the database whatever a lost message left behind.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from sqlalchemy.exc import OperationalError

from app.config import Settings, get_settings
from app.db import Database

log = logging.getLogger(__name__)

TASK_NAME = "analysis.process"
QUEUE = "analyses"


def make_celery(settings: Settings) -> Celery:
    celery = Celery("logloupe", broker=settings.broker_url)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 6 * 3600},
        worker_hijack_root_logger=False,
    )
    return celery


celery_app = make_celery(get_settings())
_db: Database | None = None


def _database(settings: Settings) -> Database:
    global _db
    if _db is None or _db.url != settings.sqlalchemy_url:
        _db = Database(settings.sqlalchemy_url)
    return _db


@celery_app.task(  # type: ignore[untyped-decorator]
    name=TASK_NAME,
    bind=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=20,
)
def process(self: Any, analysis_id: str) -> str:
    """Run one analysis; database outages are retried with back-off, bad input is not."""
    from app.worker.pipeline import process_analysis

    settings = get_settings()
    return process_analysis(analysis_id, settings=settings, db=_database(settings))
