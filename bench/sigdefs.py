"""Deterministic bench signatures: regex, literal, and makers of hit and near-miss log lines.

Both `make_library.py` (writes them as signature YAML) and `make_bundle.py` (plants their hit and
near-miss lines in the log) import this module, so a bundle and a library built from the same
index agree on what must be found. Signature k is the same whatever N is: library-150 is a prefix
of library-300.
"""

# ruff: noqa: E501  (log-line templates read better on one line)

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

SEED = 20261127
PEERS = ("cucm-pub.example.com", "imp1.example.com", "unity.example.com", "10.48.36.215")
REASONS = ("Remote party unreachable", "Forbidden", "Request Timeout", "Not acceptable here")
SERVICES = ("SIP", "H323", "XMPP")
MODULES = ("sip.leg", "zone.zonemgr", "mediasessionmgr", "edgeconfigprovisioning.uds", "xcp.cm")

_ADJECTIVES = (
    "Backup",
    "Primary",
    "Secondary",
    "Remote",
    "Local",
    "Inbound",
    "Outbound",
    "Cached",
    "Pending",
    "Stale",
    "Federated",
    "Clustered",
    "Neighbour",
    "Traversal",
    "Provisioned",
    "Unified",
    "Delegated",
    "Encrypted",
    "Static",
    "Dynamic",
    "Transient",
    "Persistent",
    "Default",
    "Managed",
)
_NOUNS = (
    "registration",
    "subscription",
    "dialog",
    "transaction",
    "handshake",
    "policy",
    "zone",
    "keepalive",
    "allocation",
    "credential",
    "token",
    "replication",
    "licence",
    "discovery",
    "tunnel",
    "heartbeat",
    "bandwidth",
    "channel",
    "session",
    "binding",
    "roster",
    "route",
    "trunk",
    "gateway",
    "lookup",
    "refresh",
    "search rule",
    "relay",
    "presence",
    "directory",
)
_VERBS = (
    "rejected",
    "timed out",
    "aborted",
    "refused",
    "exhausted",
    "invalidated",
    "expired",
    "unreachable",
    "mismatched",
    "dropped",
    "throttled",
    "overflowed",
    "corrupted",
    "desynced",
)

Ctx = tuple[str, str, str]  # (syslog timestamp prefix, host, UTCTime value)
LineMaker = Callable[[random.Random, Ctx], str]


@dataclass(frozen=True)
class GeneratedSignature:
    """One bench signature: its YAML-ready parts and makers of hit / near-miss log lines."""

    index: int
    sig_id: str
    phrase: str
    regex: str
    facts: dict[str, dict[str, object]]
    group_by: list[str]
    hit: LineMaker = field(repr=False)
    miss: LineMaker = field(repr=False)
    example_hit: str = ""
    example_miss: str = ""
    example_expect: dict[str, object] = field(default_factory=dict)


def _phrases(count: int) -> list[str]:
    rng = random.Random(SEED)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        phrase = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_VERBS)}"
        if phrase not in seen:
            seen.add(phrase)
            out.append(phrase)
    return out


