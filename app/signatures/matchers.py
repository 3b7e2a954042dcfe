"""Fast Matchers for the signature engine: Hyperscan over the `contains` literals, with fallback.

The engine's contract (app.signatures.engine.Matcher): a candidate is a (signature index,
offset) pair for every line holding one of the signature's `match.contains` literals; the
engine then confirms each candidate line with the signature's regexes (RE2). The reference
`LiteralMatcher` finds the literals with `bytes.find`, one literal at a time (~6 MB/s for 300
signatures). `HyperscanMatcher` finds all of them in one pass of Hyperscan's literal matcher
(block mode, GIL released), so both engines produce the same candidate lines by construction:
same literals, same bytes, case-sensitive. Regex semantics stay with RE2 (linear time, see
app/parsing/linear_regex.py) on the few candidate lines.

Where app._hsscan is built (libhyperscan-dev installed at build time, see setup.py),
Hyperscan is called from C and each match goes to a C callback: the hyperscan package calls
back into Python for every match, taking the GIL each time, and while another thread runs
Python (the hits being confirmed, the call-flow readers) each of those callbacks waits for the
GIL, so matcher threads spent most of their time waiting. Both find the same candidates (tests/
test_hsscan.py); matches ending at the same offset may come in another order (the engine sorts).

A hyperscan Database owns one scratch space and must not be used by two threads at once: each
thread gets its own copy, loaded from the serialised database (`loadb`, ~0.1 ms); app._hsscan's
database is shared and lends each scan a scratch space of its own.

Compiling a database costs 20-45 ms for the packaged library, at the start of every `loupe
analyze`: inside `databases_kept_in(cache_dir)` a compiled database is also stored there
(`hyperscan-<key>.db`, the key a digest of the literals, their flags and the Hyperscan build)
and later processes load it (app._hsscan's as `hsscan-<key>.db`, ~0.1 s to compile for the
bench's 773 signatures). A stored database that is damaged (its digest), or that Hyperscan
refuses (another version or CPU), is compiled again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from app.native import hsscan
from app.signatures.cache import write_kept
from app.signatures.engine import (
    CandidateLines,
    LiteralMatcher,
    Matcher,
    MatcherFactory,
    presence_markers,
)
from app.signatures.model import Signature

log = logging.getLogger(__name__)

try:
    import hyperscan
except ImportError:  # non-x86 machines: no wheel
    hyperscan = None  # type: ignore[assignment]


def hyperscan_available() -> bool:
    return hyperscan is not None


Lined = tuple[CandidateLines, frozenset[str], dict[bytes, bytes]]
"""What `HyperscanMatcher.scan_lines` gives: the candidate lines, the markers, the positions."""


class HyperscanMatcher:
    """Every occurrence of every `contains` literal, found in one Hyperscan pass per block.

    The same pass finds the presence `markers` (default: engine.presence_markers()), each
    reported at most once per block (HS_FLAG_SINGLEMATCH): a marker absent from a log costs
    nothing more, where searching each block for it costs a pass over the whole file. `extra`
    literals (a tally's, see engine.locate) get the indexes after the signatures'. With
    app._hsscan, the same pass also finds every occurrence of the `positions` literals (a block
    observer's `needles`): `scan_found` gives them, and `positions` says which it finds.
    """

    def __init__(
        self,
        signatures: Sequence[Signature],
        extra: Sequence[bytes] = (),
        markers: Sequence[str] | None = None,
        *,
        positions: Sequence[bytes] = (),
    ) -> None:
        if hyperscan is None:
            raise RuntimeError("the hyperscan package is not installed")
        self.markers: tuple[str, ...] = tuple(presence_markers() if markers is None else markers)
        # One Hyperscan expression per distinct literal (several signatures share some, e.g.
        # `Search Completed`): a match costs one call into Python, whatever shares it.
        owners: dict[bytes, list[int]] = {}
        for index, signature in enumerate(signatures):
            for literal in signature.contains:
                owners.setdefault(literal.encode("utf-8"), []).append(index)
        for index, needle in enumerate(extra, start=len(signatures)):  # see engine.locate
            owners.setdefault(needle, []).append(index)
        literals = list(owners)
        self._owners: list[tuple[int, ...]] = [tuple(dict.fromkeys(i)) for i in owners.values()]
        # position literals (every occurrence, app._hsscan only), then markers
        self.positions: tuple[bytes, ...] = tuple(positions) if hsscan is not None else ()
        first_position = len(literals)
        literals += self.positions
        self._first_marker = len(literals)  # ids from here on are markers (id = position)
        flags = [0] * len(literals)
        for marker in self.markers:
            literals.append(marker.encode("utf-8"))
            flags.append(hyperscan.HS_FLAG_SINGLEMATCH)
        self._native: Any = None  # app._hsscan's database, where it is built
        self._blob: bytes | None = None  # else the hyperscan package's, serialised
        if literals and hsscan is not None:
            key = (
                tuple(literals),
                tuple(flags),
                self._first_marker,
                tuple(self._owners),
                first_position,
            )
            self._native = native_database(key)
        elif literals:
            self._blob = serialised_database(tuple(literals), tuple(flags))
        self._local = threading.local()

    def _database(self, blob: bytes) -> Any:
        return thread_database(self._local, blob)

    def scan(self, block: bytes) -> list[tuple[int, int]]:
        return self.scan_with_markers(block)[0]

    def scan_found(
        self, block: bytes
    ) -> tuple[list[tuple[int, int]], frozenset[str], dict[bytes, bytes]]:
        """What `scan_with_markers` gives, and the start offsets of each of `positions` in the
        block (native 64-bit integers, ascending), by literal: one Hyperscan pass."""
        if self._native is None or not block:
            return (*self.scan_with_markers(block), {})
        candidates, numbers, found = self._native.scan(block)
        markers = frozenset(self.markers[number] for number in numbers)
        return candidates, markers, dict(zip(self.positions, found, strict=True))

    def scan_lines(
        self, block: bytes, gate: Any, gates: list[Any], first_extra: int
    ) -> Lined | None:
        """`scan_found`'s candidates grouped by line as app._native.locate_lines groups them
        (engine.locate), in one call of app._hsscan that makes no Python object per candidate
        (the line of each, the sort and the gates run with the GIL released); None where
        app._hsscan is not built."""
        if self._native is None:
            return None
        if not block:
            return ([], [], [], []), frozenset(), {}  # (as scan_found)
        starts, ends, kept, extra, numbers, found = self._native.scan_lines(
            block, gate, gates, first_extra
        )
        markers = frozenset(self.markers[number] for number in numbers)
        return (starts, ends, kept, extra), markers, dict(zip(self.positions, found, strict=True))

    def scan_with_markers(self, block: bytes) -> tuple[list[tuple[int, int]], frozenset[str]]:
        """The candidates of `scan`, and the markers the block holds (one Hyperscan pass)."""
        if self._native is not None:
            if not block:
                return [], frozenset()
            candidates, numbers, _found = self._native.scan(block)
            return candidates, frozenset(self.markers[number] for number in numbers)
        blob = self._blob
        if blob is None or not block:
            return [], frozenset()
        hits: list[tuple[int, int]] = []
        append = hits.append
        find = block.find
        line = _LineHits()
        first_marker = self._first_marker
        owners = self._owners
        seen: list[int] = []

        def on_match(found: int, start: int, end: int, flags: int, context: object) -> None:
            if found >= first_marker:
                seen.append(found - first_marker)  # once per block (HS_FLAG_SINGLEMATCH)
                return
            # Matches come in order of end offset: one candidate per literal and line is kept,
            # so a line holding a literal a million times costs a million calls, not a million
            # candidates (memory), and finding the line's end is paid once per line.
            offset = end - 1
            if offset < line.last or find(b"\n", line.last, offset) != -1:
                line.indexes.clear()
            line.last = offset
            if found not in line.indexes:
                line.indexes.add(found)
                for index in owners[found]:
                    append((index, offset))

        # `on_match` stays referenced by this frame for the whole scan (the 0.9.1 binding
        # keeps no reference of its own).
        self._database(blob).scan(block, match_event_handler=on_match)
        return hits, frozenset(self.markers[number] for number in seen)


MAX_KEPT_DATABASES = 16
"""Compiled databases kept by a process (one per file kind and library, a few KB to a few MB),
and in the directory of `databases_kept_in`."""
_databases: dict[tuple[tuple[bytes, ...], tuple[int, ...]], Future[bytes]] = {}
_databases_lock = threading.Lock()
_stored_in: list[Path] = []  # the directory of databases_kept_in, when one was given
_DISK_FORMAT = b"1"


@contextmanager
def databases_kept_in(directory: Path | None) -> Iterator[None]:
    """Inside, compiled databases are stored in `directory` and loaded from there when another
    process stored them (`loupe analyze` gives its cache_dir); None, and outside: compiled in
    each process."""
    before = list(_stored_in)
    _stored_in[:] = [directory] if directory is not None else []
    try:
        yield
    finally:
        _stored_in[:] = before


def thread_database(local: threading.local, blob: bytes) -> Any:
    """This thread's copy of the serialised database `blob` with its own scratch (a database
    must not scan in two threads at once), loaded once per thread and kept in `local`."""
    database = getattr(local, "database", None)
    if database is None:
        database = hyperscan.loadb(blob, hyperscan.HS_MODE_BLOCK)
        database.scratch = hyperscan.Scratch(database)  # loadb gives none
        local.database = database
    return database


def serialised_database(literals: tuple[bytes, ...], flags: tuple[int, ...]) -> bytes:
    """The serialised block-mode database of `literals` (expression id = position), compiled
    once per process: the matchers of file kinds read by the same signatures (a loggingsnapshot
    and a log), or built again for the same ones, share it; one built while another thread
    compiles it waits for that compilation instead of starting its own."""

    def compiled_or_stored() -> bytes:
        directory = _stored_in[0] if _stored_in else None
        name = f"hyperscan-{_disk_key(literals, flags)}.db" if directory else ""
        blob = _read_stored(directory / name) if directory else None
        if blob is None:
            blob = _compile(literals, flags)
            if directory:
                _store(directory, name, blob)
        return blob

    return _made_once(_databases, (literals, flags), compiled_or_stored)


NativeKey = tuple[tuple[bytes, ...], tuple[int, ...], int, tuple[tuple[int, ...], ...], int]
_natives: dict[NativeKey, Future[Any]] = {}


def native_database(key: NativeKey) -> Any:
    """The app._hsscan database of `key` (literals, flags, first marker id, owners, first
    position id; see app/_hsscan.c), made once per process and shared by the threads (each
    scan takes a scratch space of its own). Inside `databases_kept_in` it is loaded from there
    when another process stored it, else compiled (~0.1 s for the bench's 773 signatures)
    and stored."""
    return _made_once(_natives, key, lambda: _native(key))


_K = TypeVar("_K")
_V = TypeVar("_V")


def _made_once(made: dict[_K, Future[_V]], key: _K, make: Callable[[], _V]) -> _V:
    """`make()` once per `key` in this process (the newest MAX_KEPT_DATABASES kept in `made`):
    a thread asking while another makes it waits for that one; a failure is not kept."""
    with _databases_lock:
        future = made.get(key)
        making = future is None
        if future is None:
            future = made[key] = Future()
            while len(made) > MAX_KEPT_DATABASES:
                del made[next(iter(made))]
    if making:
        try:
            future.set_result(make())
        except BaseException as exc:
            with _databases_lock:
                made.pop(key, None)
            future.set_exception(exc)
    return future.result()


def _native(key: NativeKey) -> Any:
    assert hsscan is not None
    literals, flags, first_marker, owners, first_position = key
    directory = _stored_in[0] if _stored_in else None
    name = f"hsscan-{_disk_key(literals, flags, _hsscan_build())}.db"
    stored = _read_checked(directory / name) if directory else None
    database = hsscan.Literals(literals, flags, first_marker, owners, stored, first_position)
    if directory and database.compiled:
        _store(directory, name, database.serialized(), "hsscan-*.db")
    return database


def _hsscan_build() -> bytes:
    """Which app._hsscan and Hyperscan made a stored database (a rebuilt module is another)."""
    assert hsscan is not None
    return _build_of(hsscan.version(), hsscan)


def _compile(literals: tuple[bytes, ...], flags: tuple[int, ...]) -> bytes:
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(  # frees the GIL while it compiles
        expressions=list(literals),
        ids=list(range(len(literals))),
        elements=len(literals),
        flags=list(flags),
        literal=True,
    )
    return bytes(hyperscan.dumpb(database))


def _hyperscan_build() -> bytes:
    """Which Hyperscan compiled a stored database: its version, extension module size and
    change time (a rebuilt wheel of the same version is another build)."""
    extension = getattr(hyperscan, "_hs_ext", None)  # (not in its stubs)
    return _build_of(getattr(hyperscan, "__version__", "?"), extension)


def _build_of(version: str, extension: Any) -> bytes:
    """`version`, and the size and change time of the extension module's file (a rebuilt
    module of the same version is another build)."""
    try:
        info = os.stat(extension.__file__)
    except (AttributeError, OSError, TypeError):
        return f"{version}:?".encode()
    return f"{version}:{info.st_size}:{info.st_mtime_ns}".encode()


def _disk_key(literals: tuple[bytes, ...], flags: tuple[int, ...], build: bytes = b"") -> str:
    digest = hashlib.sha256(_DISK_FORMAT + b"\0" + (build or _hyperscan_build()) + b"\0")
    for literal, flag in zip(literals, flags, strict=True):
        digest.update(len(literal).to_bytes(4, "big") + literal + flag.to_bytes(4, "big"))
    return digest.hexdigest()[:32]


def _read_checked(path: Path) -> bytes | None:
    """The database stored at `path`, or None when missing or damaged (its digest)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    check, blob = raw[:32], raw[32:]
    if not blob or hashlib.sha256(blob).digest() != check:
        return None
    return blob


def _read_stored(path: Path) -> bytes | None:
    """The database stored at `path`, or None when missing, damaged or refused by Hyperscan."""
    blob = _read_checked(path)
    if blob is None:
        return None
    try:
        hyperscan.loadb(blob, hyperscan.HS_MODE_BLOCK)  # another version or CPU: refused
    except hyperscan.HyperscanError:
        return None
    return blob


def _store(directory: Path, name: str, blob: bytes, pattern: str = "hyperscan-*.db") -> None:
    """Store `blob` behind its digest as `name`; the newest MAX_KEPT_DATABASES are kept."""
    stored = hashlib.sha256(blob).digest() + blob
    write_kept(directory, name, stored, pattern, MAX_KEPT_DATABASES)


class _LineHits:
    """The literals already reported on the line of the last match (HyperscanMatcher.scan)."""

    __slots__ = ("indexes", "last")

    def __init__(self) -> None:
        self.last = 0
        self.indexes: set[int] = set()


def default_matcher_factory() -> tuple[MatcherFactory, str]:
    """The fastest matcher this machine can run, and its name for logs and the bench."""
    if hyperscan is not None:
        return HyperscanMatcher, "HyperscanMatcher"
    log.warning(
        "hyperscan is not installed (it has wheels for x86-64 only): signatures are matched "
        "with the slow reference LiteralMatcher"
    )
    return LiteralMatcher, "LiteralMatcher"


__all__ = [
    "HyperscanMatcher",
    "LiteralMatcher",
    "Matcher",
    "databases_kept_in",
    "default_matcher_factory",
]
