"""Store an analysis' calls and read them back: a page of the list, one call, message texts."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, Table, delete, func, or_, select
from sqlalchemy.orm import Session

from app.bundle.stored import open_stored
from app.calls.codec import decode, encode
from app.calls.model import BackgroundRow, Call, SipMessage
from app.calls.reuse import KnownCalls
from app.calls.sipmsg import payload_lines
from app.errors import NotFound
from app.models import (
    Analysis,
    AnalysisRun,
    BundleFileRow,
    CallBackgroundRow,
    CallMessagesRow,
    CallRow,
    FindingRow,
    Node,
    SnippetRow,
)
from app.report import Report
from app.services import signins as signins_service
from app.services import storage
from app.services.rows import insert_rows

log = logging.getLogger(__name__)

MAX_SEARCH_CHARS = 20_000
SEARCHED_MESSAGES = 200  # the addresses and URIs of a call's first messages are searched
MAX_MESSAGE_BYTES = 256 * 1024  # of one message read back from its log for the ladder page
MAX_PAGE_TEXT_BYTES = 32 * 2**20  # of all the messages of one ladder page
MAX_QUERY_CHARS = 300  # a whole Call-ID (extraction keeps 300 characters of one)
MAX_BACKGROUND_ROWS = 500
INSERT_BATCH = 2000
LIST_COLUMNS = (
    CallRow.number,
    CallRow.call_ids,
    CallRow.method,
    CallRow.from_uri,
    CallRow.to_uri,
    CallRow.started_at,
    CallRow.ended_at,
    CallRow.final_status,
    CallRow.failed,
    CallRow.end_reason,
    CallRow.nodes,
    CallRow.message_count,
    CallRow.joined_by,
)


def _no_analysis(analysis_id: str) -> NotFound:
    return NotFound(
        f"No analysis with id '{analysis_id}'. Check the link, or upload the bundle again."
    )


def _exists(session: Session, analysis_id: str) -> None:
    if session.get(Analysis, analysis_id) is None:
        raise _no_analysis(analysis_id)


def search_text(call: Call) -> str:
    """What `?q=` looks in: URIs, Call-IDs, addresses and nodes, lower case."""
    values: dict[str, None] = dict.fromkeys([call.from_uri, call.to_uri, *call.call_ids])
    for message in call.messages[:SEARCHED_MESSAGES]:
        values[message.request_uri] = None
        values[message.from_uri] = None
        values[message.to_uri] = None
        values[message.local] = None
        values[message.remote] = None
        values[message.node] = None
    return "\n".join(v for v in values if v).lower()[:MAX_SEARCH_CHARS]


NOT_EXTRACTED = (
    "Call flows were not extracted for this analysis: they were off when it ran "
    "(LOUPE_CALL_FLOWS=false); set LOUPE_CALL_FLOWS=true (the default) and re-run."
)
NOT_DONE = "The analysis is {status}: its calls are listed once it is done."
ANALYSIS_FAILED = "The analysis failed, so no calls were extracted: see its page for the reason."


def save_calls(session: Session, analysis_id: str, report: Report) -> None:
    """Replace the analysis' calls and keep-alive rows by the report's (no commit).

    A report without calls (`calls` None: not extracted) leaves the rows of an earlier run that
    extracted them, and the analysis' `calls_extracted`, as they are.
    """
    if report.calls is None:
        return
    analysis = session.get(Analysis, analysis_id)
    if analysis is not None:
        analysis.calls_extracted = True
    session.execute(delete(CallMessagesRow).where(CallMessagesRow.analysis_id == analysis_id))
    session.execute(delete(CallRow).where(CallRow.analysis_id == analysis_id))
    session.execute(delete(CallBackgroundRow).where(CallBackgroundRow.analysis_id == analysis_id))
    connection = session.connection()
    calls_table: Table = CallRow.__table__  # type: ignore[assignment]
    messages_table: Table = CallMessagesRow.__table__  # type: ignore[assignment]
    background_table: Table = CallBackgroundRow.__table__  # type: ignore[assignment]
    calls = report.calls
    for start in range(0, len(calls), INSERT_BATCH):
        chosen = calls[start : start + INSERT_BATCH]
        # one executemany, then the new ids by call number (unique per analysis): RETURNING
        # in parameter order made SQLite insert one row per statement
        insert_rows(
            connection, calls_table, CALL_COLUMNS, [_call_row(analysis_id, c) for c in chosen]
        )
        numbers = [call.number for call in chosen]
        found = connection.execute(
            select(calls_table.c.number, calls_table.c.id).where(
                calls_table.c.analysis_id == analysis_id,
                calls_table.c.number.between(min(numbers), max(numbers)),
            )
        )
        ids: dict[int, int] = {row.number: row.id for row in found}
        insert_rows(
            connection,
            messages_table,
            ("call_id", "analysis_id", "messages"),
            [
                (ids[call.number], analysis_id, [encode(message) for message in call.messages])
                for call in chosen
            ],
        )
    background = [_background_row(analysis_id, row) for row in report.call_background]
    for start in range(0, len(background), INSERT_BATCH):
        insert_rows(
            connection,
            background_table,
            BACKGROUND_COLUMNS,
            background[start : start + INSERT_BATCH],
        )


CALL_COLUMNS = (
    "analysis_id",
    "number",
    "method",
    "from_uri",
    "to_uri",
    "started_at",
    "ended_at",
    "final_status",
    "failed",
    "end_reason",
    "nodes",
    "call_ids",
    "joined_by",
    "message_count",
    "search",
)
BACKGROUND_COLUMNS = (
    "analysis_id",
    "node",
    "peer",
    "method",
    "count",
    "failures",
    "statuses",
    "first_seen",
    "last_seen",
    "file",
    "line",
)


def _call_row(analysis_id: str, call: Call) -> tuple[Any, ...]:
    """A call's values in the order of CALL_COLUMNS."""
    return (
        analysis_id,
        call.number,
        call.method[:32],
        call.from_uri,
        call.to_uri,
        call.started_at,
        call.ended_at,
        call.final_status[:200],
        call.failed,
        call.end_reason,
        call.nodes,
        call.call_ids,
        call.joined_by,
        len(call.messages) + call.omitted,
        search_text(call),
    )


