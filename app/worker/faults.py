"""Faults the tests inject into the analysing child process, to prove the limits hold.

Inactive unless the environment variable `LOUPE_TEST_FAULT=1` is set (never in production),
and then only for analyses whose first uploaded file is named `loupe-test-fault-<kind>…`, so a
normal upload right after a faulty one runs normally. Kinds:

* `regex`    a catastrophic regular expression that holds the GIL for ever (wall-clock limit;
             the heartbeat must go on meanwhile)
* `allocate` allocates and touches memory until the process is stopped (memory limit)
* `die`      the process kills itself with SIGKILL, as the kernel's OOM killer would (attempts)
"""

from __future__ import annotations

import os
import re
import signal
import time

ENV = "LOUPE_TEST_FAULT"
TRIGGER = "loupe-test-fault"
_CHUNK = 4 * 2**20


def inject(upload_names: list[str]) -> None:
    """Run the fault the first upload's name asks for when LOUPE_TEST_FAULT=1; else nothing."""
    if os.environ.get(ENV) != "1" or not upload_names:
        return
    name = upload_names[0]
    if name.startswith(f"{TRIGGER}-regex"):
        re.match(r"(a|aa)+$", "a" * 200 + "b")  # 2^200 paths, all in C under the GIL
    elif name.startswith(f"{TRIGGER}-allocate"):
        hoard = []
        while True:  # about 800 MB/s: the supervisor samples every 0.25 s
            hoard.append(bytearray(b"x" * _CHUNK))
            time.sleep(0.005)
    elif name.startswith(f"{TRIGGER}-die"):
        os.kill(os.getpid(), signal.SIGKILL)
