"""Nothing is lost when things break: a worker SIGKILLed mid-analysis, PostgreSQL gone for a
few seconds, Redis restarted empty. Real processes, real PostgreSQL, a redis-server per test."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.db import Database
from app.models import Analysis, AnalysisRun, FindingRow
from tests.services.fleet import Fleet, RedisServer, TcpProxy, big_bundle, fleet, until
from tests.test_api import seed_bundle

pytestmark = [pytest.mark.slow, pytest.mark.services]


def rows(url: str, ids: list[str]) -> dict[str, tuple[Analysis, int]]:
    """Each analysis with the number of findings stored for it (all runs)."""
    db = Database(url)
    try:
        with db.session() as session:
            result = {}
            for analysis_id in ids:
                analysis = session.get(Analysis, analysis_id)
                assert analysis is not None
                stored = session.scalar(
                    select(func.count())
                    .select_from(FindingRow)
                    .join(AnalysisRun)
                    .where(AnalysisRun.analysis_id == analysis_id)
                )
                result[analysis_id] = (analysis, int(stored or 0))
            return result
    finally:
        db.dispose()


def upload_ok(team: Fleet, kind: str, host: str = "vcsc") -> str:
    response = team.upload((f"{host}.tar.gz", seed_bundle(kind, host)))
    assert response.status_code == 202, response.text
    analysis_id: str = response.json()["id"]
    return analysis_id


def test_a_worker_killed_mid_analysis_leaves_it_to_another_worker(
    tmp_path: Path, pg_url: str, redis_server: RedisServer
) -> None:
    bundle = big_bundle(tmp_path / "big.tar.gz")
    with fleet(tmp_path, pg_url, redis_server.url, LOUPE_STALE_AFTER_SECONDS="12") as team:
        team.serve()
        team.worker("worker-1")
        team.worker("worker-2")
        response = team.upload(("diagnostic_log_vcsc.tar.gz", bundle.read_bytes()))
        assert response.status_code == 202, response.text
        analysis_id = response.json()["id"]
        db = Database(pg_url)

        def running_worker() -> str | None:
            with db.session() as session:
                row = session.get(Analysis, analysis_id)
                assert row is not None and row.status != "done", "finished before the kill"
                return row.worker if row.status == "running" else None

        owner = until(running_worker, 60, "a worker to start the analysis", step=0.05)
        pgid = os.getpgid(int(owner.split(":")[1]))
        victim = next(name for name, proc in team.workers.items() if proc.pid == pgid)
        team.kill(victim)
        with db.session() as session:
            row = session.get(Analysis, analysis_id)
            assert row is not None and row.status == "running"  # killed in the middle
        db.dispose()

        body = team.wait_done(analysis_id, timeout=180)
        assert body["status"] == "done", body
        ((analysis, stored),) = rows(pg_url, [analysis_id]).values()
        assert analysis.attempts == 2 and analysis.worker != owner
        assert stored == len(body["findings"])


def test_postgresql_down_gives_503_and_work_resumes_when_it_returns(
    tmp_path: Path, pg_url: str, redis_server: RedisServer
) -> None:
    url = make_url(pg_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    try:
        with fleet(tmp_path, through_proxy, redis_server.url) as team:
            team.serve()
            team.worker("worker-1")
            team.worker("worker-2")
            before = [upload_ok(team, kind) for kind in ("self_signed", "unknown_ca")]

            proxy.cut()
            refused = team.upload(("x.tar.gz", seed_bundle("self_signed")))
            assert refused.status_code == 503
            assert "database is not reachable" in refused.json()["detail"]
            assert team.get(f"/api/v1/analyses/{before[0]}").status_code == 503
            ready = team.get("/readyz")
            assert ready.status_code == 503 and "database" in ready.json()["detail"]
            assert team.get("/healthz").status_code == 200  # alive, only not ready
            time.sleep(4)  # the outage lasts a few seconds
            proxy.restore()

            after = upload_ok(team, "sni_mismatch")
            results = [team.wait_done(i, timeout=180) for i in [*before, after]]
            assert [r["status"] for r in results] == ["done"] * 3, team.logs()
            for (_, stored), result in zip(
                rows(pg_url, [*before, after]).values(), results, strict=True
            ):
                assert stored == len(result["findings"]) == 1
    finally:
        proxy.close()


def test_queued_analyses_survive_a_redis_restart(
    tmp_path: Path, pg_url: str, redis_server: RedisServer
) -> None:
    with fleet(tmp_path, pg_url, redis_server.url) as team:
        team.serve()  # no worker yet: the messages wait in Redis
        queued = [upload_ok(team, kind) for kind in ("self_signed", "unknown_ca", "sni_mismatch")]
        assert "loupe_queue_depth 3.0" in team.get("/metrics").text

        redis_server.stop()  # Redis keeps nothing on disk: the three messages are gone
        ready = team.get("/readyz")
        assert ready.status_code == 503 and "broker" in ready.json()["detail"]
        during = upload_ok(team, "self_signed", "expc2")  # the database still takes uploads
        redis_server.start()

        team.worker("worker-1")
        team.worker("worker-2")
        ids = [*queued, during]
        results = [team.wait_done(i, timeout=120) for i in ids]
        assert [r["status"] for r in results] == ["done"] * 4, team.logs()
        for analysis, stored in rows(pg_url, ids).values():
            assert analysis.attempts == 1 and stored == 1
