"""Literal pieces every match of a regex must contain: a cheap test before running the regex.

Most candidate lines the matcher hands on hold a signature's `contains` literal and yet fail
its regex (`Search Completed` is on every search line; only `Reason="Forbidden"` ones match).
`required_literals(pattern)` reads the regex and returns the runs of plain characters that
any match holds (those in its top-level sequence, groups included, outside any repetition,
alternative or flag): a line missing one of them cannot match, so `str.__contains__` rejects
it without a call into RE2. A regex the reader does not follow gives no pieces (no test):
the answer is only ever a subset of what is really required, so results never change.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

_sre: Any = importlib.import_module("re._parser")  # sre_parse, without its deprecation warning

MIN_PIECE_CHARS = 3
"""Pieces shorter than this are not worth a test (nearly every line holds `="`)."""
MAX_PIECES = 3
"""The longest few pieces are tested: they reject most lines, each test is a pass of the line."""


@lru_cache(maxsize=4096)
def required_literals(pattern: str) -> tuple[str, ...]:
    """Runs of characters every match of `pattern` contains, longest first (maybe none)."""
    try:
        parsed = _sre.parse(pattern)
    except Exception:  # RE2 syntax Python's parser does not know: no test
        return ()
    if parsed.state.flags & (_sre.SRE_FLAG_IGNORECASE | _sre.SRE_FLAG_VERBOSE):
        return ()
    pieces: list[str] = []
    _walk(list(parsed), pieces)
    chosen = sorted({p for p in pieces if len(p) >= MIN_PIECE_CHARS}, key=len, reverse=True)
    return tuple(chosen[:MAX_PIECES])


def _walk(items: list[tuple[Any, Any]], pieces: list[str]) -> None:
    """Add the literal runs of a sequence that must match as a whole to `pieces`."""
    run: list[str] = []
    for op, av in items:
        if op is _sre.LITERAL:
            run.append(chr(av))
            continue
        if run:
            pieces.append("".join(run))
            run = []
        if op is _sre.SUBPATTERN:
            _group, add_flags, del_flags, body = av
            if not add_flags and not del_flags:
                _walk(list(body), pieces)
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and av[0] >= 1:
            _walk(list(av[2]), pieces)  # the body matches at least once
    if run:
        pieces.append("".join(run))
