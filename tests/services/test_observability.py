"""What an operator's tools see: /healthz, /readyz, /metrics, log lines with the analysis id."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient

from app.observability import AnalysisIdFilter, JsonFormatter, analysis_context
from tests.conftest import wait_for
from tests.test_api import seed_bundle, upload


def test_metrics_count_analyses_by_status_duration_and_bytes(client: TestClient) -> None:
    bundle = seed_bundle("self_signed")
    created = upload(client, ("a.tar.gz", bundle)).json()
    assert wait_for(client, created["id"])["status"] == "done"
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'loupe_analyses{status="done"} 1.0' in text
    assert 'loupe_analyses{status="failed"} 0.0' in text
    assert "loupe_analysis_duration_seconds_count 1.0" in text
    assert f"loupe_analysed_bytes_total {float(len(bundle))}" in text
    assert "loupe_queue_depth 0.0" in text
    assert "loupe_database_up 1.0" in text


def test_ready_when_the_database_answers(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_a_json_log_line_carries_the_analysis_id() -> None:
    record = logging.LogRecord(
        "app.worker", logging.INFO, __file__, 1, "step %s", ("unpack",), None
    )
    with analysis_context("Q2xabc"):
        AnalysisIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["analysis_id"] == "Q2xabc"
    assert line["message"] == "step unpack"
    assert line["level"] == "INFO"
    outside = logging.LogRecord("app", logging.INFO, __file__, 1, "idle", (), None)
    AnalysisIdFilter().filter(outside)
    assert json.loads(JsonFormatter().format(outside))["analysis_id"] is None
