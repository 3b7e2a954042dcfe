"""Sign-in messages grouped per client and attempt, their outcome, and their ladder.

A client is the address the request came from: the `Client-ip` header (or the first
`X-Forwarded-For` address) the Traffic Server logs, else the peer of a request an Expressway
received from outside (or of a response it sent there); a message that names no client takes
the client of another message with the same TrackingID, else of the same user, else it is
grouped under "client not logged". A client's messages more than ATTEMPT_GAP apart start a
new attempt. Each message is put in a step (edge config, UDS, OAuth, …) by its URL path; a
step whose last response is an error (4xx/5xx) failed, and the attempt failed with it.

The ladder reuses app.calls.ladder's Column/Arrow/Ladder (drawn by app.calls.render): the
client, the Expressway-E, the Expressway-C, then Unified CM / IM and Presence / Unity.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import islice
from operator import attrgetter, le

from app.calls.interning import slot_descriptors
from app.calls.ladder import Arrow, Column, Ladder
from app.calls.signin import SigninCollector
from app.calls.signin_model import Attempt, HttpMessage, SigninResult
from app.native import loops

ATTEMPT_GAP = timedelta(seconds=60)
MAX_ATTEMPTS = 10_000
MAX_ATTEMPT_MESSAGES = 2_000  # per attempt; more are counted, not kept
UNKNOWN_CLIENT = "client not logged"
_LOOPBACK = ("127.", "::1", "localhost")
_B64_SEGMENT = re.compile(r"^/([A-Za-z0-9_\-+]{4,400}={0,2})(/.*)?$")


@lru_cache(maxsize=4096)  # a sign-in's few peers repeat from message to message
def _ip(address: str) -> str:
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def _loopback(address: str) -> bool:
    return _ip(address).startswith(_LOOPBACK)


def decode_segment(path: str) -> tuple[str, str]:
    """The MRA path's first segment decoded (domain.md §2.5): (decoded, rest of the path).

    `/dGJ0cC5jb20/get_edge_config/` → ("tbtp.com", "/get_edge_config/");
    `/c3RldmVu…/cucm-uds/…` → ("steven.lab/https/10.48.36.215/8443", "/cucm-uds/…").
    ("", path) when the segment is not base64 of printable text.
    """
    match = _B64_SEGMENT.match(path.split("?", 1)[0])
    if match is None:
        return "", path
    segment = match[1].rstrip("=")
    padded = segment + "=" * (-len(segment) % 4)
    for decode in (base64.urlsafe_b64decode, base64.b64decode):
        try:
            raw = decode(padded)
        except (binascii.Error, ValueError):
            continue
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            continue
        if text and all(32 < ord(c) < 127 for c in text) and "." in text:
            return text[:200], match[2] or "/"
    return "", path


_TFTP_PORTS = (":6970", ":6972")


def step_of(message: HttpMessage) -> str:
    """What a message is part of, from its URL path (and port for TFTP files)."""
    if message.source == "note":  # (is_note)
        return "UDS"  # "Failed to authenticate user against server" (edge config provisioning)
    path = message.path
    after_port = None  # (a message without a path names no step: see _steps_of_path)
    if path:
        before_port, after_port = _steps_of_path(path)
        if before_port is not None:
            return before_port
    if message.peer.endswith(_TFTP_PORTS):
        return "TFTP config"
    if after_port is not None:
        return after_port
    if path:
        return "HTTP"
    return "HTTP (path not logged)" if message.method is not None else "HTTP (request not logged)"


@lru_cache(maxsize=4096)  # a sign-in's few paths repeat for every client: each is read once
def _steps_of_path(path: str) -> tuple[str | None, str | None]:
    """The step a URL path names before the TFTP port is looked at, and the one after it
    (None: the path names none of those)."""
    rest = decode_segment(path)[1].lower()
    if "get_edge_config" in rest:
        return "edge config", None
    if "/cucm-uds/" in rest or rest.startswith("/cucm-uds"):
        return "UDS", None
    if "oauth" in rest or "/authorize" in rest or "/token" in rest or "refresh" in rest:
        return "OAuth", None
    if "sso" in rest or "saml" in rest or "idp" in rest:
        return "SSO", None
    if rest.endswith((".cnf.xml", ".xml.sgn", ".tlv", ".cnf.xml.sgn")):
        return "TFTP config", None
    if "vmrest" in rest or "/cuc" in rest:
        return None, "voicemail"
    if "/cup" in rest or "presence" in rest or "/epas" in rest:
        return None, "IM and Presence"
    return None, None


def target_of(message: HttpMessage) -> str:
    """The UC server a proxied request goes to, when its path names it (domain.md §2.5)."""
    decoded, _rest = decode_segment(message.path)
    parts = decoded.split("/")
    return f"{parts[2]}:{parts[3]}" if len(parts) == 4 and parts[3].isdigit() else ""


def _sort_key(message: HttpMessage) -> tuple[int, datetime | float, str, int]:
    if message.time is None:
        return (1, 0.0, message.file, message.line)
    return (0, message.time, message.file, message.line)


_GROUP_SLOTS = slot_descriptors(HttpMessage, ("tracking_id", "request_tracking", "user", "time"))
_STEP_SLOTS = slot_descriptors(
    HttpMessage,
    ("source", "path", "peer", "method", "status", "user_agent", "user", "time", "node"),
)
AttemptFacts = tuple[
    dict[str, None],  # steps
    dict[str, HttpMessage],  # the last response of each step
    list[HttpMessage],  # notes
    str | None,  # User-Agent
    str | None,  # user
    list[str],  # nodes
    datetime | None,  # started
    datetime | None,  # ended
]
_STEP_NAMES = (
    "note",
    "UDS",
    "TFTP config",
    "HTTP",
    "HTTP (path not logged)",
    "HTTP (request not logged)",
)
"""The names app._native.signin_steps gives (step_of's): a note's source, then its steps."""
_BY_TIME = attrgetter("time", "file", "line")
_BY_PLACE = attrgetter("file", "line")
_TIME = attrgetter("time")
_LINE = attrgetter("line")
_NODE = attrgetter("node")


def in_time_order(
    messages: list[HttpMessage], *, in_place_order: bool = False
) -> list[HttpMessage]:
    """`sorted(messages, key=_sort_key)`: the timed ones by time, then the others, each by file
    and line; sorted with C key functions (no Python call per message).

    `in_place_order`: `messages` are in file and line order already (`in_file_order`): a
    stable sort by time alone then gives that order, without a key tuple per message and
    their comparisons (a third of the cost), and the untimed ones keep theirs."""
    timed = [m for m in messages if m.time is not None]
    by_time = _TIME if in_place_order else _BY_TIME
    if len(timed) == len(messages):
        return sorted(messages, key=by_time)
    untimed = [m for m in messages if m.time is None]
    return sorted(timed, key=by_time) + (
        untimed if in_place_order else sorted(untimed, key=_BY_PLACE)
    )


def in_file_order(by_file: Mapping[str, list[HttpMessage]]) -> list[HttpMessage]:
    """The messages of `by_file` (each file's own) by file name, then line: a reader keeps its
    file's messages in line order, which is checked (a pass in C) rather than sorted again."""
    ordered: list[HttpMessage] = []
    for name in sorted(by_file):
        listed = by_file[name]
        lines = list(map(_LINE, listed))
        ordered += (
            listed if all(map(le, lines, islice(lines, 1, None))) else sorted(listed, key=_LINE)
        )
    return ordered


def client_of(message: HttpMessage, roles: Mapping[str, str]) -> str:
    """The client address a message names; "" when it names none."""
    if message.client_ip:
        return _ip(message.client_ip.strip())[:64]
    if message.forwarded_for or message.request_client:  # (most messages name neither)
        for address in f"{message.forwarded_for},{message.request_client}".split(","):
            address = address.strip()
            if address and not _loopback(address):
                return _ip(address)[:64]
    # a request received, or a response sent (not a note): the other side may be the client
    if message.method is not None:
        if message.direction != "in":
            return ""
    elif message.direction != "out" or message.source == "note":
        return ""
    peer = message.peer
    if peer and not _loopback(peer) and roles.get(message.node, "") != "Expressway-C":
        return _ip(peer)[:64]
    return ""


def group_attempts(
    messages: list[HttpMessage],
    products: Mapping[str, str | None],
    *,
    in_place_order: bool = False,
) -> tuple[list[Attempt], int]:
    """Attempts in time order, and how many attempts past MAX_ATTEMPTS were left out
    (`in_place_order`: see in_time_order)."""
    roles = {node: product or "" for node, product in products.items()}
    ordered = in_time_order(messages, in_place_order=in_place_order)
    clients = [client_of(m, roles) for m in ordered]
    if loops is not None:
        groups = loops.signin_groups(_GROUP_SLOTS, ordered, clients, ATTEMPT_GAP, UNKNOWN_CLIENT)
    else:
        groups = client_groups_in_python(ordered, clients)
    left_out = max(0, len(groups) - MAX_ATTEMPTS)
    groups.sort(key=lambda item: _sort_key(item[1][0]))
    attempts = [
        _attempt(number, client, group)
        for number, (client, group) in enumerate(groups[:MAX_ATTEMPTS], start=1)
    ]
    return attempts, left_out


def client_groups_in_python(
    ordered: list[HttpMessage], clients: list[str]
) -> list[tuple[str, list[HttpMessage]]]:
    """The messages `ordered` (in time order) grouped per client and attempt, in the order the
    attempts start: a message that names no client (`clients`, one per message, "" for none)
    takes the client of a message with its TrackingID, else of its user, else UNKNOWN_CLIENT;
    a client's messages more than ATTEMPT_GAP apart start a new attempt (the reference of
    app._native.signin_groups)."""
    by_tracking: dict[str, str] = {}
    by_user: dict[str, str] = {}
    for message, client in zip(ordered, clients, strict=True):
        if client:
            if message.tracking_id:
                by_tracking.setdefault(message.tracking_id, client)
            if message.request_tracking:
                by_tracking.setdefault(message.request_tracking, client)
            if message.user:
                by_user.setdefault(message.user, client)
    open_groups: dict[str, list[HttpMessage]] = {}
    last_time: dict[str, datetime] = {}
    groups: list[tuple[str, list[HttpMessage]]] = []
    for message, client in zip(ordered, clients, strict=True):
        client = (
            client
            or by_tracking.get(message.tracking_id or message.request_tracking, "")
            or by_user.get(message.user, "")
            or UNKNOWN_CLIENT
        )
        group = open_groups.get(client)
        previous = last_time.get(client)
        if group is None or (
            message.time is not None
            and previous is not None
            and message.time - previous > ATTEMPT_GAP
        ):
            group = []
            open_groups[client] = group
            groups.append((client, group))
        group.append(message)
        if message.time is not None:
            last_time[client] = message.time
    return groups


def _attempt(number: int, client: str, messages: list[HttpMessage]) -> Attempt:
    if loops is not None:
        facts = loops.signin_steps(_STEP_SLOTS, messages, _STEP_NAMES, _steps_of_path, _TFTP_PORTS)
    else:
        facts = attempt_facts_in_python(messages)
    steps, last_response, note_messages, agent, user, nodes, started, ended = facts
    failed_note = note_messages[0] if note_messages else None
    failures = [
        (step, m) for step, m in last_response.items() if m.status is not None and m.status >= 400
    ]
    failures.sort(key=lambda item: _sort_key(item[1]))
    if failures:
        step, first = failures[0]
        outcome, failed_step, status, reason = "failed", step, first.status, first.reason
    elif failed_note is not None:
        outcome, failed_step, status, reason = "failed", "UDS", None, failed_note.detail
    elif last_response:
        outcome, failed_step, status, reason = "succeeded", "", None, ""
    else:
        outcome, failed_step, status, reason = "no response logged", "", None, ""
    notes = [f"{m.detail} ({m.user})" if m.user else m.detail for m in note_messages]
    kept = messages[:MAX_ATTEMPT_MESSAGES]
    return Attempt(
        number=number,
        client=client,
        user=user or "",
        started_at=started,
        ended_at=ended,
        outcome=outcome,
        failed_step=failed_step,
        failed_status=status,
        failed_reason=reason,
        steps=list(steps),
        nodes=nodes,
        user_agent=agent or "",
        messages=kept,
        omitted=len(messages) - len(kept),
        notes=list(dict.fromkeys(notes))[:20],
    )


def attempt_facts_in_python(messages: list[HttpMessage]) -> AttemptFacts:
    """What an attempt's messages tell, in one pass: its steps (in the order they first show),
    the last response of each step, its notes, the User-Agent of its first request that names
    one, the first user named, its nodes (in the order they show), its earliest and latest
    time (None where none is). The reference of app._native.signin_steps."""
    last_response: dict[str, HttpMessage] = {}
    steps: dict[str, None] = {}
    notes: list[HttpMessage] = []
    agent = user = None
    times = list(filter(None, map(_TIME, messages)))  # (a datetime is never false)
    for message in messages:
        if agent is None and message.method is not None and message.user_agent:
            agent = message.user_agent
        if user is None and message.user:
            user = message.user
        step = step_of(message)
        steps[step] = None
        if message.source == "note":  # (is_note)
            notes.append(message)
        elif message.method is None and message.status is not None:  # a response
            last_response[step] = message
    nodes = list(dict.fromkeys(map(_NODE, messages)))
    started, ended = (min(times), max(times)) if times else (None, None)
    return steps, last_response, notes, agent, user, nodes, started, ended


# --- the ladder ----------------------------------------------------------------------------

_RANK = {"client": 0, "Expressway-E": 1, "node": 2, "Expressway-C": 3, "server": 4}
_SERVER_LABELS = {
    "UDS": "Unified CM",
    "OAuth": "Unified CM",
    "TFTP config": "Unified CM",
    "voicemail": "Unity Connection",
    "IM and Presence": "IM and Presence",
    "SSO": "Identity provider",
}


def label(message: HttpMessage) -> str:
    if message.is_note:
        return message.detail[:60]
    if message.is_request:
        return f"{message.method or '?'} {message.path or '(path not logged)'}"
    if message.status is None:
        return "response (status not logged)"
    return f"{message.status} {message.reason}".strip()


def status_class(message: HttpMessage) -> str:
    if message.is_note:
        return "error"
    if message.is_request or message.status is None:
        return "request"
    if message.status < 200 or 300 <= message.status < 400:
        return "1xx"
    if message.status < 300:
        return "2xx"
    return "error"


def lay_out(attempt: Attempt, products: Mapping[str, str | None]) -> tuple[Ladder, list[int]]:
    """Client → Expressway-E → Expressway-C → UC servers, one arrow per logged message, and
    the arrow number of each of the attempt's messages (a message both Expressways logged is
    one arrow)."""
    keys: dict[str, tuple[int, str, str]] = {}  # key → (rank, address, label)
    nodes_by_role: dict[str, str] = {}
    for node in attempt.nodes:
        product = products.get(node) or ""
        if product in ("Expressway-E", "Expressway-C"):
            nodes_by_role.setdefault(product, node)

    def node_key(node: str) -> str:
        product = products.get(node) or ""
        rank = _RANK.get(product, _RANK["node"])
        key = f"node:{node}"
        keys.setdefault(key, (rank, "", f"{node} ({product or 'this node'})"))
        return key

    def tunnel_key(role: str) -> str:
        node = nodes_by_role.get(role)
        if node is not None:
            return node_key(node)
        key = f"tunnel:{role}"
        keys.setdefault(key, (_RANK[role], "via the SSH tunnel", f"{role} (not in this upload)"))
        return key

    def peer_key(message: HttpMessage) -> str:
        role = products.get(message.node) or ""
        client_side = (message.direction == "in" and message.is_request) or (
            message.direction == "out" and not message.is_request
        )
        if client_side:
            if role == "Expressway-C" or (_loopback(message.peer) and role != "Expressway-E"):
                return tunnel_key("Expressway-E")
            client = attempt.client
            key = f"client:{client}"
            agent = f" ({attempt.user_agent[:30]})" if attempt.user_agent else ""
            keys.setdefault(key, (_RANK["client"], client, f"Client{agent}"))
            return key
        if _loopback(message.peer) or role == "Expressway-E":
            return tunnel_key("Expressway-C")
        target = target_of(message) or message.peer or "server"
        name = _SERVER_LABELS.get(step_of(message), "UC server")
        key = f"server:{target}"
        keys.setdefault(key, (_RANK["server"], target, name))
        return key

    arrows: list[Arrow] = []
    ends: list[tuple[str, str]] = []
    firsts: list[HttpMessage] = []  # the message each arrow draws
    numbers: list[int] = []
    previous: datetime | None = None
    for message in attempt.messages:
        here = node_key(message.node)
        if message.is_note:
            src = dst = here
        else:
            other = peer_key(message)
            src, dst = (other, here) if message.direction == "in" else (here, other)
        if _same_as_before(firsts, ends, src, dst, message):
            numbers.append(len(arrows))  # the copy logged by the node at the other end
            continue
        delta = None
        if message.time is not None and previous is not None:
            delta = round((message.time - previous).total_seconds() * 1000)
        previous = message.time or previous
        arrows.append(
            Arrow(
                number=len(arrows) + 1,
                time=message.time,
                delta_ms=delta,
                src=0,
                dst=0,
                label=label(message)[:80],
                klass=status_class(message),
                retransmission=False,
            )
        )
        ends.append((src, dst))
        firsts.append(message)
        numbers.append(len(arrows))
    ordered = sorted(keys, key=lambda key: (keys[key][0], list(keys).index(key)))
    index = {key: position for position, key in enumerate(ordered)}
    for arrow, (src, dst) in zip(arrows, ends, strict=True):
        arrow.src, arrow.dst = index[src], index[dst]
    columns = [Column(key, keys[key][1], keys[key][2]) for key in ordered]
    return Ladder(columns, arrows), numbers


def _same_as_before(
    firsts: list[HttpMessage], ends: list[tuple[str, str]], src: str, dst: str, message: HttpMessage
) -> bool:
    """The same message logged by both Expressways (E sent it, C received it): one arrow."""
    if not firsts or ends[-1] != (src, dst):
        return False
    before = firsts[-1]
    if before.node == message.node:
        return False
    if label(before) != label(message):
        return False
    if before.time is None or message.time is None:
        return False
    return abs((message.time - before.time).total_seconds()) <= 2.0


def build(
    collector: SigninCollector,
    file_nodes: Mapping[str, str],
    products: Mapping[str, str | None],
) -> SigninResult:
    """The attempts of an analysis from what its files gave (nodes named, grouped, bounded)."""
    for name, listed in collector.messages.items():
        node = file_nodes.get(name, name)
        for message in listed:
            message.node = node
    messages = in_file_order(collector.messages)
    attempts, left_out = group_attempts(messages, products, in_place_order=True)
    return SigninResult(
        attempts=attempts,
        products=dict(products),
        messages=len(messages),
        dropped=collector.dropped,
        left_out=left_out,
    )
