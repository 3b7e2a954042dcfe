"""Per-analysis limits hold from outside the analysing process, and the server lives on.

The faults are injected into the analysing child (app/worker/faults.py, LOUPE_TEST_FAULT=1):
a regex holding the GIL for ever, memory allocated without end, a child killed by SIGKILL.
Each time the analysis ends failed with a reason a person understands, /healthz answers
meanwhile, and a normal bundle uploaded right after it is analysed as usual.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrate import upgrade
from app.models import Analysis
from app.worker import faults, supervisor
from tests.conftest import wait_for
from tests.test_api import seed_bundle, upload


@pytest.fixture
def limited(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app with short limits, faults armed, a heartbeat every 0.2 s."""
    monkeypatch.setenv(faults.ENV, "1")
    monkeypatch.setattr(supervisor, "HEARTBEAT_SECONDS", 0.2)
    tight = settings.model_copy(
        update={
            "analysis_timeout_seconds": 60,
            "analysis_max_memory_mb": 400,
            "max_attempts": 3,
        }
    )
    tight.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(tight.sqlalchemy_url)
    with TestClient(create_app(tight)) as client:
        yield client


def submit(client: TestClient, name: str) -> str:
    response = upload(client, (name, seed_bundle("self_signed")))
    assert response.status_code == 202, response.text
    analysis_id: str = response.json()["id"]
    return analysis_id


def row(client: TestClient, analysis_id: str) -> Analysis:
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    with db.session() as session:
        analysis = session.get(Analysis, analysis_id)
        assert analysis is not None
        session.expunge(analysis)
        return analysis


def assert_a_normal_bundle_is_analysed(client: TestClient) -> None:
    """The same runner (same server process, same supervising threads) analyses a normal
    bundle next, its time limit back to the default: 3 s is tight for any analysis on a busy
    test machine (the first analysis of a process also starts the fork server)."""
    runner = client.app.state.dispatcher  # type: ignore[attr-defined]
    runner.settings = runner.settings.model_copy(update={"analysis_timeout_seconds": 900})
    started = time.monotonic()
    body = wait_for(client, submit(client, "diagnostic_log_vcsc.tar.gz"))
    assert body["status"] == "done", body
    assert [f["facts"]["reason"] for f in body["findings"]] == ["self_signed"]
    assert time.monotonic() - started < 60


def test_an_analysis_over_the_time_limit_fails_with_the_reason_while_beating(
    limited: TestClient,
) -> None:
    runner = limited.app.state.dispatcher  # type: ignore[attr-defined]
    runner.settings = runner.settings.model_copy(update={"analysis_timeout_seconds": 3})
    analysis_id = submit(limited, "loupe-test-fault-regex.tar.gz")
    beats: set[datetime] = set()
    deadline = time.monotonic() + 60
    while (current := row(limited, analysis_id)).status in ("queued", "running"):
        assert limited.get("/healthz").status_code == 200  # the server answers meanwhile
        if current.status == "running" and current.heartbeat_at is not None:
            beats.add(current.heartbeat_at)
        assert time.monotonic() < deadline, "the analysis was never stopped"
        time.sleep(0.1)
    # the regex holds the child's GIL throughout; the supervisor beat anyway
    assert len(beats) >= 4, beats
    body = limited.get(f"/api/v1/analyses/{analysis_id}").json()
    assert body["status"] == "failed"
    assert body["error"].startswith("Stopped after 3 seconds: the analysis took longer than")
    assert "LOUPE_ANALYSIS_TIMEOUT_SECONDS=3" in body["error"]
    assert row(limited, analysis_id).attempts == 1  # a time-out is not tried again
    assert_a_normal_bundle_is_analysed(limited)


def test_an_analysis_over_the_memory_limit_fails_with_the_reason(limited: TestClient) -> None:
    analysis_id = submit(limited, "loupe-test-fault-allocate.tar.gz")
    body = wait_for(limited, analysis_id)
    assert body["status"] == "failed", body
    assert body["error"].startswith("Stopped: the analysis used more than 400 MB of memory")
    assert "LOUPE_ANALYSIS_MAX_MEMORY_MB=400" in body["error"]
    assert row(limited, analysis_id).attempts == 1
    assert_a_normal_bundle_is_analysed(limited)


