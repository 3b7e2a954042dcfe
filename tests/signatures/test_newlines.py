"""The shared newline counter numbers every asker's lines as a count from the block's start."""

from __future__ import annotations

import random

import pytest

from app.signatures.newlines import Newlines


def test_every_ask_is_answered_as_counting_from_the_start() -> None:
    rng = random.Random(7)
    block = bytes(rng.choice(b"ab\n") for _ in range(20_000))
    counter = Newlines(block)
    asks = [sorted(rng.sample(range(len(block) + 1), k)) for k in (0, 1, 50, 400)]
    asks.append([0, 0, 5, 5, len(block)])  # repeats and both ends
    tickets = [counter.ask(offsets) for offsets in asks]
    for ticket, offsets in zip(tickets, asks, strict=True):
        assert counter.answer(ticket) == [block.count(b"\n", 0, at) for at in offsets]
    for at in rng.sample(range(len(block) + 1), 100):  # asked late: from the nearest answer
        assert counter.before(at) == block.count(b"\n", 0, at)


def test_an_ask_after_the_answers_is_refused() -> None:
    counter = Newlines(b"a\nb\n")
    assert counter.answer(counter.ask([4])) == [2]
    with pytest.raises(RuntimeError):
        counter.ask([1])


def test_every_offset_of_short_blocks_counts_right_across_64_byte_chunks() -> None:
    # (the C walk answers an offset from the 64-byte chunk holding it: every offset of blocks
    # of every length around a few chunks, newlines at chunk edges included)
    rng = random.Random(11)
    for size in [*range(0, 140), 191, 192, 193, 255, 256, 257, 1000]:
        for density in (0.0, 0.05, 0.5, 1.0):
            block = bytes(b"\n"[0] if rng.random() < density else b"x"[0] for _ in range(size))
            counter = Newlines(block)
            offsets = list(range(size + 1))
            ticket, beyond = counter.ask(offsets), counter.ask([size, size + 64])
            assert counter.answer(ticket) == [block.count(b"\n", 0, at) for at in offsets]
            assert counter.answer(beyond) == [block.count(b"\n")] * 2
