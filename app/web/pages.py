"""The HTML pages: upload, diagnostic overview, log viewer, raw download and error pages.

Every page renders the same service objects as the JSON API; nothing log-derived is ever marked
safe (autoescape is on for every template) and no page carries inline script or style (CSP).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.access import list_visible
from app.auth.identity import Caller
from app.bundle.identity.choice import CHOICES
from app.bundle.stored import original_size
from app.config import Settings
from app.display import strip_bidi
from app.errors import LoupeError, NotFound
from app.models import Analysis, BundleFileRow, StoredFile
from app.schemas import CoverageOut, FindingOut
from app.search import position
from app.services import analyses, certificates, storage
from app.signatures.verdict import without_product_log
from app.web import access_pages, api, backlink, downloads, logview, public_url, viewer_marks
from app.web.deps import DatabaseDep, DispatcherDep, SessionDep, SettingsDep
from app.web.guard import current_caller
from app.web.templating import SEVERITIES, templates, url_path
from app.worker.pipeline import unique_names

router = APIRouter(include_in_schema=False)

RECENT_LIMIT = 20
FINDINGS_PER_PAGE = 100
PAGE_LINKS_AROUND = 2  # the pager links to this many pages either side of the current one
MAX_LISTED_FILES = 2000
BINARY_KINDS = frozenset({"pcap"})
ERROR_TITLES = {
    400: "Bad request",
    401: "Log in",
    403: "Refused",
    404: "Not found",
    408: "Timed out",
    409: "Not now",
    413: "Upload too large",
    415: "Unsupported file",
    416: "Range not satisfiable",
    422: "Not valid",
    429: "Too many attempts",
    500: "Internal error",
    503: "Service unavailable",
}


@dataclass(frozen=True, slots=True)
class RecentAnalysis:
    id: str
    label: str
    status: str
    created_at: datetime | None


def recent_analyses(session: Session, caller: Caller) -> list[RecentAnalysis]:
    """The latest analyses `caller` may see, labelled by title or uploaded file names."""
    return [
        RecentAnalysis(
            id=analysis.id,
            label=analysis.title or ", ".join(f.name for f in analysis.files) or analysis.id,
            status=analysis.status,
            created_at=analysis.created_at,
        )
        for analysis in list_visible(session, caller, offset=0, limit=RECENT_LIMIT).analyses
    ]


def render_index(
    request: Request,
    recent: list[RecentAnalysis],
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    settings: Settings = request.app.state.settings
    context = {
        "recent": recent,
        "error": error,
        "api_base": public_url.share_url(settings, "/"),
        "product_choices": CHOICES,
    }
    return templates.TemplateResponse(
        request, "index.html", context, status_code=status_code, headers=headers
    )


def error_page(request: Request, status_code: int, detail: str) -> Response:
    """The HTML error page for `status_code`, showing `detail` (escaped like everything else)."""
    context = {
        "status_code": status_code,
        "heading": ERROR_TITLES.get(status_code, "Error"),
        "detail": detail,
    }
    try:
        return templates.TemplateResponse(request, "error.html", context, status_code=status_code)
    except Exception:  # the error page itself must not fail: fall back to plain text
        return PlainTextResponse(f"{status_code}: {detail}", status_code=status_code)


@router.get("/")
def index(request: Request, session: SessionDep) -> Response:
    return render_index(request, recent_analyses(session, current_caller(request)))


@router.post("/analyses")
async def upload_form(
    request: Request, settings: SettingsDep, db: DatabaseDep, dispatcher: DispatcherDep
) -> Response:
    """The upload form without JavaScript: 303 to the new analysis, or the form again with why."""
    try:
        analysis_id = await api.accept_upload(request, settings, db, dispatcher)
    except LoupeError as exc:

        def load_recent() -> list[RecentAnalysis]:
            with db.session() as session:
                return recent_analyses(session, current_caller(request))

        recent = await anyio.to_thread.run_sync(load_recent)
        return render_index(
            request, recent, error=str(exc), status_code=exc.status_code, headers=exc.headers
        )
    return RedirectResponse(f"/a/{analysis_id}", status_code=303)


def group_by_severity(findings: list[FindingOut]) -> dict[str, list[FindingOut]]:
    groups: dict[str, list[FindingOut]] = {severity: [] for severity in SEVERITIES}
    for finding in findings:
        groups.setdefault(finding.signature.severity, []).append(finding)
    return groups


def page_links(number: int, page_count: int, around: int = PAGE_LINKS_AROUND) -> list[int | None]:
    """The page numbers a pager links to: the first, the last and those around `number`; None
    marks a gap. [1, None, 8, 9, 10, 11, 12, None, 100] for page 10 of 100."""
    shown = sorted(
        {1, page_count} | set(range(max(1, number - around), min(page_count, number + around) + 1))
    )
    links: list[int | None] = []
    for previous, page in zip([0, *shown], shown, strict=False):
        if previous and page - previous == 2:
            links.append(previous + 1)  # a gap of one page: that page rather than "…"
        elif previous and page - previous > 2:
            links.append(None)
        links.append(page)
    return links


def bundle_files(
    session: Session, analysis_id: str, limit: int | None = None
) -> list[BundleFileRow]:
    stmt = (
        select(BundleFileRow)
        .where(BundleFileRow.analysis_id == analysis_id)
        .order_by(BundleFileRow.name)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def share_url(settings: Settings, analysis_id: str) -> str:
    """From LOUPE_PUBLIC_URL or the configured host, never from the request's Host header."""
    return public_url.share_url(settings, f"/a/{analysis_id}")


