"""The installed `loupe` command: hashes the bundle of `loupe analyze` from its first moment.

`loupe analyze` reports each bundle's SHA-256. Hashing a 190 MB upload takes ~0.13 s of one
core; the command's imports (app.cli with typer and pydantic, then the pipeline: ~0.3 s) run
on the other one and hardly need it. Started only once app.cli was imported (~0.15 s in), the
hash ran on into the scan, where both cores inflate and match. So `main` starts it before
importing app.cli, from the command line as it stands: the first argument after `analyze`
that names a regular file is hashed in a thread of its own (an option's value that happens to
name a file is hashed for nothing); app.cli hashes any other bundle beside the analysis, as
before. Only one: a thread that still runs once the analysis' threads have started leaves its
malloc arena free when it ends, and the next thread started (the second bundle's) fills it
anew: a second bundle hashed early raised the peak of a two-bundle analysis by 28 MB.
`early_sha256` gives app.cli a digest made so, when the file is still the one hashed (same
device, inode, size and modification time), else None and app.cli hashes it itself. Only the
standard library is imported here, and app.worker.malloc, whose choices are made before the
hashing thread allocates.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
import sys
import threading
from pathlib import Path

SHA256_READ_BYTES = 16 * 2**20
"""Read at a time into one mapped buffer: reading and hashing each let go of the GIL, so the
thread hashing beside the imports rarely waits for it (1 MiB reads waited ~380 times)."""


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read SHA256_READ_BYTES at a time into one buffer mapped for the
    purpose (`mmap`, given back at the end instead of staying in the heap)."""
    digest = hashlib.sha256()
    with mmap.mmap(-1, SHA256_READ_BYTES) as buffer, path.open("rb", buffering=0) as handle:
        view = memoryview(buffer)
        try:
            while size := handle.readinto(view):
                digest.update(view[:size])
        finally:
            view.release()
    return digest.hexdigest()


_Identity = tuple[int, int, int, int]


def _identity(path: str | Path) -> _Identity | None:
    """(device, inode, size, modification time) of a regular file; None for anything else."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


class _EarlyDigest:
    """The SHA-256 of one file, made in a thread of its own."""

    def __init__(self, name: str, identity: _Identity) -> None:
        self._name, self._identity = name, identity
        self._digest: str | None = None
        self._done = threading.Event()
        threading.Thread(target=self._run, name="sha256-early", daemon=True).start()

    def _run(self) -> None:
        try:
            digest = sha256_of(Path(self._name))
            if _identity(self._name) == self._identity:  # (not changed while it was read)
                self._digest = digest
        except OSError:
            pass  # (app.cli hashes it again, and says what is wrong)
        finally:
            self._done.set()

    def get(self, path: Path) -> str | None:
        if _identity(path) != self._identity:
            return None
        self._done.wait()
        return self._digest


_early: _EarlyDigest | None = None


def start_hashing(argv: list[str]) -> None:
    """Start hashing the first file `loupe analyze` names in `argv` (the arguments after the
    program's name); nothing for another command."""
    global _early
    if _early is not None or not argv or argv[0] != "analyze":
        return
    from app.worker.malloc import tune_malloc  # (before any thread allocates: see its doc)

    tune_malloc()
    for arg in argv[1:]:  # the first only: see the module's doc
        if not arg.startswith("-") and (identity := _identity(arg)) is not None:
            _early = _EarlyDigest(arg, identity)
            return


def early_sha256(path: Path) -> str | None:
    """The digest `start_hashing` made of `path` when it is still the file it hashed."""
    return _early.get(path) if _early is not None else None


def main() -> None:
    """The `loupe` command (app.cli.main), its bundles' hashing started first."""
    start_hashing(sys.argv[1:])
    from app.cli import main as run

    run()
