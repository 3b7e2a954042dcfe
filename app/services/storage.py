"""Where an analysis' files live under the data dir (the only module that knows the layout).

<data_dir>/analyses/<id>/uploads/<nnn>   the files as uploaded; removed once the analysis is
                                         done and its work dir kept (LOUPE_KEEP_UPLOADS keeps
                                         them): re-runs read the work dir
<data_dir>/analyses/<id>/unpacked.json   what the unpack produced (app.bundle.manifest): a
                                         re-run reads the work dir instead of the upload
<data_dir>/analyses/<id>/work/           unpacked bundle members (the log viewer reads here):
                                         small ones plain, larger ones as <name>.loupe.zst
                                         once the analysis is saved (app.bundle.stored:
                                         seekable zstd + line marks; read either form)
<data_dir>/analyses/<id>/index/          the log viewer's line indexes (derived, rebuilt if gone)
<data_dir>/analyses/<id>/json/           the current run's findings as JSON (the same), and
                                         the timeline counts of the run's scan
<data_dir>/staging/upload-<random>/      uploads still arriving; moved or deleted, never left
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from app.bundle.stored import (
    disk_size,
    iter_bytes,
    open_raw,
    open_stored,
    original_size,
    read_lines,
    read_range,
    stored_layout,
    stored_path,
)
from app.errors import NotFound

# The one way to read a file of the work dir, whatever its form (plain or compressed):
# open_stored(path) / open_raw(path) give its original bytes, seekable; read_lines(path, first,
# count) and read_range(path, start, length) a piece; original_size(path) vs disk_size(path).
__all__ = [
    "disk_size",
    "iter_bytes",
    "open_raw",
    "open_stored",
    "original_size",
    "read_lines",
    "read_range",
    "stored_layout",
]


def analyses_root(data_dir: Path) -> Path:
    return data_dir / "analyses"


def analysis_dir(data_dir: Path, analysis_id: str) -> Path:
    return analyses_root(data_dir) / analysis_id


def uploads_dir(data_dir: Path, analysis_id: str) -> Path:
    return analysis_dir(data_dir, analysis_id) / "uploads"


def work_dir(data_dir: Path, analysis_id: str) -> Path:
    return analysis_dir(data_dir, analysis_id) / "work"


def json_dir(data_dir: Path, analysis_id: str) -> Path:
    return analysis_dir(data_dir, analysis_id) / "json"


def manifest_path(data_dir: Path, analysis_id: str) -> Path:
    return analysis_dir(data_dir, analysis_id) / "unpacked.json"


@contextmanager
def analysis_lock(data_dir: Path, analysis_id: str) -> Iterator[None]:
    """Held by the process that analyses an analysis and then keeps its files (record,
    compaction, upload removed): another worker's re-run of it waits until they are in place.
    Released by the kernel if the process dies. An analysis dir that is gone is not made again
    (the analysis was deleted): nothing is locked then."""
    try:
        handle = os.open(
            analysis_dir(data_dir, analysis_id) / ".lock",
            os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
            0o600,
        )
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def remove_uploads(data_dir: Path, analysis_id: str) -> int:
    """Remove the analysis' uploaded files (their names, sizes and SHA-256 stay in the
    database); returns the bytes freed. Links are not followed."""
    freed = 0
    directory = uploads_dir(data_dir, analysis_id)
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if entry.is_file(follow_symlinks=False):
            freed += entry.stat(follow_symlinks=False).st_size
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            Path(entry.path).unlink(missing_ok=True)
    with suppress(OSError):
        directory.rmdir()
    return freed


def uploads_kept(data_dir: Path, analysis_id: str) -> bool:
    """Whether the analysis still has its uploaded files on disk (see remove_uploads)."""
    directory = uploads_dir(data_dir, analysis_id)
    try:
        with os.scandir(directory) as entries:
            return any(True for _ in entries)
    except OSError:
        return False


def staging_root(data_dir: Path) -> Path:
    return data_dir / "staging"


def resolve_inside(data_dir: Path, relative: str) -> Path:
    """The absolute path of a stored relative path; refuses anything outside the data dir."""
    root = data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise NotFound("No such file.")
    return path


def stored_file(data_dir: Path, relative: str) -> Path:
    """Where an unpacked file (a BundleFileRow.storage_path) is now: the path itself, or its
    compressed store once the work dir was compacted (app.bundle.stored.compress_tree)."""
    return stored_path(resolve_inside(data_dir, relative))


def relative_to_data(data_dir: Path, path: Path) -> str:
    return path.resolve().relative_to(data_dir.resolve()).as_posix()


def remove_analysis(data_dir: Path, analysis_id: str) -> None:
    shutil.rmtree(analysis_dir(data_dir, analysis_id), ignore_errors=True)


def sweep_staging(data_dir: Path, older_than_seconds: float, now: float | None = None) -> int:
    """Remove the staging dirs (upload-*) left by a process that died mid-upload; returns how
    many. A dir counts as left when neither it nor any file in it changed for
    `older_than_seconds` (longer than an upload may last). Only direct children of the staging
    root named upload-* are considered; links are never followed."""
    root = staging_root(data_dir)
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.name.startswith("upload-") or not entry.is_dir(follow_symlinks=False):
            continue
        if now - _last_change(Path(entry.path)) < older_than_seconds:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += 1
    return removed


def _last_change(directory: Path) -> float:
    latest = directory.lstat().st_mtime
    try:
        with os.scandir(directory) as children:
            for child in children:
                latest = max(latest, child.stat(follow_symlinks=False).st_mtime)
    except OSError:
        pass
    return latest


def line_index_path(data_dir: Path, analysis_id: str, name: str) -> Path:
    """Where the log viewer's line index of the unpacked file `name` is kept (derived data)."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    return analysis_dir(data_dir, analysis_id) / "index" / f"{digest}.u64"


