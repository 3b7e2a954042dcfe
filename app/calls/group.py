"""Group SIP messages into calls: by Call-ID on a node, joined across nodes and legs.

Legs are (node, Call-ID) pairs. Two legs are one call when they share the Call-ID (a proxy such
as the Expressway passes it on, so the same call shows on the C and the E node), or a non-null
RFC 7989 Session-ID UUID (end to end, kept by B2BUAs such as Unified CM that write a new
Call-ID). `Call.joined_by` names the rules that joined something. Keep-alive rows are merged per
node, peer and method.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from operator import attrgetter

from app.calls.interning import slot_descriptors
from app.calls.model import BackgroundRow, Call, SipMessage
from app.native import loops

MAX_LEGS_PER_SESSION = 32
"""A Session-ID shared by more legs than this is not used to join (a broken or shared UUID)."""
MAX_CALL_MESSAGES = 5000
"""Messages kept per call (the first ones); a runaway dialog beyond that is only counted."""
CHALLENGES = (401, 407)
REASONS = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    420: "Bad Extension",
    422: "Session Interval Too Small",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


class _Joiner:
    """Union-find over legs that remembers which rule joined what."""

    def __init__(self, count: int) -> None:
        self.parent = list(range(count))
        self.rules: dict[int, set[str]] = {}

    def root(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def join(self, a: int, b: int, rule: str) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra == rb:
            return
        self.parent[rb] = ra
        self.rules.setdefault(ra, set()).update(self.rules.pop(rb, set()), {rule})


_NEVER = datetime.max.replace(tzinfo=UTC)


def _sort_key(message: SipMessage) -> tuple[datetime, str, int]:
    return (message.time or _NEVER, message.file, message.line)


def build_calls(
    messages: Mapping[str, Iterable[SipMessage]], file_nodes: Mapping[str, str]
) -> list[Call]:
    """Calls from the messages of each file; `file_nodes` maps a file name to its node.

    Messages of files not in `file_nodes`, and messages without a Call-ID, are left out.
    """
    legs: dict[tuple[str, str], list[SipMessage]] = {}
    for file_name, found in messages.items():
        node = file_nodes.get(file_name)
        if node is None:
            continue
        for message in found:
            if not message.call_id:
                continue
            message.node = node
            if message.status is not None and not message.reason:
                message.reason = REASONS.get(message.status, "")
            legs.setdefault((node, message.call_id), []).append(message)
    keys = list(legs)
    joiner = _Joiner(len(keys))
    first_by_call_id: dict[str, int] = {}
    by_session: dict[str, list[int]] = {}
    for index, (_node, call_id) in enumerate(keys):
        if call_id in first_by_call_id:
            joiner.join(first_by_call_id[call_id], index, "call-id")
        else:
            first_by_call_id[call_id] = index
        uuids = {uuid for message in legs[keys[index]] for uuid in message.session_ids}
        for uuid in uuids:
            by_session.setdefault(uuid, []).append(index)
    for members in by_session.values():
        if 1 < len(members) <= MAX_LEGS_PER_SESSION:
            for other in members[1:]:
                joiner.join(members[0], other, "session-id")
    components: dict[int, list[int]] = {}
    for index in range(len(keys)):
        components.setdefault(joiner.root(index), []).append(index)
    calls = []
    for root, members in components.items():
        found = sorted((m for index in members for m in legs[keys[index]]), key=_sort_key)
        rules = joiner.rules.get(root)
        calls.append(_summarise(found, "+".join(sorted(rules)) if rules else None))
    calls.sort(key=lambda call: (call.started_at or _NEVER, call.call_ids))
    for number, call in enumerate(calls, start=1):
        call.number = number
    return calls


def _final(found: list[SipMessage], method: str) -> SipMessage | None:
    finals = [
        m for m in found if m.status is not None and m.status >= 200 and m.cseq_method == method
    ]
    success = next((m for m in finals if m.status is not None and m.status < 300), None)
    if success is not None:
        return success
    real = [m for m in finals if m.status not in CHALLENGES]
    chosen = real or finals
    return chosen[-1] if chosen else None


def _enders(found: list[SipMessage]) -> tuple[SipMessage | None, SipMessage | None, str]:
    """The first BYE, the first CANCEL before it, the first Reason / Warning / ms-diagnostics
    before it ("" for none)."""
    bye = cancel = None
    reason = ""
    for m in found:  # (one pass: the first BYE, the first CANCEL, the first reason)
        if m.method == "BYE":
            bye = m
            break
        if m.method == "CANCEL" and cancel is None:
            cancel = m
        if m.reason_header and not reason:
            reason = m.reason_header
    return bye, cancel, reason


def _end_reason(
    bye: SipMessage | None,
    cancel: SipMessage | None,
    reason: str,
    final: SipMessage | None,
    failed: bool,
) -> str:
    for method, ender in (("BYE", bye), ("CANCEL", cancel)):
        if ender is not None:
            who = ender.remote if ender.direction == "in" else ender.node
            text = f"{method} from {who}"
            return f"{text} ({ender.reason_header})" if ender.reason_header else text
    if failed and final is not None:
        text = final.label
        return f"{text} ({final.reason_header})" if final.reason_header else text
    return reason


_CALL_ID = attrgetter("call_id")
_NODE = attrgetter("node")
_FACT_SLOTS = slot_descriptors(
    SipMessage,
    (
        "method",
        "cseq_method",
        "status",
        "time",
        "call_id",
        "node",
        "from_uri",
        "to_uri",
        "reason_header",
    ),
)
_FACT_NAMES = ("INVITE", "ACK", "BYE", "CANCEL", "")
CallFacts = tuple[
    SipMessage,  # the first INVITE, else the first request but ACK, else the first message
    SipMessage | None,  # the final response to the first's method (see _final)
    datetime | None,  # the earliest time
    datetime | None,  # the latest time
    list[str],  # Call-IDs, in the order they show
    list[str],  # nodes, in the order they show
    str,  # the first From URI ("" for none)
    str,  # the first To URI ("" for none)
    SipMessage | None,  # the first BYE
    SipMessage | None,  # the first CANCEL before it
    str,  # the first Reason / Warning / ms-diagnostics before it ("" for none)
]


def call_facts_in_python(found: list[SipMessage]) -> CallFacts:
    """What a call's messages `found` (in time order) add up to, for _summarise (the reference
    of app._native.call_facts)."""
    first = None  # the first INVITE, else the first request but ACK, else the first message
    for m in found:
        if m.method is not None and m.method != "ACK":
            if m.method == "INVITE":
                first = m
                break
            first = first or m
    first = first or found[0]
    times = [m.time for m in found if m.time is not None]
    return (
        first,
        _final(found, first.method or first.cseq_method),
        min(times) if times else None,
        max(times) if times else None,
        list(dict.fromkeys(map(_CALL_ID, found))),
        list(dict.fromkeys(map(_NODE, found))),
        next((m.from_uri for m in found if m.from_uri), ""),
        next((m.to_uri for m in found if m.to_uri), ""),
        *_enders(found),
    )


def _summarise(found: list[SipMessage], joined_by: str | None) -> Call:
    omitted = max(0, len(found) - MAX_CALL_MESSAGES)
    found = found[:MAX_CALL_MESSAGES]
    if loops is not None:
        facts: CallFacts = loops.call_facts(_FACT_SLOTS, found, _FACT_NAMES)
    else:
        facts = call_facts_in_python(found)
    first, final, started, ended, call_ids, nodes, from_any, to_any, bye, cancel, reason = facts
    method = first.method or first.cseq_method
    failed = final is not None and final.status is not None and final.status >= 300
    return Call(
        number=0,
        call_ids=call_ids,
        method=method,
        from_uri=first.from_uri or from_any,
        to_uri=first.to_uri or first.request_uri or to_any,
        started_at=started,
        ended_at=ended,
        final_status=final.label if final is not None else "",
        failed=failed,
        end_reason=_end_reason(bye, cancel, reason, final, failed),
        nodes=nodes,
        joined_by=joined_by,
        messages=found,
        omitted=omitted,
    )


def merge_background(
    rows: Iterable[BackgroundRow], file_nodes: Mapping[str, str]
) -> list[BackgroundRow]:
    """One row per node, peer and method (a node's rotated logs add up), busiest first."""
    merged: dict[tuple[str, str, str], BackgroundRow] = {}
    for row in rows:
        node = file_nodes.get(row.file)
        if node is None:
            continue
        key = (node, row.peer, row.method)
        into = merged.get(key)
        if into is None:
            row.node = node
            merged[key] = row
            continue
        into.count += row.count
        into.failures += row.failures
        for code, count in row.statuses.items():
            into.statuses[code] = into.statuses.get(code, 0) + count
        for when in (row.first, row.last):
            if when is not None:
                into.first = when if into.first is None or when < into.first else into.first
                into.last = when if into.last is None or when > into.last else into.last
    # busiest first: (-failures, -count, node, peer, method) as two stable sorts with C keys
    busiest = sorted(merged.values(), key=_BY_NAME)
    busiest.sort(key=_BY_LOAD, reverse=True)  # (reverse keeps equal rows in their order)
    return busiest


_BY_NAME = attrgetter("node", "peer", "method")
_BY_LOAD = attrgetter("failures", "count")
