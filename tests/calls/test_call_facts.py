"""What a call adds up to, read in C (app._native.call_facts), is what Python reads.

calls.group._summarise reads a call's first message, final response, times, Call-IDs, nodes,
URIs and what ended it through app._native.call_facts where the extension is built, and keeps
call_facts_in_python as the reference. Both are compared here on thousands of random calls:
INVITEs or none, ACKs, requests of other methods, challenged and failed and successful final
responses to several methods, BYEs and CANCELs in any order, Reason headers, untimed messages,
equal times in other time zones, several Call-IDs and nodes.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app import native
from app.calls import group
from app.calls.model import SipMessage

needs_native = pytest.mark.skipif(
    native.loops is None and os.environ.get("CI") != "true",
    reason="app._native is not built here (no C compiler at install)",
)

START = datetime(2026, 11, 20, 10, 15, 33, tzinfo=UTC)
METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "UPDATE", "INFO", "")
STATUSES = (100, 180, 183, 200, 202, 302, 401, 407, 408, 486, 487, 503, 603, 199, 300)


def _message(rng: random.Random, line: int, when: datetime | None) -> SipMessage:
    request = rng.random() < 0.5
    method = rng.choice(METHODS) if request else None
    return SipMessage(
        time=when,
        file="a.log",
        line=line,
        direction=rng.choice(("in", "out")),
        local="192.0.2.5:5061",
        remote=rng.choice(("198.51.100.7:5060", "203.0.113.9:5061")),
        call_id=rng.choice(("c1@x", "c1@x", "c2@y", "")),
        cseq=line,
        cseq_method=rng.choice(("INVITE", "INVITE", "BYE", "CANCEL", "UPDATE", "")),
        method=method,
        status=None if request else rng.choice(STATUSES),
        request_uri=rng.choice(("", "sip:1001@example.com")),
        from_uri=rng.choice(("", "", "sip:2002@example.com", "sip:3003@example.com")),
        to_uri=rng.choice(("", "", "sip:1001@example.com", "sip:4004@example.com")),
        reason_header=rng.choice(("", "", "", 'Q.850;cause=16;text="Normal"', "Warning: 399")),
        node=rng.choice(("expe1", "expc1", "")),
    )


def _call(seed: int) -> list[SipMessage]:
    rng = random.Random(seed)
    when, found = START, []
    zone = timezone(timedelta(hours=-5))
    for line in range(1, rng.randint(2, 25)):
        when += timedelta(milliseconds=rng.choice((0, 0, 1, 250, 4000)))
        stamp: datetime | None = when
        if rng.random() < 0.1:
            stamp = None
        elif rng.random() < 0.15:
            stamp = when.astimezone(zone)  # (the same instant: equal, shown otherwise)
        found.append(_message(rng, line, stamp))
    return found


def _in_c(found: list[SipMessage]) -> group.CallFacts:
    assert native.loops is not None
    facts: group.CallFacts = native.loops.call_facts(group._FACT_SLOTS, found, group._FACT_NAMES)
    return facts


def _shown(facts: group.CallFacts) -> tuple[object, ...]:
    """The facts with each message as its identity and each time as it is shown (equal times
    of other zones differ)."""
    return tuple(id(value) if isinstance(value, SipMessage) else repr(value) for value in facts)


@needs_native
def test_call_facts_read_in_c_are_those_python_reads() -> None:
    kinds: set[tuple[bool, bool, bool]] = set()
    for seed in range(3000):
        found = _call(seed)
        expected = group.call_facts_in_python(found)
        assert _shown(_in_c(found)) == _shown(expected), seed
        kinds.add((expected[1] is not None, expected[8] is not None, expected[9] is not None))
    assert len(kinds) == 8  # (final or none, BYE or none, CANCEL or none: every mix came up)


@needs_native
def test_calls_are_summarised_alike_with_and_without_the_extension(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for seed in range(500):
        found = _call(seed)
        in_c = group._summarise(found, None)
        with monkeypatch.context() as patched:
            patched.setattr(group, "loops", None)
            in_python = group._summarise(found, None)
        assert in_c == in_python, seed


@needs_native
def test_call_facts_refuse_what_they_cannot_read() -> None:
    with pytest.raises(IndexError):
        _in_c([])
    with pytest.raises(TypeError):
        _in_c([object()])  # type: ignore[list-item]
    odd = _call(1)
    odd[0].status = "200"  # type: ignore[assignment]
    odd[0].method = None
    with pytest.raises(TypeError):
        _in_c(odd)
