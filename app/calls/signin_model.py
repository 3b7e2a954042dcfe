"""The plain data of MRA sign-ins: one HTTP message, one attempt, what an analysis found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.calls.interning import SharedText, slot_interner


@dataclass(slots=True)
class HttpMessage:
    """One HTTP message (or note) of a sign-in, as one Expressway logged it."""

    time: datetime | None
    file: str
    line: int  # 1-based line of the header line
    source: str  # trafficserver | edgeconfig | event | note
    direction: str  # "in" (Received) | "out" (Sent) | "" (a note)
    peer: str  # "ip:port" (or host:port) of the other side; "" when not logged
    method: str | None = None  # request method; None for a response or a note
    path: str = ""  # URL path and query, sensitive values REDACTED
    status: int | None = None
    reason: str = ""
    txn_id: str = ""
    tracking_id: str = ""
    host: str = ""
    user_agent: str = ""
    client_ip: str = ""
    forwarded_for: str = ""
    server: str = ""
    content_type: str = ""
    www_authenticate: str = ""
    location: str = ""
    set_cookie: str = ""
    user: str = ""  # from the UDS path or a Username= field
    detail: str = ""  # a note's text
    cut: bool = False  # the HTTPMSG block ended with the log (no closing `|`)
    request_client: str = ""  # a response: the client its request named (same Txn-id)
    request_tracking: str = ""  # a response: its request's TrackingID
    node: str = ""  # set once the node of the file is known

    def share_text(self, shared: SharedText | None = None) -> None:
        """Share the text fields through the collector's table `shared` (see
        app.calls.interning; None: `sys.intern`): called once kept."""
        _SHARE_HTTP(self, shared)

    @property
    def is_request(self) -> bool:
        return self.method is not None

    @property
    def is_note(self) -> bool:
        return self.source == "note"


SHARED_HTTP_FIELDS = tuple(
    name for name in HttpMessage.__slots__ if name not in ("time", "line", "status", "cut")
)
"""HttpMessage text fields (interned once kept: their values repeat from message to message)."""
_SHARE_HTTP = slot_interner(HttpMessage, SHARED_HTTP_FIELDS)


@dataclass(slots=True)
class Attempt:
    number: int  # 1-based, the {attempt} of the URLs
    client: str
    user: str
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str  # failed | succeeded | no response logged
    failed_step: str
    failed_status: int | None
    failed_reason: str
    steps: list[str]
    nodes: list[str]
    user_agent: str
    messages: list[HttpMessage]
    omitted: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def message_count(self) -> int:
        return len(self.messages) + self.omitted


@dataclass(slots=True)
class SigninResult:
    """The sign-in attempts of an analysis (None on a Report: not extracted)."""

    attempts: list[Attempt]
    products: dict[str, str | None]  # node → product
    messages: int  # messages kept
    dropped: int  # messages past the budget (counted only)
    left_out: int  # attempts past MAX_ATTEMPTS


def message_to_json(message: HttpMessage) -> dict[str, Any]:
    """A message as stored and as the API gives it (time in ISO 8601, UTC)."""
    out = {name: getattr(message, name) for name in HttpMessage.__slots__}
    out["time"] = message.time.isoformat() if message.time is not None else None
    return out


def message_from_json(data: dict[str, Any]) -> HttpMessage:
    values = {name: data[name] for name in HttpMessage.__slots__ if name in data}
    time = values.get("time")
    values["time"] = datetime.fromisoformat(time) if isinstance(time, str) else None
    return HttpMessage(**values)
