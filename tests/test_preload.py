"""The fork server's children start with what it preloaded frozen out of the collector."""

from __future__ import annotations

import gc
from multiprocessing.connection import Connection

from app.worker import supervisor


def _report_frozen(connection: Connection) -> None:
    connection.send(gc.get_freeze_count())
    connection.close()


def test_a_child_of_the_fork_server_starts_with_the_preloaded_objects_frozen() -> None:
    """The pipeline's modules and the library the fork server preloaded are frozen (~50 ms a
    full collection in each child otherwise; app/worker/preload.py). Not in this process."""
    context = supervisor._context()
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_report_frozen, args=(sending,))
    process.start()
    sending.close()
    try:
        assert receiving.poll(120), "the child did not answer"
        frozen = receiving.recv()
    finally:
        process.join(30)
    assert frozen > 50_000, frozen
    assert process.exitcode == 0