def _ip(rng: random.Random) -> str:
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _make(index: int, phrase: str) -> GeneratedSignature:
    """Signature `index` from one of six templates (the shapes of performance.md §1)."""
    sig_id = f"bench-gen-{index:04d}"
    esc = phrase  # letters and spaces only: the same text in Python re and Rust regex
    peer = PEERS[index % len(PEERS)]
    kind = index % 6
    if kind == 0:
        regex = (
            rf'Module="developer\.(?P<module>[a-z.]+)" Level="(?:ERROR|WARN)".*?'
            rf'Detail="{esc} for (?P<peer>[^"]+)"'
        )

        def hit(rng: random.Random, c: Ctx) -> str:
            mod = rng.choice(MODULES)
            return (
                f'{c[0]} {c[1]} tvcs: UTCTime="{c[2]}" Module="developer.{mod}" Level="ERROR" '
                f'CodeLocation="ppcmains/{mod}.cpp({rng.randrange(40, 900)})" '
                f'Detail="{phrase} for {rng.choice(PEERS)}"'
            )

        def miss(rng: random.Random, c: Ctx) -> str:
            return (
                f'{c[0]} {c[1]} tvcs: UTCTime="{c[2]}" Module="developer.sip.leg" Level="INFO" '
                f'CodeLocation="ppcmains/sip.cpp(77)" Detail="{phrase} for {peer}"'
            )

        facts: dict[str, dict[str, object]] = {
            "peer": {"from": "peer"},
            "module": {"from": "module"},
        }
        group_by = ["node", "peer"]
        expect: dict[str, object] = {"peer": peer, "module": "sip.leg"}
    elif kind == 1:
        regex = rf'Event="{esc}" Service="(?P<service>SIP|H323|XMPP)".*?Reason="(?P<reason>[^"]+)"'

        def hit(rng: random.Random, c: Ctx) -> str:
            return (
                f'{c[0]} {c[1]} tvcs: Event="{phrase}" Service="{rng.choice(SERVICES)}" '
                f'Src-ip="{_ip(rng)}" Src-port="{rng.randrange(1024, 65535)}" '
                f'Reason="{rng.choice(REASONS)}" Level="1" UTCTime="{c[2]}"'
            )

        def miss(rng: random.Random, c: Ctx) -> str:
            return f'{c[0]} {c[1]} tvcs: Event="{phrase}" Service="HTTP" Level="2" UTCTime="{c[2]}"'

        facts = {"service": {"from": "service"}, "reason": {"from": "reason"}}
        group_by = ["node", "reason"]
        expect = {"service": "SIP", "reason": "Forbidden"}
    elif kind == 2:
        regex = rf"{esc}: code=(?P<code>\d{{3}}) from (?P<ip>\d{{1,3}}(?:\.\d{{1,3}}){{3}})"

        def hit(rng: random.Random, c: Ctx) -> str:
            return (
                f'{c[0]} {c[1]} b2bua[2211]: Level="WARN" Detail="{phrase}: '
                f'code={rng.choice((403, 408, 488, 503))} from 10.0.{index % 200}.{rng.randrange(1, 4)}"'
            )

        def miss(rng: random.Random, c: Ctx) -> str:
            return f'{c[0]} {c[1]} b2bua[2211]: Level="INFO" Detail="{phrase}: code=none"'

        facts = {"code": {"from": "code", "type": "int"}, "ip": {"from": "ip"}}
        group_by = ["node", "code"]
        expect = {"code": 503}
    elif kind == 3:
        regex = rf"(?i:{esc}) \((?P<name>[^)]+)\)"

        def hit(rng: random.Random, c: Ctx) -> str:
            return (
                f'{c[0]} {c[1]} XCP_JABBERD[23843]: UTCTime="{c[2]}" Module="Jabber" '
                f'Level="ERROR" Detail="{phrase} ({rng.choice(PEERS)}) after retry"'
            )

        def miss(rng: random.Random, c: Ctx) -> str:
            return (
                f'{c[0]} {c[1]} XCP_JABBERD[23843]: Module="Jabber" Detail="{phrase} without peer"'
            )

        facts = {"name": {"from": "name"}}
        group_by = ["node", "name"]
        expect = {"name": peer}
    elif kind == 4:
        regex = rf"\[ET_NET \d+\] ?(?:ERROR|WARNING): ?{esc} for '(?P<host>[^']+)'"

        def hit(rng: random.Random, c: Ctx) -> str:
            return (
                f"{c[0]} {c[1]} traffic_server[3936]: [ET_NET {rng.randrange(4)}] WARNING: "
                f"{phrase} for '{rng.choice(PEERS)}'"
            )

        def miss(rng: random.Random, c: Ctx) -> str:
            return f"{c[0]} {c[1]} traffic_server[3936]: [ET_NET 1] NOTE: {phrase} for nobody"

        facts = {"host": {"from": "host"}}
        group_by = ["node", "host"]
        expect = {"host": peer}
    else:
        alarm = 70000 + index  # outside the real alarm ids (1xxxx-6xxxx)
        regex = rf'Event="Alarm Raised" Id="(?P<alarm>{alarm})" .*?Detail="{esc}[^"]*"'

        def hit(rng: random.Random, c: Ctx) -> str:
            return (
                f'{c[0]} {c[1]} alarm: Level="WARN" Event="Alarm Raised" Id="{alarm}" '
                f'UUID="{rng.getrandbits(128):032x}" Severity="warning" '
                f'Detail="{phrase}: check {rng.choice(PEERS)}" UTCTime="{c[2]}"'
            )

        def miss(rng: random.Random, c: Ctx) -> str:
            return (
                f'{c[0]} {c[1]} alarm: Level="INFO" Event="Alarm Lowered" Id="{alarm}" '
                f'Detail="{phrase}" UTCTime="{c[2]}"'
            )

        facts = {"alarm": {"from": "alarm", "type": "int"}}
        group_by = ["node", "alarm"]
        expect = {"alarm": alarm}
    example_ctx: Ctx = ("2026-11-20T10:15:33.120+01:00", "expc1", "2026-11-20 09:15:33,120")
    fixed = random.Random(index)
    example_hit = _example_hit(kind, hit, fixed, example_ctx, peer)
    return GeneratedSignature(
        index=index,
        sig_id=sig_id,
        phrase=phrase,
        regex=regex,
        facts=facts,
        group_by=group_by,
        hit=hit,
        miss=miss,
        example_hit=example_hit,
        example_miss=miss(fixed, example_ctx),
        example_expect=expect,
    )


def _example_hit(kind: int, hit: LineMaker, rng: random.Random, ctx: Ctx, peer: str) -> str:
    """A hit line whose facts equal the signature's `example_expect`."""
    for _ in range(10_000):
        line = hit(rng, ctx)
        if kind == 1 and 'Service="SIP"' in line and 'Reason="Forbidden"' in line:
            return line
        if kind == 2 and "code=503" in line:
            return line
        if (
            kind in (0, 3, 4)
            and (f"for {peer}" in line or f"({peer})" in line or f"'{peer}'" in line)
            and (kind != 0 or "developer.sip.leg" in line)
        ):
            return line
        if kind == 5:
            return line
    raise RuntimeError(f"no example line for template {kind}")


def generated_signatures(count: int) -> list[GeneratedSignature]:
    """The first `count` bench signatures (deterministic)."""
    return [_make(index, phrase) for index, phrase in enumerate(_phrases(count))]