def _background_row(analysis_id: str, row: BackgroundRow) -> tuple[Any, ...]:
    """A keep-alive row's values in the order of BACKGROUND_COLUMNS."""
    return (
        analysis_id,
        row.node,
        row.peer,
        row.method[:32],
        row.count,
        row.failures,
        row.statuses,
        row.first,
        row.last,
        row.file,
        row.line,
    )


@dataclass(frozen=True)
class CallsPage:
    total: int
    number: int
    page_count: int
    calls: list[dict[str, Any]]  # LIST_COLUMNS by name
    background: list[CallBackgroundRow]
    methods: list[str]  # every method the analysis' calls start with (for the filter)


def _needle(q: str | None) -> str:
    return (q or "").strip().lower()[:MAX_QUERY_CHARS]


def _filtered(
    analysis_id: str, q: str | None, failed: bool | None, method: str | None
) -> Select[Any]:
    query: Select[Any] = select(*LIST_COLUMNS)  # type: ignore[assignment]
    query = query.where(CallRow.analysis_id == analysis_id)
    needle = _needle(q)
    if needle:
        query = query.where(CallRow.search.contains(needle, autoescape=True))
    if failed is not None:
        query = query.where(CallRow.failed.is_(failed))
    if method and method.strip():
        query = query.where(CallRow.method == method.strip().upper()[:32])
    return query


def _background(
    analysis_id: str, q: str | None, failed: bool | None, method: str | None
) -> Select[Any]:
    """The keep-alive rows the filters keep: method, failures (failed only), and the text in
    the node, peer or method."""
    query = select(CallBackgroundRow).where(CallBackgroundRow.analysis_id == analysis_id)
    needle = _needle(q)
    if needle:
        query = query.where(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (
                        CallBackgroundRow.node,
                        CallBackgroundRow.peer,
                        CallBackgroundRow.method,
                    )
                )
            )
        )
    if failed:
        query = query.where(CallBackgroundRow.failures > 0)
    if method and method.strip():
        query = query.where(CallBackgroundRow.method == method.strip().upper()[:32])
    return query


