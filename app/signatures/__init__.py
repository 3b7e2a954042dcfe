"""Public API of the signature library: load it once, run it over a bundle's files.

library = load_library()                     # the packaged library/ directory
findings = run_library(library, files, nodes, progress=report_bytes)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import NotFound
from app.report import BundleFile, FileKind, Finding, NodeInfo
from app.signatures.engine import (
    BLOCK_SIZE,
    DEFAULT_MAX_GROUPS,
    FileStats,
    LiteralMatcher,
    Matcher,
    MatcherFactory,
    Observe,
    PreScanned,
    Tally,
    run_signatures,
    scan_lines,
)
from app.signatures.loader import (
    PACKAGED_LIBRARY,
    library_contents,
    load_signatures,
    ruleset_version,
)
from app.signatures.model import Signature
from app.signatures.testing import ExampleFailure, run_examples

LIBRARY_DIR = PACKAGED_LIBRARY

__all__ = [
    "LIBRARY_DIR",
    "ExampleFailure",
    "Library",
    "LiteralMatcher",
    "Matcher",
    "MatcherFactory",
    "Observe",
    "Signature",
    "Tally",
    "load_library",
    "run_examples",
    "run_library",
    "scan_lines",
]


@dataclass(frozen=True, slots=True)
class Library:
    """The loaded, validated signatures and the version hash of the files they came from."""

    signatures: tuple[Signature, ...]
    version: str
    path: Path
    detached: tuple[tuple[str, str], ...] = ()
    """(signature, refined id) pairs whose refined signature is not in this subset library:
    the refining signature reports its lines on its own (app.signatures.lint)."""
    _by_id: dict[str, Signature] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({signature.id: signature for signature in self.signatures})

    def get(self, signature_id: str) -> Signature:
        """The signature with this id; raises NotFound."""
        try:
            return self._by_id[signature_id]
        except KeyError:
            raise NotFound(
                f"No signature with id '{signature_id}'. The catalogue at /signatures lists them."
            ) from None


def load_library(
    path: Path | None = None, *, include_deprecated: bool = False, cache_dir: Path | None = None
) -> Library:
    """Load and validate a library directory (default: the packaged one). Raises SignatureError.

    `cache_dir` keeps parsed files between processes (app.signatures.cache); None: no cache.
    """
    root = path or LIBRARY_DIR
    contents = library_contents(root)
    detached: list[tuple[str, str]] = []
    signatures = load_signatures(
        root,
        include_deprecated=include_deprecated,
        contents=contents,
        cache_dir=cache_dir,
        detached=detached,
    )
    return Library(
        signatures=tuple(signatures),
        version=ruleset_version(root, contents),
        path=root,
        detached=tuple(detached),
    )


def run_library(
    library: Library,
    files: Sequence[BundleFile],
    nodes: Mapping[str, NodeInfo],
    *,
    progress: Callable[[int], None] | None = None,
    sources: Mapping[str, frozenset[FileKind]] | None = None,
    block_size: int = BLOCK_SIZE,
    matcher_factory: MatcherFactory | None = None,
    jobs: int = 1,
    prescanned: Mapping[str, PreScanned] | None = None,
    stats: dict[str, FileStats] | None = None,
    max_groups: int = DEFAULT_MAX_GROUPS,
    dropped: dict[str, int] | None = None,
    warnings: list[str] | None = None,
    observe: Observe | None = None,
    tally: Tally | None = None,
) -> list[Finding]:
    """Findings of every signature over `files`; `nodes` maps BundleFile.bundle → NodeInfo.

    `sources` defaults to app.bundle.sources.SOURCES (logical source → file kinds).
    `matcher_factory` defaults to Hyperscan where installed; `jobs` > 1 scans in threads;
    `prescanned` holds files already scanned while unpacking (app.signatures.prescan);
    `stats` receives what the scan saw of each file (lines, presence markers, format).
    `max_groups` bounds the findings kept while scanning, `dropped` receives the hits not kept.
    `warnings` receives a sentence per file that could not be scanned as usual (long lines).
    """
    if sources is None:
        from app.bundle.sources import SOURCES

        sources = SOURCES
    return run_signatures(
        library.signatures,
        files,
        nodes,
        sources=sources,
        progress=progress,
        block_size=block_size,
        matcher_factory=matcher_factory,
        jobs=jobs,
        prescanned=prescanned,
        stats=stats,
        max_groups=max_groups,
        dropped=dropped,
        warnings=warnings,
        observe=observe,
        tally=tally,
    )
