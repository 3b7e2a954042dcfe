"""Archive member names made safe to write and to show, and why a member is skipped."""

from __future__ import annotations

from pathlib import PurePosixPath


class MemberSkipped(Exception):
    """One member cannot be kept; the message says why (it becomes a warning)."""


def safe_member_path(name: str) -> PurePosixPath:
    """A relative, normalised path for an archive member name; raises MemberSkipped."""
    if not name:
        raise MemberSkipped("its name is empty")
    if "\0" in name:
        raise MemberSkipped("its name contains a NUL byte")
    if name.startswith("/") or (len(name) > 2 and name[1] == ":" and name[2] in "/\\"):
        raise MemberSkipped("its path is absolute")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise MemberSkipped("its path contains '..'")
    if not parts:
        raise MemberSkipped("its name is empty")
    clean = [safe_segment(part) for part in parts]
    if any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in clean):
        raise MemberSkipped("a part of its name is longer than 255 bytes")
    return PurePosixPath(*clean)


def safe_segment(segment: str) -> str:
    """One file-name segment without separators, control characters or undecodable bytes."""
    readable = segment.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    readable = readable.replace("/", "_").replace("\\", "_")
    readable = "".join("_" if ord(char) < 0x20 or ord(char) == 0x7F else char for char in readable)
    if readable in ("", ".", ".."):
        return "upload"
    return readable


def display_name(name: str) -> str:
    """A member name as it can be shown in a warning."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\0", "\\0")


def strip_gz(name: str) -> str:
    """The name a gzip-compressed file has once decompressed (`x.log.gz` -> `x.log`)."""
    lower = name.lower()
    if lower.endswith(".tgz"):
        return name[:-4] + ".tar"
    for suffix in (".gz", ".gzip", ".z"):
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def claimed_format(upload_name: str) -> str | None:
    """The archive format an upload's name promises ("gzip", "zip", "tar"), or None."""
    lower = upload_name.lower()
    if lower.endswith((".tar.gz", ".tgz", ".gz")):
        return "gzip"
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith(".tar"):
        return "tar"
    return None
