"""Scan a bundle's loggingsnapshot while it is unpacked, so its bytes are read only once.

The unpacker (app.bundle.unpack, `tee=`) hands every chunk it writes to a sink from
`PreScanner.open(name)`. For a file named like a loggingsnapshot the sink runs the signatures of
that file kind over the chunks (matcher in the thread pool, or inline without one; confirmation
in the unpacking thread) with no node: the node is only known once the whole upload is
unpacked. The result is merged later by `run_signatures(prescanned=...)`, which applies the
node's hostname and version (Aggregator.merge) and rescans the file the usual way if its
detected kind is not the one assumed here. Findings are the same as without the prescan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from app.report import FileKind
from app.signatures.engine import (
    Aggregator,
    BlockFeeder,
    FileScan,
    Matcher,
    MatcherFactory,
    PreScanned,
    default_matcher_factory,
    signatures_for_kind,
)
from app.signatures.model import Signature

PRESCAN_KIND = FileKind.LOGGINGSNAPSHOT
_NAME_PREFIX = "loggingsnapshot_"  # app.bundle.detect names this kind so (content permitting)


class PreScanner:
    """A `Tee` for unpack_upload: prescans loggingsnapshot files; `results` by file name."""

    def __init__(
        self,
        signatures: Sequence[Signature],
        sources: Mapping[str, frozenset[FileKind]],
        pool: ThreadPoolExecutor | None,
        *,
        window: int = 5,
        matcher_factory: MatcherFactory | None = None,
    ) -> None:
        self.signatures = signatures_for_kind(signatures, PRESCAN_KIND, sources)
        self.pool = pool
        self.window = window
        self.factory = matcher_factory or default_matcher_factory()
        self.results: dict[str, PreScanned] = {}
        self._matcher: Matcher | None = None

    def open(self, name: str) -> _PreScanSink | None:
        if not self.signatures or not name.rsplit("/", 1)[-1].lower().startswith(_NAME_PREFIX):
            return None
        if self._matcher is None:
            self._matcher = self.factory(self.signatures)
        aggregator = Aggregator()
        scan = FileScan(name, self.signatures, self._matcher, aggregator)
        feeder = BlockFeeder(scan, self.pool, window=self.window)
        return _PreScanSink(self, name, feeder, aggregator)


class _PreScanSink:
    def __init__(
        self, owner: PreScanner, name: str, feeder: BlockFeeder, aggregator: Aggregator
    ) -> None:
        self.owner = owner
        self.name = name
        self.feeder = feeder
        self.aggregator = aggregator

    def write(self, chunk: bytes) -> None:
        self.feeder.write(chunk)

    def close(self) -> None:
        self.feeder.close()
        self.owner.results[self.name] = PreScanned(PRESCAN_KIND, self.aggregator)

    def discard(self) -> None:
        self.owner.results.pop(self.name, None)
