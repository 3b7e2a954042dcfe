"""The server's own address: the base of share links and the origin cross-site checks expect.

Built from `LOUPE_PUBLIC_URL` when set, otherwise from the configured host and port; never from
the `Host` header of a request, which any client (or a DNS-rebinding page) chooses freely.

Without `LOUPE_PUBLIC_URL` and with a wildcard bind (`0.0.0.0`, `::`, as in the Docker image),
the server cannot know the name people use to reach it: share links then name this machine
(`socket.getfqdn()`), and the Origin check compares the `Origin` with the `Host` of the same
request, which still refuses every cross-site page but not a DNS-rebinding one. A warning at
start-up asks for `LOUPE_PUBLIC_URL` in that case.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from app.config import Settings

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "", "[::]"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def _bracketed(host: str) -> str:
    """An IPv6 literal as it appears in a URL ([::1]); anything else unchanged."""
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    except ValueError:
        pass
    return host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> str | None:
    """'https://Host:443/x' -> 'https://host'; None for anything that is not http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = _bracketed(parts.hostname.lower())
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """Where this server is reached: the share-link base and the origins it accepts."""

    base_url: str
    origins: frozenset[str]
    trusts_host_header: bool  # wildcard bind without LOUPE_PUBLIC_URL: see the module docstring


@lru_cache(maxsize=32)
def _machine_name() -> str:
    return socket.getfqdn() or socket.gethostname() or "localhost"


def server_address(settings: Settings) -> ServerAddress:
    if settings.public_url:
        origin = origin_of(settings.public_url)
        assert origin is not None  # Settings validated it
        return ServerAddress(settings.public_url, frozenset({origin}), trusts_host_header=False)
    host = settings.host.strip()
    port = settings.port
    if host in WILDCARD_HOSTS:
        base = f"http://{_bracketed(_machine_name())}:{port}"
        return ServerAddress(base, frozenset(), trusts_host_header=True)
    names = [_bracketed(host.strip("[]").lower())]
    if _is_loopback(host):
        names += LOOPBACK_NAMES
    origins = frozenset(
        origin for name in names if (origin := origin_of(f"http://{name}:{port}")) is not None
    )
    base = origin_of(f"http://{names[0]}:{port}") or f"http://{names[0]}:{port}"
    return ServerAddress(base, origins, trusts_host_header=False)


def share_url(settings: Settings, path: str) -> str:
    """The absolute link to `path` (starting with '/') that people can share."""
    return server_address(settings).base_url + path
