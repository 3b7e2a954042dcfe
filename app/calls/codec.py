"""SipMessage ↔ the compact row stored per message: a JSON list in a fixed field order.

A list (not a dict) keeps 20,000 calls small and fast to store; `FIELDS` fixes the order.
Older rows with fewer items decode with the defaults of the missing fields.
"""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import Any

from app.calls.model import BackgroundRow, Call, SipMessage

FIELDS = (
    "file",
    "line",
    "direction",
    "local",
    "remote",
    "call_id",
    "cseq",
    "cseq_method",
    "method",
    "status",
    "reason",
    "request_uri",
    "from_uri",
    "from_tag",
    "to_uri",
    "to_tag",
    "transport",
    "user_agent",
    "reason_header",
    "via_count",
    "msg_hash",
    "body_offset",
    "body_length",
    "node",
)
_DEFAULTS: dict[str, Any] = {
    "cseq": None,
    "method": None,
    "status": None,
    "line": 0,
    "via_count": 0,
    "body_offset": -1,
    "body_length": 0,
}
_GET = attrgetter(*FIELDS)


def encode(message: SipMessage) -> list[Any]:
    """[time, session ids, *FIELDS] of a message."""
    when = message.time.isoformat() if message.time is not None else None
    return [when, list(message.session_ids), *_GET(message)]


def decode(data: list[Any]) -> SipMessage:
    when, sessions, *values = data
    fields = {name: _DEFAULTS.get(name, "") for name in FIELDS}
    fields.update(zip(FIELDS, values, strict=False))
    return SipMessage(
        time=datetime.fromisoformat(when) if isinstance(when, str) else None,
        session_ids=tuple(sessions or ()),
        **fields,
    )


def call_summary(call: Call) -> dict[str, Any]:
    """A call as the list API gives it (`GET /api/v1/analyses/{id}/calls`)."""
    return {
        "id": call.number,
        "call_ids": call.call_ids,
        "method": call.method,
        "from": call.from_uri,
        "to": call.to_uri,
        "started_at": call.started_at.isoformat() if call.started_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "duration_seconds": call.duration_seconds,
        "final_status": call.final_status,
        "failed": call.failed,
        "end_reason": call.end_reason,
        "nodes": call.nodes,
        "messages": len(call.messages),
        "joined_by": call.joined_by,
    }


def background_summary(row: BackgroundRow) -> dict[str, Any]:
    """A keep-alive row as the list API gives it (`"background"`), and `loupe calls --json`."""
    return {
        "node": row.node,
        "peer": row.peer,
        "method": row.method,
        "count": row.count,
        "failures": row.failures,
        "statuses": row.statuses,
        "first_seen": row.first.isoformat() if row.first else None,
        "last_seen": row.last.isoformat() if row.last else None,
        "file": row.file,
        "line": row.line,
    }
