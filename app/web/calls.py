"""Call flows in the browser and the API: the call list, one call's ladder, its downloads.

The ladder is drawn on the server (app.calls.render escapes every text that came from a log),
so the page works without JavaScript: each arrow links to `#msg-N`, the messages are listed
below the ladder with a link to their line in the log viewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from markupsafe import Markup

from app.calls.codec import background_summary
from app.calls.ladder import Arrow, Ladder, lay_out
from app.calls.model import BackgroundRow, SipMessage
from app.calls.render import MAX_PNG_ARROWS, PngUnavailable, to_png, to_svg, to_text
from app.errors import ServiceUnavailable
from app.services import calls as calls_service
from app.services.calls import CallsPage, StoredCall
from app.web.deps import SessionDep, SettingsDep
from app.web.templating import templates

router = APIRouter()
CALLS_PER_PAGE = 50
MAX_CALLS_PER_PAGE = 1000
MAX_PAGE = 1_000_000_000  # pages past it are past the end anyway (and OFFSET stays 64-bit)
MAX_HIGHLIGHT_CHARS = 300
MAX_QUERY_CHARS = 1000

CallKey = Annotated[
    str,
    Path(
        max_length=calls_service.MAX_CALL_KEY_CHARS,
        description="The call's number in the call list, or one of its Call-IDs",
    ),
]
Text = Annotated[str | None, Query(max_length=MAX_HIGHLIGHT_CHARS)]
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _invalid(sentence: str) -> HTTPException:
    return HTTPException(status_code=422, detail=sentence)


def _shown(value: str) -> str:
    return value if len(value) <= 40 else value[:40] + "…"


def _whole_number(name: str, value: str | None, default: int, most: int) -> int:
    """A positive whole number of the query string, at most `most` (larger ones are `most`)."""
    text = (value or "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()):
        raise _invalid(f"{name} must be a whole number from 1, not '{_shown(text)}'.")
    number = int(text)
    if number < 1:
        raise _invalid(f"{name} starts at 1 (it was {number}).")
    return min(number, most)


@dataclass(frozen=True, slots=True)
class CallsArgs:
    """The query string of the call list, shared by the page and its JSON twin. An empty
    value is a value not given (`?q=&failed=&page=`)."""

    q: str
    failed: bool
    method: str
    page: int
    per_page: int


def calls_args(
    q: Annotated[
        str | None, Query(max_length=MAX_QUERY_CHARS, description="number, URI, Call-ID, address")
    ] = None,
    failed: Annotated[
        str | None, Query(max_length=40, description="true: failed calls only")
    ] = None,
    method: Annotated[str | None, Query(max_length=32, description="e.g. INVITE")] = None,
    page: Annotated[str | None, Query(max_length=40, description="1-based")] = None,
    per_page: Annotated[
        str | None,
        Query(max_length=40, description=f"calls per page (1–{MAX_CALLS_PER_PAGE}, default 50)"),
    ] = None,
) -> CallsArgs:
    """Read the list's query string; a value it cannot use is a 422 with a sentence."""
    flag = (failed or "").strip().lower()
    if flag and flag not in _TRUE + _FALSE:
        raise _invalid(f"failed must be true or false, not '{_shown(failed or '')}'.")
    size = _whole_number("per_page", per_page, CALLS_PER_PAGE, MAX_CALLS_PER_PAGE)
    return CallsArgs(
        q=(q or "").strip(),
        failed=flag in _TRUE,
        method=(method or "").strip().upper(),
        page=_whole_number("page", page, 1, MAX_PAGE),
        per_page=size,
    )


