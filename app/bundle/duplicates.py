"""Recognise the same file twice: inside one upload, and whole uploads repeated in one request.

A re-zipped bundle often holds both the original tar.gz and its unpacked folder, and a user may
drop the same bundle twice: analysing both copies would double every count. Identity is the
size first, then a 128-bit XXH3 digest of the bytes, computed while they stream through the
unpacker (about 17 GB/s, so a 1 GiB log costs some 60 ms and is never read a second time).

Inside one upload a copy only counts as a duplicate when it also plays the same part: the same
detected kind and, for PEM files, the same role (`ca_*` trust store, `server_*` certificate,
other). Two peers' bundles may hold identical files (a shared trust store), and those are each
analysed with their own node, so files of different uploads are never compared; whole uploads
are (see `repeated_uploads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import xxhash

from app.report import FileKind

READ_BYTES = 4 * 2**20


HASH_PIECE_BYTES = 16 * 2**20
"""The most xxhash is given at once: a whole block of the unpacker (4 MiB), in one call that
lets go of the GIL while it hashes (past about 64 KiB xxhash does). Pieces of 64 KiB kept the
GIL instead: when a returning thread waited up to the interpreter's 5 ms switch interval for it,
that was cheaper (0.24 s per GiB of waits, measured then). With the analysis handing the GIL
over after 1 ms (app.worker.handover) the scan's threads run during the hash instead of waiting
behind it: `loupe analyze` of the 1 GiB bench bundle, 4 runs of interleaved rounds, 0.03-0.09 s
faster (median), CPU 0.05-0.16 s less (16,000 fewer calls). A larger piece bounds a longer
block's time without the GIL."""


def new_hasher() -> xxhash.xxh3_128:
    """The digest that identifies a file's content (fed with every block written, through
    `hash_into`)."""
    return xxhash.xxh3_128()


def hash_into(hasher: xxhash.xxh3_128, block: bytes) -> None:
    """`hasher.update(block)`, in pieces of at most HASH_PIECE_BYTES."""
    if len(block) <= HASH_PIECE_BYTES:
        hasher.update(block)
        return
    view = memoryview(block)
    for start in range(0, len(block), HASH_PIECE_BYTES):
        hasher.update(view[start : start + HASH_PIECE_BYTES])


def role_of(name: str, kind: FileKind) -> str:
    """What a file is used for in the analysis: its kind, and for PEM files its name's role."""
    if kind is not FileKind.PEM:
        return kind.value
    base = name.rsplit("/", 1)[-1].lower()
    for prefix in ("ca_", "server_"):
        if base.startswith(prefix):
            return f"pem:{prefix}"
    return "pem"


class ContentIndex:
    """The files kept so far in one upload, by (size, digest, role): the first name of each."""

    def __init__(self) -> None:
        self._first: dict[tuple[int, bytes, str], str] = {}

    def first_copy(self, name: str, size: int, digest: bytes, kind: FileKind) -> str | None:
        """The name of an earlier file with the same content and role, else None (and `name`
        is remembered). Empty files are never duplicates: there is nothing to count twice."""
        if size == 0:
            return None
        key = (size, digest, role_of(name, kind))
        first = self._first.get(key)
        if first is None:
            self._first[key] = name
        return first


def duplicate_warning(name: str, first: str) -> str:
    return (
        f"{name}: the same content as {first} (the same file twice in one upload); analysed "
        f"once, as {first}."
    )


def repeated_uploads(paths: Sequence[Path]) -> dict[int, int]:
    """Uploads that repeat an earlier one byte for byte: position -> the earlier position.

    Only uploads of equal size are read (and only then): different sizes are different files.
    """
    by_size: dict[int, list[int]] = {}
    for position, path in enumerate(paths):
        by_size.setdefault(path.stat().st_size, []).append(position)
    repeats: dict[int, int] = {}
    for positions in by_size.values():
        if len(positions) < 2:
            continue
        first_of: dict[bytes, int] = {}
        for position in positions:
            digest = _digest_of(paths[position])
            first = first_of.setdefault(digest, position)
            if first != position:
                repeats[position] = first
    return repeats


def repeated_upload_warning(name: str, first: str) -> str:
    return (
        f"{name}: the same file as {first} (identical content, uploaded twice); analysed "
        f"once, as {first}."
    )


def _digest_of(path: Path) -> bytes:
    hasher = new_hasher()
    with path.open("rb") as file:
        while block := file.read(READ_BYTES):
            hash_into(hasher, block)
    return hasher.digest()
