"""Keep an analysis' MRA sign-in attempts as files in its directory and read them back.

<analysis>/signins/index.json              the attempts' summaries, the nodes' products
<analysis>/signins/attempts-<token>.jsonl  one line of messages per attempt (the index holds
                                           each line's offset and length: one attempt is read
                                           without reading the others)

Written once per run (after the run is saved); a run that did not extract them (call flows
off) leaves the files of an earlier run as they are.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.calls.signin_model import (
    Attempt,
    HttpMessage,
    SigninResult,
    message_from_json,
    message_to_json,
)
from app.errors import NotFound
from app.models import Analysis
from app.services import storage

log = logging.getLogger(__name__)
FORMAT = 1
INDEX = "index.json"
MAX_INDEX_BYTES = 64 * 2**20
MAX_ATTEMPT_BYTES = 64 * 2**20
NOT_EXTRACTED = (
    "MRA sign-ins were not extracted for this analysis: they are read with the call flows, "
    "which were off when it ran (LOUPE_CALL_FLOWS=false); set LOUPE_CALL_FLOWS=true (the "
    "default) and re-run."
)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def summary(attempt: Attempt) -> dict[str, Any]:
    return {
        "id": attempt.number,
        "client": attempt.client,
        "user": attempt.user or None,
        "started_at": _iso(attempt.started_at),
        "ended_at": _iso(attempt.ended_at),
        "outcome": attempt.outcome,
        "failed_step": attempt.failed_step or None,
        "failed_status": attempt.failed_status,
        "failed_reason": attempt.failed_reason or None,
        "steps": attempt.steps,
        "nodes": attempt.nodes,
        "user_agent": attempt.user_agent or None,
        "messages": attempt.message_count,
        "omitted": attempt.omitted,
        "notes": attempt.notes,
    }


def save(data_dir: Path, analysis_id: str, result: SigninResult | None) -> None:
    """Replace the analysis' sign-in files by `result`'s (None: not extracted, keep them)."""
    if result is None:
        return
    directory = storage.signins_dir(data_dir, analysis_id)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"attempts-{secrets.token_hex(6)}.jsonl"
    summaries = []
    offset = 0
    with open(directory / name, "wb") as out:
        for attempt in result.attempts:
            line = json.dumps([message_to_json(m) for m in attempt.messages]).encode() + b"\n"
            out.write(line)
            summaries.append({**summary(attempt), "offset": offset, "length": len(line)})
            offset += len(line)
    index = {
        "format": FORMAT,
        "attempts_file": name,
        "products": result.products,
        "messages": result.messages,
        "dropped": result.dropped,
        "left_out": result.left_out,
        "attempts": summaries,
    }
    storage.write_atomically(directory / INDEX, json.dumps(index).encode())
    for other in directory.glob("attempts-*.jsonl"):
        if other.name != name:
            other.unlink(missing_ok=True)


def save_quietly(data_dir: Path, analysis_id: str, result: SigninResult | None) -> bool:
    """`save`, a disk error logged (the run is saved; its sign-in view is then missing);
    False after such an error."""
    try:
        save(data_dir, analysis_id, result)
    except OSError as exc:
        log.warning("cannot keep the sign-ins of analysis %s: %s", analysis_id, exc)
        return False
    return True


def saved(data_dir: Path, analysis_id: str) -> bool:
    """Whether the analysis keeps the sign-ins of a run (its index file is there)."""
    return (storage.signins_dir(data_dir, analysis_id) / INDEX).is_file()


def _exists(session: Session, analysis_id: str) -> None:
    if session.get(Analysis, analysis_id) is None:
        raise NotFound(
            f"No analysis with id '{analysis_id}'. Check the link, or upload the bundle again."
        )


def load_index(session: Session, data_dir: Path, analysis_id: str) -> dict[str, Any] | None:
    """The analysis' index; None when no run extracted sign-ins."""
    _exists(session, analysis_id)
    path = storage.signins_dir(data_dir, analysis_id) / INDEX
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            return None
        index: dict[str, Any] = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return index if index.get("format") == FORMAT else None


@dataclass(frozen=True, slots=True)
class StoredAttempt:
    summary: dict[str, Any]
    messages: list[HttpMessage]
    products: dict[str, str | None]

    def attempt(self) -> Attempt:
        """The attempt again (for its ladder)."""
        s = self.summary
        return Attempt(
            number=s["id"],
            client=s["client"],
            user=s["user"] or "",
            started_at=_when(s["started_at"]),
            ended_at=_when(s["ended_at"]),
            outcome=s["outcome"],
            failed_step=s["failed_step"] or "",
            failed_status=s["failed_status"],
            failed_reason=s["failed_reason"] or "",
            steps=s["steps"],
            nodes=s["nodes"],
            user_agent=s["user_agent"] or "",
            messages=self.messages,
            omitted=s["omitted"],
            notes=s["notes"],
        )


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def get_attempt(session: Session, data_dir: Path, analysis_id: str, number: int) -> StoredAttempt:
    index = load_index(session, data_dir, analysis_id)
    if index is None:
        raise NotFound(NOT_EXTRACTED)
    attempts = index["attempts"]
    if not 1 <= number <= len(attempts):
        raise NotFound(f"Analysis {analysis_id} has no sign-in attempt {number}.")
    found = attempts[number - 1]
    path = storage.signins_dir(data_dir, analysis_id) / Path(index["attempts_file"]).name
    length = min(int(found["length"]), MAX_ATTEMPT_BYTES)
    try:
        with open(path, "rb") as source:
            source.seek(int(found["offset"]))
            raw = source.read(length)
        messages = [message_from_json(item) for item in json.loads(raw)]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise NotFound(
            f"The messages of sign-in attempt {number} are no longer stored; re-run the analysis."
        ) from exc
    return StoredAttempt(found, messages, index.get("products", {}))
