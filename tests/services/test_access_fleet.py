"""Accounts, sharing and deletion on the team topology: `loupe serve` + a Celery worker on
PostgreSQL and Redis, users and tokens made with the CLI, as an operator would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.services.fleet import Fleet, RedisServer, fleet, until
from tests.test_api import seed_bundle

pytestmark = pytest.mark.services


def cli(team: Fleet, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env=team.env,
        input=stdin.encode(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    return done.stdout.decode()


def test_team_isolation_share_links_and_delete_with_celery_workers(
    tmp_path: Path, pg_url: str, redis_server: RedisServer
) -> None:
    with fleet(tmp_path, pg_url, redis_server.url, LOUPE_AUTH="local") as team:
        cli(team, "users", "add", "alice", "--team", "a", stdin="alice-password\n")
        cli(team, "users", "add", "carol", "--team", "b", stdin="carol-password\n")
        alice = {
            "authorization": "Bearer "
            + cli(team, "tokens", "create", "t", "--user", "alice").strip()
        }
        carol = {
            "authorization": "Bearer "
            + cli(team, "tokens", "create", "t", "--user", "carol").strip()
        }
        team.serve()
        team.worker("worker-1")
        base = team.base_url

        assert httpx.get(f"{base}/api/v1/analyses", timeout=10).status_code == 401
        created = httpx.post(
            f"{base}/api/v1/analyses",
            files=[("files", ("diagnostic_log_vcsc.tar.gz", seed_bundle("self_signed")))],
            headers=alice,
            timeout=60,
        )
        assert created.status_code == 202, created.text
        analysis_id = created.json()["id"]
        path = f"{base}/api/v1/analyses/{analysis_id}"

        def done() -> bool:
            body = httpx.get(path, headers=alice, timeout=10).json()
            return bool(body["status"] in ("done", "failed"))

        until(done, 120, f"analysis {analysis_id}\n{team.logs()}", 0.25)
        assert httpx.get(path, headers=alice, timeout=10).json()["status"] == "done"
        assert httpx.get(path, headers=carol, timeout=10).status_code == 404

        share = httpx.post(f"{path}/shares", headers=alice, timeout=10).json()
        assert share["url"].startswith(f"http://127.0.0.1:{team.port}/s/")
        with httpx.Client(follow_redirects=True, timeout=10) as visitor:
            assert visitor.get(share["url"]).status_code == 200
            revoked = httpx.delete(f"{path}/shares/{share['id']}", headers=alice, timeout=10)
            assert revoked.status_code == 204
            assert visitor.get(share["url"]).status_code == 404

        data_dir = Path(team.env["LOUPE_DATA_DIR"])
        assert any(analysis_id in str(p) for p in data_dir.rglob("*"))
        assert httpx.delete(path, headers=alice, timeout=10).status_code == 204
        assert httpx.get(path, headers=alice, timeout=10).status_code == 404
        assert [p for p in data_dir.rglob("*") if analysis_id in str(p)] == []
