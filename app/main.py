"""create_app(): settings, database, signature library, dispatcher, routers, error handling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import DisconnectionError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import __version__
from app.auth.ratelimit import LoginLimiter
from app.config import Settings, get_settings
from app.db import Database
from app.errors import LoupeError
from app.jobs import Dispatcher
from app.jobs.retention import RetentionSweeper
from app.observability import configure_logging, metrics_registry
from app.services import secret_key, storage
from app.signatures import Library, load_library
from app.web import (
    access_api,
    access_pages,
    account,
    api,
    calls,
    catalogue,
    investigate,
    pages,
    redact,
    reports,
    signins,
    signon,
)
from app.web.csrf import CrossSiteGuard, CsrfTokens
from app.web.guard import guard, install_auth_errors
from app.web.head import HeadAsGet
from app.web.public_url import server_address
from app.web.request_limits import BodyTimeouts, UploadSlots
from app.web.warmup import start_warm_up

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# Swagger UI and ReDoc: their assets come from the fastapi-offline package, served here; only
# their start-up scripts are inline. Nothing is loaded from another origin.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


# paths whose responses carry no customer data and may be cached; everything else: no-store
CACHEABLE_PREFIXES = ("/static/",)
STAGING_SWEEP_SECONDS = 600


DATABASE_DOWN = (
    "The database is not reachable right now; nothing was stored. Try again in a minute."
)


def make_dispatcher(settings: Settings, db: Database) -> Dispatcher:
    """The embedded runner by default; Celery when LOUPE_BROKER_URL is set."""
    if settings.broker_url:
        from app.jobs.celery_dispatch import CeleryDispatcher

        return CeleryDispatcher(settings, db)
    from app.jobs.embedded import EmbeddedRunner

    return EmbeddedRunner(settings, db)


def create_app(
    settings: Settings | None = None, *, library: Library | None = None, served: bool = False
) -> FastAPI:
    """The web app; `served`: by `loupe serve`, a process that serves until it ends (its
    start-up objects are frozen out of the garbage collector once warm, see app.web.warmup)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.log_json:
            configure_logging(json_lines=True)
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        if secret_key.key_path(settings.resolved_data_dir).exists() and not settings.secret_key:
            _ = app.state.csrf_tokens.key  # a damaged key file stops the start, saying why
        db = Database(settings.sqlalchemy_url)
        app.state.settings = settings
        app.state.db = db
        app.state.library = library or load_library(
            settings.library_dir, cache_dir=settings.cache_dir
        )
        dispatcher = make_dispatcher(settings, db)
        app.state.dispatcher = dispatcher
        app.state.metrics = metrics_registry(db, dispatcher.queue_depth)
        app.state.login_limiter = LoginLimiter(settings.login_attempts_per_minute)
        retention_sweeper = RetentionSweeper(settings, db)
        if settings.embedded_worker or settings.broker_url:
            dispatcher.start()
            retention_sweeper.start()
        if server_address(settings).trusts_host_header:
            log.warning(
                "LOUPE_PUBLIC_URL is not set and logloupe listens on all interfaces (%s): share "
                "links name this machine and cross-site checks trust the Host header; set "
                "LOUPE_PUBLIC_URL to the address people use",
                settings.host,
            )
        sweeper = asyncio.create_task(sweep_staging_forever(settings))
        app.state.warm_up = start_warm_up(freeze=served)  # templates, ORM mappers: not waited for
        try:
            yield
        finally:
            retention_sweeper.stop()
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            dispatcher.stop()
            db.dispose()

    app = FastAPIOffline(
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
        title="logloupe",
        version=__version__,
        description="Upload Cisco Expressway diagnostic bundles; get a diagnostic overview.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.upload_slots = UploadSlots(settings.max_concurrent_uploads)
    app.state.served = served
    app.state.csrf_tokens = CsrfTokens(
        lambda: secret_key.server_key(settings.secret_key, settings.resolved_data_dir)
    )
    guarded = [Depends(guard)]  # every route that serves analyses: the caller and the policy
    app.include_router(access_api.router, dependencies=guarded)
    app.include_router(api.router, dependencies=guarded)
    app.include_router(access_pages.router, dependencies=guarded)
    app.include_router(pages.router, dependencies=guarded)
    app.include_router(reports.router, dependencies=guarded)
    app.include_router(calls.router, dependencies=guarded)
    app.include_router(signins.router, dependencies=guarded)
    app.include_router(account.router)
    app.include_router(signon.router)
    app.state.oidc = signon.make_provider(settings)
    redact.install()
    app.include_router(catalogue.router)
    app.include_router(investigate.router, dependencies=guarded)  # search, timeline
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    install_error_handlers(app)
    install_auth_errors(app)
    # innermost first: the cross-site check, then the body timeouts, then the headers
    app.add_middleware(
        CrossSiteGuard,
        address=lambda: server_address(settings),
        tokens=app.state.csrf_tokens,
    )
    app.add_middleware(
        BodyTimeouts,
        idle_seconds=settings.upload_idle_seconds,
        body_seconds=settings.upload_body_seconds,
    )
    install_security_headers(app)
    app.add_middleware(HeadAsGet)  # outermost: every layer within sees the GET it answers
    return app


def create_served_app() -> FastAPI:
    """The app of each `loupe serve --web-workers N` process (uvicorn's factory)."""
    return create_app(served=True)


def staging_max_age(settings: Settings) -> float:
    """How old a staging dir must be to be left over: longer than any upload may last."""
    return max(3600.0, settings.upload_body_seconds + 600.0)


async def sweep_staging_forever(settings: Settings) -> None:
    """Remove staging dirs left by a process that died mid-upload: now, then every 10 minutes."""
    while True:
        try:
            removed = await asyncio.to_thread(
                storage.sweep_staging, settings.resolved_data_dir, staging_max_age(settings)
            )
            if removed:
                log.warning("removed %d staging dirs left by interrupted uploads", removed)
        except OSError as exc:
            log.warning("could not sweep the staging dir: %s", exc)
        await asyncio.sleep(STAGING_SWEEP_SECONDS)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
        "accept", ""
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoupeError)
    async def loupe_error(request: Request, exc: LoupeError) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": str(exc)}, status_code=exc.status_code, headers=exc.headers
            )
        response = pages.error_page(request, exc.status_code, str(exc))
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(OperationalError)
    @app.exception_handler(DisconnectionError)
    async def database_unreachable(request: Request, exc: Exception) -> Response:
        log.warning("database unreachable on %s: %s", request.url.path, exc)
        detail = DATABASE_DOWN
        if _wants_json(request):
            return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "30"})
        return pages.error_page(request, 503, detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
            for err in exc.errors()
        )
        detail = f"The request is not valid: {problems}."
        if _wants_json(request):
            return JSONResponse({"detail": detail}, status_code=422)
        return pages.error_page(request, 422, detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404:
            detail = "Nothing here: check the link." if detail == "Not Found" else detail
        if _wants_json(request):
            return JSONResponse(
                {"detail": detail}, status_code=exc.status_code, headers=exc.headers
            )
        return pages.error_page(request, exc.status_code, detail)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        detail = "Internal error; the operator can find the details in the server log."
        response = (
            JSONResponse({"detail": detail}, status_code=500)
            if _wants_json(request)
            else pages.error_page(request, 500, detail)
        )
        # this handler runs outside the middleware stack: add the security headers here too
        _add_security_headers(response, docs=False)
        return response


def install_security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        _add_security_headers(
            response,
            docs=request.url.path in ("/docs", "/redoc", "/docs/oauth2-redirect"),
            cacheable=request.url.path.startswith(CACHEABLE_PREFIXES),
        )
        return response


def _add_security_headers(response: Response, *, docs: bool, cacheable: bool = False) -> None:
    if not cacheable:  # pages, downloads and JSON of analyses: never kept by browsers or proxies
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
