"""What all the uploads of one analysis may unpack to together: bytes and files, every level.

One `UnpackBudget` is shared by every upload of an analysis and by every nesting level inside
them, so a bomb cannot hide by spreading itself over levels (a gzip inside a gzip inside a
tar) or over several uploads of one request. Bytes are measured against the bytes actually
uploaded: all unpacked bytes together (files kept, and nested archives spooled on their way)
may be at most `max_ratio` times the uploaded bytes plus `ratio_grace_bytes` once, and never
more than `max_total_bytes`; the files and folders of every upload and level count against
`max_members`.

When the uploads are unpacked in processes of their own, the running totals live in shared
memory (`SharedTotals`, handed to each process when it starts) so the limits stay per analysis.
"""

from __future__ import annotations

import multiprocessing.context
import threading
from dataclasses import dataclass
from typing import Protocol

from app.errors import LimitExceeded


@dataclass(frozen=True)
class Limits:
    """How much one analysis may unpack to; see app.bundle.unpack for what each one does."""

    max_total_bytes: int = 32 * 2**30  # unpacked bytes, all uploads and levels together
    max_members: int = 20_000  # files+dirs across all uploads and nesting levels
    max_member_bytes: int = 8 * 2**30  # one unpacked file
    max_ratio: float = 200.0  # unpacked/uploaded, whole analysis; also per archive
    max_depth: int = 3  # archives nested inside archives
    ratio_grace_bytes: int = 16 * 2**20  # forgiven once per analysis (and per archive)
    max_header_bytes: int = 2**20  # tar headers of one member (PAX, GNU long names)
    direct_write_bytes: int = 32 * 2**20  # files declared this large skip the page cache; 0: never
    compress_from_bytes: int = 0  # files this large are compressed while unpacked; 0: never
    scanned_head_bytes: int | None = None  # a log its Tee scans whole keeps only this head on disk


class Totals(Protocol):
    """Running totals: `add_bytes(n)` / `add_members(n)` add and return the new total."""

    def add_bytes(self, count: int) -> int: ...

    def add_members(self, count: int) -> int: ...


class LocalTotals:
    """Totals for uploads unpacked in this process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes = 0
        self._members = 0

    def add_bytes(self, count: int) -> int:
        with self._lock:
            self._bytes += count
            return self._bytes

    def add_members(self, count: int) -> int:
        with self._lock:
            self._members += count
            return self._members


class SharedTotals:
    """Totals in shared memory, for uploads unpacked in processes of their own.

    Create it before the processes and hand it to them as they start (a pool's `initargs`):
    multiprocessing shares such values only through process creation.
    """

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        self._bytes = context.Value("q", 0)
        self._members = context.Value("q", 0)

    def add_bytes(self, count: int) -> int:
        with self._bytes.get_lock():
            self._bytes.value += count
            return int(self._bytes.value)

    def add_members(self, count: int) -> int:
        with self._members.get_lock():
            self._members.value += count
            return int(self._members.value)


class UnpackBudget:
    """The bytes and files one analysis may unpack to; raises LimitExceeded past them."""

    def __init__(self, limits: Limits, uploaded_bytes: int, totals: Totals | None = None) -> None:
        self.limits = limits
        self.uploaded_bytes = max(uploaded_bytes, 1)
        self.totals: Totals = totals if totals is not None else LocalTotals()
        by_ratio = limits.ratio_grace_bytes + int(limits.max_ratio * self.uploaded_bytes)
        self.allowed_bytes = min(limits.max_total_bytes, by_ratio)
        self._ratio_bound = by_ratio < limits.max_total_bytes

    def add_bytes(self, count: int, label: str) -> None:
        """Count `count` unpacked bytes (written by `label`, the upload or member being read)."""
        if self.totals.add_bytes(count) > self.allowed_bytes:
            raise LimitExceeded(self.too_many_bytes(label))

    def add_members(self, count: int, label: str) -> None:
        """Count `count` files or folders found in `label`."""
        if self.totals.add_members(count) > self.limits.max_members:
            raise LimitExceeded(
                f"{label}: refused, the upload holds more than {self.limits.max_members} files "
                "and folders (all uploads of the analysis and nested archives together). "
                "A diagnostic bundle has a few dozen; check what was uploaded."
            )

    def too_many_bytes(self, label: str) -> str:
        allowed = human_size(self.allowed_bytes)
        if self._ratio_bound:
            return (
                f"{label}: refused as a decompression bomb: the bundle unpacks to more than "
                f"{allowed} (ratio {self.limits.max_ratio:g} to the "
                f"{human_size(self.uploaded_bytes)} uploaded, all nesting levels and uploads "
                "together). Check the bundle; a genuine diagnostic log never compresses that well."
            )
        return (
            f"{label}: refused, the bundle unpacks to more than {allowed} (the most one "
            "analysis may unpack to, all uploads together). Collect a shorter diagnostic log "
            "or analyse the nodes' bundles separately."
        )


def human_size(size: int) -> str:
    """`size` bytes for people: "512 bytes", "1.5 MB", "2.0 GB"."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
