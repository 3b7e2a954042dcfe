"""Tune glibc malloc for the block pipeline of an analysis (performance.md §3.3), in-process.

glibc hands big freed buffers back to the kernel and faults them in again on the next block,
which halves the scanning throughput; and it gives every thread that allocates at once an
arena of its own (up to eight per core), each keeping the freed 4 MB blocks it once held. The
MALLOC_*_ environment variables only act when a process starts; `tune_malloc()` makes the same
choices for an already running process (`loupe analyze`) through mallopt(3), before its threads
start. It does nothing where glibc is not the C library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts on 64-bit; 4 MB blocks stay on the heap
TRIM_THRESHOLD = 2**30  # keep freed heap memory for the next block
ARENA_MAX = (os.cpu_count() or 1) + 2
"""Arenas per process: one per core and two more (the inflating and the writing thread). An
analysis runs about seven threads on two cores; with glibc's default of sixteen arenas each
keeps its own high-water mark of blocks: the two-bundle analysis of `make bench` peaked at
317-321 MB with the default, 261-282 MB with three or four arenas, in the same time."""


def tune_malloc() -> bool:
    """Apply the thresholds and the arena cap; True when glibc accepted them."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    choices = (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (_M_ARENA_MAX, ARENA_MAX),
    )
    accepted = [mallopt(option, value) for option, value in choices]  # (each tried)
    return all(accepted)
