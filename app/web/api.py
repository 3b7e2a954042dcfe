"""JSON API v1 (the contract in schemas.py) and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.schemas import AnalysisCreated, AnalysisOut, Health, Problem, SignatureOut
from app.services import analyses, storage
from app.services.uploads import receive_upload
from app.web.deps import DatabaseDep, DispatcherDep, LibraryDep, SessionDep, SettingsDep

router = APIRouter()

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": Problem} for code in (400, 404, 413, 415, 422, 503)
}


async def accept_upload(
    request: Request, settings: SettingsDep, db: DatabaseDep, dispatcher: DispatcherDep
) -> str:
    """Stream the request body to disk, create the analysis, dispatch it; returns its id."""
    upload = await receive_upload(
        request.headers.get("content-type", ""),
        request.stream(),
        staging_root=storage.staging_root(settings.resolved_data_dir),
        max_total=settings.max_upload_bytes,
        max_files=settings.max_files_per_upload,
    )
    with db.session() as session:
        analysis = analyses.create(session, upload=upload, data_dir=settings.resolved_data_dir)
    dispatcher.dispatch(analysis.id)
    return analysis.id


@router.post(
    "/api/v1/analyses",
    status_code=202,
    response_model=AnalysisCreated,
    responses=ERRORS,
    summary="Upload one or more bundles (multipart field 'files', optional 'title')",
)
async def create_analysis(
    request: Request, settings: SettingsDep, db: DatabaseDep, dispatcher: DispatcherDep
) -> JSONResponse:
    analysis_id = await accept_upload(request, settings, db, dispatcher)
    body = AnalysisCreated(
        id=analysis_id,
        status="queued",
        url=f"/a/{analysis_id}",
        api_url=f"/api/v1/analyses/{analysis_id}",
    )
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": body.api_url})


@router.get("/api/v1/analyses/{analysis_id}", response_model=AnalysisOut, responses=ERRORS)
def get_analysis(analysis_id: str, session: SessionDep) -> AnalysisOut:
    return analyses.view(session, analysis_id)


@router.get("/api/v1/signatures", response_model=list[SignatureOut])
def list_signatures(library: LibraryDep) -> list[SignatureOut]:
    return [
        SignatureOut(
            id=sig.id,
            title=sig.title,
            severity=sig.severity,
            bug_ids=list(sig.bug_ids),
            product=sig.product,
        )
        for sig in library.signatures
    ]


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")
