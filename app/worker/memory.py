"""Measure the memory a process group really holds, from /proc (Linux).

The analysing child is the leader of its own process group (it may start processes of its
own: several uploads are unpacked in parallel). What counts is the anonymous and shared-memory
pages resident in RAM (`RssAnon` + `RssShmem` of /proc/<pid>/status): that is the memory the
kernel cannot drop. File-backed pages (the interpreter, libraries, files read through the page
cache) are left out: the kernel reclaims them whenever it needs to.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
_COUNTED = (b"RssAnon:", b"RssShmem:")


def _group_of(stat: bytes) -> int | None:
    """The process group field of /proc/<pid>/stat (the command name may hold spaces)."""
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[2]) if len(fields) > 2 else None


def group_members(pgid: int) -> list[int]:
    """The ids of the live processes of process group `pgid`."""
    members = []
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = (PROC / entry.name / "stat").read_bytes()
        except OSError:  # the process ended while we looked
            continue
        if _group_of(stat) == pgid:
            members.append(int(entry.name))
    return members


def resident_bytes(pid: int) -> int:
    """Anonymous + shared-memory bytes resident for `pid`; 0 once it is gone."""
    try:
        status = (PROC / str(pid) / "status").read_bytes()
    except OSError:
        return 0
    total = 0
    for line in status.splitlines():
        if line.startswith(_COUNTED):
            total += int(line.split()[1]) * 1024  # the kernel writes kB
    return total


def group_resident_bytes(leader: int) -> int:
    """The memory (see the module docstring) of `leader` and every process in its group
    (`leader` counts even before it has made its own group)."""
    return sum(resident_bytes(pid) for pid in {leader, *group_members(leader)})


class GroupMeter:
    """Samples the memory of one process group often, and looks for its members less often
    (listing them reads every /proc/<pid>/stat of the machine)."""

    def __init__(self, leader: int, refresh_every: int = 8) -> None:
        self.leader = leader
        self.refresh_every = refresh_every
        self._members: set[int] = {leader}
        self._samples = 0

    def sample(self) -> int:
        if self._samples % self.refresh_every == 0:
            self._members = {self.leader, *group_members(self.leader)}
        self._samples += 1
        return sum(resident_bytes(pid) for pid in self._members)
