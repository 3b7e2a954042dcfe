"""Give the thread that feeds an analysis a core first: its helper threads run at a lower priority.

An analysis of a gzip bundle is a pipeline whose pace is set by one thread: the one inflating
the archive (app.bundle.streams.InflateAhead), about 1.1 s of CPU per GiB, which no other
thread can share. The matcher threads, the thread reading SIP messages and the main thread
wanting more CPU than the machine has left the inflating thread waiting for a core: on the
2-vCPU VM of performance.md it spent 0.30 s of a 1.5 s scan runnable but not running, with
call flows on (0.13-0.19 s with them off). The helpers' work can wait: with `lower_priority()`
called in each (`nice` +HELPER_NICENESS, this thread only) the inflating thread's wait fell to
0.09-0.16 s and `loupe analyze` of the 1 GiB bench bundle took 11-12 % less wall time with call
flows off and on alike (12 interleaved rounds against the commit before), the same CPU time.
The helpers still get every core the feeding thread leaves idle, so with more cores than
threads nothing changes.

Linux gives each thread a niceness of its own (setpriority(2) with a thread id); elsewhere, or
when the call is refused, this does nothing. A thread's priority can be lowered without
privileges but not raised again: call it only in threads that end with their work (pools made
for one analysis, the SIP reader's thread).
"""

from __future__ import annotations

import os
import threading

HELPER_NICENESS = 10
"""Added to a helper thread's niceness. The feeding thread's wait for a core (call flows on, 0.30
s without): +5 0.18 s, +15 0.11-0.12 s, +10 0.09-0.16 s (in-process, the 1 GiB bench bundle)."""


def lower_priority(niceness: int = HELPER_NICENESS) -> bool:
    """Lower the calling thread's scheduling priority by `niceness`; True when the system did.

    On Linux the priority of one thread (PRIO_PROCESS with its thread id); elsewhere nothing,
    since the same call would lower the whole process's."""
    if not hasattr(os, "setpriority") or not os.path.isdir("/proc/self/task"):
        return False
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + niceness))
    except OSError:
        return False
    return True
