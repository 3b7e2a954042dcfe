"""The report for a case: `/a/{id}/report.md` and `/a/{id}/report.pdf`, downloads built from the
same object as `GET /api/v1/analyses/{id}` (app/reporting)."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from app.config import Settings
from app.reporting import document
from app.reporting.markdown import render_markdown
from app.reporting.pdf import render_pdf
from app.services import analyses, certificates
from app.web import public_url
from app.web.deps import SessionDep, SettingsDep

router = APIRouter(include_in_schema=False)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def download_name(name: str, analysis_id: str, extension: str) -> str:
    """An ASCII file name that no browser or shell can misread: `logloupe-SR-1234-abcd1234.md`."""
    title = _UNSAFE.sub("-", name).strip("-._")[:60]
    short_id = _UNSAFE.sub("", analysis_id)[:8]
    stem = "-".join(part for part in ("logloupe", title, short_id) if part)
    return f"{stem}.{extension}"


def failed_calls(
    session: Session, analysis_id: str
) -> tuple[Sequence[Mapping[str, Any]] | None, int]:
    """The analysis' first failed calls (as many as the report lists) and how many failed in
    all, where this deployment has call flows; (None, 0) where it has not."""
    try:
        calls = importlib.import_module("app.services.calls")
    except ModuleNotFoundError:
        return None, 0
    page = calls.list_calls(session, analysis_id, failed=True, per_page=document.MAX_REPORT_CALLS)
    rows: list[Mapping[str, Any]] = list(page.calls)
    return rows, int(page.total)


def report_document(session: Session, settings: Settings, analysis_id: str) -> document.Document:
    """The report of the analysis, as the JSON API sees it; raises NotFound."""
    pieces = analyses.view_json(session, analysis_id, settings.resolved_data_dir)
    analysis: dict[str, Any] = json.loads(b"".join(pieces))
    failed, failed_total = (
        failed_calls(session, analysis_id) if analysis.get("status") == "done" else (None, 0)
    )
    return document.build(
        analysis,
        certificates=certificates.current_certificates(session, analysis_id),
        server_certificates=certificates.current_server_certificates(session, analysis_id),
        calls=failed,
        failed_calls=failed_total,
        link=public_url.share_url(settings, f"/a/{analysis_id}"),
    )


def _download(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/a/{analysis_id}/report.md")
def report_markdown(analysis_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The report as Markdown, to paste into the case notes."""
    doc = report_document(session, settings, analysis_id)
    name = download_name(doc.name, analysis_id, "md")
    return _download(render_markdown(doc).encode("utf-8"), "text/markdown; charset=utf-8", name)


@router.get("/a/{analysis_id}/report.pdf")
def report_pdf(analysis_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The same report as a printable PDF."""
    doc = report_document(session, settings, analysis_id)
    name = download_name(doc.name, analysis_id, "pdf")
    return _download(render_pdf(doc), "application/pdf", name)
