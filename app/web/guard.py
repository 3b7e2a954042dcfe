"""Who is calling (API token, login cookie, share link) and whether they may use this route.

`guard` is a dependency of every router that serves analyses (see main.py): it resolves the
caller once per request, keeps it in `request.state.caller`, and for a route with an
`{analysis_id}` applies the one policy (app/auth/access.authorize) before the endpoint runs.
New routes on those routers are protected without doing anything.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.orm import Session

from app.auth import api_tokens, logins, shares, users
from app.auth.access import authorize
from app.auth.identity import LOCAL_USER, Caller, share_visitor
from app.auth.policy import Action, permits
from app.config import Settings
from app.errors import LoupeError
from app.models import Analysis
from app.web.deps import SessionDep, SettingsDep

SESSION_COOKIE = "loupe_session"
SHARE_COOKIE = "loupe_share"
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_SECRET_LENGTH = 200


class Unauthenticated(LoupeError):
    """No valid credentials: 401 on the API, the login page for a browser."""

    status_code = 401


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def bearer_secret(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header; None without the header."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    return value


def signed_in(request: Request, session: Session, settings: Settings) -> Caller | None:
    """The person or script behind the request, None when anonymous; raises Unauthenticated
    for a token that is not valid."""
    if settings.auth == "none":
        return LOCAL_USER
    secret = bearer_secret(request)
    if secret is not None:
        user = api_tokens.user_of(session, secret) if len(secret) <= MAX_SECRET_LENGTH else None
        if user is None:
            raise Unauthenticated(
                "The API token is not valid: it was revoked, it expired, it is mistyped, or "
                "its user is disabled."
            )
        return users.caller_of(user, "token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and len(cookie) <= MAX_SECRET_LENGTH:
        user = logins.user_of(session, cookie)
        if user is not None:
            return users.caller_of(user, "session")
    return None


def share_caller(request: Request, session: Session, analysis_id: str) -> Caller | None:
    """A share-link visitor of `analysis_id` (the cookie set by /s/{secret}), else None."""
    cookie = request.cookies.get(SHARE_COOKIE)
    if not cookie or len(cookie) > MAX_SECRET_LENGTH:
        return None
    link = shares.live(session, cookie)
    if link is None or link.analysis_id != analysis_id:
        return None
    return share_visitor(analysis_id)


def action_for(method: str, route_path: str) -> Action:
    """What a route does with its analysis: reads for GET, else by the route's last word."""
    if "/shares" in route_path:
        return Action.SHARE
    if method in ("GET", "HEAD"):
        return Action.READ
    if route_path.endswith("/rerun"):
        return Action.RERUN
    return Action.MANAGE  # delete, extend, and anything new until it says otherwise


def shareable(method: str, route_path: str) -> bool:
    """Routes a share link opens: the analysis' pages (not the API), read-only."""
    return method in ("GET", "HEAD") and route_path.startswith("/a/{analysis_id}")


def guard(request: Request, session: SessionDep, settings: SettingsDep) -> None:
    """Resolve the caller; 401 without credentials; 404 for an analysis it may not use."""
    route = request.scope.get("route")
    route_path: str = getattr(route, "path", request.url.path)
    if route_path in OPEN_PATHS:
        return
    caller = signed_in(request, session, settings)
    analysis_id = request.path_params.get("analysis_id")
    if analysis_id is None:
        if caller is None:
            raise Unauthenticated("Log in, or send an API token as 'Authorization: Bearer …'.")
        request.state.caller = caller
        return
    action = action_for(request.method, route_path)
    if caller is not None and caller.admin:
        request.state.caller = caller
        return
    if shareable(request.method, route_path) and (
        caller is None or not _may(session, caller, action, analysis_id)
    ):
        caller = share_caller(request, session, analysis_id) or caller
    if caller is None:
        raise Unauthenticated("Log in, or send an API token as 'Authorization: Bearer …'.")
    request.state.caller = caller
    authorize(session, caller, analysis_id, action)


def _may(session: Session, caller: Caller, action: Action, analysis_id: str) -> bool:
    analysis = session.get(Analysis, analysis_id)
    return analysis is not None and permits(caller, action, analysis)


def current_caller(request: Request) -> Caller:
    """The caller `guard` resolved for this request."""
    caller = getattr(request.state, "caller", None)
    if isinstance(caller, Caller):
        return caller
    settings: Settings = request.app.state.settings
    if settings.auth == "none":
        return LOCAL_USER
    raise Unauthenticated("Log in, or send an API token as 'Authorization: Bearer …'.")


def viewer(request: Request) -> Caller | None:
    """The caller for the templates (None on pages that did not resolve one)."""
    caller = getattr(request.state, "caller", None)
    return caller if isinstance(caller, Caller) else None


def install_auth_errors(app: FastAPI) -> None:
    """401: JSON with a `detail` for the API and scripts; the login page for a browser."""

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if not is_api(request) and wants_html:
            if request.method not in ("GET", "HEAD"):  # a form sent after the login ended
                return RedirectResponse("/login", status_code=303)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return JSONResponse(
            {"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