def test_a_child_that_dies_every_time_fails_after_three_attempts(limited: TestClient) -> None:
    analysis_id = submit(limited, "loupe-test-fault-die.tar.gz")
    body = wait_for(limited, analysis_id)
    assert body["status"] == "failed", body
    assert body["error"].startswith("Gave up after 3 attempts: the process analysing it was")
    assert "SIGKILL" in body["error"] and "LOUPE_MAX_ATTEMPTS=3" in body["error"]
    assert row(limited, analysis_id).attempts == 3
    time.sleep(2.5)  # two more rounds of the runner: nothing picks it up again
    again = row(limited, analysis_id)
    assert (again.status, again.attempts) == ("failed", 3)
    assert_a_normal_bundle_is_analysed(limited)


def test_stopping_the_server_gives_a_running_analysis_back_without_counting_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(faults.ENV, "1")
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    with TestClient(create_app(settings)) as client:
        analysis_id = submit(client, "loupe-test-fault-regex.tar.gz")
        deadline = time.monotonic() + 30
        while row(client, analysis_id).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    db = Database(settings.sqlalchemy_url)
    with db.session() as session:
        stopped = session.get(Analysis, analysis_id)
        assert stopped is not None
        assert (stopped.status, stopped.attempts, stopped.worker) == ("queued", 0, None)
    db.dispose()


def test_a_dead_worker_s_analysis_is_sent_again_until_the_attempts_run_out(
    migrated: Settings,
) -> None:
    """The sweeper's side: no heartbeat for a while → queued again, or failed once it had
    LOUPE_MAX_ATTEMPTS attempts; a redelivered message cannot claim it beyond the limit."""
    from datetime import timedelta

    from app.models import utcnow
    from app.services import analyses
    from tests.test_jobs import stage

    db = Database(migrated.sqlalchemy_url)
    stale = timedelta(seconds=120)
    with db.session() as session:
        analysis_id = analyses.create(
            session,
            upload=stage(migrated, "a.tar.gz", seed_bundle("self_signed")),
            data_dir=migrated.resolved_data_dir,
        ).id
    for attempt in (1, 2, 3):
        with db.session() as session:
            assert analyses.claim(session, analysis_id, f"host:{attempt}:1", stale, 3)
            live = analyses.requeue_stale(session, stale_before=utcnow() - stale, max_attempts=3)
            assert live == []  # it beats: left alone
            found = session.get(Analysis, analysis_id)
            assert found is not None
            found.heartbeat_at = utcnow() - timedelta(minutes=10)  # then its worker dies
            session.commit()
            assert analyses.requeue_stale(session, stale_before=utcnow() - stale, max_attempts=3)
    with db.session() as session:
        failed = session.get(Analysis, analysis_id)
        assert failed is not None
        assert (failed.status, failed.attempts) == ("failed", 3)
        assert failed.error is not None and failed.error.startswith("Gave up after 3 attempts")
        # a message still on its way finds nothing to do
        assert not analyses.claim(session, analysis_id, "host:9:1", stale, 3)
        assert not analyses.give_up(session, analysis_id, "host:9:1", stale, 3)
    db.dispose()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (2, "2 seconds"),
        (1, "1 second"),
        (900, "15 minutes"),
        (5400, "1 hour 30 minutes"),
        (90, "1 minute 30 seconds"),
    ],
)
def test_time_limits_read_as_people_say_them(seconds: int, text: str) -> None:
    assert supervisor.duration_text(seconds) == text


def test_the_reasons_name_the_limit_and_the_setting() -> None:
    defaults = Settings()
    assert supervisor.timeout_reason(defaults).startswith(
        "Stopped after 15 minutes: the analysis took longer than "
        "LOUPE_ANALYSIS_TIMEOUT_SECONDS=900."
    )
    assert supervisor.memory_reason(defaults).startswith(
        "Stopped: the analysis used more than 2 GB of memory (LOUPE_ANALYSIS_MAX_MEMORY_MB=2048)."
    )
    assert supervisor.describe_exit(-9) == (
        "the process analysing it was killed by SIGKILL (for example by the kernel when memory "
        "ran out)"
    )
