"""Login and logout, the API tokens page, the audit page, and opening a share link."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from app.auth import api_tokens, audit, logins, shares, users
from app.auth.identity import Caller
from app.auth.ratelimit import LoginLimiter
from app.config import Settings
from app.errors import LoupeError, NotFound
from app.models import utcnow
from app.web.access_api import AdminsOnly, client_address
from app.web.deps import DatabaseDep, SessionDep, SettingsDep
from app.web.guard import SESSION_COOKIE, SHARE_COOKIE, Unauthenticated, signed_in
from app.web.public_url import server_address
from app.web.templating import templates

router = APIRouter(include_in_schema=False)
AUDIT_PER_PAGE = 100
MAX_FIELD = 1100


class TooManyAttempts(LoupeError):
    status_code = 429


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (never //host or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def secure_cookies(settings: Settings) -> bool:
    return server_address(settings).base_url.lower().startswith("https://")


def person(request: Request, session: SessionDep, settings: Settings) -> Caller:
    """A signed-in person or script (not a share link); the login page otherwise."""
    caller = signed_in(request, session, settings)
    if caller is None:
        raise Unauthenticated("Log in first.")
    request.state.caller = caller
    return caller


def render_login(
    request: Request, next_path: str, error: str | None = None, status_code: int = 200
) -> Response:
    settings: Settings = request.app.state.settings
    context = {"next": next_path, "error": error, "sso": settings.auth == "oidc"}
    return templates.TemplateResponse(request, "login.html", context, status_code=status_code)


@router.get("/login")
def login_page(
    request: Request, settings: SettingsDep, next: Annotated[str | None, Query()] = None
) -> Response:
    if settings.auth == "none":
        return RedirectResponse("/", status_code=303)
    return render_login(request, safe_next(next))


def form_text(form: Any, field: str) -> str:
    value = form.get(field)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


@router.post("/login")
async def login(request: Request, settings: SettingsDep, db: DatabaseDep) -> Response:
    """Check the name and password; a session cookie and back where the user was going."""
    if settings.auth != "local":  # no passwords without accounts, nor with single sign-on
        return RedirectResponse("/login" if settings.auth == "oidc" else "/", status_code=303)
    form = await request.form()
    name, password = form_text(form, "name").strip(), form_text(form, "password")
    next_path = safe_next(form_text(form, "next"))
    address = client_address(request) or "unknown"
    limiter: LoginLimiter = request.app.state.login_limiter
    if limiter.blocked(name, address):
        raise TooManyAttempts("Too many failed logins for this name: wait a minute, then retry.")

    def check() -> str | None:  # Argon2 takes tens of milliseconds: off the event loop
        with db.session() as session:
            user = users.authenticate(session, name, password)
            if user is None:
                audit.record(session, "login_failed", actor=name[:100] or None, address=address)
                return None
            secret = logins.start(session, user, timedelta(hours=settings.session_hours))
            audit.record(session, "login", actor=user.name, address=address)
            return secret

    secret = await run_in_threadpool(check)
    if secret is None:
        limiter.failed(name, address)
        return render_login(request, next_path, "Wrong name or password.", 401)
    limiter.succeeded(name, address)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, secret, settings)
    return response


def set_session_cookie(response: Response, secret: str, settings: Settings) -> None:
    """The login cookie: HttpOnly, SameSite=Lax, Secure behind https (LOUPE_PUBLIC_URL)."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path="/",
    )


@router.post("/logout")
def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        logins.end(session, cookie)
    response = RedirectResponse("/login" if settings.auth != "none" else "/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure_cookies(settings), httponly=True)
    return response


def render_tokens(
    request: Request, session: SessionDep, caller: Caller, new: str | None = None
) -> Response:
    user = users.get(session, caller.name) if caller.name else None
    context = {
        "tokens": api_tokens.of_user(session, user) if user else [],
        "new_token": new,
        "has_account": user is not None,
        "now": utcnow(),
    }
    return templates.TemplateResponse(
        request, "tokens.html", context, status_code=201 if new else 200
    )


@router.get("/tokens")
def tokens_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return render_tokens(request, session, person(request, session, settings))


@router.post("/tokens")
async def create_token(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """A new token for the signed-in user, shown on this page once."""
    caller = person(request, session, settings)
    if caller.name is None:
        raise NotFound("API tokens belong to accounts: set LOUPE_AUTH=local to use them.")
    form = await request.form()
    raw_days = form_text(form, "expires_days").strip()
    if raw_days and not raw_days.isdigit():
        raise users.UserInvalid("'expires_days' must be a whole number of days.")
    made = api_tokens.create(
        session,
        users.get(session, caller.name),
        form_text(form, "name").strip(),
        int(raw_days) if raw_days else None,
    )
    audit.record(
        session,
        "token_created",
        actor=caller,
        address=client_address(request),
        detail=f"token {made.row.id} '{made.row.name}'",
    )
    return render_tokens(request, session, caller, new=made.secret)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(
    token_id: int, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    caller = person(request, session, settings)
    if caller.name is None:
        raise NotFound("No such token.")
    api_tokens.revoke(session, users.get(session, caller.name), token_id)
    audit.record(
        session,
        "token_revoked",
        actor=caller,
        address=client_address(request),
        detail=f"token {token_id}",
    )
    return RedirectResponse("/tokens", status_code=303)


@router.get("/admin/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    if not person(request, session, settings).admin:
        raise AdminsOnly("Only admins may read the audit log.")
    total, events = audit.page(session, offset=(page - 1) * AUDIT_PER_PAGE, limit=AUDIT_PER_PAGE)
    context = {
        "events": events,
        "page": page,
        "more": total > page * AUDIT_PER_PAGE,
        "total": total,
    }
    return templates.TemplateResponse(request, "audit.html", context)


@router.get("/s/{secret}")
def open_share(secret: str, request: Request, session: SessionDep) -> Response:
    """A share link: remember it in a cookie for that analysis' pages only, then go there."""
    link = shares.live(session, secret) if len(secret) <= 200 else None
    if link is None:
        raise NotFound("This share link does not exist, has expired or was revoked.")
    audit.record(
        session,
        "share_viewed",
        actor="share link",
        analysis_id=link.analysis_id,
        address=client_address(request),
        detail=f"share {link.id}",
    )
    settings: Settings = request.app.state.settings
    response = RedirectResponse(f"/a/{link.analysis_id}", status_code=303)
    response.set_cookie(
        SHARE_COOKIE,
        secret,
        max_age=max(1, int((link.expires_at - utcnow()).total_seconds())),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path=f"/a/{link.analysis_id}",
    )
    return response