def timeline_counts_path(data_dir: Path, analysis_id: str) -> Path:
    """Where the analysis pass saved the timeline counts of the logs (replaced by each run)."""
    return json_dir(data_dir, analysis_id) / "timeline-counts.json"


def write_atomically(path: Path, body: bytes) -> None:
    """Write `body` at `path` through a partial file: a reader sees the old file or the whole
    new one, never a part (its folder is made when missing)."""
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(body)
        os.replace(partial, path)
    finally:
        with suppress(OSError):
            partial.unlink(missing_ok=True)


def calls_key_path(data_dir: Path, analysis_id: str) -> Path:
    """Where the extraction key of the analysis' stored calls and sign-ins is kept (a re-run
    of the same files keeps them, app/calls/reuse.py)."""
    return json_dir(data_dir, analysis_id) / "calls-key.json"


def timeline_path(data_dir: Path, analysis_id: str) -> Path:
    """Where the per-minute counts of the timeline are kept (derived, rebuilt when missing)."""
    return analysis_dir(data_dir, analysis_id) / "index" / "timeline.json"


def signins_dir(data_dir: Path, analysis_id: str) -> Path:
    """Where the MRA sign-in attempts of the last run that read them are kept (derived)."""
    return analysis_dir(data_dir, analysis_id) / "signins"


def disk_usage(data_dir: Path, analysis_id: str) -> dict[str, int]:
    """Bytes the analysis takes in the data dir, per part (uploads, work, index, json) and in
    all ("total"); files as they lie on disk (apparent sizes), links not followed."""
    root = analysis_dir(data_dir, analysis_id)
    usage: dict[str, int] = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            part = path.relative_to(root).parts[0]
            usage[part] = usage.get(part, 0) + path.stat().st_size
    usage["total"] = sum(usage.values())
    return usage


def work_sizes(data_dir: Path, analysis_id: str) -> tuple[int, int]:
    """(bytes the work dir's files take on disk, bytes they hold unpacked)."""
    on_disk = unpacked = 0
    for path in work_dir(data_dir, analysis_id).rglob("*"):
        if path.is_file() and not path.is_symlink():
            on_disk += disk_size(path)
            unpacked += original_size(path)
    return on_disk, unpacked
