"""JSON API of access: list analyses, share links, delete, extend retention, the audit log.

Mounted behind `guard` (main.py): by the time an endpoint with `{analysis_id}` runs, the caller
may do the route's action with that analysis.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth import audit, shares
from app.auth.access import list_visible
from app.errors import LoupeError
from app.models import ShareLink, utcnow
from app.schemas import Problem
from app.schemas_access import (
    AnalysisList,
    AnalysisListItem,
    AuditEventOut,
    AuditPage,
    ExtendRequest,
    Retention,
    ShareCreated,
    ShareOut,
    ShareRequest,
)
from app.services import retention
from app.web import public_url
from app.web.deps import SessionDep, SettingsDep
from app.web.guard import current_caller

router = APIRouter()

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": Problem} for code in (401, 404, 409, 422, 503)
}
MAX_PAGE = 200


class AdminsOnly(LoupeError):
    status_code = 403


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get(
    "/api/v1/analyses",
    response_model=AnalysisList,
    responses=ERRORS,
    summary="The analyses the caller may see, newest first",
)
def list_analyses(
    request: Request,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> AnalysisList:
    listing = list_visible(session, current_caller(request), offset=offset, limit=limit)
    return AnalysisList(
        total=listing.total,
        analyses=[
            AnalysisListItem(
                id=a.id,
                title=a.title,
                status=a.status,
                created_at=a.created_at,
                owner=a.owner,
                expires_at=a.expires_at,
            )
            for a in listing.analyses
        ],
    )


def share_out(row: ShareLink) -> ShareOut:
    return ShareOut(
        id=row.id,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        active=row.revoked_at is None and row.expires_at > utcnow(),
    )


def make_share(
    request: Request, session: SessionDep, settings: SettingsDep, analysis_id: str, days: int
) -> ShareCreated:
    """A new share link (for the API and the button); audited."""
    caller = current_caller(request)
    made = shares.create(session, analysis_id, caller.name, days)
    audit.record(
        session,
        "share_created",
        actor=caller,
        analysis_id=analysis_id,
        address=client_address(request),
        detail=f"share {made.row.id}, {days} days",
    )
    return ShareCreated(
        id=made.row.id,
        url=public_url.share_url(settings, shares.share_path(made.secret)),
        expires_at=made.row.expires_at,
    )


@router.post(
    "/api/v1/analyses/{analysis_id}/shares",
    status_code=201,
    response_model=ShareCreated,
    responses=ERRORS,
    summary="A read-only link to this analysis for people without an account",
)
def create_share(
    analysis_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    body: ShareRequest | None = None,
) -> JSONResponse:
    days = (body or ShareRequest()).expires_in_days
    created = make_share(request, session, settings, analysis_id, days)
    return JSONResponse(created.model_dump(mode="json"), status_code=201)


@router.get(
    "/api/v1/analyses/{analysis_id}/shares",
    response_model=list[ShareOut],
    responses=ERRORS,
    summary="The share links of this analysis (their URLs are shown only when made)",
)
def list_shares(analysis_id: str, session: SessionDep) -> list[ShareOut]:
    return [share_out(row) for row in shares.of_analysis(session, analysis_id)]


def end_share(request: Request, session: SessionDep, analysis_id: str, share_id: str) -> None:
    shares.revoke(session, analysis_id, share_id)
    audit.record(
        session,
        "share_revoked",
        actor=current_caller(request),
        analysis_id=analysis_id,
        address=client_address(request),
        detail=f"share {share_id}",
    )


@router.delete(
    "/api/v1/analyses/{analysis_id}/shares/{share_id}",
    status_code=204,
    responses=ERRORS,
    summary="Revoke a share link at once (it then answers 404)",
)
def revoke_share(
    analysis_id: str, share_id: str, request: Request, session: SessionDep
) -> Response:
    end_share(request, session, analysis_id, share_id)
    return Response(status_code=204)


def remove(request: Request, session: SessionDep, settings: SettingsDep, analysis_id: str) -> None:
    """Delete the analysis' rows and files; audited."""
    if retention.delete_analysis(session, settings.resolved_data_dir, analysis_id):
        audit.record(
            session,
            "deleted",
            actor=current_caller(request),
            analysis_id=analysis_id,
            address=client_address(request),
        )


@router.delete(
    "/api/v1/analyses/{analysis_id}",
    status_code=204,
    responses=ERRORS,
    summary="Delete the analysis: its database rows and every file (upload, unpacked, JSON)",
)
def delete_analysis(
    analysis_id: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    remove(request, session, settings, analysis_id)
    return Response(status_code=204)


def keep_longer(request: Request, session: SessionDep, analysis_id: str, days: int) -> Retention:
    expires_at = retention.extend(session, analysis_id, days)
    audit.record(
        session,
        "extended",
        actor=current_caller(request),
        analysis_id=analysis_id,
        address=client_address(request),
        detail=f"until {expires_at.isoformat() if expires_at else 'deleted'}",
    )
    return Retention(expires_at=expires_at)


@router.post(
    "/api/v1/analyses/{analysis_id}/extend",
    response_model=Retention,
    responses=ERRORS,
    summary="Keep the analysis until `days` days from now (the owner or an admin)",
)
def extend_analysis(
    analysis_id: str, request: Request, session: SessionDep, body: ExtendRequest | None = None
) -> Retention:
    return keep_longer(request, session, analysis_id, (body or ExtendRequest()).days)


@router.get(
    "/api/v1/audit",
    response_model=AuditPage,
    responses={**ERRORS, 403: {"model": Problem}},
    summary="The audit log, newest first (admins)",
)
def get_audit(
    request: Request,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AuditPage:
    if not current_caller(request).admin:
        raise AdminsOnly("Only admins may read the audit log.")
    total, events = audit.page(session, offset=offset, limit=limit)
    return AuditPage(
        total=total, events=[AuditEventOut.model_validate(e, from_attributes=True) for e in events]
    )
