"""Literal pieces every match of a regex must contain: a cheap test before running the regex.

Most candidate lines the matcher hands on hold a signature's `contains` literal and yet fail
its regex (`Search Completed` is on every search line; only `Reason="Forbidden"` ones match).
`required_literals(pattern)` reads the regex and returns the runs of plain characters that
any match holds (those in its top-level sequence, groups included, outside any repetition,
alternative or flag): a line missing one of them cannot match, so `str.__contains__` rejects
it without a call into RE2. A regex the reader does not follow gives no pieces (no test):
the answer is only ever a subset of what is really required, so results never change.

`raw_gate` gives the pieces that can be tested on a line's raw bytes, before it is decoded and
read as logged (engine.locate drops the candidate lines that lack them).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
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
    return _longest(_all_pieces(pattern))


def _longest(pieces: Sequence[str]) -> tuple[str, ...]:
    chosen = sorted({p for p in pieces if len(p) >= MIN_PIECE_CHARS}, key=lambda p: (-len(p), p))
    return tuple(chosen[:MAX_PIECES])


_KNOWN_PIECES: dict[str, tuple[str, ...]] = {}
"""Pieces an earlier process read (app.signatures.cache), by pattern: no parse on first use."""


def use_known_pieces(pieces: Mapping[str, tuple[str, ...]]) -> None:
    """Let `_all_pieces` take these (by pattern) instead of parsing each pattern again."""
    _KNOWN_PIECES.update(pieces)


def pieces_of(patterns: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The pieces of each pattern, as `use_known_pieces` takes them (for a cache entry)."""
    return {pattern: _all_pieces(pattern) for pattern in patterns}


@lru_cache(maxsize=4096)
def _all_pieces(pattern: str) -> tuple[str, ...]:
    known = _KNOWN_PIECES.get(pattern)
    if known is not None:
        return known
    if not _plain_classes(pattern):
        return ()
    try:
        parsed = _sre.parse(pattern)
    except Exception:  # RE2 syntax Python's parser does not know: no test
        return ()
    if parsed.state.flags & (_sre.SRE_FLAG_IGNORECASE | _sre.SRE_FLAG_VERBOSE):
        return ()
    pieces: list[str] = []
    _walk(list(parsed), pieces)
    return tuple(pieces)


def _plain_classes(pattern: str) -> bool:
    """Whether every `[...]` of `pattern` reads the same to RE2 and Python's parser: none holds
    a `[` (RE2's `[[:digit:]]` is one class, Python's parser reads a class then a literal `]`)
    or a doubled `-&~|` (which Python warns may become set operations)."""
    index, size = 0, len(pattern)
    while index < size:
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index += 1
            if pattern.startswith("^", index):
                index += 1
            if pattern.startswith("]", index):  # a `]` first is a member
                index += 1
            while index < size and pattern[index] != "]":
                if pattern[index] == "\\":
                    index += 2
                    continue
                if pattern[index] == "[" or pattern[index : index + 2] in ("--", "&&", "~~", "||"):
                    return False
                index += 1
        index += 1
    return True


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


JOINING_CHARACTERS = frozenset(" \t:[]\ufffd")
"""What app.parsing.expressway.as_logged may put between two parts of a raw line when it
rewrites one (`stamp host rest`, `app[procid]: msg`, a process tag once: a space, a tab, `:`,
`[` or `]` on either side of each join), and the decoder's replacement character. A piece free
of them is found in the logged form of a line only if the raw bytes hold it."""
_JOINS = re.compile("[" + re.escape("".join(sorted(JOINING_CHARACTERS))) + "]")
RawGate = tuple[tuple[bytes, ...], ...]
"""Per pattern of a signature, the pieces a raw line must hold (see raw_gate)."""


@lru_cache(maxsize=4096)
def raw_gate(patterns: tuple[str, ...]) -> RawGate:
    """For a signature's patterns, the UTF-8 pieces (free of JOINING_CHARACTERS) the raw line
    must hold for each pattern to have a chance; () when some pattern has none (no gate).

    A candidate line is kept when, for at least one pattern, all its pieces are in the line.
    """
    gate: list[tuple[bytes, ...]] = []
    for pattern in patterns:
        runs = [run for piece in _all_pieces(pattern) for run in _JOINS.split(piece)]
        pieces = tuple(run.encode("utf-8") for run in _longest(runs))
        if not pieces:
            return ()
        gate.append(pieces)
    return tuple(gate)


def passes(gate: RawGate, block: bytes, start: int, end: int) -> bool:
    """Whether the line `block[start:end]` holds every piece of one of the gate's patterns."""
    find = block.find
    for pieces in gate:  # loops, not any(all(...)): this runs once per candidate line
        for piece in pieces:
            if find(piece, start, end) == -1:
                break
        else:
            return True
    return not gate
