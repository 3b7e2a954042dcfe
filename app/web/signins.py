"""MRA sign-in attempts in the browser and the API: the list, one attempt's ladder.

The ladder is drawn on the server by app.calls.render (every text from a log escaped), so the
page works without JavaScript; each arrow links to `#msg-N` in the message list below it, and
`ladder.svg`, `ladder.png` and `ladder.txt` download it, as for a call.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from markupsafe import Markup

from app.calls.ladder import Ladder
from app.calls.render import MAX_PNG_ARROWS, to_svg, to_text
from app.calls.signin_flow import lay_out
from app.calls.signin_model import message_to_json
from app.services import signins as signins_service
from app.web.calls import png_or_unavailable
from app.web.deps import SessionDep, SettingsDep
from app.web.templating import templates

router = APIRouter()
PER_PAGE = 50
OUTCOMES = ("failed", "succeeded", "no response logged")

CAN_SEE = (
    "The HTTP(S) requests and responses that the Expressway-E and Expressway-C logged while a "
    "client signed in over MRA: edge configuration (get_edge_config), UDS, OAuth, SSO, TFTP "
    "configuration files and other proxied requests, with their status codes (401, 403, 502 "
    "and the others), read from the Traffic Server and edge-config-provisioning lines and "
    "their HTTPMSG blocks.",
    "Which client sent them (the Client-ip / X-Forwarded-For headers, or the address the "
    "Expressway-E received them from), the user where the log names one (a UDS path, a "
    "Username field), and the step of the first failure.",
)
CANNOT_SEE = (
    "Only what the Expressways logged at their log level: HTTPMSG blocks appear only when the "
    "relevant debug logging was on (network.http.trafficserver, "
    "network.http.edgeconfigprovisioning at DEBUG); with less, a request may show without its "
    "response, or not at all.",
    "Nothing of the client's side: DNS (_collab-edge SRV) lookups, certificate checks that fail "
    "before a request reaches the Expressway, and what the client does with an answer are in "
    "the client's own logs (Jabber, Webex, TC/CE), not here.",
    "Nothing inside Unified CM, IM and Presence or Unity Connection beyond the answers the "
    "Expressway-C logged; XMPP and SIP registration are not HTTP (SIP is in Calls).",
    "Secrets: Authorization and Cookie headers are not kept, and token, password, code and "
    "similar query values are shown as REDACTED.",
)

MAX_PAGE = 1_000_000
AttemptNumber = Annotated[int, Path(ge=1, le=100_000_000, description="The attempt's number")]


def _invalid(sentence: str) -> HTTPException:
    return HTTPException(status_code=422, detail=sentence)


def _shown(value: str) -> str:
    return value if len(value) <= 40 else value[:40] + "…"


def page_arg(
    page: Annotated[str | None, Query(max_length=40, description="1-based")] = None,
) -> int:
    """The 1-based page of the query string (empty: 1), read as the call list reads it."""
    text = (page or "").strip()
    if not text:
        return 1
    if not (text.isascii() and text.isdigit()):
        raise _invalid(f"page must be a whole number from 1, not '{_shown(text)}'.")
    if int(text) < 1:
        raise _invalid(f"page starts at 1 (it was {int(text)}).")
    return min(int(text), MAX_PAGE)


def outcome_arg(
    outcome: Annotated[
        str | None, Query(max_length=40, description="failed, succeeded or no response logged")
    ] = None,
) -> str | None:
    """The outcome filter (empty: every attempt); another value is a 422 with a sentence."""
    text = (outcome or "").strip().lower()
    if not text:
        return None
    if text not in OUTCOMES:
        listed = ", ".join(OUTCOMES)
        raise _invalid(f"outcome must be one of {listed}, not '{_shown(outcome or '')}'.")
    return text


Page = Annotated[int, Depends(page_arg)]
Outcome = Annotated[str | None, Depends(outcome_arg)]


def _with_url(analysis_id: str, attempt: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in attempt.items() if k not in ("offset", "length")}
    shown["url"] = f"/a/{analysis_id}/signins/{attempt['id']}"
    return shown


def _listing(
    session: Any, settings: Any, analysis_id: str, outcome: str | None, page: int
) -> dict[str, Any]:
    index = signins_service.load_index(session, settings.resolved_data_dir, analysis_id)
    if index is None:
        return {
            "extracted": False,
            "detail": signins_service.NOT_EXTRACTED,
            "total": 0,
            "page": 1,
            "page_count": 1,
            "attempts": [],
        }
    attempts = index["attempts"]
    if outcome is not None:
        attempts = [a for a in attempts if a["outcome"] == outcome]
    page_count = max(1, -(-len(attempts) // PER_PAGE))
    page = min(page, page_count)
    chosen = attempts[(page - 1) * PER_PAGE : page * PER_PAGE]
    notes = []
    if index.get("dropped"):
        notes.append(
            f"{index['dropped']} HTTP log lines past the first {index['messages']} messages "
            "were counted, not read: later attempts may look incomplete."
        )
    if index.get("left_out"):
        notes.append(f"{index['left_out']} attempts past the first 10,000 are not listed.")
    return {
        "extracted": True,
        "total": len(attempts),
        "page": page,
        "page_count": page_count,
        "attempts": [_with_url(analysis_id, a) for a in chosen],
        "messages": index.get("messages", 0),
        "notes": notes,
    }


def _hop(ladder: Ladder, number: int) -> dict[str, str]:
    """The columns an arrow joins: {"from": "Client (…)", "to": "expe1 (Expressway-E)"}."""
    arrow = ladder.arrows[number - 1]
    return {"from": ladder.columns[arrow.src].label, "to": ladder.columns[arrow.dst].label}


@router.get("/api/v1/analyses/{analysis_id}/signins")
def api_signins(
    analysis_id: str,
    session: SessionDep,
    settings: SettingsDep,
    outcome: Outcome = None,
    page: Page = 1,
) -> JSONResponse:
    """The analysis' MRA sign-in attempts (per client and attempt), 50 a page, in time order.

    `outcome` filters: failed, succeeded, no response logged. `extracted` is false (and
    `detail` says why) when no run read them: they are read with the call flows
    (LOUPE_CALL_FLOWS, on by default). `can_see` / `cannot_see` say what this view shows.
    """
    body = _listing(session, settings, analysis_id, outcome, page)
    body["can_see"], body["cannot_see"] = list(CAN_SEE), list(CANNOT_SEE)
    return JSONResponse(body)


@router.get("/api/v1/analyses/{analysis_id}/signins/{attempt}")
def api_signin(
    analysis_id: str, attempt: AttemptNumber, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """One attempt: its participants (the ladder's columns) and every message in time order."""
    stored = signins_service.get_attempt(session, settings.resolved_data_dir, analysis_id, attempt)
    ladder, numbers = lay_out(stored.attempt(), stored.products)
    return JSONResponse(
        {
            **_with_url(analysis_id, stored.summary),
            "participants": [{"address": c.address, "label": c.label} for c in ladder.columns],
            "messages": [
                {**message_to_json(m), "arrow": n, "hop": _hop(ladder, n)}
                for m, n in zip(stored.messages, numbers, strict=True)
            ],
        }
    )


@router.get("/a/{analysis_id}/signins", include_in_schema=False)
def signins_page(
    analysis_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    outcome: Outcome = None,
    page: Page = 1,
) -> Response:
    """The sign-in attempts: time, client, user, outcome, the failing step and its status."""
    listing = _listing(session, settings, analysis_id, outcome, page)
    context = {
        "analysis_id": analysis_id,
        "listing": listing,
        "outcome": outcome or "",
        "outcomes": OUTCOMES,
        "can_see": CAN_SEE,
        "cannot_see": CANNOT_SEE,
        "api_url": f"/api/v1/analyses/{analysis_id}/signins",
    }
    return templates.TemplateResponse(request, "signins.html", context)


@router.get("/a/{analysis_id}/signins/{attempt}", include_in_schema=False)
def signin_page(
    analysis_id: str,
    attempt: AttemptNumber,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """One attempt's ladder (client → Expressway-E → Expressway-C → UC servers), its messages."""
    stored = signins_service.get_attempt(session, settings.resolved_data_dir, analysis_id, attempt)
    ladder, numbers = lay_out(stored.attempt(), stored.products)
    context = {
        "analysis_id": analysis_id,
        "attempt": _with_url(analysis_id, stored.summary),
        # render.to_svg escapes every text taken from a log: the markup is ours
        "svg": Markup(to_svg(ladder, title="MRA sign-in ladder diagram")),  # noqa: S704
        "messages": [
            (m, n, _hop(ladder, n)) for m, n in zip(stored.messages, numbers, strict=True)
        ],
        "arrows": len(ladder.arrows),
        "png_arrows": MAX_PNG_ARROWS,
        "cannot_see": CANNOT_SEE,
        "api_url": f"/api/v1/analyses/{analysis_id}/signins/{attempt}",
    }
    return templates.TemplateResponse(request, "signin.html", context)


def _attachment(number: int, extension: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="signin-{number}.{extension}"'}


def _drawn(session: Any, settings: Any, analysis_id: str, attempt: int) -> Ladder:
    stored = signins_service.get_attempt(session, settings.resolved_data_dir, analysis_id, attempt)
    ladder, _numbers = lay_out(stored.attempt(), stored.products)
    return ladder


@router.get("/a/{analysis_id}/signins/{attempt}/ladder.svg", include_in_schema=False)
def signin_svg(
    analysis_id: str, attempt: AttemptNumber, session: SessionDep, settings: SettingsDep
) -> Response:
    ladder = _drawn(session, settings, analysis_id, attempt)
    svg = to_svg(ladder, link=False, title="MRA sign-in ladder diagram")
    return Response(svg, media_type="image/svg+xml", headers=_attachment(attempt, "svg"))


@router.get("/a/{analysis_id}/signins/{attempt}/ladder.png", include_in_schema=False)
def signin_png(
    analysis_id: str, attempt: AttemptNumber, session: SessionDep, settings: SettingsDep
) -> Response:
    """The ladder as an image (its first MAX_PNG_ARROWS messages)."""
    png = png_or_unavailable(_drawn(session, settings, analysis_id, attempt))
    return Response(png, media_type="image/png", headers=_attachment(attempt, "png"))


@router.get("/a/{analysis_id}/signins/{attempt}/ladder.txt", include_in_schema=False)
def signin_txt(
    analysis_id: str, attempt: AttemptNumber, session: SessionDep, settings: SettingsDep
) -> Response:
    ladder = _drawn(session, settings, analysis_id, attempt)
    return PlainTextResponse(to_text(ladder), headers=_attachment(attempt, "txt"))
