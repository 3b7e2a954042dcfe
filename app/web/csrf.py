"""Cross-site protection for every state-changing request, in every mode (also LOUPE_AUTH=none).

`CrossSiteGuard` (ASGI middleware) looks at every POST, PUT, PATCH and DELETE before the
application reads its body:

1. Origin. Refused (403) when the browser says `Sec-Fetch-Site: cross-site`; when `Origin` is
   present and is not this server's own origin (app.web.public_url: `LOUPE_PUBLIC_URL`, else the
   configured host and port, never an arbitrary `Host` header); when `Sec-Fetch-Site: same-site`
   (another subdomain) comes without a matching `Origin`; and for `Origin: null` (except with
   `Sec-Fetch-Site: same-origin`: our own forms under `no-referrer`). Requests with
   neither header (curl, scripts) pass this check.
2. Token. A request from a browser (any `Sec-Fetch-*` header, or an auth session cookie) must
   carry a CSRF token: in the `X-CSRF-Token` header (the drag-and-drop upload of static/app.js),
   or in the form field `csrf_token` of a form post (urlencoded; or multipart, where it must
   come before the first file and within the first 64 KiB: `csrf_field()` opens every form).
   Other bodies from browsers (JSON, text/plain) need the header. Requests carrying
   `Authorization: Bearer …` need no token (a cross-site page cannot add that header).

Tokens are signed double-submit: the cookie `loupe_csrf` holds a random nonce (SameSite=Lax,
HttpOnly, Secure over https), and the token is the HMAC of that nonce with a key derived from
the server's secret (app.services.secret_key). A page or a subdomain able to plant a cookie
still cannot make the matching token without the key.

For templates: the Jinja global `csrf_field()` renders the hidden input (and sets the cookie on
the response when the browser had none); `csrf_token(request)` gives the bare token to code
that needs it (e.g. another form or a header).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import jinja2
from markupsafe import Markup
from python_multipart.multipart import parse_options_header
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import CrossSiteRefused, LoupeError, UploadTooLarge
from app.services.secret_key import derive
from app.services.uploads import multipart_boundary
from app.web.public_url import ServerAddress, origin_of

CSRF_COOKIE = "loupe_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_COOKIES = ("loupe_session",)  # a cookie session marks a browser (app auth, issue 12)
MAX_TOKEN_PEEK = 64 * 1024  # body bytes read to find the token of a form post
NONCE = re.compile(r"[A-Za-z0-9_-]{32,64}")
NONCE_KEY = "loupe.csrf_nonce"
NEW_NONCE_KEY = "loupe.csrf_new_nonce"

RELOAD = "Reload the page and try again."


class CsrfTokens:
    """Makes and checks tokens; the key is read (or created) on first use."""

    def __init__(self, key_source: Callable[[], bytes]) -> None:
        self._key_source = key_source
        self._key: bytes | None = None
        self._lock = threading.Lock()

    @property
    def key(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    self._key = derive(self._key_source(), "csrf")
        return self._key

    def token(self, nonce: str) -> str:
        digest = hmac.new(self.key, nonce.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def valid(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(self.token(nonce), token.strip())


def csrf_token(request: Request) -> str:
    """The token of this browser's nonce; starts a nonce (cookie sent with the response)."""
    state = request.scope.setdefault("state", {})
    nonce = state.get(NONCE_KEY)
    if not nonce:
        nonce = secrets.token_urlsafe(32)
        state[NONCE_KEY] = nonce
        state[NEW_NONCE_KEY] = True
    tokens: CsrfTokens = request.app.state.csrf_tokens
    return tokens.token(nonce)


@jinja2.pass_context
def csrf_field(context: Any) -> Markup:
    """`{{ csrf_field() }}`: the hidden input every POST form starts with."""
    token = csrf_token(context["request"])
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


