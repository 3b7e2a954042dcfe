"""Dispatch to Celery workers, plus the sweeper that re-sends what a dead worker left behind."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from app.config import Settings
from app.db import Database
from app.models import utcnow
from app.services import analyses

log = logging.getLogger(__name__)


class CeleryDispatcher:
    """Sends `analysis.process(id)` to the broker; a thread re-dispatches stale analyses."""

    def __init__(self, settings: Settings, db: Database) -> None:
        from app.jobs.celery_app import make_celery

        self.settings = settings
        self.db = db
        self.celery = make_celery(settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def dispatch(self, analysis_id: str) -> None:
        from app.jobs.celery_app import TASK_NAME

        try:
            self.celery.send_task(TASK_NAME, args=[analysis_id])
        except Exception:  # the broker is down: the sweeper sends it when it is back
            log.warning("broker unreachable; analysis %s stays queued for the sweeper", analysis_id)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._sweep_loop, name="sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def sweep(self) -> list[str]:
        """Re-dispatch analyses queued or running without a heartbeat for too long."""
        older_than = utcnow() - timedelta(seconds=self.settings.stale_after_seconds)
        with self.db.session() as session:
            ids = analyses.requeue_orphans(session, older_than=older_than)
        for analysis_id in ids:
            log.info("sweeper re-dispatches analysis %s", analysis_id)
            self.dispatch(analysis_id)
        return ids

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.settings.sweep_interval_seconds):
            try:
                self.sweep()
            except Exception:
                log.warning("sweeper could not run", exc_info=True)
