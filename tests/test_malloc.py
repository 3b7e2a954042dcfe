"""glibc malloc tuning of an analysis process (app/worker/malloc.py): the arena cap holds."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
import textwrap

import pytest

from app.jobs.embedded import MALLOC_TUNING
from app.worker.malloc import ARENA_MAX

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
    reason="glibc's mallopt and malloc_stats",
)

# More threads than the cap allocate at once (as an analysis's inflating, writing, matching and
# reading threads do), then glibc's malloc_stats() prints one "Arena N:" section per arena to
# stderr. (glibc's own limit, eight per core, is above the cap wherever there is one core.)
ARENAS_USED = textwrap.dedent(
    """
    import ctypes, ctypes.util, sys, threading
    if sys.argv[1] == "tuned":
        from app.worker.malloc import tune_malloc
        assert tune_malloc()
    count = int(sys.argv[2])
    barrier = threading.Barrier(count)
    def allocate():
        barrier.wait()
        buffers = [bytearray(1 << 20) for _ in range(2)]
        barrier.wait()
        del buffers
    threads = [threading.Thread(target=allocate) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ctypes.CDLL(ctypes.util.find_library("c")).malloc_stats()
    """
)


def arenas_used(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", ARENAS_USED, mode, str(ARENA_MAX + 6)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    return sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


@glibc_only
def test_tuned_process_keeps_to_the_arena_cap() -> None:
    untuned, tuned = arenas_used("default"), arenas_used("tuned")
    assert untuned > ARENA_MAX  # (glibc's default: a new arena per thread, up to 8 per core)
    assert 1 <= tuned <= ARENA_MAX


def test_worker_children_inherit_the_same_cap() -> None:
    assert MALLOC_TUNING["MALLOC_ARENA_MAX"] == str(ARENA_MAX)
