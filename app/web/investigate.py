"""Search and timeline routes: `/a/{id}/search`, `/a/{id}/timeline` and their JSON twins.

Thin: parse the query string, call app.services.search / timeline with the Analysis id, render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from app.search.query import SearchQuery
from app.services import analyses
from app.services import search as search_service
from app.services import timeline as timeline_service
from app.web import timeline_svg
from app.web.api import ERRORS
from app.web.deps import SessionDep, SettingsDep
from app.web.pages import page_links
from app.web.templating import templates

router = APIRouter()

LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "TRACE", "CRITICAL", "1", "2", "3", "4")

FORM_KEYS = ("q", "regex", "case", "node", "file", "module", "level", "from", "to", "call_id")

Text = Annotated[str, Query(max_length=2000)]


@dataclass(frozen=True)
class SearchArgs:
    """The query string of a search, shared by the page and its JSON twin."""

    q: str
    regex: bool
    case: bool
    node: str
    file: str
    module: str
    level: str
    time_from: str
    time_to: str
    call_id: str
    page: int

    def params(self) -> dict[str, str]:
        """The non-empty search parameters (not the page), as they go into a link."""
        params = {
            "q": self.q,
            "regex": "1" if self.regex else "",
            "case": "1" if self.case else "",
            "node": self.node,
            "file": self.file,
            "module": self.module,
            "level": self.level,
            "from": self.time_from,
            "to": self.time_to,
            "call_id": self.call_id,
        }
        return {key: value for key, value in params.items() if value}


def search_args(
    q: Text = "",
    regex: bool = False,
    case: bool = False,
    node: Text = "",
    file: Text = "",
    module: Text = "",
    level: Text = "",
    time_from: Annotated[str, Query(alias="from", max_length=100)] = "",
    time_to: Annotated[str, Query(alias="to", max_length=100)] = "",
    call_id: Text = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> SearchArgs:
    """FastAPI dependency: the search parameters of the query string."""
    return SearchArgs(q, regex, case, node, file, module, level, time_from, time_to, call_id, page)


SearchArgsDep = Annotated[SearchArgs, Depends(search_args)]


def viewer_link(analysis_id: str, file: str, line: int, params: dict[str, str], back: str) -> str:
    """The log viewer at `line` of `file`, highlighting the search text, back to `back`."""
    shown = {"line": str(line)}
    for key in ("q", "regex", "case"):
        if key in params:
            shown[key] = params[key]
    shown["from"] = back
    return f"/a/{analysis_id}/files/{quote(file, safe='/')}?{urlencode(shown)}#L{line}"


@router.api_route("/a/{analysis_id}/search", methods=["GET", "HEAD"], include_in_schema=False)
def search_page(
    analysis_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    args: SearchArgsDep,
) -> Response:
    """The search form; with a text or a filter, one page of hits grouped by file."""
    analysis = analyses.get(session, analysis_id)
    params = args.params()
    asked = bool(args.q or args.module or args.level or args.call_id)
    context: dict[str, Any] = {
        "analysis_id": analysis_id,
        "title": analysis.title,
        "params": params,
        "form": {key: params.get(key, "") for key in FORM_KEYS},
        "levels": LEVELS,
        "result": None,
        "error": None,
        "api_url": f"/api/v1/analyses/{analysis_id}/search?{urlencode(params)}",
    }
    status = 200
    if asked:
        try:
            result = run_search(session, analysis_id, settings, args)
        except search_service.BadSearch as exc:
            context["error"] = str(exc)
            status = 400
        else:
            back = f"/a/{analysis_id}/search?{urlencode({**params, 'page': str(args.page)})}"
            context.update(
                result=result,
                links={
                    (hit.file, hit.line): viewer_link(analysis_id, hit.file, hit.line, params, back)
                    for hit in result.hits
                },
                page_links=page_links(result.page, result.page_count),
                page_url=f"/a/{analysis_id}/search?{urlencode(params)}&page=",
                node_names=result.nodes,
                file_names=result.files,
            )
    if "file_names" not in context:  # no search ran: list what can be chosen
        files = search_service.searchable_files(session, analysis_id, settings.resolved_data_dir)
        context["node_names"] = sorted({f.node for f in files if f.node})
        context["file_names"] = [f.name for f in files]
    return templates.TemplateResponse(request, "search.html", context, status_code=status)


def run_search(
    session: SessionDep, analysis_id: str, settings: SettingsDep, args: SearchArgs
) -> search_service.SearchPage:
    query = SearchQuery(
        text=args.q,
        regex=args.regex,
        case_sensitive=args.case,
        module=args.module,
        level=args.level,
        call_id=args.call_id,
        time_from=search_service.parse_moment(args.time_from, "from"),
        time_to=search_service.parse_moment(args.time_to, "to"),
    )
    return search_service.run(
        session,
        analysis_id,
        settings.resolved_data_dir,
        query,
        node=args.node,
        file=args.file,
        page=args.page,
        max_hits=settings.search_max_hits,
        seconds=settings.search_seconds,
    )


@router.get("/api/v1/analyses/{analysis_id}/search", responses=ERRORS)
def search_json(
    analysis_id: str, session: SessionDep, settings: SettingsDep, args: SearchArgsDep
) -> Response:
    """Search every log file of the analysis: literal or RE2 regex (`regex=1`), `case=1` to
    match case; filters node, file, module, level, from/to (UTC, ISO 8601), call_id. Hits
    are counted up to LOUPE_SEARCH_MAX_HITS and for at most LOUPE_SEARCH_SECONDS; past
    either, `truncated` is true and `stopped` says which ("limit" or "time")."""
    result = run_search(session, analysis_id, settings, args)
    body = {
        "total": result.total,
        "truncated": result.truncated,
        "stopped": result.stopped,
        "page": result.page,
        "per_page": result.per_page,
        "pages": result.page_count,
        "hits": [
            {
                "node": hit.node,
                "file": hit.file,
                "line": hit.line,
                "time": hit.time,
                "text": hit.text,
            }
            for hit in result.hits
        ],
    }
    return JSONResponse(body)


@router.api_route("/a/{analysis_id}/timeline", methods=["GET", "HEAD"], include_in_schema=False)
def timeline_page(
    analysis_id: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """All nodes on one UTC axis as server-rendered SVG."""
    analysis = analyses.get(session, analysis_id)
    data = timeline_service.view(
        session, analysis_id, settings.resolved_data_dir, settings.timeline_seconds
    )
    context = {
        "analysis_id": analysis_id,
        "title": analysis.title,
        "data": data,
        "layout": timeline_svg.layout(data, analysis_id),
        "api_url": f"/api/v1/analyses/{analysis_id}/timeline",
    }
    return templates.TemplateResponse(request, "timeline.html", context)


@router.get("/api/v1/analyses/{analysis_id}/timeline", responses=ERRORS)
def timeline_json(analysis_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    """Per node and UTC minute: lines, errors, warnings; alarms and markers (`events`, with
    file and line); findings with first and last seen. `complete` is false when counting
    ran out of LOUPE_TIMELINE_SECONDS."""
    return JSONResponse(
        timeline_service.view(
            session, analysis_id, settings.resolved_data_dir, settings.timeline_seconds
        )
    )


# HEAD answers wherever GET does (kept out of the OpenAPI description: one operation per path)
router.add_api_route(
    "/api/v1/analyses/{analysis_id}/search", search_json, methods=["HEAD"], include_in_schema=False
)
router.add_api_route(
    "/api/v1/analyses/{analysis_id}/timeline",
    timeline_json,
    methods=["HEAD"],
    include_in_schema=False,
)
