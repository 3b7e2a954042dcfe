"""How `loupe serve` runs uvicorn: its connection limits, and a deadline for request headers.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) and refuses requests past
`limit_concurrency` with 503, but a client that sends its request headers a byte at a time holds
a connection for ever: every byte restarts the keep-alive timer. `HeaderDeadlineH11Protocol`
gives each request `LOUPE_REQUEST_HEADER_SECONDS` from the moment the connection (or the
previous response) is ready until its headers are complete; past it the connection is closed.
Request bodies are bounded separately (app.web.request_limits).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.config import Settings, get_settings

MAX_HEADER_BYTES = 16 * 1024  # h11's limit on request line + headers (431 beyond)


class HeaderDeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers do not arrive in time."""

    header_seconds: float | None = None  # None: LOUPE_REQUEST_HEADER_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def _seconds(self) -> float:
        if self.header_seconds is not None:
            return self.header_seconds
        return get_settings().request_header_seconds

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
        self._header_deadline = self.loop.call_later(self._seconds(), self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        waiting_for_headers = self.conn.their_state is h11.IDLE
        if waiting_for_headers and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_deadline()  # the next request on this connection: the same rule

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        super().connection_lost(exc)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn.run/uvicorn.Config arguments bounding connections, from the settings."""
    return {
        "http": HeaderDeadlineH11Protocol,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_graceful_shutdown": 30,
    }
