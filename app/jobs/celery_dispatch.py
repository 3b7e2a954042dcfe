"""Dispatch to Celery workers, plus the sweeper that re-sends what was lost on the way.

The database is the source of truth; a broker message is only a wake-up call. Each sweep:
1. running analyses without a heartbeat for `stale_after_seconds` (their worker died) go back
   to queued, or fail once they had `max_attempts` attempts (the heartbeat comes from the
   supervising task, not from the process running the pipeline: a long analysis keeps it);
2. queued analyses whose message was never sent (broker down at upload) are sent;
3. queued analyses sent more than `redispatch_after_seconds` ago are sent again when the broker
   queue is empty (their message was lost: Redis restarted without persistence), or when they
   were sent more than `visibility_timeout_seconds` ago whatever the queue holds.
`analysis.dispatched_at` is set by a compare-and-set before each send, so several sweepers
(one per web process) never send the same analysis twice in one round, and a busy queue does
not pile up duplicate messages. A duplicate that does arrive is harmless: the claim is atomic.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from app.config import Settings
from app.db import Database
from app.models import utcnow
from app.observability import analysis_context
from app.services import analyses

log = logging.getLogger(__name__)


class CeleryDispatcher:
    """Sends `analysis.process(id)` to the broker; a thread sweeps every sweep interval."""

    def __init__(self, settings: Settings, db: Database) -> None:
        from app.jobs.celery_app import make_celery

        self.settings = settings
        self.db = db
        self.celery = make_celery(settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def dispatch(self, analysis_id: str) -> None:
        """Send the analysis now; if the broker is down, the next sweep sends it."""
        if self._send(analysis_id):
            return
        try:
            with self.db.session() as session:
                analyses.forget_dispatch(session, analysis_id)
        except Exception:  # dispatched_at stays set: the sweeper re-sends it after a while
            log.warning("could not record that analysis %s is unsent", analysis_id)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._sweep_loop, name="sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.celery.close()

    def queue_depth(self) -> int | None:
        try:
            with self.celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, timeout=3)
                declared = connection.default_channel.queue_declare(
                    queue=self.settings.queue_name, durable=True, auto_delete=False
                )
                return int(declared.message_count)
        except Exception:
            log.warning("broker unreachable", exc_info=True)
            return None

    def check(self) -> str | None:
        if self.queue_depth() is None:
            return "the broker (LOUPE_BROKER_URL) is not reachable"
        return None

    def sweep(self) -> list[str]:
        """One round of the sweeper; returns the ids it sent."""
        now = utcnow()
        with self.db.session() as session:
            stale = analyses.requeue_stale(
                session,
                stale_before=now - timedelta(seconds=self.settings.stale_after_seconds),
                max_attempts=self.settings.max_attempts,
            )
        for analysis_id in stale:
            with analysis_context(analysis_id):
                log.warning("analysis %s: its worker stopped sending heartbeats", analysis_id)
        depth = self.queue_depth()
        if depth is None:
            return []
        resend_after = (
            self.settings.redispatch_after_seconds
            if depth == 0
            else self.settings.visibility_timeout_seconds
        )
        sent_before = now - timedelta(seconds=resend_after)
        with self.db.session() as session:
            due = analyses.due_for_dispatch(session, sent_before=sent_before)
        sent = []
        for analysis_id in due:
            with self.db.session() as session:
                if not analyses.mark_dispatched(session, analysis_id, sent_before=sent_before):
                    continue  # another sweeper sent it
            with analysis_context(analysis_id):
                log.info("sweeper sends analysis %s", analysis_id)
            if self._send(analysis_id):
                sent.append(analysis_id)
            else:
                with self.db.session() as session:
                    analyses.forget_dispatch(session, analysis_id)
                break
        return sent

    def _send(self, analysis_id: str) -> bool:
        from app.jobs.celery_app import TASK_NAME

        with analysis_context(analysis_id):
            try:
                self.celery.send_task(TASK_NAME, args=[analysis_id], queue=self.settings.queue_name)
            except Exception:
                log.warning("broker unreachable; analysis %s waits for the sweeper", analysis_id)
                return False
            return True

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.settings.sweep_interval_seconds):
            try:
                self.sweep()
            except Exception:
                log.warning("sweeper could not run", exc_info=True)