class CrossSiteGuard:
    """ASGI middleware: the Origin / Sec-Fetch-Site check and the CSRF token check."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        address: Callable[[], ServerAddress],
        tokens: CsrfTokens,
        session_cookies: tuple[str, ...] = SESSION_COOKIES,
    ) -> None:
        self.app = app
        self.address = address
        self.tokens = tokens
        self.session_cookies = session_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookies = cookie_parser(headers.get("cookie", ""))
        nonce = cookies.get(CSRF_COOKIE, "")
        state = scope.setdefault("state", {})
        state[NONCE_KEY] = nonce if NONCE.fullmatch(nonce) else None
        secure = scope.get("scheme") == "https" or self.address().base_url.startswith("https:")
        if scope["method"] in STATE_CHANGING:
            try:
                self.check_origin(headers)
                if self.is_browser(headers, cookies) and not _bearer(headers):
                    receive = await self.check_token(scope, headers, state[NONCE_KEY], receive)
            except LoupeError as exc:
                await _refuse(scope, exc)(scope, receive, send)
                return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and state.get(NEW_NONCE_KEY):
                cookie = f"{CSRF_COOKIE}={state[NONCE_KEY]}; Path=/; SameSite=Lax; HttpOnly"
                MutableHeaders(scope=message).append(
                    "set-cookie", cookie + ("; Secure" if secure else "")
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    # --- 1. where the request comes from -------------------------------------------------------
    def check_origin(self, headers: Headers) -> None:
        fetch_site = headers.get("sec-fetch-site", "").lower()
        origin = headers.get("origin")
        if fetch_site == "cross-site":
            raise CrossSiteRefused(
                "Refused: this request was sent by a page of another site. Upload and re-run "
                "from logloupe's own pages (or with curl or a script)."
            )
        if origin == "null" and fetch_site == "same-origin":
            # a form of one of our own pages: under Referrer-Policy: no-referrer the browser
            # sends `Origin: null` for form posts, and Sec-Fetch-Site (which no page can set)
            # vouches that the request comes from this very origin
            return
        if origin is None:
            if fetch_site == "same-site":
                raise CrossSiteRefused(
                    "Refused: this request came from another address of the same site and did "
                    "not say which. Use logloupe's own pages."
                )
            return
        if not self.own_origin(origin, headers):
            shown = origin[:100]
            expected = self.address()
            hint = (
                f"logloupe answers at {expected.base_url}"
                if not expected.trusts_host_header
                else "it is not the address this request was sent to"
            )
            raise CrossSiteRefused(
                f"Refused: this request came from {shown}, and {hint}. If {shown} is how people "
                "reach this server, the operator sets LOUPE_PUBLIC_URL to it."
            )

    def own_origin(self, origin: str, headers: Headers) -> bool:
        normal = origin_of(origin) if origin != "null" else None
        if normal is None:
            return False
        expected = self.address()
        if normal in expected.origins:
            return True
        if expected.trusts_host_header:  # wildcard bind without LOUPE_PUBLIC_URL: see public_url
            host = headers.get("host", "")
            scheme = normal.split(":", 1)[0]
            return bool(host) and origin_of(f"{scheme}://{host}") == normal
        return False

    # --- 2. the token --------------------------------------------------------------------------
    def is_browser(self, headers: Headers, cookies: dict[str, str]) -> bool:
        if any(key.startswith("sec-fetch-") for key in headers):
            return True
        return any(name in cookies for name in self.session_cookies)

    async def check_token(
        self, scope: Scope, headers: Headers, nonce: str | None, receive: Receive
    ) -> Receive:
        """Raises CrossSiteRefused without a valid token; returns the `receive` to use next
        (replaying the body bytes read to find a form's token)."""
        token = headers.get(CSRF_HEADER)
        content_type = headers.get("content-type", "")
        if token is None and content_type.startswith("application/x-www-form-urlencoded"):
            token, receive = await _urlencoded_token(receive)
        elif token is None and content_type.startswith("multipart/form-data"):
            token, receive = await _multipart_token(receive, multipart_boundary(content_type))
        if not nonce:
            raise CrossSiteRefused(
                f"Refused: the form's security cookie ({CSRF_COOKIE}) is missing; it may have "
                f"expired, or cookies are blocked for this site. {RELOAD}"
            )
        if not self.tokens.valid(nonce, token):
            what = "carries no CSRF token" if not token else "carries an outdated CSRF token"
            raise CrossSiteRefused(f"Refused: the request {what}. {RELOAD}")
        return receive


def _bearer(headers: Headers) -> bool:
    return headers.get("authorization", "").lower().startswith("bearer ")


async def _read_some(receive: Receive, enough: Callable[[bytes], bool]) -> tuple[bytes, Receive]:
    """Body bytes until `enough(data)` or MAX_TOKEN_PEEK or the end; and a `receive` that gives
    the application those bytes again, then the rest of the body."""
    buffered: list[Message] = []
    data = bytearray()
    more = True
    while more and len(data) <= MAX_TOKEN_PEEK and not enough(bytes(data)):
        message = await receive()
        buffered.append(message)
        if message["type"] != "http.request":
            break
        data += message.get("body", b"")
        more = message.get("more_body", False)

    async def replay() -> Message:
        if buffered:
            return buffered.pop(0)
        return await receive()

    return bytes(data), replay


async def _urlencoded_token(receive: Receive) -> tuple[str | None, Receive]:
    data, replay = await _read_some(receive, lambda _: False)
    if len(data) > MAX_TOKEN_PEEK:
        raise UploadTooLarge(
            f"The form is larger than {MAX_TOKEN_PEEK // 1024} KiB: send files as "
            "multipart/form-data."
        )
    values = parse_qs(data.decode("latin-1"), max_num_fields=200).get(CSRF_FIELD)
    return (values[0] if values else None), replay


async def _multipart_token(receive: Receive, boundary: bytes) -> tuple[str | None, Receive]:
    def first_part_read(data: bytes) -> bool:
        return _first_field(data, boundary) is not _INCOMPLETE

    data, replay = await _read_some(receive, first_part_read)
    found = _first_field(data, boundary)
    return (found if isinstance(found, str) else None), replay


_INCOMPLETE = object()


def _first_field(data: bytes, boundary: bytes) -> object:
    """The value of the `csrf_token` field when it comes before any file part; None when a file
    part (or the end) comes first; _INCOMPLETE when more bytes are needed to tell."""
    delimiter = b"--" + boundary
    position = data.find(delimiter)
    if position < 0:
        return _INCOMPLETE
    while True:
        head_start = position + len(delimiter)
        if data[head_start : head_start + 2] == b"--":
            return None  # the closing delimiter: no token in the form
        head_end = data.find(b"\r\n\r\n", head_start)
        if head_end < 0:
            return _INCOMPLETE
        name, filename = _disposition(data[head_start:head_end])
        if filename is not None:
            return None  # the token must come before the files (csrf_field() first)
        value_end = data.find(b"\r\n" + delimiter, head_end + 4)
        if value_end < 0:
            return _INCOMPLETE
        if name == CSRF_FIELD.encode():
            return data[head_end + 4 : value_end].decode("ascii", "replace")
        position = value_end + 2


def _disposition(head: bytes) -> tuple[bytes | None, bytes | None]:
    """The `name` and `filename` of a part's Content-Disposition header."""
    for line in head.split(b"\r\n"):
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-disposition":
            _, options = parse_options_header(value.strip())
            return options.get(b"name"), options.get(b"filename")
    return None, None


def _refuse(scope: Scope, exc: LoupeError) -> Response:
    """The error response (JSON for the API and scripts, the HTML error page for browsers)."""
    request = Request(scope)
    detail = str(exc)
    wants_json = request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
        "accept", ""
    )
    headers = {**exc.headers, "Connection": "close"}
    if wants_json:
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)
    try:
        from app.web.pages import error_page

        response = error_page(request, exc.status_code, detail)
    except Exception:  # the refusal must not fail
        response = PlainTextResponse(detail, status_code=exc.status_code)
    response.headers.update(headers)
    return response
