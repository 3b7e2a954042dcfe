"""SipMessage ↔ the compact dict stored per message (short keys: 20,000 calls stay small)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.calls.model import Call, SipMessage

_FIELDS = {  # attribute → stored key; empty strings and defaults are left out
    "file": "f",
    "line": "l",
    "direction": "d",
    "local": "lo",
    "remote": "r",
    "call_id": "c",
    "cseq": "s",
    "cseq_method": "cm",
    "method": "m",
    "status": "st",
    "reason": "rs",
    "request_uri": "ru",
    "from_uri": "fu",
    "from_tag": "ft",
    "to_uri": "tu",
    "to_tag": "tt",
    "transport": "tr",
    "user_agent": "ua",
    "reason_header": "rh",
    "via_count": "v",
    "msg_hash": "h",
    "body_offset": "o",
    "body_length": "bl",
    "node": "n",
}
_DEFAULTS: dict[str, Any] = {"body_offset": -1, "body_length": 0, "via_count": 0}


def encode(message: SipMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"t": message.time.isoformat() if message.time else None}
    for attribute, key in _FIELDS.items():
        value = getattr(message, attribute)
        if value not in (None, "") and value != _DEFAULTS.get(attribute):
            out[key] = value
    if message.session_ids:
        out["si"] = list(message.session_ids)
    return out


def decode(data: dict[str, Any]) -> SipMessage:
    when = data.get("t")
    values: dict[str, Any] = {
        attribute: data.get(key, _DEFAULTS.get(attribute, "")) for attribute, key in _FIELDS.items()
    }
    for attribute in ("cseq", "method", "status"):
        values[attribute] = data.get(_FIELDS[attribute])
    return SipMessage(
        time=datetime.fromisoformat(when) if isinstance(when, str) else None,
        session_ids=tuple(data.get("si", ())),
        **values,
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
