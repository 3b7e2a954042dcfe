"""The plain data of call flows: one SIP message, a call, a folded keep-alive row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.calls.interning import SharedText, slot_interner

BACKGROUND_METHODS = frozenset({"OPTIONS", "REGISTER", "SUBSCRIBE", "NOTIFY", "PUBLISH"})
"""Keep-alive and presence traffic: folded into one row per node, peer and method (see group)."""

NULL_SESSION_ID = "0" * 32
SHARED_SIP_FIELDS = (
    "file",
    "direction",
    "local",
    "remote",
    "call_id",
    "cseq_method",
    "method",
    "reason",
    "request_uri",
    "from_uri",
    "from_tag",
    "to_uri",
    "to_tag",
    "transport",
    "user_agent",
    "reason_header",
    "node",
    "session_ids",  # (a tuple of UUIDs: each interned)
)
"""SipMessage fields whose values repeat from message to message (interned once kept)."""


@dataclass(slots=True)
class SipMessage:
    """One SIP message an Expressway logged (summary line and, when logged, its SIPMSG block)."""

    time: datetime | None
    file: str  # BundleFile.name
    line: int  # 1-based: the header line of the SIPMSG block, else the summary line
    direction: str  # "in" (Received) | "out" (Sent)
    local: str  # "ip:port" of this node
    remote: str  # "ip:port" of the other side
    call_id: str
    cseq: int | None
    cseq_method: str  # the method the CSeq names (for responses: the request answered)
    method: str | None  # request method; None for a response
    status: int | None  # response code; None for a request
    reason: str = ""  # response reason phrase
    request_uri: str = ""
    from_uri: str = ""
    from_tag: str = ""
    to_uri: str = ""
    to_tag: str = ""
    session_ids: tuple[str, ...] = ()  # RFC 7989 UUIDs (local and remote), null ones left out
    transport: str = ""  # UDP | TCP | TLS, from the top Via
    user_agent: str = ""  # User-Agent (requests) or Server (responses)
    reason_header: str = ""  # Reason / Warning / ms-diagnostics, joined with " | "
    via_count: int = 0
    msg_hash: str = ""
    body_offset: int = -1  # byte offset of the SIPMSG block in the file; -1: none logged
    body_length: int = 0
    node: str = ""  # set once the node of the file is known

    def share_text(self, shared: SharedText | None = None) -> None:
        """Share the repeated text fields through the collector's table `shared` (see
        app.calls.interning; None: `sys.intern`): called once kept."""
        _SHARE_SIP(self, shared)

    @property
    def is_request(self) -> bool:
        return self.method is not None

    @property
    def label(self) -> str:
        """`INVITE` or `180 Ringing`."""
        if self.method is not None:
            return self.method
        return f"{self.status} {self.reason}".strip()

    @property
    def status_class(self) -> str:
        """request | 1xx | 2xx | error (3xx–6xx)."""
        if self.status is None:
            return "request"
        if self.status < 200:
            return "1xx"
        if self.status < 300:
            return "2xx"
        return "error"


_SHARE_SIP = slot_interner(SipMessage, SHARED_SIP_FIELDS)


@dataclass(slots=True)
class BackgroundRow:
    """Keep-alive traffic with one peer: counted, not kept message by message."""

    node: str  # filled from the file once nodes are known
    file: str
    peer: str
    method: str
    count: int = 0
    failures: int = 0  # final responses 3xx–6xx other than 401/407 challenges
    statuses: dict[str, int] = field(default_factory=dict)  # response code → count
    first: datetime | None = None
    last: datetime | None = None
    line: int = 0  # first message's line, to open the log there


@dataclass(slots=True)
class Call:
    """Messages of one call on one or more nodes, in time order, and what they add up to."""

    number: int  # 1-based, stable within an analysis (the {call} of the URLs)
    call_ids: list[str]
    method: str
    from_uri: str
    to_uri: str
    started_at: datetime | None
    ended_at: datetime | None
    final_status: str  # "200 OK", "408 Request Timeout", "" when no final response was logged
    failed: bool
    end_reason: str
    nodes: list[str]
    joined_by: str | None  # "call-id", "session-id", "call-id+session-id"; None: one leg
    messages: list[SipMessage]
    omitted: int = 0  # messages past MAX_CALL_MESSAGES (app/calls/group.py): counted, not kept

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()
