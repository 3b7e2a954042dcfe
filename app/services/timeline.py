"""The timeline of an analysis: per node and UTC minute, lines, errors and warnings; alarms,
markers and findings (first to last seen).

The counts are computed once, on first view, from the stored files (app.search.timeline: one
block pass per file, no per-line Python) and kept as JSON in the analysis' data dir; a later
view reads that file. Findings come from the current run at each view (re-runs change them).
Computing on first view rather than in the analysis pass keeps the signature scan untouched.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bundle.stored import original_size
from app.errors import LoupeError
from app.models import BundleFileRow, FindingRow, Node
from app.search.timeline import count_file
from app.services import analyses, storage
from app.web import logview

FORMAT = 1
LOG_KINDS = frozenset({"loggingsnapshot", "log"})


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _minute_iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%MZ")


def log_files(session: Session, analysis_id: str, data_dir: Path) -> list[tuple[str, str, Path]]:
    """(node, file name, path) of each log file, by node position then name."""
    nodes = {
        node.bundle: (node.position, node.hostname or node.bundle)
        for node in session.scalars(select(Node).where(Node.analysis_id == analysis_id))
    }
    found = []
    rows = session.scalars(select(BundleFileRow).where(BundleFileRow.analysis_id == analysis_id))
    for row in rows:
        if row.kind not in LOG_KINDS:
            continue
        try:
            path = storage.stored_file(data_dir, row.storage_path)
        except LoupeError:
            continue
        if not path.is_file() or logview.looks_binary(path):
            continue
        position, node = nodes.get(row.bundle, (len(nodes), row.bundle))
        found.append((position, node, row.name, path))
    found.sort(key=lambda item: (item[0], item[2]))
    return [(node, name, path) for _, node, name, path in found]


def _signature(files: list[tuple[str, str, Path]]) -> dict[str, list[int]]:
    signature = {}
    for _, name, path in files:
        stat = path.stat()
        signature[name] = [stat.st_size, stat.st_mtime_ns]
    return signature


def _compute(files: list[tuple[str, str, Path]], seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    per_node: dict[str, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    complete = True
    for node, name, path in files:
        counts = count_file(path, deadline=deadline)
        complete = complete and counts.complete
        entry = per_node.setdefault(node, {"node": node, "files": [], "minutes": {}})
        entry["files"].append([name, original_size(path)])
        for minute, values in counts.minutes.items():
            total = entry["minutes"].setdefault(minute, [0, 0, 0])
            for column in range(3):
                total[column] += values[column]
        for event in counts.events:
            events.append(
                {
                    "kind": event.kind,
                    "node": node,
                    "file": name,
                    "line": event.line,
                    "time": _iso(event.time),
                    "id": event.alarm_id,
                    "text": event.text,
                }
            )
    nodes = []
    for entry in per_node.values():
        biggest = max(entry["files"], key=lambda item: item[1])[0]
        nodes.append(
            {
                "node": entry["node"],
                "file": biggest,  # the file a click on this node's lane opens
                "minutes": [
                    {"minute": _minute_iso(m), "lines": v[0], "errors": v[1], "warnings": v[2]}
                    for m, v in sorted(entry["minutes"].items())
                ],
            }
        )
    events.sort(key=lambda e: (e["time"] or "", e["node"], e["line"]))
    return {"nodes": nodes, "events": events, "complete": complete}


def counts(session: Session, analysis_id: str, data_dir: Path, seconds: float) -> dict[str, Any]:
    """The file-derived part of the timeline: from the cache, or counted now and cached."""
    files = log_files(session, analysis_id, data_dir)
    signature = _signature(files)
    cache = storage.timeline_path(data_dir, analysis_id)
    try:
        cached = json.loads(cache.read_text("utf-8"))
        if cached.get("format") == FORMAT and cached.get("files") == signature:
            return dict(cached["data"])
    except (OSError, ValueError, AttributeError):
        pass
    data = _compute(files, seconds)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(f".{cache.name}.{secrets.token_hex(4)}")
    partial.write_text(json.dumps({"format": FORMAT, "files": signature, "data": data}), "utf-8")
    os.replace(partial, cache)
    return data


def findings(session: Session, analysis_id: str) -> list[dict[str, Any]]:
    """The current run's findings with when they were first and last seen."""
    analysis = analyses.get(session, analysis_id)
    run = analyses.shown_run(analysis)
    if run is None:
        return []
    rows = session.scalars(
        select(FindingRow).where(FindingRow.run_id == run.id).order_by(FindingRow.severity_rank)
    )
    return [
        {
            "signature_id": row.signature_id,
            "title": row.title,
            "severity": row.severity,
            "node": row.node,
            "count": row.count,
            "first_seen": row.first_seen,
            "last_seen": row.last_seen,
        }
        for row in rows
    ]


def view(session: Session, analysis_id: str, data_dir: Path, seconds: float) -> dict[str, Any]:
    """Everything the timeline shows, as the JSON twin returns it (NotFound for an unknown id)."""
    analyses.get(session, analysis_id)
    data = counts(session, analysis_id, data_dir, seconds)
    return {**data, "findings": findings(session, analysis_id)}
