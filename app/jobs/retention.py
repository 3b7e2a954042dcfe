"""The retention sweeper: a thread in `loupe serve` that deletes analyses past `expires_at`."""

from __future__ import annotations

import logging
import threading

from app.auth import audit
from app.config import Settings
from app.db import Database
from app.services import retention

log = logging.getLogger(__name__)


def sweep_expired(db: Database, settings: Settings) -> list[str]:
    """Delete every expired analysis no worker holds, as DELETE does; returns their ids."""
    deleted = []
    with db.session() as session:
        due = retention.expired(session)
    for analysis_id in due:
        with db.session() as session:
            try:
                gone = retention.delete_analysis(session, settings.resolved_data_dir, analysis_id)
            except retention.AnalysisRunning:
                continue  # a re-run started meanwhile: the next sweep gets it
            if gone:
                audit.record(session, "expired", actor="retention", analysis_id=analysis_id)
                deleted.append(analysis_id)
    if deleted:
        log.info("retention: deleted %d expired analyses", len(deleted))
    return deleted


class RetentionSweeper:
    """Runs `sweep_expired` every sweep interval until stopped."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.sweep_interval_seconds):
            try:
                sweep_expired(self.db, self.settings)
            except Exception:
                log.warning("retention sweep could not run", exc_info=True)
