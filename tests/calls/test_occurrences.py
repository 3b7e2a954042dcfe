"""One pass finds every occurrence of the call-flow observers' literals (Hyperscan or not)."""

from __future__ import annotations

import random

import pytest

from app.calls import signin
from app.calls.occurrences import Occurrences
from app.calls.signin_model import message_to_json
from app.signatures.matchers import hyperscan_available
from tests.calls.signinlog import START, auth_failed, uds_401
from tests.calls.test_signin import exp_c_request, messages, read, text

LITERALS = (b'network.http.trafficserver"', b"aa", b"Sending HTTP error response")


def sample_block() -> bytes:
    rng = random.Random(3)
    pieces = [*LITERALS, b"aaa", b"\n", b"x", b"network.http.", b"Sending HTTP"]
    return b"".join(rng.choice(pieces) for _ in range(5_000))


def test_without_hyperscan_every_occurrence_is_found_overlaps_too() -> None:
    block = sample_block()
    found = sorted(Occurrences(LITERALS, use_hyperscan=False).find(block))
    expected = sorted(
        (index, at)
        for index, literal in enumerate(LITERALS)
        for at in range(len(block))
        if block.startswith(literal, at)
    )
    assert found == expected and len(found) > 100
    assert Occurrences(LITERALS, use_hyperscan=False).find(b"") == []


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan is not installed")
def test_hyperscan_finds_the_same_occurrences() -> None:
    block = sample_block()
    fast = Occurrences(LITERALS).find(block)
    slow = Occurrences(LITERALS, use_hyperscan=False).find(block)
    assert sorted(fast) == sorted(slow)


def test_sign_ins_read_without_hyperscan_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    failed = uds_401("expc1", START, "pstojano") + auth_failed("expc1", START, "pstojano")
    log = text(*(exp_c_request() for _ in range(3)), failed)
    fast = [message_to_json(m) for m in messages(read({"expc1.log": log}, lines_per_block=7))]
    monkeypatch.setattr(signin, "_FINDER", Occurrences(signin._KINDS, use_hyperscan=False))
    slow = [message_to_json(m) for m in messages(read({"expc1.log": log}, lines_per_block=7))]
    assert fast == slow and len(fast) >= 4
