"""The timeline of an analysis: per node and UTC minute, lines, errors and warnings; alarms,
markers and findings (first to last seen).

The counts are made by the analysis pass itself (app.search.timeline in the signature scan's
matcher threads, saved by `save_counts` as JSON next to the run's findings): showing a timeline
reads that file, never the logs. An analysis saved before the pass counted has no such file: its
counts are computed on first view from the stored files (the same counting, one block pass per
file) and cached in the analysis' data dir. Findings come from the current run at each view.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import LoupeError
from app.models import BundleFileRow, FindingRow, Node
from app.search.timeline import LOG_KINDS, FileCounts, count_file, counts_from_json
from app.services import analyses, storage
from app.web import logview

log = logging.getLogger(__name__)

FORMAT = 2  # of the cache made on first view (2: file sizes as stored)
SAVED_FORMAT = 1  # of the counts the analysis pass saved


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _minute_iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _log_rows(session: Session, analysis_id: str) -> list[tuple[str, str, int, str]]:
    """(node, file name, size, storage path) of each log file, by node position then name."""
    nodes = {
        node.bundle: (node.position, node.hostname or node.bundle)
        for node in session.scalars(select(Node).where(Node.analysis_id == analysis_id))
    }
    found = []
    rows = session.scalars(select(BundleFileRow).where(BundleFileRow.analysis_id == analysis_id))
    for row in rows:
        if row.kind not in LOG_KINDS:
            continue
        position, node = nodes.get(row.bundle, (len(nodes), row.bundle))
        found.append((position, node, row.name, row.size, row.storage_path))
    found.sort(key=lambda item: (item[0], item[2]))
    return [(node, name, size, stored) for _, node, name, size, stored in found]


def log_files(
    session: Session, analysis_id: str, data_dir: Path
) -> list[tuple[str, str, int, Path]]:
    """(node, file name, size, path) of each stored log file that is text, in _log_rows order."""
    found = []
    for node, name, size, stored in _log_rows(session, analysis_id):
        try:
            path = storage.stored_file(data_dir, stored)
        except LoupeError:
            continue
        if not path.is_file() or logview.looks_binary(path):
            continue
        found.append((node, name, size, path))
    return found


def _signature(files: list[tuple[str, str, int, Path]]) -> dict[str, list[int]]:
    signature = {}
    for _, name, _, path in files:
        stat = path.stat()
        signature[name] = [stat.st_size, stat.st_mtime_ns]
    return signature


def _assemble(files: Iterable[tuple[str, str, int, FileCounts]]) -> dict[str, Any]:
    """The file-derived part of the timeline from each log file's counts (node, name, size)."""
    per_node: dict[str, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    complete = True
    for node, name, size, counts in files:
        complete = complete and counts.complete
        entry = per_node.setdefault(node, {"node": node, "files": [], "minutes": {}})
        entry["files"].append([name, size])
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


def _compute(files: list[tuple[str, str, int, Path]], seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    return _assemble(
        (node, name, size, count_file(path, deadline=deadline)) for node, name, size, path in files
    )


def save_counts(data_dir: Path, analysis_id: str, files: Mapping[str, Any]) -> None:
    """Save what the analysis pass counted (Report.timeline), replacing an earlier run's.

    A file that cannot be written is no reason to lose the run: the timeline then counts the
    logs on first view, as for an analysis saved before the pass counted."""
    path = storage.timeline_counts_path(data_dir, analysis_id)
    try:
        body = json.dumps({"format": SAVED_FORMAT, "files": files}).encode()
        storage.write_atomically(path, body)
    except OSError as exc:
        log.warning("analysis %s: timeline counts not saved (%s)", analysis_id, exc)
        forget_counts(data_dir, analysis_id)


def forget_counts(data_dir: Path, analysis_id: str) -> None:
    """No saved counts (a run that did not count): the timeline counts on first view."""
    try:
        storage.timeline_counts_path(data_dir, analysis_id).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("analysis %s: earlier timeline counts not removed (%s)", analysis_id, exc)


def saved_counts(session: Session, analysis_id: str, data_dir: Path) -> dict[str, Any] | None:
    """The file-derived part of the timeline from the counts the analysis pass saved; None when
    there are none, or they do not cover every log file of the analysis (then count the files).
    Opens no log file."""
    try:
        saved = json.loads(storage.timeline_counts_path(data_dir, analysis_id).read_text("utf-8"))
        if saved.get("format") != SAVED_FORMAT:
            return None
        files = saved["files"]
        chosen = []
        for node, name, size, _ in _log_rows(session, analysis_id):
            if files[name] is not None:  # None: not a log (the viewer shows it as binary)
                chosen.append((node, name, size, counts_from_json(files[name])))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return _assemble(chosen)


def counts(session: Session, analysis_id: str, data_dir: Path, seconds: float) -> dict[str, Any]:
    """The file-derived part of the timeline: as the analysis pass saved it; for an analysis
    saved before the pass counted, from the first view's cache or counted now and cached."""
    saved = saved_counts(session, analysis_id, data_dir)
    if saved is not None:
        return saved
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
