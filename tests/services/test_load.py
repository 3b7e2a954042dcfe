"""50 concurrent uploads of mixed bundles against the web tier with two workers: every analysis
reaches done, none is duplicated, none lost (the figures are printed, not asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.loadtest import run_load
from tests.services.fleet import RedisServer, fleet

pytestmark = [pytest.mark.slow, pytest.mark.services]


def test_fifty_concurrent_uploads_all_end_done_once(
    tmp_path: Path, pg_url: str, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with fleet(tmp_path, pg_url, redis_server.url) as team:
        team.serve(web_workers=2)
        team.worker("worker-1")
        team.worker("worker-2")
        result = run_load(team, pg_url, 50, timeout=240)
    assert len(result.ids) == 50 and result.refused == 0
    assert result.lost == [], result.statuses
    assert result.duplicated == []
    with capsys.disabled():
        print(
            f"\n50 uploads: upload-to-202 p50 {result.percentile(50) * 1000:.0f} ms,"
            f" p95 {result.percentile(95) * 1000:.0f} ms"
        )
