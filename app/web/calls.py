"""Call flows in the browser and the API: the call list, one call's ladder, its downloads.

The ladder is drawn on the server (app.calls.render escapes every text that came from a log),
so the page works without JavaScript: each arrow links to `#msg-N`, the messages are listed
below the ladder with a link to their line in the log viewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from markupsafe import Markup

from app.calls.ladder import Arrow, Ladder, lay_out
from app.calls.model import SipMessage
from app.calls.render import MAX_PNG_ARROWS, PngUnavailable, to_png, to_svg, to_text
from app.errors import ServiceUnavailable
from app.services import calls as calls_service
from app.services.calls import CallsPage, StoredCall
from app.web.deps import SessionDep, SettingsDep
from app.web.templating import templates

router = APIRouter()
CALLS_PER_PAGE = 50
MAX_HIGHLIGHT_CHARS = 200

Page = Annotated[int, Query(ge=1, le=1_000_000)]
CallNumber = Annotated[int, Path(ge=1, le=100_000_000, description="The call's number")]
Text = Annotated[str | None, Query(max_length=MAX_HIGHLIGHT_CHARS)]


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


def _list(
    session: Any,
    analysis_id: str,
    q: str | None,
    failed: bool | None,
    method: str | None,
    page: int,
) -> CallsPage:
    return calls_service.list_calls(
        session,
        analysis_id,
        q=q or None,
        failed=failed or None,
        method=method or None,
        page=page,
        per_page=CALLS_PER_PAGE,
    )


@router.get("/api/v1/analyses/{analysis_id}/calls")
def api_calls(
    analysis_id: str,
    session: SessionDep,
    q: Text = None,
    failed: bool = False,
    method: Annotated[str | None, Query(max_length=32)] = None,
    page: Page = 1,
) -> JSONResponse:
    """The analysis' SIP calls, 50 a page, in time order; keep-alive traffic in `background`.

    `extracted` is false (and `detail` says why) when no run of the analysis extracted its call
    flows: LOUPE_CALL_FLOWS is off by default.
    """
    if not calls_service.extracted(session, analysis_id):
        return JSONResponse(
            {
                "total": 0,
                "page": 1,
                "page_count": 1,
                "calls": [],
                "background": [],
                "extracted": False,
                "detail": calls_service.NOT_EXTRACTED,
            }
        )
    shown = _list(session, analysis_id, q, failed, method, page)
    return JSONResponse(
        {
            "extracted": True,
            "total": shown.total,
            "page": shown.number,
            "page_count": shown.page_count,
            "calls": [call_summary(analysis_id, row) for row in shown.calls],
            "background": [
                {
                    "node": b.node,
                    "peer": b.peer,
                    "method": b.method,
                    "count": b.count,
                    "failures": b.failures,
                    "statuses": b.statuses,
                    "first_seen": _iso(b.first_seen),
                    "last_seen": _iso(b.last_seen),
                    "file": b.file,
                    "line": b.line,
                }
                for b in shown.background
            ],
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
def api_call(analysis_id: str, call: CallNumber, session: SessionDep) -> JSONResponse:
    """One call: its participants (the ladder's columns) and every message in time order."""
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
            "final_status": row.final_status,
            "failed": row.failed,
            "end_reason": row.end_reason,
            "joined_by": row.joined_by,
            "nodes": row.nodes,
            "participants": [{"address": c.address, "label": c.label} for c in ladder.columns],
            "messages": [message_json(m, id(m) in retransmitted) for m in stored.messages],
        }
    )


@router.get("/a/{analysis_id}/calls", include_in_schema=False)
def calls_page(
    analysis_id: str,
    request: Request,
    session: SessionDep,
    q: Text = None,
    failed: bool = False,
    method: Annotated[str | None, Query(max_length=32)] = None,
    page: Page = 1,
) -> Response:
    """The call list: search, failed-only and method filters, 50 a page; rows open ladders."""
    extracted = calls_service.extracted(session, analysis_id)
    if extracted:
        shown = _list(session, analysis_id, q, failed, method, page)
    else:
        shown = CallsPage(0, 1, 1, [], [], [])
    context = {
        "analysis_id": analysis_id,
        "extracted": extracted,
        "not_extracted": calls_service.NOT_EXTRACTED,
        "page": shown,
        "calls": [call_summary(analysis_id, row) for row in shown.calls],
        "q": q or "",
        "failed": failed,
        "method": (method or "").upper(),
        "api_url": f"/api/v1/analyses/{analysis_id}/calls",
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
    session: Any, settings: Any, analysis_id: str, call: int, highlight: str
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
    call: CallNumber,
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
        "marked_count": len(marked),
        "kept": len(stored.messages),
        "png_arrows": MAX_PNG_ARROWS,
        "findings": calls_service.findings_of_call(session, analysis_id, stored),
        "api_url": f"/api/v1/analyses/{analysis_id}/calls/{call}",
    }
    return templates.TemplateResponse(request, "call.html", context)


@router.get("/a/{analysis_id}/calls/{call}/ladder.svg", include_in_schema=False)
def ladder_svg(analysis_id: str, call: CallNumber, session: SessionDep) -> Response:
    stored = calls_service.get_call(session, analysis_id, call)
    svg = to_svg(lay_out(stored.messages, stored.products), link=False)
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"Content-Disposition": f'attachment; filename="call-{call}.svg"'},
    )


@router.get("/a/{analysis_id}/calls/{call}/ladder.png", include_in_schema=False)
def ladder_png(analysis_id: str, call: CallNumber, session: SessionDep) -> Response:
    """The ladder as an image (its first MAX_PNG_ARROWS messages)."""
    stored = calls_service.get_call(session, analysis_id, call)
    try:
        png = to_png(lay_out(stored.messages, stored.products))
    except PngUnavailable as exc:
        raise ServiceUnavailable(
            "This server cannot draw PNG images (the cairo library is missing: "
            f"{exc}); download ladder.svg instead."
        ) from exc
    return Response(
        png,
        media_type="image/png",
        headers={"Content-Disposition": f'attachment; filename="call-{call}.png"'},
    )


@router.get("/a/{analysis_id}/calls/{call}/ladder.txt", include_in_schema=False)
def ladder_txt(analysis_id: str, call: CallNumber, session: SessionDep) -> Response:
    stored = calls_service.get_call(session, analysis_id, call)
    return PlainTextResponse(
        to_text(lay_out(stored.messages, stored.products)),
        headers={"Content-Disposition": f'attachment; filename="call-{call}.txt"'},
    )
