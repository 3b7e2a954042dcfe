"""The record of what an analysis' unpack produced, so that a re-run reads the stored files.

Once an analysis is saved, the worker writes `unpacked.json` next to its work dir: per upload
unpacked, its position, its unique name, the warnings the unpack gave (members skipped, an
archive salvaged) and its files (work-dir path, name, size, kind, node key), and the
repeated-upload warnings. A file's node key is its upload's name, or the key of the host it
belongs to in an upload holding several (app.bundle.hosts): a re-run keeps those nodes.
A manifest of format 1 (written before uploads were split by host) has the upload's name for
every file: its uploads are split when read, as a first run now does.

A re-run then skips the unpack: the same files, nodes (identified again, with the products
chosen now), duplicates and warnings as the first run, read from the work dir in whatever
form they are kept (plain or `<name>.loupe.zst`). The upload itself can then go (README
"Storage").

Paths are kept relative to the work dir, in their plain form (`stored_path` finds the store).
`read_manifest` trusts nothing: a manifest that is too large, malformed, names a path outside
the work dir or a file that is gone raises `ManifestUnusable`; the worker then unpacks the
upload again if it still has it.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from pathlib import Path, PurePosixPath
from typing import Any

from app.bundle.hosts import split_by_host
from app.bundle.stored import SUFFIX, stored_path
from app.report import BundleFile, FileKind, Unpacked, UploadUnpacked

FORMAT = 2
READABLE_FORMATS = (1, 2)
MAX_MANIFEST_BYTES = 64 * 2**20
"""A manifest larger than this is refused (100,000 members take about 20 MB)."""


class ManifestUnusable(ValueError):
    """The manifest cannot be used: the files must be unpacked again (the message says why)."""


def _plain_relative(path: Path, workdir: Path) -> str:
    try:
        relative = path.relative_to(workdir).as_posix()
    except ValueError:  # the same dir named another way (a link on the way)
        relative = path.resolve().relative_to(workdir.resolve()).as_posix()
    return relative[: -len(SUFFIX)] if relative.endswith(SUFFIX) else relative


def manifest_json(unpacked: Unpacked, workdir: Path) -> bytes:
    """The manifest of `unpacked`, whose files all lie in `workdir`."""
    data = {
        "format": FORMAT,
        "warnings": list(unpacked.warnings),
        "uploads": [
            {
                "position": upload.position,
                "name": upload.name,
                "warnings": list(upload.warnings),
                "files": [
                    {
                        "path": _plain_relative(file.path, workdir),
                        "name": file.name,
                        "size": file.size,
                        "kind": str(file.kind),
                        "bundle": file.bundle,
                    }
                    for file in upload.files
                ],
            }
            for upload in unpacked.uploads
        ],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write_manifest(path: Path, unpacked: Unpacked, workdir: Path) -> None:
    """Write the manifest atomically (a temporary file synced, then renamed into place): a
    reader finds the whole manifest or none."""
    data = manifest_json(unpacked, workdir)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    try:
        with partial.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        with suppress(OSError):
            partial.unlink()
        raise
    with suppress(OSError):  # the rename itself survives a power cut
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def remove_manifest(path: Path) -> None:
    path.unlink(missing_ok=True)


def read_manifest(path: Path, workdir: Path) -> Unpacked | None:
    """What the manifest at `path` records, its files found in `workdir` in their stored form;
    None when there is no manifest (an analysis made before, or never saved).

    Raises ManifestUnusable when it cannot be used (see the module docstring)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ManifestUnusable(f"the record of the unpacked files cannot be read: {exc}") from exc
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestUnusable("the record of the unpacked files is too large")
    try:
        data = json.loads(raw)
        return _unpacked(data, workdir)
    except ManifestUnusable:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ManifestUnusable(f"the record of the unpacked files is malformed ({exc})") from exc


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ManifestUnusable("the record of the unpacked files is malformed (warnings)")
    return list(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ManifestUnusable(f"the record of the unpacked files is malformed ({what})")
    return value


def _count(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ManifestUnusable(f"the record of the unpacked files is malformed ({what})")
    return value


def _unpacked(data: Any, workdir: Path) -> Unpacked:
    if not isinstance(data, dict) or data.get("format") not in READABLE_FORMATS:
        raise ManifestUnusable("the record of the unpacked files has an unknown format")
    uploads_data = data["uploads"]
    if not isinstance(uploads_data, list):
        raise ManifestUnusable("the record of the unpacked files is malformed (uploads)")
    root = workdir.resolve()
    uploads = []
    for upload in uploads_data:
        files_data = upload["files"]
        if not isinstance(files_data, list):
            raise ManifestUnusable("the record of the unpacked files is malformed (files)")
        name = _text(upload["name"], "name")
        files = [_file(item, workdir, root) for item in files_data]
        if data["format"] == 1:
            files = split_by_host(files, name)
        uploads.append(
            UploadUnpacked(
                position=_count(upload["position"], "position"),
                name=name,
                files=files,
                warnings=_strings(upload["warnings"]),
            )
        )
    return Unpacked(uploads=uploads, warnings=_strings(data["warnings"]))


def _file(item: Any, workdir: Path, root: Path) -> BundleFile:
    if not isinstance(item, dict):
        raise ManifestUnusable("the record of the unpacked files is malformed (file)")
    relative = PurePosixPath(_text(item["path"], "path"))
    if relative.is_absolute() or ".." in relative.parts:
        raise ManifestUnusable("the record of the unpacked files names a path outside its dir")
    plain = workdir / relative
    path = stored_path(plain)
    if not path.resolve().is_relative_to(root) or path.is_symlink() or not path.is_file():
        raise ManifestUnusable(f"the unpacked file {_text(item['name'], 'name')[:200]} is gone")
    try:
        kind = FileKind(item["kind"])
    except ValueError as exc:
        raise ManifestUnusable("the record of the unpacked files is malformed (kind)") from exc
    return BundleFile(
        path=path,
        name=_text(item["name"], "name"),
        size=_count(item["size"], "size"),
        kind=kind,
        bundle=_text(item["bundle"], "bundle"),
    )
