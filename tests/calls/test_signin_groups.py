"""Sign-in attempts grouped in C (app._native.signin_groups, signin_steps) are those Python makes.

The grouping of a sign-in's messages per client and attempt, and the pass over an attempt's
messages (its steps, failure, notes, user, agent, nodes, times), run in C where the extension
is built; calls.signin_flow keeps the Python loops as the reference. Both are compared here on
thousands of random sign-ins: clients named or not, TrackingIDs and users that tell whose a
message is, gaps around ATTEMPT_GAP, untimed messages, times in other time zones, notes,
responses failing or not, every step a path or a TFTP port names.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app import native
from app.calls import signin_flow
from app.calls.signin_model import HttpMessage

needs_native = pytest.mark.skipif(
    native.loops is None and os.environ.get("CI") != "true",
    reason="app._native is not built here (no C compiler at install)",
)

START = datetime(2026, 11, 20, 10, 15, 33, tzinfo=UTC)
PATHS = (
    "",
    "/dGJ0cC5jb20/get_edge_config/",
    "/cucm-uds/user/jdoe/devices",
    "/oauth/token",
    "/idp/sso",
    "/SEP0011.cnf.xml",
    "/vmrest/mailbox",
    "/cup/presence",
    "/xmpp/bosh",
    "/elsewhere",
)
PEERS = ("", "10.0.0.9:8443", "10.0.0.9:6970", "10.0.0.8:6972", "127.0.0.1:22", "[2001:db8::1]:443")
TEXTS = ("", "", "a", "b", "c")


def _message(rng: random.Random, line: int, when: datetime | None) -> HttpMessage:
    source = rng.choice(("trafficserver", "trafficserver", "edgeconfig", "event", "note"))
    request = rng.random() < 0.5 and source != "note"
    return HttpMessage(
        time=when,
        file=rng.choice(("a.log", "b.log")),
        line=line,
        source=source,
        direction="" if source == "note" else rng.choice(("in", "out")),
        peer=rng.choice(PEERS),
        method=rng.choice(("GET", "POST", "?", "")) if request else None,
        path=rng.choice(PATHS),
        status=None if request or rng.random() < 0.2 else rng.choice((200, 302, 401, 403, 502)),
        reason=rng.choice(("OK", "Unauthorized", "")),
        tracking_id=rng.choice(TEXTS),
        request_tracking=rng.choice(TEXTS),
        user=rng.choice(("", "", "jdoe", "asmith")),
        user_agent=rng.choice(("", "", "Jabber/14.1", "Webex/43")),
        client_ip=rng.choice(("", "", "", "198.51.100.7")),
        detail=rng.choice(("", "Failed to authenticate user against server")),
        node=rng.choice(("expe1", "expc1")),
    )


def _sign_in(seed: int) -> list[HttpMessage]:
    """A random sign-in's messages in time order: steps of seconds, now and then one past
    ATTEMPT_GAP (or exactly it), some untimed, some in another time zone."""
    rng = random.Random(seed)
    when, messages = START, []
    other_zone = timezone(timedelta(hours=1))
    for line in range(1, rng.randint(1, 60)):
        gap = rng.choice((0, 1, 5, 59, 60, 61, 3600))
        when += timedelta(seconds=gap, microseconds=rng.choice((0, 1, -1)) if gap else 0)
        stamp: datetime | None = when
        if rng.random() < 0.1:
            stamp = None
        elif rng.random() < 0.1:
            stamp = when.astimezone(other_zone)  # (the same instant)
        messages.append(_message(rng, line, stamp))
    return messages


def _clients(messages: list[HttpMessage]) -> list[str]:
    roles = {"expe1": "Expressway-E", "expc1": "Expressway-C"}
    return [signin_flow.client_of(m, roles) for m in messages]


@pytest.fixture
def in_python(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(signin_flow, "loops", None)
    yield


def _groups_in_c(messages: list[HttpMessage], clients: list[str]) -> object:
    assert native.loops is not None
    return native.loops.signin_groups(
        signin_flow._GROUP_SLOTS,
        messages,
        clients,
        signin_flow.ATTEMPT_GAP,
        signin_flow.UNKNOWN_CLIENT,
    )


def _facts_in_c(messages: list[HttpMessage]) -> signin_flow.AttemptFacts:
    assert native.loops is not None
    facts: signin_flow.AttemptFacts = native.loops.signin_steps(
        signin_flow._STEP_SLOTS,
        messages,
        signin_flow._STEP_NAMES,
        signin_flow._steps_of_path,
        signin_flow._TFTP_PORTS,
    )
    return facts


def _same(a: object, b: object) -> bool:
    """Equal, and the messages in them the same objects (the groups hold the messages given)."""
    return a == b and repr(_ids(a)) == repr(_ids(b))


def _ids(value: object) -> object:
    if isinstance(value, HttpMessage):
        return id(value)
    if isinstance(value, list | tuple):
        return [_ids(item) for item in value]
    if isinstance(value, dict):
        return [(key, _ids(item)) for key, item in value.items()]
    return value


@needs_native
def test_messages_are_grouped_in_c_as_in_python() -> None:
    several = 0
    for seed in range(1500):
        messages = _sign_in(seed)
        clients = _clients(messages)
        expected = signin_flow.client_groups_in_python(messages, clients)
        assert _same(_groups_in_c(messages, clients), expected), seed
        several += len({client for client, _group in expected}) > 1 and len(expected) > 2
    assert several > 300  # (the random sign-ins do mix clients and attempts)


@needs_native
def test_an_attempts_facts_are_read_in_c_as_in_python() -> None:
    for seed in range(1500):
        messages = _sign_in(seed)
        assert _same(_facts_in_c(messages), signin_flow.attempt_facts_in_python(messages)), seed


@needs_native
def test_attempts_are_the_same_with_and_without_the_extension(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    products = {"expe1": "Expressway-E", "expc1": "Expressway-C"}
    for seed in range(300):
        messages = sorted(_sign_in(seed), key=lambda m: (m.file, m.line))
        in_c = signin_flow.group_attempts(messages, products)
        with monkeypatch.context() as patched:
            patched.setattr(signin_flow, "loops", None)
            in_python = signin_flow.group_attempts(messages, products)
        assert in_c == in_python, seed


def test_a_gap_just_past_attempt_gap_starts_a_new_attempt(in_python: None) -> None:
    """(in Python; the comparisons above hold C to the same)"""
    again = [
        HttpMessage(
            time=START + timedelta(seconds=seconds),
            file="a",
            line=line,
            source="trafficserver",
            direction="in",
            peer="198.51.100.7:5000",
            method="GET",
            path="/cucm-uds/user/a",
        )
        for seconds, line in ((0, 1), (60, 2), (120.000001, 3))
    ]
    attempts, _left_out = signin_flow.group_attempts(again, {})
    assert [len(a.messages) for a in attempts] == [2, 1]  # 60 s apart: one; 60.000001 s: two


@needs_native
def test_a_message_of_another_class_is_refused() -> None:
    class Other:
        __slots__ = ("tracking_id",)

    with pytest.raises(TypeError):
        _groups_in_c([Other()], [""])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        _facts_in_c([Other()])  # type: ignore[list-item]


@needs_native
def test_a_list_emptied_while_it_is_read_is_read_whole() -> None:
    """signin_steps calls back into Python for each new path (steps_of_path): a callback that
    empties the list being read leaves its messages read, from the copy C holds (no read of
    freed memory)."""
    assert native.loops is not None
    given = [m for m in _sign_in(7) if m.source != "note" and m.path]
    messages = list(given)
    assert len({m.path for m in messages}) > 1
    expected = signin_flow.attempt_facts_in_python(given)

    def emptying(path: str) -> tuple[str | None, str | None]:
        messages.clear()
        return signin_flow._steps_of_path(path)

    facts = native.loops.signin_steps(
        signin_flow._STEP_SLOTS,
        messages,
        signin_flow._STEP_NAMES,
        emptying,
        signin_flow._TFTP_PORTS,
    )
    assert not messages and _same(facts, expected)