CallsArgsDep = Annotated[CallsArgs, Depends(calls_args)]
NO_CALLS = CallsPage(0, 1, 1, [], [], [])


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def call_summary(analysis_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """One call of the list, as the API gives it."""
    started, ended = row["started_at"], row["ended_at"]
    duration = (ended - started).total_seconds() if started and ended else None
    return {
        "id": row["number"],
        "call_ids": row["call_ids"],
        "method": row["method"],
        "from": row["from_uri"],
        "to": row["to_uri"],
        "started_at": _iso(started),
        "ended_at": _iso(ended),
        "duration_seconds": duration,
        "final_status": row["final_status"],
        "failed": row["failed"],
        "end_reason": row["end_reason"],
        "nodes": row["nodes"],
        "messages": row["message_count"],
        "joined_by": row["joined_by"],
        "url": f"/a/{analysis_id}/calls/{row['number']}",
    }


def _list(session: Any, analysis_id: str, args: CallsArgs) -> CallsPage:
    return calls_service.list_calls(
        session,
        analysis_id,
        q=args.q or None,
        failed=True if args.failed else None,  # failed=false: every call, not only the good ones
        method=args.method or None,
        page=args.page,
        per_page=args.per_page,
    )


def _background_json(row: Any) -> dict[str, Any]:
    """A stored keep-alive row (services.calls) in the one shape the CLI gives too."""
    return background_summary(
        BackgroundRow(
            node=row.node,
            file=row.file,
            peer=row.peer,
            method=row.method,
            count=row.count,
            failures=row.failures,
            statuses=row.statuses,
            first=row.first_seen,
            last=row.last_seen,
            line=row.line,
        )
    )


@router.get("/api/v1/analyses/{analysis_id}/calls")
def api_calls(analysis_id: str, session: SessionDep, args: CallsArgsDep) -> JSONResponse:
    """The analysis' SIP calls in time order, `per_page` (50) a page; a page past the last is
    empty. Keep-alive traffic (OPTIONS, REGISTER, SUBSCRIBE/NOTIFY, PUBLISH) is counted in
    `background`, one row per node, peer and method, with the same filters applied.

    `extracted` is false (and `detail` says why) when no run of the analysis extracted its call
    flows: it is still running, it failed, or LOUPE_CALL_FLOWS was false.
    """
    reason = calls_service.why_no_calls(session, analysis_id)
    if reason is not None:
        return JSONResponse(
            {
                "extracted": False,
                "detail": reason,
                "total": 0,
                "page": args.page,
                "per_page": args.per_page,
                "page_count": 1,
                "calls": [],
                "background": [],
            }
        )
    shown = _list(session, analysis_id, args)
    return JSONResponse(
        {
            "extracted": True,
            "total": shown.total,
            "page": shown.number,
            "per_page": args.per_page,
            "page_count": shown.page_count,
            "calls": [call_summary(analysis_id, row) for row in shown.calls],
            "background": [_background_json(b) for b in shown.background],
        }
    )


def _ends(message: SipMessage) -> tuple[str, str]:
    """(src, dst) addresses of a message."""
    local = message.local
    return (message.remote, local) if message.direction == "in" else (local, message.remote)


def message_json(message: SipMessage, retransmission: bool) -> dict[str, Any]:
    src, dst = _ends(message)
    return {
        "time": _iso(message.time),
        "node": message.node,
        "direction": message.direction,
        "src": src,
        "dst": dst,
        "transport": message.transport or None,
        "method": message.method,
        "status": message.status,
        "reason": message.reason or None,
        "cseq": message.cseq,
        "cseq_method": message.cseq_method or None,
        "call_id": message.call_id,
        "from": message.from_uri or None,
        "to": message.to_uri or None,
        "request_uri": message.request_uri or None,
        "session_ids": list(message.session_ids),
        "user_agent": message.user_agent or None,
        "reason_header": message.reason_header or None,
        "retransmission": retransmission,
        "file": message.file,
        "line": message.line,
    }


@router.get("/api/v1/analyses/{analysis_id}/calls/{call}")
def api_call(analysis_id: str, call: CallKey, session: SessionDep) -> JSONResponse:
    """One call (by its number, or one of its Call-IDs): its participants (the ladder's
    columns) and every message in time order."""
    stored = calls_service.get_call(session, analysis_id, call)
    ladder = lay_out(stored.messages, stored.products)
    retransmitted = {
        id(m) for arrow in ladder.arrows if arrow.retransmission for m in arrow.messages
    }
    row = stored.row
    return JSONResponse(
        {
            "id": row.number,
            "call_ids": row.call_ids,
            "method": row.method,
            "from": row.from_uri,
            "to": row.to_uri,
            "started_at": _iso(row.started_at),
            "ended_at": _iso(row.ended_at),
            "final_status": row.final_status,
            "failed": row.failed,
            "end_reason": row.end_reason,
            "joined_by": row.joined_by,
            "nodes": row.nodes,
            "url": f"/a/{analysis_id}/calls/{row.number}",
            "participants": [{"address": c.address, "label": c.label} for c in ladder.columns],
            "messages": [message_json(m, id(m) in retransmitted) for m in stored.messages],
        }
    )


@router.get("/a/{analysis_id}/calls", include_in_schema=False)
def calls_page(
    analysis_id: str, request: Request, session: SessionDep, args: CallsArgsDep
) -> Response:
    """The call list: search, failed-only and method filters, 50 a page; rows open ladders."""
    reason = calls_service.why_no_calls(session, analysis_id)
    shown = _list(session, analysis_id, args) if reason is None else NO_CALLS
    filters = {"q": args.q, "method": args.method, "failed": "true" if args.failed else ""}
    if args.per_page != CALLS_PER_PAGE:
        filters["per_page"] = str(args.per_page)
    kept = {name: value for name, value in filters.items() if value}
    context = {
        "analysis_id": analysis_id,
        "extracted": reason is None,
        "not_extracted": reason,
        "page": shown,
        "calls": [call_summary(analysis_id, row) for row in shown.calls],
        "q": args.q,
        "failed": args.failed,
        "method": args.method,
        "filtered": bool(args.q or args.failed or args.method),
        "page_url": f"/a/{analysis_id}/calls?{urlencode({**kept, 'page': ''})}",
        "api_url": f"/api/v1/analyses/{analysis_id}/calls"
        + (f"?{urlencode({**kept, 'page': str(args.page)})}" if kept or args.page > 1 else ""),
    }
    return templates.TemplateResponse(request, "calls.html", context)


@dataclass(frozen=True, slots=True)
class ShownMessage:
    arrow: Arrow
    text: str | None
    marked: bool


def _marked(arrow: Arrow, text: str | None, needle: str) -> bool:
    if not needle:
        return False
    first = arrow.first
    fields = (text or "", first.label, first.call_id, first.from_uri, first.to_uri, first.remote)
    return any(needle in value.lower() for value in fields)


def _ladder(
    session: Any, settings: Any, analysis_id: str, call: str, highlight: str
) -> tuple[StoredCall, Ladder, list[ShownMessage]]:
    stored = calls_service.get_call(session, analysis_id, call)
    ladder = lay_out(stored.messages, stored.products)
    firsts = [arrow.first for arrow in ladder.arrows]
    texts = calls_service.message_texts(session, settings.resolved_data_dir, analysis_id, firsts)
    needle = highlight.strip().lower()
    shown = [
        ShownMessage(arrow, text, _marked(arrow, text, needle))
        for arrow, text in zip(ladder.arrows, texts, strict=True)
    ]
    return stored, ladder, shown


@router.get("/a/{analysis_id}/calls/{call}", include_in_schema=False)
def call_page(
    analysis_id: str,
    call: CallKey,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    highlight: Text = None,
) -> Response:
    """The ladder of one call, its messages below it (full text, escaped, with the log line)."""
    stored, ladder, shown = _ladder(session, settings, analysis_id, call, highlight or "")
    marked = {item.arrow.number for item in shown if item.marked}
    context = {
        "analysis_id": analysis_id,
        "call": stored.row,
        "ladder": ladder,
        # render.to_svg escapes every text taken from a log: the markup is ours
        "svg": Markup(to_svg(ladder, marked=marked)),  # noqa: S704
        "shown": shown,
        "highlight": highlight or "",
        "max_highlight": MAX_HIGHLIGHT_CHARS,
        "marked_count": len(marked),
        "kept": len(stored.messages),
        "png_arrows": MAX_PNG_ARROWS,
        "findings": calls_service.findings_of_call(session, analysis_id, stored),
        "api_url": f"/api/v1/analyses/{analysis_id}/calls/{stored.row.number}",
    }
    return templates.TemplateResponse(request, "call.html", context)


def _attachment(number: int, extension: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="call-{number}.{extension}"'}


@router.get("/a/{analysis_id}/calls/{call}/ladder.svg", include_in_schema=False)
def ladder_svg(analysis_id: str, call: CallKey, session: SessionDep) -> Response:
    stored = calls_service.get_call(session, analysis_id, call)
    svg = to_svg(lay_out(stored.messages, stored.products), link=False)
    return Response(svg, media_type="image/svg+xml", headers=_attachment(stored.row.number, "svg"))


@router.get("/a/{analysis_id}/calls/{call}/ladder.png", include_in_schema=False)
def ladder_png(analysis_id: str, call: CallKey, session: SessionDep) -> Response:
    """The ladder as an image (its first MAX_PNG_ARROWS messages)."""
    stored = calls_service.get_call(session, analysis_id, call)
    png = png_or_unavailable(lay_out(stored.messages, stored.products))
    return Response(png, media_type="image/png", headers=_attachment(stored.row.number, "png"))


def png_or_unavailable(ladder: Ladder) -> bytes:
    """The ladder as PNG, or 503 naming the missing cairo library (calls and sign-ins)."""
    try:
        return to_png(ladder)
    except PngUnavailable as exc:
        raise ServiceUnavailable(
            "This server cannot draw PNG images (the cairo library is missing: "
            f"{exc}); download ladder.svg instead."
        ) from exc


@router.get("/a/{analysis_id}/calls/{call}/ladder.txt", include_in_schema=False)
def ladder_txt(analysis_id: str, call: CallKey, session: SessionDep) -> Response:
    stored = calls_service.get_call(session, analysis_id, call)
    return PlainTextResponse(
        to_text(lay_out(stored.messages, stored.products)),
        headers=_attachment(stored.row.number, "txt"),
    )
