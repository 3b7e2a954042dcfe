"""What operators see: logs tagged with the analysis id (plain or JSON) and Prometheus metrics.

Metrics are read from the database and the broker when `/metrics` is scraped, so every web
process (and every replica behind a load balancer) reports the same figures for the whole
fleet, however many workers run the analyses and wherever they run.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from app.db import Database
from app.services import analyses

current_analysis: ContextVar[str | None] = ContextVar("current_analysis", default=None)

STATUSES = ("queued", "running", "done", "failed")
DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_HANDLER_NAME = "loupe"


@contextmanager
def analysis_context(analysis_id: str) -> Iterator[None]:
    """Every log line written inside (in this thread or context) carries `analysis_id`."""
    token = current_analysis.set(analysis_id)
    try:
        yield
    finally:
        current_analysis.reset(token)


class AnalysisIdFilter(logging.Filter):
    """Adds `record.analysis_id` (None outside an analysis) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "analysis_id"):
            record.analysis_id = current_analysis.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, analysis_id, process."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "analysis_id": getattr(record, "analysis_id", None),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        analysis_id = getattr(record, "analysis_id", None)
        return f"{text} [analysis {analysis_id}]" if analysis_id else text


def configure_logging(json_lines: bool, level: int = logging.INFO) -> None:
    """Route every logger (uvicorn's and Celery's too) through one stderr handler; idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(AnalysisIdFilter())
    handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


class FleetCollector(Collector):
    """Analyses by status, durations, bytes analysed (database) and queue depth (broker)."""

    def __init__(self, db: Database, queue_depth: Callable[[], int | None]) -> None:
        self.db = db
        self.queue_depth = queue_depth

    def collect(self) -> Iterable[Metric]:
        database_up = GaugeMetricFamily(
            "loupe_database_up", "1 when the database answered this scrape, else 0"
        )
        try:
            with self.db.session() as session:
                stats = analyses.stats(session)
        except SQLAlchemyError:
            logging.getLogger(__name__).warning("metrics: database unreachable", exc_info=True)
            database_up.add_metric([], 0)
            yield database_up
        else:
            database_up.add_metric([], 1)
            yield database_up
            yield from _analysis_metrics(stats)
        depth = self.queue_depth()
        broker_up = GaugeMetricFamily(
            "loupe_broker_up", "1 when the broker answered this scrape (or none is used), else 0"
        )
        broker_up.add_metric([], 0 if depth is None else 1)
        yield broker_up
        if depth is not None:
            queue = GaugeMetricFamily(
                "loupe_queue_depth", "Analyses waiting for a worker (messages in the broker queue)"
            )
            queue.add_metric([], depth)
            yield queue


def _analysis_metrics(stats: analyses.Stats) -> Iterator[Metric]:
    by_status = GaugeMetricFamily("loupe_analyses", "Analyses by status", labels=["status"])
    for status in sorted(set(STATUSES) | set(stats.by_status)):
        by_status.add_metric([status], stats.by_status.get(status, 0))
    yield by_status
    buckets: list[tuple[str, float]] = [
        (str(bound), float(sum(1 for d in stats.durations if d <= bound)))
        for bound in DURATION_BUCKETS
    ]
    buckets.append(("+Inf", float(len(stats.durations))))
    yield HistogramMetricFamily(
        "loupe_analysis_duration_seconds",
        "Time from a worker's claim to the end of an analysis (done or failed)",
        buckets=buckets,
        sum_value=sum(stats.durations),
    )
    analysed = CounterMetricFamily(
        "loupe_analysed_bytes", "Uploaded bytes of the analyses that are done"
    )
    analysed.add_metric([], stats.bytes_analysed)
    yield analysed


def metrics_registry(db: Database, queue_depth: Callable[[], int | None]) -> CollectorRegistry:
    """A registry of its own per app, so several apps in one process do not collide."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(db, queue_depth))
    return registry
