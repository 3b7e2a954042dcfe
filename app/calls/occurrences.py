"""Find every occurrence of a few literals in a block in one pass (Hyperscan, else bytes.find).

The call-flow observers (app.calls) look for a handful of literals in every block of every log;
one Hyperscan pass (no Python between matches, the GIL released while it scans) finds all of
them where a `bytes.find` walk would pass over the block once per literal. Without the
hyperscan package (no wheel off x86-64) the walks are made, with the same result.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from app.signatures.matchers import hyperscan_available, serialised_database, thread_database


class Occurrences:
    """`find(block)`: (literal index, start offset) of every occurrence of `literals`, in no
    particular order; overlapping occurrences of different literals are all given."""

    def __init__(self, literals: Sequence[bytes], *, use_hyperscan: bool = True) -> None:
        self.literals = tuple(literals)
        self._blob: bytes | None = None
        if hyperscan_available() and use_hyperscan and self.literals:
            self._blob = serialised_database(self.literals, (0,) * len(self.literals))
        self._local = threading.local()  # a database (and its scratch) per thread

    def find(self, block: bytes) -> list[tuple[int, int]]:
        if not block:
            return []
        if self._blob is None:
            return self._find_slowly(block)
        found: list[tuple[int, int]] = []
        append = found.append
        lengths = [len(literal) for literal in self.literals]

        def on_match(index: int, start: int, end: int, flags: int, context: object) -> None:
            append((index, end - lengths[index]))

        thread_database(self._local, self._blob).scan(block, match_event_handler=on_match)
        return found

    def _find_slowly(self, block: bytes) -> list[tuple[int, int]]:
        found = []
        find = block.find
        for index, literal in enumerate(self.literals):
            at = find(literal)
            while at != -1:
                found.append((index, at))
                at = find(literal, at + 1)
        return found
