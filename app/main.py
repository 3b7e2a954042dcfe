"""create_app(): settings, database, signature library, dispatcher, routers, error handling."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DisconnectionError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import __version__
from app.config import Settings, get_settings
from app.db import Database
from app.errors import LoupeError
from app.jobs import Dispatcher
from app.observability import configure_logging, metrics_registry
from app.signatures import Library, load_library
from app.web import api, calls, catalogue, pages

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# Swagger UI and ReDoc load their assets from a CDN and start with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
    "https://fastapi.tiangolo.com https://cdn.redoc.ly; worker-src blob:; object-src 'none'; "
    "frame-ancestors 'none'"
)


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


def create_app(settings: Settings | None = None, *, library: Library | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.log_json:
            configure_logging(json_lines=True)
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.sqlalchemy_url)
        app.state.settings = settings
        app.state.db = db
        app.state.library = library or load_library(
            settings.library_dir, cache_dir=settings.cache_dir
        )
        dispatcher = make_dispatcher(settings, db)
        app.state.dispatcher = dispatcher
        app.state.metrics = metrics_registry(db, dispatcher.queue_depth)
        if settings.embedded_worker or settings.broker_url:
            dispatcher.start()
        try:
            yield
        finally:
            dispatcher.stop()
            db.dispose()

    app = FastAPI(
        title="logloupe",
        version=__version__,
        description="Upload Cisco Expressway diagnostic bundles; get a diagnostic overview.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(catalogue.router)
    app.include_router(calls.router)
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    install_error_handlers(app)
    install_security_headers(app)
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
        "accept", ""
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoupeError)
    async def loupe_error(request: Request, exc: LoupeError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)
        return pages.error_page(request, exc.status_code, str(exc))

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
            response, docs=request.url.path in ("/docs", "/redoc", "/docs/oauth2-redirect")
        )
        return response


def _add_security_headers(response: Response, *, docs: bool) -> None:
    response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
