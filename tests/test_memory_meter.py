"""The memory an analysing process group holds, read from /proc: its children count too, the
files it maps do not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from app.worker.memory import GroupMeter, group_members

HOLD = """
import os, sys, time
os.setpgid(0, 0)
held = bytearray(os.urandom(1)) * (48 * 2**20)  # 48 MiB, touched
if sys.argv[1] == "parent":
    import subprocess
    subprocess.Popen([sys.executable, "-c", sys.argv[2], "child", sys.argv[2]])
print("ready", flush=True)
time.sleep(60)
"""
CHILD = HOLD.replace("os.setpgid(0, 0)\n", "")  # the grandchild stays in the group


def test_the_group_s_anonymous_memory_is_summed_over_its_members() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", HOLD, "parent", CHILD], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "ready\n"
        meter = GroupMeter(parent.pid, refresh_every=1)
        deadline = time.monotonic() + 30
        while len(group_members(parent.pid)) < 2 or meter.sample() < 96 * 2**20:
            assert time.monotonic() < deadline, (group_members(parent.pid), meter.sample())
            time.sleep(0.1)
        # both hold 48 MiB of their own; the interpreters' mapped files are not counted
        assert meter.sample() < 96 * 2**20 + 2 * 40 * 2**20
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_a_process_that_is_gone_holds_nothing() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert GroupMeter(gone.pid).sample() == 0
