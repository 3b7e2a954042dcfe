"""JSON API v1 (the contract in schemas.py), health and readiness checks, Prometheus metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.auth import audit
from app.errors import UploadTooLarge
from app.schemas import AnalysisCreated, AnalysisOut, Health, Problem, RerunIn
from app.services import analyses, certificates, retention, storage
from app.services.uploads import (
    MULTIPART_OVERHEAD,
    multipart_boundary,
    receive_upload,
)
from app.web.deps import DatabaseDep, DispatcherDep, SessionDep, SettingsDep
from app.web.guard import current_caller
from app.web.request_limits import UploadSlots

router = APIRouter()

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": Problem} for code in (400, 403, 404, 408, 413, 415, 422, 503)
}


async def accept_upload(
    request: Request, settings: SettingsDep, db: DatabaseDep, dispatcher: DispatcherDep
) -> str:
    """Stream the request body to disk, create the analysis, dispatch it; returns its id.

    Everything decidable from the headers (content type, boundary, declared length, a free
    upload slot) is decided before the first body byte is read.
    """
    content_type = request.headers.get("content-type", "")
    multipart_boundary(content_type)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_upload_bytes + MULTIPART_OVERHEAD:
        raise UploadTooLarge(
            f"The upload ({declared} bytes) is larger than the limit of "
            f"{settings.max_upload_bytes} bytes. Split it per cluster peer, or ask the operator "
            "to raise LOUPE_MAX_UPLOAD_BYTES."
        )
    slots: UploadSlots = request.app.state.upload_slots
    with slots.take():
        upload = await receive_upload(
            content_type,
            request.stream(),
            staging_root=storage.staging_root(settings.resolved_data_dir),
            max_total=settings.max_upload_bytes,
            max_files=settings.max_files_per_request,
            direct_write_bytes=settings.unpack_direct_write_mib * 2**20,
            max_field_bytes=settings.max_form_field_bytes,
        )

    caller = current_caller(request)

    def store_and_dispatch() -> str:  # blocking database and broker calls: off the event loop
        with db.session() as session:
            analysis = analyses.create(
                session,
                upload=upload,
                data_dir=settings.resolved_data_dir,
                owner=caller.name,
                team=caller.team,
                expires_at=retention.expiry(settings.retention_days),
            )
            audit.record(
                session,
                "upload",
                actor=caller,
                analysis_id=analysis.id,
                address=request.client.host if request.client else None,
                detail=", ".join(f.name for f in analysis.files)[:500],
            )
        dispatcher.dispatch(analysis.id)
        return analysis.id

    try:
        return await run_in_threadpool(store_and_dispatch)
    except BaseException:
        # whatever went wrong, nothing staged stays behind (once analyses.create has moved the
        # staging dir into the analysis, this removes nothing)
        upload.discard()
        raise


@router.post(
    "/api/v1/analyses",
    status_code=202,
    response_model=AnalysisCreated,
    responses=ERRORS,
    summary="Upload one or more bundles (multipart field 'files', optional 'title', 'product')",
    description="Multipart fields: `files` (one or more, one bundle per cluster peer), optional "
    "`title`, and optional `product`, repeated like `files` and in the same order: the product "
    "of each file (`Expressway-C`, `Expressway-E`, `VCS` or `auto`; a missing one is `auto`, "
    "detected from the bundle's evidence). `product_default` applies to every file without its "
    "own `product` (the upload form's single select). An unknown value, or more `product` "
    "fields than files, is answered 422 and nothing is stored.",
)
async def create_analysis(
    request: Request, settings: SettingsDep, db: DatabaseDep, dispatcher: DispatcherDep
) -> JSONResponse:
    return _queued(await accept_upload(request, settings, db, dispatcher))


def _queued(analysis_id: str) -> JSONResponse:
    """202 with the links of an analysis just queued (an upload or a re-run)."""
    body = AnalysisCreated(
        id=analysis_id,
        status="queued",
        url=f"/a/{analysis_id}",
        api_url=f"/api/v1/analyses/{analysis_id}",
    )
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": body.api_url})


@router.get("/api/v1/analyses/{analysis_id}", response_model=AnalysisOut, responses=ERRORS)
def get_analysis(analysis_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    # an AnalysisOut encoded by the service: its findings may be tens of MB of JSON, sent as they
    # are kept (not validated and encoded again, not even copied into one body)
    pieces = analyses.view_json(session, analysis_id, settings.resolved_data_dir)

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    return StreamingResponse(
        body(),
        media_type="application/json",
        headers={"content-length": str(sum(len(piece) for piece in pieces))},
    )


@router.get(
    "/api/v1/analyses/{analysis_id}/certificates",
    responses=ERRORS,
    summary="Every TLS chain the captures showed, per node, server and port, and its trust verdict",
)
def get_certificates(analysis_id: str, session: SessionDep) -> list[dict[str, Any]]:
    return certificates.current_certificates(session, analysis_id)


@router.get(
    "/api/v1/analyses/{analysis_id}/server-certificates",
    responses=ERRORS,
    summary="Each node's own server certificate (server_*.pem) and its trust verdict",
)
def get_server_certificates(analysis_id: str, session: SessionDep) -> list[dict[str, Any]]:
    return certificates.current_server_certificates(session, analysis_id)


@router.post(
    "/api/v1/analyses/{analysis_id}/rerun",
    status_code=202,
    response_model=AnalysisCreated,
    responses={code: {"model": Problem} for code in (404, 409, 422, 503)},
    summary="Re-run an analysis with the current signature library (its history is kept)",
    description='Optional JSON body `{"products": {"<upload name>": "Expressway-C"}}` '
    "changes the product chosen for those uploads (values Expressway-C | Expressway-E | VCS | "
    "auto) before the run; an unknown upload name or product is answered 422.",
)
def rerun_analysis(
    analysis_id: str,
    session: SessionDep,
    dispatcher: DispatcherDep,
    body: Annotated[RerunIn | None, Body()] = None,
) -> JSONResponse:
    analyses.rerun(session, analysis_id, body.products if body else None)
    dispatcher.dispatch(analysis_id)
    return _queued(analysis_id)


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Problem}})
def readyz(db: DatabaseDep, dispatcher: DispatcherDep) -> JSONResponse:
    """200 when the database and the broker (or embedded worker) answer; 503 names the one down."""
    problems = []
    try:
        with db.session() as session:
            session.execute(text("SELECT 1"))
    except Exception:
        problems.append("the database (LOUPE_DATABASE_URL) is not reachable")
    dispatch_problem = dispatcher.check()
    if dispatch_problem:
        problems.append(dispatch_problem)
    if problems:
        detail = "Not ready: " + "; ".join(problems) + "."
        return JSONResponse({"detail": detail}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format: analyses by status, durations, bytes, queue depth."""
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
