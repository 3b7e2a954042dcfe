"""Keep-alive groups of a block with its late block lines (FileExtractor._with_late): the
groups they precede are sorted again, the rest keep their order — the same answer as sorting
every group, on random blocks."""

from __future__ import annotations

import random

import pytest

from app.calls.extract import Collector, FileExtractor, Groups, Key


def sorted_in_full(groups: Groups, late: list[tuple[Key, int, bytes, int]]) -> Groups:
    """The reference: every late line merged, then every group sorted by first offset."""
    keys, counts = list(groups.keys), list(groups.counts)
    firsts, lasts = list(groups.firsts), list(groups.lasts)
    added: dict[Key, int] = {}
    for key, at, _hash, position in late:
        position = position if position >= 0 else added.get(key, -1)
        if position < 0:
            added[key] = len(keys)
            keys.append(key)
            counts.append(1)
            firsts.append(at)
            lasts.append(at)
            continue
        counts[position] += 1
        firsts[position], lasts[position] = min(firsts[position], at), max(lasts[position], at)
    order = sorted(range(len(keys)), key=firsts.__getitem__)
    return Groups(*([values[i] for i in order] for values in (keys, counts, firsts, lasts)))


def random_block(rng: random.Random) -> tuple[Groups, list[tuple[Key, int, bytes, int]]]:
    """Groups in order of first offset and late lines (offsets all distinct, as lines are)."""
    offsets = rng.sample(range(10_000), 120)
    groups_count = rng.randint(0, 40)
    firsts = sorted(offsets[:groups_count])
    keys = [f"10.0.0.{i}:5060\nREGISTER".encode() for i in range(groups_count)]
    lasts = [first + rng.choice((0, rng.randint(1, 5_000))) for first in firsts]
    counts = [rng.randint(1, 9) for _ in keys]
    late = []
    for number, at in enumerate(offsets[groups_count : groups_count + rng.randint(1, 16)]):
        if keys and rng.random() < 0.5:  # the block line of a peer with a group in the block
            position = rng.randrange(len(keys))
            late.append((keys[position], at, b"%d" % number, position))
        else:  # a peer without a group (its summary ended the block before, or was not logged)
            late.append((f"10.9.9.{rng.randint(0, 5)}:5060\nOPTIONS".encode(), at, b"", -1))
    return Groups(keys, counts, firsts, lasts), late


@pytest.mark.parametrize("seed", range(400))
def test_late_lines_regroup_as_a_full_sort_would(seed: int) -> None:
    groups, late = random_block(random.Random(seed))
    extractor = FileExtractor(Collector(threaded=False), "log")
    got = extractor._with_late(groups, late)
    want = sorted_in_full(groups, late)
    assert (got.keys, got.counts, list(got.firsts), list(got.lasts)) == (
        want.keys,
        want.counts,
        want.firsts,
        want.lasts,
    )


def test_a_late_line_far_into_the_block_moves_its_group_first() -> None:
    keys = [b"10.0.0.1:5060\nREGISTER", b"10.0.0.2:5060\nREGISTER", b"10.0.0.3:5060\nREGISTER"]
    groups = Groups(keys, [1, 1, 1], [100, 200, 300], [100, 200, 300])
    # the third peer's block line opens the block, before the first group's summary
    got = FileExtractor(Collector(threaded=False), "log")._with_late(
        groups, [(keys[2], 50, b"h", 2), (b"10.0.0.9:5060\nOPTIONS", 150, b"", -1)]
    )
    assert got.keys == [keys[2], keys[0], b"10.0.0.9:5060\nOPTIONS", keys[1]]
    assert got.counts == [2, 1, 1, 1]
    assert got.firsts == [50, 100, 150, 200]
