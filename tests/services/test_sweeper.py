"""The sweeper re-sends what was lost, once, and leaves live work alone (SQLite and PostgreSQL,
a redis-server of the test's own, no worker: the messages stay in the queue to be counted)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from app.config import Settings
from app.db import Database
from app.jobs.celery_dispatch import CeleryDispatcher
from app.models import Analysis, utcnow
from app.services import analyses
from tests.services.fleet import RedisServer
from tests.test_api import seed_bundle
from tests.test_jobs import stage

pytestmark = pytest.mark.services


@pytest.fixture
def dispatcher(migrated: Settings, redis_server: RedisServer) -> Iterator[CeleryDispatcher]:
    settings = migrated.model_copy(
        update={"broker_url": redis_server.url, "queue_name": "sweeper-test"}
    )
    db = Database(settings.sqlalchemy_url)
    celery = CeleryDispatcher(settings, db)
    yield celery
    celery.stop()
    db.dispose()


def new_analysis(dispatcher: CeleryDispatcher, name: str, **values: object) -> str:
    settings = dispatcher.settings
    with dispatcher.db.session() as session:
        analysis_id = analyses.create(
            session,
            upload=stage(settings, name, seed_bundle("self_signed")),
            data_dir=settings.resolved_data_dir,
        ).id
        row = session.get(Analysis, analysis_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        session.commit()
    return analysis_id


def test_an_unsent_analysis_is_sent_once(dispatcher: CeleryDispatcher) -> None:
    unsent = new_analysis(dispatcher, "a.tar.gz", dispatched_at=None)
    new_analysis(dispatcher, "b.tar.gz")  # sent a moment ago by the upload request
    assert dispatcher.sweep() == [unsent]
    assert dispatcher.sweep() == []  # a second round does not pile up a duplicate
    assert dispatcher.queue_depth() == 1


def test_a_lost_message_is_sent_again_when_the_queue_is_empty(
    dispatcher: CeleryDispatcher,
) -> None:
    long_ago = utcnow() - timedelta(seconds=dispatcher.settings.redispatch_after_seconds + 5)
    lost = new_analysis(dispatcher, "a.tar.gz", dispatched_at=long_ago)
    assert dispatcher.sweep() == [lost]
    # its message is in the queue now: however old the analysis, it is not sent a third time
    with dispatcher.db.session() as session:
        row = session.get(Analysis, lost)
        assert row is not None
        row.dispatched_at = long_ago
        session.commit()
    assert dispatcher.sweep() == []


def test_a_dead_workers_analysis_is_requeued_and_a_live_one_is_left_alone(
    dispatcher: CeleryDispatcher,
) -> None:
    stale = utcnow() - timedelta(seconds=dispatcher.settings.stale_after_seconds + 5)
    dead = new_analysis(
        dispatcher, "a.tar.gz", status="running", worker="gone:1:1", heartbeat_at=stale
    )
    alive = new_analysis(
        dispatcher, "b.tar.gz", status="running", worker="busy:2:2", heartbeat_at=utcnow()
    )
    assert dispatcher.sweep() == [dead]
    with dispatcher.db.session() as session:
        assert analyses.get(session, dead).status == "queued"
        assert analyses.get(session, alive).status == "running"
        assert analyses.get(session, alive).worker == "busy:2:2"


def test_with_the_broker_down_nothing_is_marked_sent(dispatcher: CeleryDispatcher) -> None:
    unsent = new_analysis(dispatcher, "a.tar.gz", dispatched_at=None)
    unreachable = dispatcher.settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    down = CeleryDispatcher(unreachable, dispatcher.db)
    assert down.check() is not None
    assert down.sweep() == []
    down.stop()
    assert dispatcher.sweep() == [unsent]  # sent once the broker answers
