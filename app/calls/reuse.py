"""Whether a re-run may keep the calls and sign-ins an earlier run of the analysis extracted.

Calls and MRA sign-ins are read from the logs alone: the signature library has no part in
them. A re-run (after a library update, most often) reads the very files the first run
unpacked, so it would extract the same calls again, at about a third of its time on a SIP-heavy
bundle. `extraction_key` names everything the extracted calls and sign-ins depend on:

- the code that reads and groups them: every module of the `app` package and its native
  extensions, by content (a changed extractor, whatever the version says, extracts anew);
- the files read: name, kind, size and node key of each, in order (a re-run reads them back
  from the work dir as the first run kept them; compressing a file keeps its name and size);
- the nodes the calls are named by, and the products the sign-ins' columns are labelled with
  (a re-run with another product chosen extracts anew).

The worker keeps the key of the calls it stored (app/services/calls.py) and hands it to the
next run as a `KnownCalls`; the pipeline extracts only when the key it computes differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app.report import BundleFile

KEY_FORMAT = 1
_PACKAGE = Path(__file__).resolve().parent.parent  # app/


@dataclass(frozen=True, slots=True)
class KnownCalls:
    """The calls an earlier run stored: their extraction key, and the warnings the extraction
    gave then (repeated by a run that keeps the calls, as a run that extracts would give them)."""

    key: str
    warnings: tuple[str, ...] = ()


@cache
def code_identity() -> str:
    """A digest of the `app` package's code: its Python modules and native extensions, by
    content (~15 ms, once per process: the fork server takes it before it forks)."""
    digest = hashlib.sha256()
    paths = sorted(
        path
        for pattern in ("*.py", "*.so", "*.pyd")
        for path in _PACKAGE.rglob(pattern)
        if "__pycache__" not in path.parts
    )
    for path in paths:
        try:
            body = path.read_bytes()
        except OSError:
            body = b"?"
        name = path.relative_to(_PACKAGE).as_posix().encode()
        digest.update(len(name).to_bytes(4, "big") + name)
        digest.update(len(body).to_bytes(8, "big") + body)
    return digest.hexdigest()


def extraction_key(
    files: Sequence[BundleFile],
    file_nodes: Mapping[str, str],
    products: Mapping[str, str | None],
) -> str:
    """The key of the calls and sign-ins extracted from `files` (see the module docstring)."""
    described = {
        "format": KEY_FORMAT,
        "code": code_identity(),
        "files": [[f.name, str(f.kind), f.size, f.bundle] for f in files],
        "nodes": sorted(file_nodes.items()),
        "products": sorted((name, product or "") for name, product in products.items()),
    }
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()
