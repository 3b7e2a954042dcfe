"""Pause Python's cyclic garbage collector while an analysis runs.

An analysis allocates millions of short-lived containers (a tuple per SIP line, an object per
kept SIP or sign-in message, ...) and keeps ~100,000 of them to its end; the collector,
triggered every 700 allocations, walked the kept ones again and again: ~0.3 s of a 1 GiB
analysis with call flows, the GIL held (py-spy). What an analysis leaves as cyclic garbage is
small (~100 objects on the bench bundle's logs; `loupe analyze` start-up leaves ~1,000, a
constant ~0.4 MB) and every analysis runs in a process of its own (the worker's forked child,
`loupe analyze`, `loupe calls`): it is freed when the collector runs again, or at exit.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_survivors() -> None:
    """Collect, then freeze what is left out of the collector's reach (`gc.freeze`): for a
    process that keeps what it made until it ends (a server once started, the fork server once
    it preloaded). Each full collection walked all of it; a frozen object that later becomes
    cyclic garbage is never freed, so never in a process that goes on making and dropping."""
    gc.collect()  # (the garbage made so far is not frozen with the rest)
    gc.freeze()


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (nested pauses are fine: the outer one ends it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