def list_calls(
    session: Session,
    analysis_id: str,
    *,
    q: str | None = None,
    failed: bool | None = None,
    method: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> CallsPage:
    """One page of the analysis' calls in time order, with the filters applied (a page past
    the last one is empty), and the keep-alive rows the same filters keep."""
    _exists(session, analysis_id)
    query = _filtered(analysis_id, q, failed, method)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page_count = max(1, -(-total // per_page))
    number = max(1, page)
    rows = session.execute(
        query.order_by(CallRow.number).offset((number - 1) * per_page).limit(per_page)
    ).mappings()
    background = session.scalars(
        _background(analysis_id, q, failed, method)
        .order_by(CallBackgroundRow.id)
        .limit(MAX_BACKGROUND_ROWS)
    ).all()
    methods = set(
        session.scalars(select(CallRow.method).where(CallRow.analysis_id == analysis_id).distinct())
    )
    methods.update(
        session.scalars(
            select(CallBackgroundRow.method)
            .where(CallBackgroundRow.analysis_id == analysis_id)
            .distinct()
        )
    )
    return CallsPage(
        total, number, page_count, [dict(r) for r in rows], list(background), sorted(methods)
    )


KEY_FILE_FORMAT = 1  # of calls-key.json (the key itself has its own, reuse.KEY_FORMAT)


def known_calls(session: Session, data_dir: Path, analysis_id: str) -> KnownCalls | None:
    """The calls and sign-ins the analysis keeps, with the key they were extracted under
    (app/calls/reuse.py), for a re-run that may keep them; None when it has none to keep: never
    extracted, its key missing or unreadable, or its sign-in files gone."""
    analysis = session.get(Analysis, analysis_id)
    if analysis is None or not analysis.calls_extracted:
        return None
    if not signins_service.saved(data_dir, analysis_id):
        return None
    try:
        body = json.loads(storage.calls_key_path(data_dir, analysis_id).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("format") != KEY_FILE_FORMAT:
        return None
    key, warnings = body.get("key"), body.get("warnings")
    if not isinstance(key, str) or not isinstance(warnings, list):
        return None
    if not all(isinstance(warning, str) for warning in warnings):
        return None
    return KnownCalls(key, tuple(warnings))


def forget_key(data_dir: Path, analysis_id: str) -> bool:
    """Remove the key of the stored calls (they are being replaced); False when it cannot be."""
    try:
        storage.calls_key_path(data_dir, analysis_id).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("analysis %s: the key of its earlier calls not removed (%s)", analysis_id, exc)
        return False
    return True


def keep_key(data_dir: Path, analysis_id: str, report: Report) -> None:
    """Record the key of the calls and sign-ins just stored from `report` (best effort: without
    it, the next re-run extracts them again)."""
    if report.calls_key is None:
        return
    body = {"format": KEY_FILE_FORMAT, "key": report.calls_key, "warnings": report.call_warnings}
    try:
        storage.write_atomically(
            storage.calls_key_path(data_dir, analysis_id), json.dumps(body).encode()
        )
    except OSError as exc:
        log.warning("analysis %s: the key of its calls not kept (%s)", analysis_id, exc)


def count_calls(session: Session, analysis_id: str) -> int:
    return session.scalar(select(func.count()).where(CallRow.analysis_id == analysis_id)) or 0


def extracted(session: Session, analysis_id: str) -> bool:
    """Whether a run of the analysis extracted its calls; NotFound without the analysis."""
    return why_no_calls(session, analysis_id) is None


def why_no_calls(session: Session, analysis_id: str) -> str | None:
    """None when a run of the analysis extracted its calls, else why the list is empty (still
    running, failed, or call flows off); NotFound without the analysis."""
    analysis = session.get(Analysis, analysis_id)
    if analysis is None:
        raise _no_analysis(analysis_id)
    if analysis.calls_extracted:
        return None
    if analysis.status in ("queued", "running"):
        return NOT_DONE.format(status=analysis.status)
    if analysis.status == "failed":
        return ANALYSIS_FAILED
    return NOT_EXTRACTED


@dataclass(frozen=True)
class StoredCall:
    row: CallRow
    messages: list[SipMessage]
    products: dict[str, str | None]  # node hostname (or upload name) → product


MAX_CALL_KEY_CHARS = 1000


def _unknown_call(session: Session, analysis_id: str, key: str) -> NotFound:
    shown = key if len(key) <= 80 else key[:80] + "…"
    text = (
        f"The analysis has no call '{shown}': name a call by its number in the call list "
        f"(/a/{analysis_id}/calls) or by one of its Call-IDs."
    )
    if not extracted(session, analysis_id):
        text = f"{text} {why_no_calls(session, analysis_id)}"
    return NotFound(text)


def call_number(session: Session, analysis_id: str, key: str | int) -> int:
    """The number of the call `key` names: its number, or one of its Call-IDs (exact, then
    ignoring case); NotFound (with a sentence) for any other key."""
    _exists(session, analysis_id)
    text = str(key).strip()
    if text.isascii() and text.isdigit() and len(text) <= 9:
        found = session.scalar(
            select(CallRow.number).where(
                CallRow.analysis_id == analysis_id, CallRow.number == int(text)
            )
        )
        if found is not None:
            return int(found)
    if text and len(text) <= MAX_CALL_KEY_CHARS:  # a Call-ID (some are digits only)
        rows = session.execute(
            select(CallRow.number, CallRow.call_ids)
            .where(
                CallRow.analysis_id == analysis_id,
                CallRow.search.contains(text.lower(), autoescape=True),
            )
            .order_by(CallRow.number)
            .limit(1000)
        ).all()
        for number, call_ids in rows:
            if text in call_ids:
                return int(number)
        for number, call_ids in rows:
            if text.lower() in (cid.lower() for cid in call_ids):
                return int(number)
    raise _unknown_call(session, analysis_id, text)


def get_call(session: Session, analysis_id: str, key: str | int) -> StoredCall:
    """One call (by number or Call-ID) with its messages; NotFound when the analysis has no
    such call."""
    number = call_number(session, analysis_id, key)
    row = session.scalars(
        select(CallRow).where(CallRow.analysis_id == analysis_id, CallRow.number == number)
    ).one()
    nodes = session.scalars(select(Node).where(Node.analysis_id == analysis_id)).all()
    products = {(n.hostname or n.bundle): n.product for n in nodes}
    stored = session.scalar(
        select(CallMessagesRow.messages).where(CallMessagesRow.call_id == row.id)
    )
    return StoredCall(row, [decode(m) for m in stored or []], products)


def message_texts(
    session: Session, data_dir: Path, analysis_id: str, messages: list[SipMessage]
) -> list[str | None]:
    """Each message as logged (its SIPMSG block, unframed), read back from its file; None where
    no block was logged or the file is gone."""
    names = {m.file for m in messages if m.body_offset >= 0}
    paths: dict[str, Path] = {}
    if names:
        for file in session.scalars(
            select(BundleFileRow).where(
                BundleFileRow.analysis_id == analysis_id, BundleFileRow.name.in_(names)
            )
        ):
            paths[file.name] = storage.stored_file(data_dir, file.storage_path)
    return read_texts(paths, messages)


def read_texts(paths: dict[str, Path], messages: list[SipMessage]) -> list[str | None]:
    """The logged text of each message from the files in `paths` (bounded per message)."""
    texts: list[str | None] = []
    handles: dict[str, Any] = {}
    budget = MAX_PAGE_TEXT_BYTES
    try:
        for message in messages:
            path = paths.get(message.file)
            if path is None or message.body_offset < 0 or budget <= 0:
                texts.append(None)
                continue
            if message.file not in handles:
                try:
                    handles[message.file] = open_stored(path)
                except OSError:
                    handles[message.file] = None
            handle = handles[message.file]
            if handle is None:
                texts.append(None)
                continue
            handle.seek(message.body_offset)
            raw = handle.read(min(message.body_length, MAX_MESSAGE_BYTES, budget))
            budget -= len(raw)
            text = "\n".join(payload_lines(raw.decode("utf-8", errors="replace")))
            if message.body_length > MAX_MESSAGE_BYTES:
                text += f"\n… [{message.body_length - MAX_MESSAGE_BYTES} more bytes in the log]"
            texts.append(text)
    finally:
        for handle in handles.values():
            if handle is not None:
                handle.close()
    return texts


@dataclass(frozen=True)
class CallFinding:
    """A finding of the shown run with evidence inside a call (a line of one of its messages,
    or a line naming one of its Call-IDs)."""

    signature_id: str
    title: str
    severity: str
    file: str
    line: int


MAX_CALL_FINDINGS = 50


def findings_of_call(session: Session, analysis_id: str, stored: StoredCall) -> list[CallFinding]:
    """The shown run's findings whose snippets are lines of this call's messages."""
    analysis = session.get(Analysis, analysis_id)
    if analysis is None or analysis.status != "done":
        return []
    run_id = session.scalar(
        select(AnalysisRun.id).where(
            AnalysisRun.analysis_id == analysis_id, AnalysisRun.number == analysis.current_run
        )
    )
    lines: set[tuple[str, int]] = set()
    for message in stored.messages:
        lines.update({(message.file, message.line), (message.file, message.line - 1)})
    files = {file for file, _ in lines}
    if run_id is None or not files:
        return []
    call_ids = [cid for cid in stored.row.call_ids if len(cid) >= 8]
    found: dict[str, CallFinding] = {}
    rows = session.execute(
        select(FindingRow.signature_id, FindingRow.title, FindingRow.severity, SnippetRow)
        .join(SnippetRow, SnippetRow.finding_id == FindingRow.id)
        .where(FindingRow.run_id == run_id, SnippetRow.file.in_(files))
        .order_by(FindingRow.severity_rank, FindingRow.signature_id, SnippetRow.line)
    )
    for signature_id, title, severity, snippet in rows:
        if signature_id in found:
            continue
        inside = (snippet.file, snippet.line) in lines
        if inside or any(cid in snippet.text for cid in call_ids):
            found[signature_id] = CallFinding(
                signature_id, title, severity, snippet.file, snippet.line
            )
            if len(found) >= MAX_CALL_FINDINGS:
                break
    return list(found.values())
