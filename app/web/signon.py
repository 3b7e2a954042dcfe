"""LOUPE_AUTH=oidc: send the browser to the sign-on provider and take it back, logged in."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from app.auth import audit, logins, users
from app.auth.oidc import Pending, Provider, SignOnFailed
from app.config import Settings
from app.errors import NotFound
from app.web.access_api import client_address
from app.web.account import safe_next, secure_cookies, set_session_cookie
from app.web.deps import SessionDep, SettingsDep
from app.web.public_url import server_address

router = APIRouter(include_in_schema=False)
PENDING_COOKIE = "loupe_oidc"
PENDING_PATH = "/auth/oidc"
PENDING_SECONDS = 600
CALLBACK = "/auth/oidc/callback"


def provider(request: Request, settings: Settings) -> Provider:
    found = getattr(request.app.state, "oidc", None)
    if settings.auth != "oidc" or not isinstance(found, Provider):
        raise NotFound("Single sign-on is not configured here (LOUPE_AUTH=oidc).")
    return found


def make_provider(settings: Settings) -> Provider | None:
    if settings.auth != "oidc" or not settings.oidc_issuer or not settings.oidc_client_id:
        return None
    return Provider(
        settings.oidc_issuer,
        settings.oidc_client_id,
        settings.oidc_client_secret,
        settings.oidc_team_claim,
    )


@router.get("/auth/oidc/start")
def start(
    request: Request, settings: SettingsDep, next: Annotated[str | None, Query()] = None
) -> Response:
    url, pending = provider(request, settings).start(
        server_address(settings).base_url + CALLBACK, safe_next(next)
    )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        PENDING_COOKIE,
        pending.dump(),
        max_age=PENDING_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path=PENDING_PATH,
    )
    return response


@router.get(CALLBACK)
def callback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The provider sends the browser back here with a code; a login session, then onwards."""
    sso = provider(request, settings)
    if error:
        raise SignOnFailed(f"The sign-on provider refused the login: {error}.")
    pending = Pending.load(request.cookies.get(PENDING_COOKIE))
    if pending is None or not code or not state:
        raise SignOnFailed("The sign-on took too long or came from elsewhere: log in again.")
    person = sso.finish(pending, code, state, server_address(settings).base_url + CALLBACK)
    user = users.sign_on(session, person.name, person.team)
    address = client_address(request)
    if user is None:
        audit.record(session, "login_failed", actor=person.name, address=address, detail="sso")
        raise SignOnFailed(f"The account '{person.name}' is disabled on this server.")
    secret = logins.start(session, user, timedelta(hours=settings.session_hours))
    audit.record(session, "login", actor=user.name, address=address, detail="sso")
    response = RedirectResponse(pending.next_path, status_code=303)
    set_session_cookie(response, secret, settings)
    response.delete_cookie(PENDING_COOKIE, path=PENDING_PATH, httponly=True)
    return response
