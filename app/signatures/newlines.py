"""Count a block's newlines before given offsets, each byte counted once however many ask.

The scan numbers its candidate lines and a block observer (app.calls) numbers its own: they ask
one `Newlines` per block for the offsets they want (`ask`), and the first answer counts for
all of them in one walk over the block (`answer`), so observing a block adds no pass of its
own over it. Offsets asked later (`before`) count from the nearest answered one below.
"""

from __future__ import annotations

from bisect import bisect_right
from heapq import merge

from app.native import loops


class Newlines:
    """The newlines in `block` before offsets: `ask` for some, then `answer` them."""

    __slots__ = ("_answers", "_asked", "_checkpoints_left", "block", "counts", "offsets")

    def __init__(self, block: bytes) -> None:
        self.block = block
        self._asked: list[list[int]] = []
        self._answers: list[list[int]] | None = None
        self.offsets = [0]  # answered offsets, ascending (checkpoints for `before`)
        self.counts = [0]  # newlines before each
        self._checkpoints_left = False  # (offsets and counts to be made from the answers)

    def ask(self, offsets: list[int]) -> int:
        """Ask for the newlines before each of `offsets` (ascending); the ticket for `answer`.
        Every ask is made before the first answer."""
        if self._answers is not None:
            raise RuntimeError("Newlines: asked after the answers were counted")
        self._asked.append(offsets)
        return len(self._asked) - 1

    def answer(self, ticket: int) -> list[int]:
        """The newlines before each offset of the ask `ticket` (every ask counted at once)."""
        if self._answers is None:
            self._count()
        assert self._answers is not None
        return self._answers[ticket]

    def before(self, offset: int) -> int:
        """The newlines in block[:offset], counted from the nearest answered offset below."""
        if self._answers is None:
            self._count()
        if self._checkpoints_left:  # (the C walk leaves them out: made here, when asked)
            self._checkpoints_left = False
            answered = {0: 0}
            for asked, answers in zip(self._asked, self._answers or [], strict=True):
                answered.update(zip(asked, answers, strict=True))
            self.offsets = sorted(answered)
            self.counts = [answered[at] for at in self.offsets]
        at = bisect_right(self.offsets, offset) - 1
        return self.counts[at] + self.block.count(b"\n", self.offsets[at], offset)

    def _count(self) -> None:
        if loops is not None:  # the same walk in C, the GIL released (app/_native.c)
            self._answers, _, _ = loops.newlines_answer(self.block, self._asked, False)
            self._checkpoints_left = True
            return
        self._count_in_python()

    def _count_in_python(self) -> None:
        """The reference walk (app.native's fallback)."""
        count = self.block.count
        offsets, counts = [0], [0]
        last, newlines = 0, 0
        for offset in merge(*self._asked):
            if offset != last:
                newlines += count(b"\n", last, offset)
                last = offset
                offsets.append(offset)
                counts.append(newlines)
        self.offsets, self.counts = offsets, counts
        table = dict(zip(offsets, counts, strict=True))
        self._answers = [[table[offset] for offset in asked] for asked in self._asked]
