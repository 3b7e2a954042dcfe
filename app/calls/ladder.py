"""A call laid out as a ladder: one column per participant, one arrow per message, as data.

A node of the analysis is one column whatever its local port; a remote address that is another
node's local address is that node's column, so a call crossing the C and the E draws each
message between them once (`Arrow.messages` then holds the Sent and the Received copy).
Columns are named where the messages tell: the node itself, Unified CM, an Expressway peer,
the endpoint by its User-Agent. A message seen again on the same node with the same key is a
retransmission.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from app.calls.model import SipMessage

_EXPRESSWAY = re.compile(r"TANDBERG/4\d{3} \((X[\w.]+)")
_MODEL = re.compile(r"\bCisco-([A-Za-z0-9][\w\-]{1,40})")
_SOFTWARE = re.compile(r"\((ce[\w.]+|[\w.]+)\)")


@dataclass(slots=True)
class Column:
    key: str
    address: str  # "ip:port" of a remote side; the node's address(es) for a node
    label: str


@dataclass(slots=True)
class Arrow:
    number: int  # 1-based, the `#msg-N` anchor
    time: datetime | None
    delta_ms: int | None  # since the arrow before
    src: int  # column index
    dst: int
    label: str
    klass: str  # request | 1xx | 2xx | error
    retransmission: bool
    messages: list[SipMessage] = field(default_factory=list)

    @property
    def first(self) -> SipMessage:
        return self.messages[0]


@dataclass(slots=True)
class Ladder:
    columns: list[Column]
    arrows: list[Arrow]


def _ip(address: str) -> str:
    return address.rsplit(":", 1)[0] if ":" in address else address


def peer_label(hints: list[str], own_product: str | None) -> str:
    """What a remote side is, from the User-Agent/Server values it sent about itself."""
    for hint in hints:
        if "CUCM" in hint.upper():
            return "Unified CM"
    for hint in hints:
        expressway = _EXPRESSWAY.search(hint)
        if expressway:
            other = {"Expressway-E": "Expressway-C", "Expressway-C": "Expressway-E"}
            name = other.get(own_product or "", "Expressway")
            return f"{name} {expressway[1]}"
    for hint in hints:
        model = _MODEL.search(hint)
        if model:
            software = _SOFTWARE.search(hint)
            return f"{model[1]} ({software[1]})" if software else model[1]
    return hints[0][:40] if hints else ""


def lay_out(messages: list[SipMessage], products: Mapping[str, str | None]) -> Ladder:
    """The ladder of a call's messages (time order); `products`: node → product, if known."""
    node_ips: dict[str, str] = {}
    for message in messages:
        node_ips.setdefault(_ip(message.local), message.node)
    columns: list[Column] = []
    index_of: dict[str, int] = {}
    hints: dict[str, list[str]] = {}

    def column(key: str, address: str) -> int:
        if key not in index_of:
            index_of[key] = len(columns)
            columns.append(Column(key, address, ""))
        return index_of[key]

    def side(message: SipMessage) -> tuple[int, int]:
        node_key, node_address = f"node:{message.node}", _ip(message.local)
        peer_node = node_ips.get(_ip(message.remote))
        if peer_node is not None and peer_node != message.node:
            remote_key, remote_address = f"node:{peer_node}", _ip(message.remote)
        else:
            remote_key, remote_address = f"peer:{message.remote}", message.remote
            if message.direction == "in" and message.user_agent and _speaks_for_itself(message):
                hints.setdefault(remote_key, []).append(message.user_agent)
        if message.direction == "in":  # columns in the order the call meets them
            return column(remote_key, remote_address), column(node_key, node_address)
        return column(node_key, node_address), column(remote_key, remote_address)

    arrows: list[Arrow] = []
    seen: set[tuple[object, ...]] = set()
    unmatched: dict[tuple[object, ...], Arrow] = {}
    previous: datetime | None = None
    for message in messages:
        src, dst = side(message)
        wire = (
            src,
            dst,
            message.call_id,
            message.cseq,
            message.cseq_method,
            message.method,
            message.status,
            message.to_tag,
        )
        mate = unmatched.get(wire)
        if mate is not None and all(m.node != message.node for m in mate.messages):
            mate.messages.append(message)  # the same message, logged by the node at each end
            del unmatched[wire]
            continue
        key = (message.node, message.direction, *wire)
        retransmission = key in seen
        seen.add(key)
        delta = None
        if message.time is not None and previous is not None:
            delta = round((message.time - previous).total_seconds() * 1000)
        previous = message.time or previous
        arrow = Arrow(
            len(arrows) + 1,
            message.time,
            delta,
            src,
            dst,
            message.label,
            message.status_class,
            retransmission,
            [message],
        )
        arrows.append(arrow)
        if _ip(message.remote) in node_ips and node_ips[_ip(message.remote)] != message.node:
            unmatched[wire] = arrow
    for col in columns:
        kind, _, name = col.key.partition(":")
        if kind == "node":
            product = products.get(name)
            col.label = f"{name} ({product})" if product else f"{name} (this node)"
        else:
            col.label = peer_label(hints.get(col.key, []), _own_product(messages, products))
    return Ladder(columns, arrows)


def _speaks_for_itself(message: SipMessage) -> bool:
    """Whether the User-Agent/Server of a received message names the peer that sent it.

    A request with one Via was made by the peer; a 100 Trying is made by the next hop itself.
    Other messages may have been passed on by a proxy from further away.
    """
    if message.method is not None:
        return message.via_count == 1
    return message.status == 100


def _own_product(messages: list[SipMessage], products: Mapping[str, str | None]) -> str | None:
    nodes = {m.node for m in messages}
    return products.get(next(iter(nodes))) if len(nodes) == 1 else None
