"""Linear-time regular expressions (RE2) for every pattern that runs over uploaded text.

Python's `re` backtracks: `A.*?B.*?C` over a 16 KB line holding many `A`s and `B`s but no `C`
takes seconds to minutes. RE2 (`google-re2`) runs in time linear in the text whatever the
pattern, so a signature's regex or a parser's can be given any line a customer uploads. It
refuses what it cannot run in linear time (lookaround, backreferences, possessive quantifiers,
`\\Z`): `compile_linear` raises `RegexError` with RE2's reason, which the library lint shows.

Semantics differ from `re` only at the edges: `\\d`, `\\w`, `\\s` and `\\b` are ASCII-only, `$`
matches only at the very end (our lines never hold a newline). Matching calls RE2's own
`Match` on the UTF-8 bytes of the text (the `re2` module's Python layer costs ten times more
per call than the match itself); groups come back as `str`.

`deferred_linear` builds a pattern already known to compile (with its named groups from that
compilation): RE2 compiles it on its first match, once, even when threads match concurrently.
A signature library loaded from app.signatures.cache uses it: most patterns never see a
candidate line, and compiling all of them cost about a third of loading the library.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, Final

import re2

_UNANCHORED: Final = re2._re2.RE2.Anchor.UNANCHORED
_ANCHOR_START: Final = re2._re2.RE2.Anchor.ANCHOR_START
_NO_SPAN: Final = (-1, -1)
_METACHARACTERS: Final = frozenset("\\.^$*+?{}[]()|")
MAX_PROGRAM_MEMORY = 8 * 2**20
"""Memory RE2 may use per pattern for its automata (RE2's default). Past it RE2 falls back to a
slower automaton that is still linear in the text, so memory stays bounded too."""


_COMPILING = threading.Lock()  # a deferred pattern is compiled by one thread, once


class RegexError(ValueError):
    """A pattern the linear-time engine cannot compile; the message says why."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # errors are raised, not printed on stderr
    options.max_mem = MAX_PROGRAM_MEMORY
    return options


def _compile(pattern: str) -> Any:
    """RE2's program for `pattern`; raises RegexError with RE2's reason."""
    compiled = re2._re2.RE2(_encode(pattern), _options())
    if not compiled.ok():
        reason = compiled.error()
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else reason
        raise RegexError(str(reason))
    return compiled


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


class LinearMatch:
    """One match: its groups as `str` (None for a group that did not take part)."""

    __slots__ = ("_data", "_end", "_regex", "_spans", "_text")

    def __init__(
        self,
        regex: LinearRegex,
        data: bytes,
        spans: list[tuple[int, int]],
        text: str | None = None,
    ) -> None:
        self._regex = regex
        self._data = data  # the UTF-8 bytes RE2 searched; spans are offsets into them
        self._spans = spans
        self._text = text  # the searched text when it is ASCII: byte offsets are char offsets
        self._end: int | None = None

    def group(self, group: int | str = 0) -> str | None:
        start, end = self._spans[group if isinstance(group, int) else self._regex.groupindex[group]]
        if start < 0:
            return None
        if self._text is not None:
            return self._text[start:end]
        return _decode(self._data[start:end])

    def __getitem__(self, group: int | str) -> str | None:
        return self.group(group)

    def groupdict(self) -> dict[str, str | None]:
        return {name: self.group(index) for name, index in self._regex.groupindex.items()}

    def end(self) -> int:
        """Where the whole match ends, in characters of the text that was searched."""
        if self._end is None:
            end = self._spans[0][1]
            self._end = end if self._text is not None else len(_decode(self._data[:end]))
        return self._end


class LinearRegex:
    """A compiled pattern: `search`, `match` (anchored at the start) and `finditer` over str.

    Without `groupindex` the pattern is compiled here (RegexError when RE2 refuses it); with
    it (`deferred_linear`), on the first match that needs RE2.
    """

    __slots__ = ("_compiled", "_literal", "groupindex", "pattern")

    def __init__(self, pattern: str, groupindex: Mapping[str, int] | None = None) -> None:
        self.pattern = pattern
        # A pattern of plain characters is a substring test: str.find, no call into RE2
        self._literal = _METACHARACTERS.isdisjoint(pattern)
        self._compiled: Any = None
        if groupindex is None:
            self._compiled = _compile(pattern)
            groupindex = {
                _decode(name): index for name, index in self._compiled.NamedCapturingGroups()
            }
        self.groupindex: Mapping[str, int] = dict(groupindex)

    @property
    def compiled(self) -> bool:
        """Whether RE2 has compiled the pattern in this process yet."""
        return self._compiled is not None

    def _program(self) -> Any:
        """RE2's program, compiled now when deferred (one thread compiles, the others wait)."""
        with _COMPILING:
            if self._compiled is None:
                self._compiled = _compile(self.pattern)
            return self._compiled

    def __repr__(self) -> str:
        return f"LinearRegex({self.pattern!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearRegex) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __reduce__(self) -> tuple[type[LinearRegex], tuple[str, dict[str, int] | None]]:
        # a deferred pattern stays deferred in the receiving process (it is known to compile)
        return LinearRegex, (self.pattern, None if self.compiled else dict(self.groupindex))

    def _at(self, anchor: Any, text: str, data: bytes, pos: int) -> LinearMatch | None:
        compiled = self._compiled
        if compiled is None:
            compiled = self._program()
        spans = compiled.Match(anchor, data, pos, len(data))
        if spans[0] == _NO_SPAN:
            return None
        return LinearMatch(self, data, spans, text if len(data) == len(text) else None)

    def _found_literal(self, text: str, at: int) -> LinearMatch | None:
        if at < 0:
            return None
        return LinearMatch(self, b"", [(at, at + len(self.pattern))], text)

    def search(self, text: str) -> LinearMatch | None:
        """The first match anywhere in `text`, or None."""
        if self._literal:
            return self._found_literal(text, text.find(self.pattern))
        return self._at(_UNANCHORED, text, _encode(text), 0)

    def match(self, text: str) -> LinearMatch | None:
        """A match that starts at the beginning of `text`, or None."""
        if self._literal:
            return self._found_literal(text, 0 if text.startswith(self.pattern) else -1)
        return self._at(_ANCHOR_START, text, _encode(text), 0)

    def finditer(self, text: str) -> Iterator[LinearMatch]:
        """Every non-overlapping match, left to right (an empty match moves on one byte)."""
        data = _encode(text)
        pos = 0
        while pos <= len(data):
            found = self._at(_UNANCHORED, text, data, pos)
            if found is None:
                return
            yield found
            start, end = found._spans[0]
            pos = end if end > start else _next_character(data, end)


def _next_character(data: bytes, pos: int) -> int:
    """The offset of the UTF-8 character after the one at `pos` (past the end: len + 1)."""
    pos += 1
    while pos < len(data) and data[pos] & 0xC0 == 0x80:
        pos += 1
    return pos


def compile_linear(pattern: str) -> LinearRegex:
    """Compile `pattern` for linear-time matching; raises RegexError with RE2's reason."""
    return LinearRegex(pattern)


def deferred_linear(pattern: str, groupindex: Mapping[str, int]) -> LinearRegex:
    """`pattern`, which RE2 compiled before with the named groups `groupindex` (the same RE2
    build and options), compiled only when it first has to match: no RegexError here."""
    return LinearRegex(pattern, groupindex)
