"""Per-analysis limits with Celery: a `loupe worker` survives a bundle that hangs, hoards
memory or kills its analysing process, fails it with the reason, and takes the next upload.

Faults are injected into the analysing child (app/worker/faults.py, LOUPE_TEST_FAULT=1).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.db import Database
from app.models import Analysis
from tests.services.fleet import RedisServer, fleet, until
from tests.test_api import seed_bundle

pytestmark = [pytest.mark.slow, pytest.mark.services]


def test_a_celery_worker_survives_every_limit_and_takes_the_next_upload(
    tmp_path: Path, pg_url: str, redis_server: RedisServer
) -> None:
    limits = {
        "LOUPE_TEST_FAULT": "1",
        "LOUPE_ANALYSIS_TIMEOUT_SECONDS": "10",
        "LOUPE_ANALYSIS_MAX_MEMORY_MB": "400",
        "LOUPE_MAX_ATTEMPTS": "3",
        "LOUPE_STALE_AFTER_SECONDS": "7",  # the heartbeat (every 5 s) must keep up with it
    }
    with fleet(tmp_path, pg_url, redis_server.url, **limits) as team:
        team.serve()
        worker = team.worker("worker-1")

        def submit(name: str) -> str:
            response = team.upload((name, seed_bundle("self_signed")))
            assert response.status_code == 202, response.text
            analysis_id: str = response.json()["id"]
            return analysis_id

        hang = submit("loupe-test-fault-regex.tar.gz")
        started = time.monotonic()
        while team.get(f"/api/v1/analyses/{hang}").json()["status"] in ("queued", "running"):
            assert team.get("/healthz").status_code == 200
            assert time.monotonic() - started < 60, team.logs()
            time.sleep(0.5)
        body = team.wait_done(hang)
        assert body["status"] == "failed", body
        assert body["error"].startswith("Stopped after 10 seconds"), body["error"]

        hoard = team.wait_done(submit("loupe-test-fault-allocate.tar.gz"))
        assert hoard["status"] == "failed", hoard
        assert "used more than 400 MB of memory" in hoard["error"], hoard["error"]

        die = submit("loupe-test-fault-die.tar.gz")
        dead = team.wait_done(die)
        assert dead["status"] == "failed", dead
        assert dead["error"].startswith("Gave up after 3 attempts"), dead["error"]

        normal = team.wait_done(submit("diagnostic_log_vcsc.tar.gz"))
        assert normal["status"] == "done", team.logs()
        assert [f["facts"]["reason"] for f in normal["findings"]] == ["self_signed"]
        assert worker.poll() is None  # the same worker process all along

        db = Database(pg_url)
        with db.session() as session:
            attempts = {
                analysis_id: session.get(Analysis, analysis_id).attempts  # type: ignore[union-attr]
                for analysis_id in (hang, die, normal["id"])
            }
        db.dispose()
        # the hung analysis outlived the stale limit yet was never sent to a second attempt
        assert attempts == {hang: 1, die: 3, normal["id"]: 1}
        until(lambda: "loupe_queue_depth 0.0" in team.get("/metrics").text, 10, "empty queue")
