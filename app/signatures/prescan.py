"""Scan a bundle's text files while they are unpacked, so their bytes are read only once.

The unpacker (app.bundle.unpack, `tee=`) hands every chunk it writes to a sink from
`PreScanner.open(name)`. On its first chunk the sink tells the file's kind from its name and
first bytes, exactly as app.bundle.detect will once the file is on disk, and runs the
signatures of that kind over the chunks (matcher in the thread pool, or inline without one;
confirmation in the unpacking thread) with no node: the node is only known once the whole upload
is unpacked. Files of a kind no line signature reads (captures, unknown binaries) are ignored.
The result is merged later by `run_signatures(prescanned=...)`, which applies the node's hostname
and version (Aggregator.merge) and rescans the file the usual way if its detected kind is not the
one seen here. Findings are the same as without the prescan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from app.bundle.detect import kind_from_head
from app.report import FileKind
from app.signatures.engine import (
    DEFAULT_MAX_GROUPS,
    Aggregator,
    BlockFeeder,
    FileScan,
    GroupBudget,
    Matcher,
    MatcherFactory,
    Observe,
    PreScanned,
    Tally,
    default_matcher_factory,
    make_matcher,
    needles_of,
    presence_markers,
    signatures_for_kind,
)
from app.signatures.model import Signature

_WHOLE_LOG_KINDS = frozenset({FileKind.LOG, FileKind.LOGGINGSNAPSHOT})


class PreScanner:
    """A `Tee` for unpack_upload: scans text files as they are written; `results` by file name."""

    def __init__(
        self,
        signatures: Sequence[Signature],
        sources: Mapping[str, frozenset[FileKind]],
        pool: ThreadPoolExecutor | None,
        *,
        window: int = 5,
        matcher_factory: MatcherFactory | None = None,
        max_groups: int = DEFAULT_MAX_GROUPS,
        observe: Observe | None = None,
        tally: Tally | None = None,
    ) -> None:
        self.signatures = signatures
        self.observe = observe
        self.tally = tally
        self.budget = GroupBudget(max_groups)  # shared by the files' aggregators (memory)
        self.sources = sources
        self.pool = pool
        self.window = window
        self.factory = matcher_factory or default_matcher_factory()
        self.results: dict[str, PreScanned] = {}
        self._by_kind: dict[
            tuple[FileKind, tuple[bytes, ...], tuple[bytes, ...]],
            tuple[list[Signature], Matcher] | None,
        ] = {}
        self._for_kind: dict[FileKind, list[Signature]] = {}  # (filtered once per kind)

    def open(self, name: str) -> _PreScanSink:
        return _PreScanSink(self, name)

    def signatures_of(self, kind: FileKind) -> list[Signature]:
        """The signatures that read files of `kind` (engine.signatures_for_kind, once per kind)."""
        if kind not in self._for_kind:
            self._for_kind[kind] = signatures_for_kind(self.signatures, kind, self.sources)
        return self._for_kind[kind]

    def reads(self, kind: FileKind) -> bool:
        """Whether a signature reads files of `kind` (they are scanned)."""
        return bool(self.signatures_of(kind))

    def scanner_for(
        self, kind: FileKind, literals: tuple[bytes, ...] = (), needles: tuple[bytes, ...] = ()
    ) -> tuple[list[Signature], Matcher] | None:
        """The signatures of `kind` and their matcher, which also finds a tally's `literals`
        and an observer's `needles` (built once per kind, literals and needles); None: no
        signature applies."""
        key = (kind, literals, needles)
        if key not in self._by_kind:
            chosen = self.signatures_of(kind)
            matcher = make_matcher(self.factory, chosen, literals, needles) if chosen else None
            self._by_kind[key] = (chosen, matcher) if matcher is not None else None
        return self._by_kind[key]


class _PreScanSink:
    def __init__(self, owner: PreScanner, name: str) -> None:
        self.owner = owner
        self.name = name
        self.kind: FileKind | None = None
        self.feeder: BlockFeeder | None = None
        self.aggregator = Aggregator(budget=owner.budget)

    @property
    def reads_whole(self) -> bool:
        """Whether this sink scans the whole file as a log (coverage asks the scan's FileStats
        about it; nothing after the unpacking reads more than its head)."""
        return self.feeder is not None and self.kind in _WHOLE_LOG_KINDS

    def write(self, chunk: bytes) -> None:
        if self.kind is None:  # the unpacker's first chunk holds the head detect.py looks at
            self.kind = kind_from_head(chunk, self.name)
            tally = self.owner.tally
            counter = tally(self.name, self.kind) if tally is not None else None
            literals = tuple(counter.literals) if counter is not None else ()
            observe = self.owner.observe
            observer = None
            if observe is not None and self.owner.reads(self.kind):  # (else it is not scanned)
                observer = observe(self.name, self.kind)
            scanner = self.owner.scanner_for(self.kind, literals, needles_of(observer))
            if scanner is not None:
                signatures, matcher = scanner
                scan = FileScan(
                    self.name,
                    signatures,
                    matcher,
                    self.aggregator,
                    markers=presence_markers(),
                    observer=observer,
                    tally=counter,
                )
                self.feeder = BlockFeeder(scan, self.owner.pool, window=self.owner.window)
        if self.feeder is not None:
            self.feeder.write(chunk)

    def close(self) -> None:
        if self.feeder is not None and self.kind is not None:
            self.feeder.close()
            self.feeder.scan.close()
            stats = self.feeder.scan.stats
            self.owner.results[self.name] = PreScanned(self.kind, self.aggregator, stats)

    def discard(self) -> None:
        if self.feeder is not None:
            self.feeder.close()  # wait for its blocks in flight; the result is dropped
        self.aggregator.release()
        self.owner.results.pop(self.name, None)
