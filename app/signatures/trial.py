"""Run one signature over plain log files line by line: what it matches, and why not.

For contributors (`loupe signatures try` and the baseline of `loupe signatures test`): no
bundle, no product or version detection, no grouping. Every line holding one of the signature's
`contains` literals is reported, with its facts when a pattern matches it, or with the literal
that was found when no pattern does (the prefilter let the line through, the regex did not).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import app
from app.bundle.stored import open_stored
from app.parsing.expressway import as_logged
from app.signatures.engine import MAX_LINE_BYTES, extract_facts
from app.signatures.model import Signature

REAL_LOGS = Path(app.__file__).resolve().parents[1].parent / "shared" / "data" / "real"
"""The project's real public logs (../shared/data/real next to the checkout), when present."""
REAL_LOG_SUFFIXES = (".txt", ".log")


@dataclass(frozen=True, slots=True)
class TrialLine:
    """One line of a file that holds a literal of the signature: matched (facts) or not (None)."""

    file: str
    number: int
    text: str
    literal: str
    facts: dict[str, Any] | None

    @property
    def matched(self) -> bool:
        return self.facts is not None


def trial(signature: Signature, path: Path) -> Iterator[TrialLine]:
    """The lines of `path` that hold a literal of `signature`, in file order.

    A line longer than MAX_LINE_BYTES is read in pieces of that size (memory stays bounded).
    """
    with open_stored(path) as stream:
        for number, raw in enumerate(iter(lambda: stream.readline(MAX_LINE_BYTES), b""), 1):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            literal = next((c for c in signature.contains if c in text), None)
            if literal is not None:
                facts = extract_facts(signature, as_logged(text))
                yield TrialLine(str(path), number, text, literal, facts)


def real_logs(folder: Path = REAL_LOGS) -> list[Path]:
    """The real public log files in `folder` (none when it is absent)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in REAL_LOG_SUFFIXES)


def baseline_hits(signature: Signature, paths: list[Path]) -> list[TrialLine]:
    """Lines of healthy logs that `signature` matches (a healthy log must give none)."""
    if signature.analyzer is not None:
        return []
    return [line for path in paths for line in trial(signature, path) if line.matched]
