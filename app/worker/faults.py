"""Faults the tests inject into the analysing child process, to prove the limits hold.

Inactive unless the environment variable `LOUPE_TEST_FAULT` is set (never in production), and
then only for analyses whose first uploaded file is named `loupe-test-fault*`, so a normal
upload right after a faulty one runs normally. Values:

* `regex`    a catastrophic regular expression that holds the GIL for ever (wall-clock limit;
             the heartbeat must go on meanwhile)
* `allocate` allocates and touches memory until the process is stopped (memory limit)
* `die`      the process kills itself with SIGKILL, as the kernel's OOM killer would (attempts)
"""

from __future__ import annotations

import os
import re
import signal

ENV = "LOUPE_TEST_FAULT"
TRIGGER = "loupe-test-fault"
_CHUNK = 16 * 2**20


def inject(upload_names: list[str]) -> None:
    """Run the fault `LOUPE_TEST_FAULT` names when the upload asks for it; else do nothing."""
    kind = os.environ.get(ENV)
    if not kind or not upload_names or not upload_names[0].startswith(TRIGGER):
        return
    if kind == "regex":
        re.match(r"(a|aa)+$", "a" * 200 + "b")  # 2^200 paths, all in C under the GIL
    elif kind == "allocate":
        hoard = []
        while True:
            hoard.append(bytearray(b"x" * _CHUNK))
    elif kind == "die":
        os.kill(os.getpid(), signal.SIGKILL)
