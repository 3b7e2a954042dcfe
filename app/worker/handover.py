"""Hand the GIL over sooner while an analysis runs.

An analysis runs C work in helper threads without the GIL (inflating, Hyperscan, the call-flow
loops) while other threads run Python: a helper back from its C work waits for the GIL until
the thread holding it lets go, at the latest after the interpreter's switch interval (5 ms by
default). The thread that inflates the upload does so for every block, and the scan waits for
its blocks (py-spy: 0.3 s of a 1 GiB analysis waiting for the next block). A 1 ms interval
shortens those waits: `loupe analyze` of the 1 GiB bench bundle, 8 interleaved rounds, 2.82 ->
2.74 s (0.5 ms: 2.73 s; three runs of rounds, each 0.08-0.2 s faster, CPU the same). Every
analysis runs in a process of its own (the worker's child, `loupe analyze`, `loupe calls`), so
the interval of the process is set for the analysis and put back after it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

ANALYSIS_SWITCH_SECONDS = 0.001


@contextmanager
def gil_handover(seconds: float = ANALYSIS_SWITCH_SECONDS) -> Iterator[None]:
    """Inside, a thread waiting for the GIL asks for it after `seconds` (sys.setswitchinterval);
    the interval before is put back after (nested uses are fine)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)
