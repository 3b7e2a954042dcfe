"""Split one upload's files into nodes by the hosts their names give.

A customer may send two peers' logs in one archive: a zip of `diagnostic_log_expc1_….tar.gz`
and `diagnostic_log_expe1_….tar.gz`, or both peers' `loggingsnapshot_<host>_….txt` side by
side. Each such host is a node of its own, as if its files had been uploaded alone.

Which host a file belongs to, from its name (`<upload>/<member path>`) alone
    1. the innermost folder or archive of its path (the upload itself left out) named
       `diagnostic_log_<host>_<timestamp>`: each such nested bundle is one node (two of the
       same host stay two, as two uploads would);
    2. else its own name, `loggingsnapshot_<host>_<ts>`, `xstat_dump_…`, `xconf_dump_…`,
       `ca_…`, `server_…`, `eth<n>_diagnostic_logging_tcpdump<x>_…` (the Admin Guide's bundle
       layout): the loose files of one host are one node, joined to that host's nested bundle
       when exactly one nested bundle has that host;
    3. else none: the file stays with the upload's own node, as before.

An upload whose files name fewer than two nodes is left exactly as it is (one node, keyed by
the upload's name). Otherwise each file's `bundle` becomes its node's key,
`<upload> (<host>)` (`<upload> (<host> #2)` for a second bundle of the same host); files of no
host keep the upload's name, which stays a node of its own. Names are compared without case.
Only names are read: linear in their length, each cut at MAX_NAME characters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from app.parsing.linear_regex import compile_linear
from app.report import BundleFile

MAX_NAME = 255
"""Characters of a file name (or path segment) looked at for a host part."""
MAX_SEGMENTS = 64
"""Folders of a path looked at for a nested bundle (the innermost ones)."""

_HOST = r"(?P<host>[A-Za-z0-9][A-Za-z0-9.-]{0,252})"
_STAMP = r"_(?:\d{4}-?\d\d-?\d\d|\d{8,})"
NAME_HOST = compile_linear(
    r"(?:loggingsnapshot|xstat_dump|xconf_dump|ca|server"
    r"|eth\d{1,3}_diagnostic_logging_tcpdump\d{0,4})_" + _HOST + _STAMP
)
"""A bundle member's name that carries its node's host (app.bundle.nodes reads it too)."""
_BUNDLE_HOST = compile_linear(r"diagnostic_log_" + _HOST + _STAMP)
"""A diagnostic bundle's name, archive or folder: `diagnostic_log_<host>_<timestamp>`."""


def name_host(base: str) -> str | None:
    """The host part of a bundle member's own name (no folder), or None."""
    match = NAME_HOST.match(base[:MAX_NAME])
    return match["host"] if match is not None else None


def _nested_bundle(
    name: str, upload: str, seen: dict[str, tuple[str, str] | None]
) -> tuple[str, str] | None:
    """(path of the innermost nested diagnostic bundle holding `name`, its host), or None.
    `seen` remembers the answer for each folder path (the files of a folder share it)."""
    inner = name[len(upload) + 1 :] if name.startswith(f"{upload}/") else name
    folder = inner.rpartition("/")[0]
    if folder in seen:
        return seen[folder]
    found: tuple[str, str] | None = None
    segments = folder.split("/") if folder else []
    for depth in range(len(segments) - 1, max(-1, len(segments) - 1 - MAX_SEGMENTS), -1):
        match = _BUNDLE_HOST.match(segments[depth][:MAX_NAME])
        if match is not None:
            found = "/".join(segments[: depth + 1]), match["host"] or ""
            break
    seen[folder] = found
    return found


def split_by_host(files: Sequence[BundleFile], upload: str) -> list[BundleFile]:
    """`files` of the upload `upload`, each keyed by its node (see the module docstring)."""
    groups: dict[tuple[str, str], str] = {}  # (kind, path or folded host) → host as written
    bundles_of: dict[str, list[str]] = {}  # folded host → its nested bundles' paths
    found: list[tuple[str, str] | None] = []  # per file: its group, if any
    folders: dict[str, tuple[str, str] | None] = {}
    loose: list[tuple[int, str]] = []
    for index, file in enumerate(files):
        nested = _nested_bundle(file.name, upload, folders)
        if nested is not None:
            path, host = nested
            if ("bundle", path) not in groups:
                groups["bundle", path] = host
                bundles_of.setdefault(host.casefold(), []).append(path)
            found.append(("bundle", path))
            continue
        found.append(None)
        if (named := name_host(file.name.rpartition("/")[2])) is not None:
            loose.append((index, named))
    for index, named in loose:
        paths = bundles_of.get(named.casefold(), [])
        group = ("bundle", paths[0]) if len(paths) == 1 else ("host", named.casefold())
        groups.setdefault(group, named)
        found[index] = group
    if len(groups) < 2:
        return list(files)
    keys = _keys(groups, upload)
    result = []
    for file, of in zip(files, found, strict=True):
        key = keys[of] if of is not None else upload
        result.append(file if key == file.bundle else dataclasses.replace(file, bundle=key))
    return result


def _keys(groups: dict[tuple[str, str], str], upload: str) -> dict[tuple[str, str], str]:
    """Each group's node key, `<upload> (<host>)`, numbered from the second of a host."""
    seen: dict[str, int] = {}
    keys = {}
    for group, host in groups.items():
        folded = host.casefold()
        seen[folded] = seen.get(folded, 0) + 1
        number = seen[folded]
        keys[group] = f"{upload} ({host})" if number == 1 else f"{upload} ({host} #{number})"
    return keys


def node_keys(files: Sequence[BundleFile]) -> list[str]:
    """The node keys of `files` (their `bundle`), each once, in the order of their files."""
    return list(dict.fromkeys(file.bundle for file in files))
