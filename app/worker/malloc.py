"""Tune glibc malloc for the block pipeline of an analysis (performance.md §3.3), in-process.

glibc hands big freed buffers back to the kernel and faults them in again on the next block,
which halves the scanning throughput. The MALLOC_*_ environment variables only act when a
process starts; `tune_malloc()` makes the same choice for an already running process
(`loupe analyze`) through mallopt(3). It does nothing where glibc is not the C library.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts on 64-bit; 4 MB blocks stay on the heap
TRIM_THRESHOLD = 2**30  # keep freed heap memory for the next block


def tune_malloc() -> bool:
    """Apply the thresholds; True when glibc accepted both."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
