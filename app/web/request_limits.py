"""Bounds on requests in flight: body timeouts for every request, and upload slots.

`BodyTimeouts` wraps the ASGI `receive` of every request: while its body is still arriving, a
wait of more than `LOUPE_UPLOAD_IDLE_SECONDS` for the next bytes, or a body still arriving after
`LOUPE_UPLOAD_BODY_SECONDS`, raises RequestTimeout (408) in whatever is reading it; the upload
receiver then removes what it staged. Once the body is complete, `receive` is left alone (it
then only reports a disconnect, which streaming responses wait for).

`UploadSlots` counts the uploads being received by this process; one more than
`LOUPE_MAX_CONCURRENT_UPLOADS` is refused with 503 and Retry-After before its body is read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import RequestTimeout, TooBusy

RETRY_AFTER_SECONDS = 30


class BodyTimeouts:
    """ASGI middleware: a request body that stalls or drags on raises RequestTimeout."""

    def __init__(self, app: ASGIApp, *, idle_seconds: float, body_seconds: float) -> None:
        self.app = app
        self.idle_seconds = idle_seconds
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        complete = False

        async def guarded_receive() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            left = self.body_seconds - (time.monotonic() - started)
            wait = min(self.idle_seconds, left)
            message: Message | None = None
            if wait > 0:
                with anyio.move_on_after(wait):
                    message = await receive()
            if message is None:
                raise RequestTimeout(_timeout_reason(wait < self.idle_seconds, self))
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        await self.app(scope, guarded_receive, send)


def _timeout_reason(whole_body: bool, limits: BodyTimeouts) -> str:
    if whole_body:
        return (
            f"The upload took longer than {_seconds(limits.body_seconds)} and was stopped; "
            "nothing was kept. Send it again over a faster link, or ask the operator to raise "
            "LOUPE_UPLOAD_BODY_SECONDS."
        )
    return (
        f"The upload stalled: nothing arrived for {_seconds(limits.idle_seconds)}, so it was "
        "stopped and nothing was kept. Send it again."
    )


def _seconds(value: float) -> str:
    if value >= 120 and value % 60 == 0:
        return f"{value / 60:.0f} minutes"
    return f"{value:g} seconds"


class UploadSlots:
    """At most `limit` uploads received at once (one event loop: a plain counter suffices)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    @contextmanager
    def take(self) -> Iterator[None]:
        if self.in_use >= self.limit:
            raise TooBusy(
                f"{self.limit} uploads are already being received (LOUPE_MAX_CONCURRENT_UPLOADS)"
                f"; nothing was stored. Try again in {RETRY_AFTER_SECONDS} seconds.",
                retry_after=RETRY_AFTER_SECONDS,
            )
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
