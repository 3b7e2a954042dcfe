"""The login limiter: per name and address, per address, a sliding minute, bounded memory."""

from __future__ import annotations

import pytest

from app.auth import ratelimit
from app.auth.ratelimit import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(ratelimit.time, "monotonic", fake)
    return fake


def test_five_failures_block_that_name_from_that_address_for_a_minute(clock: Clock) -> None:
    limiter = LoginLimiter(5)
    for _ in range(5):
        assert not limiter.blocked("Alice", "10.0.0.1")
        limiter.failed("Alice", "10.0.0.1")
    assert limiter.blocked("alice", "10.0.0.1")
    assert not limiter.blocked("alice", "10.0.0.2")
    assert not limiter.blocked("bob", "10.0.0.1")
    clock.now += 61
    assert not limiter.blocked("alice", "10.0.0.1")


def test_one_address_trying_many_names_is_blocked_too(clock: Clock) -> None:
    limiter = LoginLimiter(5)
    for n in range(20):
        limiter.failed(f"user{n}", "10.0.0.9")
    assert limiter.blocked("someone-new", "10.0.0.9")
    assert not limiter.blocked("someone-new", "10.0.0.8")


def test_a_success_clears_the_names_failures(clock: Clock) -> None:
    limiter = LoginLimiter(2)
    limiter.failed("alice", "a")
    limiter.succeeded("alice", "a")
    limiter.failed("alice", "a")
    assert not limiter.blocked("alice", "a")


def test_memory_stays_bounded_under_a_flood_of_names(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 50)
    limiter = LoginLimiter(5)
    for n in range(500):
        limiter.failed(f"name{n}", f"10.0.{n // 250}.{n % 250}")
        clock.now += 0.01
    assert len(limiter._failures) <= 50
