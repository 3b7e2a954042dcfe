"""The analysis page's access controls: share links, delete (with confirmation), keep longer.

Mounted behind `guard` (main.py), like the API: each form's action on its analysis has been
allowed by the policy before the handler runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from app.auth import shares
from app.auth.access import authorize
from app.auth.identity import Caller
from app.auth.policy import Action, permits
from app.auth.shares import MAX_DAYS as MAX_SHARE_DAYS
from app.errors import LoupeError
from app.models import ShareLink
from app.services import retention
from app.web import access_api
from app.web.deps import SessionDep, SettingsDep
from app.web.guard import current_caller
from app.web.templating import templates

router = APIRouter(include_in_schema=False)
DEFAULT_SHARE_DAYS = 7


class FormInvalid(LoupeError):
    status_code = 422


@dataclass(frozen=True)
class Panel:
    """What the analysis page shows and offers to this caller."""

    caller: Caller
    can_rerun: bool
    can_share: bool
    can_manage: bool
    owner: str | None
    team: str | None
    expires_at: datetime | None
    shares: list[ShareLink]
    retention_days: int


def panel(request: Request, session: Session, analysis_id: str) -> Panel:
    caller = current_caller(request)
    analysis = authorize(session, caller, analysis_id, Action.READ)
    can_share = permits(caller, Action.SHARE, analysis)
    return Panel(
        caller=caller,
        can_rerun=permits(caller, Action.RERUN, analysis),
        can_share=can_share,
        can_manage=permits(caller, Action.MANAGE, analysis),
        owner=analysis.owner,
        team=analysis.team,
        expires_at=analysis.expires_at,
        shares=shares.of_analysis(session, analysis_id) if can_share else [],
        retention_days=request.app.state.settings.retention_days,
    )


async def form_int(request: Request, field: str, default: int, low: int, high: int) -> int:
    """An integer field of a posted form, within [low, high]; 422 with a reason otherwise."""
    raw: Any = (await request.form()).get(field)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise FormInvalid(f"'{field}' must be a whole number from {low} to {high}.")
    return value


@router.post("/a/{analysis_id}/shares")
async def share_form(
    analysis_id: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The "Create share link" button: the page that shows the new link (once)."""
    days = await form_int(request, "expires_in_days", DEFAULT_SHARE_DAYS, 1, MAX_SHARE_DAYS)
    created = access_api.make_share(request, session, settings, analysis_id, days)
    context = {"analysis_id": analysis_id, "share": created}
    return templates.TemplateResponse(request, "share_created.html", context, status_code=201)


@router.post("/a/{analysis_id}/shares/{share_id}/revoke")
def revoke_form(analysis_id: str, share_id: str, request: Request, session: SessionDep) -> Response:
    access_api.end_share(request, session, analysis_id, share_id)
    return RedirectResponse(f"/a/{analysis_id}#access", status_code=303)


@router.get("/a/{analysis_id}/delete")
def confirm_delete(analysis_id: str, request: Request, session: SessionDep) -> Response:
    """Deleting asks first: this page, then its button."""
    analysis = authorize(session, current_caller(request), analysis_id, Action.MANAGE)
    label = analysis.title or ", ".join(f.name for f in analysis.files) or analysis.id
    context = {"analysis_id": analysis_id, "label": label}
    return templates.TemplateResponse(request, "confirm_delete.html", context)


@router.post("/a/{analysis_id}/delete")
def delete_form(
    analysis_id: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    access_api.remove(request, session, settings, analysis_id)
    return RedirectResponse("/", status_code=303)


@router.post("/a/{analysis_id}/extend")
async def extend_form(analysis_id: str, request: Request, session: SessionDep) -> Response:
    days = await form_int(request, "days", 30, 1, retention.MAX_EXTEND_DAYS)
    access_api.keep_longer(request, session, analysis_id, days)
    return RedirectResponse(f"/a/{analysis_id}#access", status_code=303)
