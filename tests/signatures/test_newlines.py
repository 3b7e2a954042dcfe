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
