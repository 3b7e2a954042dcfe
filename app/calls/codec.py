"""SipMessage ↔ the compact dict stored per message (short keys: 20,000 calls stay small)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.calls.model import SipMessage

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
