"""The team topology for real: `loupe serve` (2 web processes) + 2 `loupe worker` processes on
PostgreSQL and Redis, as docker-compose runs it, minus Docker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import Database
from app.models import Analysis, FindingRow
from tests.services.fleet import RedisServer, fleet
from tests.test_api import seed_bundle

pytestmark = [pytest.mark.slow, pytest.mark.services]


def test_uploads_are_analysed_once_each_by_celery_workers(
    tmp_path: Path, pg_url: str, redis_server: RedisServer
) -> None:
    with fleet(tmp_path, pg_url, redis_server.url) as team:
        team.serve(web_workers=2)
        team.worker("worker-1")
        team.worker("worker-2")
        assert team.get("/readyz").json() == {"status": "ready"}
        uploads = [
            [("a.tar.gz", seed_bundle("self_signed"))],
            [("b.tar.gz", seed_bundle("unknown_ca"))],
            [
                ("c1.tar.gz", seed_bundle("sni_mismatch", "expc1")),
                ("c2.tar.gz", seed_bundle("sni_mismatch", "expc2")),
            ],
            [("d.tar.gz", seed_bundle("self_signed", "expc3"))],
        ]
        ids = []
        for files in uploads:
            response = team.upload(*files)
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        results = [team.wait_done(analysis_id) for analysis_id in ids]
        assert [r["status"] for r in results] == ["done"] * 4, team.logs()
        assert [len(r["nodes"]) for r in results] == [1, 1, 2, 1]
        assert results[1]["findings"][0]["facts"]["reason"] == "unknown_ca"

        db = Database(pg_url)
        with db.session() as session:
            rows = session.scalars(select(Analysis).where(Analysis.id.in_(ids))).all()
            findings = session.scalar(select(func.count()).select_from(FindingRow))
        db.dispose()
        assert {row.attempts for row in rows} == {1}  # each was analysed exactly once
        assert findings == sum(len(r["findings"]) for r in results)  # none duplicated
        workers = {row.worker.split(":")[1] for row in rows if row.worker}
        assert workers  # run by the Celery workers' pool processes, not by the web tier

        metrics = team.get("/metrics").text
        assert 'loupe_analyses{status="done"} 4.0' in metrics
        assert "loupe_queue_depth 0.0" in metrics
        assert "loupe_analysis_duration_seconds_count 4.0" in metrics

        worker_lines = [
            json.loads(line)
            for name in ("worker-1", "worker-2")
            for line in team.log(name).splitlines()
            if line.startswith("{")
        ]
        about_ids = [line for line in worker_lines if any(i in line["message"] for i in ids)]
        assert about_ids and all(line["analysis_id"] in ids for line in about_ids)