@router.get("/a/{analysis_id}")
def analysis_page(
    analysis_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """The diagnostic overview; the findings FINDINGS_PER_PAGE at a time (`?page=N`)."""
    shown = analyses.view_page(
        session, analysis_id, settings.resolved_data_dir, page=page, per_page=FINDINGS_PER_PAGE
    )
    out = shown.analysis
    files = bundle_files(session, analysis_id, MAX_LISTED_FILES + 1)
    groups = group_by_severity(out.findings)
    context: dict[str, Any] = {
        "analysis": out,
        "coverage": coverage_groups(out.coverage),
        "progress": shown.progress,
        "active": out.status in analyses.ACTIVE,
        "groups": groups,
        "counts": {severity: shown.counts.get(severity, 0) for severity in SEVERITIES},
        "total": shown.total,
        "pages": shown,
        "delta_counts": shown.delta_counts,
        "page_links": page_links(shown.number, shown.page_count),
        # the number of the first finding of each severity shown, within its severity (anchors)
        "group_starts": {
            severity: max(0, shown.offset - shown.first_offset(severity)) for severity in SEVERITIES
        },
        "bundle_files": files[:MAX_LISTED_FILES],
        "more_files": len(files) > MAX_LISTED_FILES,
        "share_url": share_url(settings, analysis_id),
        "api_url": f"/api/v1/analyses/{analysis_id}",
        "product_choices": CHOICES,
        "access": access_pages.panel(request, session, analysis_id),
    }
    return templates.TemplateResponse(request, "analysis.html", context)


@router.get("/a/{analysis_id}/certificates")
def certificates_page(analysis_id: str, request: Request, session: SessionDep) -> Response:
    """Every TLS chain the captures showed, by node and server:port, with the trust verdict."""
    analysis: Analysis = analyses.get(session, analysis_id)
    entries = certificates.current_certificates(session, analysis_id)
    context: dict[str, Any] = {
        "analysis_id": analysis_id,
        "status": analysis.status,
        "groups": certificate_groups(entries),
        "count": len(entries),
        "own": certificates.current_server_certificates(session, analysis_id),
        "api_url": f"/api/v1/analyses/{analysis_id}/certificates",
        "own_api_url": f"/api/v1/analyses/{analysis_id}/server-certificates",
    }
    return templates.TemplateResponse(request, "certificates.html", context)


def certificate_groups(entries: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """node → "server:port" → the entries seen there, in the order given."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for entry in entries:
        where = f"{entry.get('server_ip')}:{entry.get('port')}"
        groups.setdefault(str(entry.get("node")), {}).setdefault(where, []).append(entry)
    return groups


MAX_RERUN_FORM_FIELDS = 100


@router.post("/a/{analysis_id}/rerun")
async def rerun_form(
    analysis_id: str, request: Request, db: DatabaseDep, dispatcher: DispatcherDep
) -> Response:
    """The re-run button: queue a new run with the current library, back to the page (303).

    The form may carry one `product` select per uploaded file, in the order of the files
    (Expressway-C | Expressway-E | VCS | auto).
    """
    form = await request.form(max_files=0, max_fields=MAX_RERUN_FORM_FIELDS)
    chosen = [value for value in form.getlist("product") if isinstance(value, str)]

    def queue() -> None:
        with db.session() as session:
            products: dict[str, str] = {}
            if chosen:
                files = analyses.get(session, analysis_id).files
                if len(chosen) > len(files):
                    raise analyses.RerunInvalid(
                        f"{len(chosen)} product choices for {len(files)} uploaded file(s)."
                    )
                products = dict(zip(_upload_keys(files), chosen, strict=False))
            analyses.rerun(session, analysis_id, products)
        dispatcher.dispatch(analysis_id)

    await anyio.to_thread.run_sync(queue)
    return RedirectResponse(f"/a/{analysis_id}", status_code=303)


def _upload_keys(files: Sequence[StoredFile]) -> list[str]:
    """The names by which a re-run names each uploaded file (unique, as the nodes have them)."""
    return unique_names([stored.name for stored in files])


def coverage_groups(coverage: list[CoverageOut]) -> dict[str, list[CoverageOut]]:
    """Coverage by outcome, skipped first: what the user may need to collect again. The skips
    for want of another product's log (a Jabber log, an endpoint's all.log) are `elsewhere`,
    apart from the skips of the Expressway's own signatures."""
    groups: dict[str, list[CoverageOut]] = {
        "skipped": [],
        "elsewhere": [],
        "matched": [],
        "passed": [],
    }
    for item in coverage:
        other = without_product_log(item.outcome, item.reason)
        groups["elsewhere" if other else item.outcome].append(item)
    return groups


def find_bundle_file(
    session: Session, data_dir: Path, analysis_id: str, name: str
) -> tuple[BundleFileRow, Path]:
    """The unpacked file `name` of the analysis and its path on disk; NotFound otherwise."""
    analyses.get(session, analysis_id)
    row = session.scalars(
        select(BundleFileRow).where(
            BundleFileRow.analysis_id == analysis_id, BundleFileRow.name == name
        )
    ).first()
    if row is None:
        raise NotFound(f"The analysis has no file named '{name}'.")
    path = storage.stored_file(data_dir, row.storage_path)
    if not path.is_file():
        raise NotFound(f"The file '{name}' is no longer stored on this server.")
    return row, path


def index_path(data_dir: Path, analysis_id: str, name: str) -> Path:
    return storage.line_index_path(data_dir, analysis_id, name)


def finding_lines(session: Session, analysis_id: str, name: str) -> Counter[int]:
    """Line numbers of `name` quoted as evidence by the current findings (with how often)."""
    return Counter(analyses.evidence_lines(session, analysis_id, name))


@router.get("/a/{analysis_id}/files/{name:path}")
def log_viewer(
    analysis_id: str,
    name: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[int | None, Query(ge=1)] = None,
    line: Annotated[int | None, Query(ge=1)] = None,
    q: Annotated[str, Query(max_length=2000)] = "",
    regex: bool = False,
    case: bool = False,
    module: Annotated[str, Query(max_length=200)] = "",
    level: Annotated[str, Query(max_length=20)] = "",
    time: Annotated[str, Query(max_length=100)] = "",
    back: Annotated[str, Query(alias="from", max_length=4000)] = "",
) -> Response:
    """A page of a file; `line=`/`time=` (UTC) jumps, `q=` highlights, `module=`/`level=`
    filter the page's records, `from=` is the page to go back to (same analysis only)."""
    data_dir = settings.resolved_data_dir
    row, path = find_bundle_file(session, data_dir, analysis_id, name)
    context: dict[str, Any] = {
        "analysis_id": analysis_id,
        "name": row.name,
        "kind": row.kind,
        "size": original_size(path),
    }
    if row.kind in BINARY_KINDS or logview.looks_binary(path):
        return templates.TemplateResponse(request, "binary_file.html", context)
    index = logview.load_index(path, index_path(data_dir, analysis_id, row.name))
    if time and not line and not page:  # to the line's own URL, so the browser scrolls to it
        found = line_at_time(path, index, time)
        kept = {"line": str(found)}
        kept.update({key: value for key, value in request.query_params.items() if key != "time"})
        target_url = f"/a/{analysis_id}/files/{url_path(row.name)}?{urlencode(kept)}#L{found}"
        return RedirectResponse(target_url, status_code=303)
    wanted = page or (logview.page_of_line(line) if line else 1)
    shown = logview.read_page(path, index, wanted, page_bytes=settings.logview_page_bytes)
    back_link = backlink.safe_back_link(back, analysis_id)
    filters = {"q": q, "regex": "1" if regex else "", "case": "1" if case else ""}
    filters.update(module=module, level=level)
    if back_link:
        filters["from"] = back_link
    context.update(
        page=shown,
        target=line,
        evidence=set(finding_lines(session, analysis_id, row.name)),
        marked=viewer_marks.mark_page(
            shown.lines, text=q, regex=regex, case_sensitive=case, module=module, level=level
        ),
        filters={key: value for key, value in filters.items() if value},
        form={"q": q, "regex": regex, "case": case, "module": module, "level": level},
        back_link=back_link,
        back_label=backlink.back_label(back_link, analysis_id) if back_link else "",
    )
    return templates.TemplateResponse(request, "log_viewer.html", context)


def line_at_time(path: Path, index: logview.LineIndex, when: str) -> int:
    """The first line at or after the UTC time `when` (ISO 8601), by its timestamps."""
    try:
        moment = datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadTime(
            f"'{when}' is not a time: give it as ISO 8601, e.g. 2018-01-01T17:56:48Z."
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = position.offset_at_time(path, moment)
    if offset >= index.size:
        return max(1, index.line_count)
    return position.line_at(path, index.page_offsets, logview.LINES_PER_PAGE, offset)


class BadTime(LoupeError):
    status_code = 400


@router.get("/a/{analysis_id}/raw/{name:path}")
def raw_file(
    analysis_id: str, name: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The unpacked file as a download, byte for byte, whole or one `Range` of it (HEAD: its
    headers, the file not read); app.web.downloads says how either stored form is served."""
    row, path = find_bundle_file(session, settings.resolved_data_dir, analysis_id, name)
    filename = strip_bidi(row.name.rsplit("/", 1)[-1]) or "download"
    return downloads.download(request, path, filename)
