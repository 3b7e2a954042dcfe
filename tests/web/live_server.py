"""A real uvicorn serving the app on a free local port (in a thread), and raw-socket helpers.

For what the in-process TestClient cannot show: bodies that stall or trickle, uploads held open
side by side, a body refused while the client is still sending.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from app.config import Settings
from app.main import create_app
from app.migrate import upgrade
from app.services import storage


def sqlite_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Migrated settings on a SQLite file of `tmp_path` (one database is enough here)."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'data' / 'loupe.db'}",
        sweep_interval_seconds=1,
        worker_threads=1,
        **overrides,  # type: ignore[arg-type]
    )
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    return settings


@dataclass
class LiveServer:
    host: str
    port: int
    settings: Settings
    server: uvicorn.Server

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def staged(self) -> list[Path]:
        root = storage.staging_root(self.settings.resolved_data_dir)
        return sorted(root.iterdir()) if root.exists() else []

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=10)


@contextmanager
def live_server(settings: Settings, **uvicorn_options: object) -> Iterator[LiveServer]:
    """The whole app (embedded worker included) served by uvicorn; settings get the real port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": port})
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        ws="none",
        lifespan="on",
        access_log=False,
        **uvicorn_options,  # type: ignore[arg-type]
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while thread.is_alive() and not server.started:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield LiveServer("127.0.0.1", port, settings, server)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def request_head(
    path: str, content_type: str, *, length: int | None = None, extra: str = ""
) -> bytes:
    """The request line and headers of a POST (chunked-free: Content-Length when given)."""
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: {content_type}",
        "Accept: application/json",
    ]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def read_response(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes or `timeout` passes (the status line first)."""
    sock.settimeout(timeout)
    data = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data and _complete(bytes(data)):
            break
    return bytes(data)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def stream_until_answered(
    sock: socket.socket, chunk: bytes, max_bytes: int, timeout: float = 20.0
) -> tuple[int, bytes]:
    """Send `chunk` over and over (never more than `max_bytes`) until the server answers;
    returns the bytes sent and the answer. The client never holds the whole body."""
    sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + timeout
    answer = bytearray()
    view = memoryview(chunk)
    offset = 0
    while time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock] if sent < max_bytes else [], [], 0.5)
        if readable:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, ConnectionResetError):
                data = b""
            answer += data
            if not data or _complete(bytes(answer)):
                break
            continue
        if writable:
            try:
                n = sock.send(view[offset:])
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                continue
            sent += n
            offset = (offset + n) % len(chunk)
    sock.setblocking(True)
    return sent, bytes(answer)


def status_of(response: bytes) -> int:
    line = response.split(b"\r\n", 1)[0]
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def header_of(response: bytes, name: str) -> str | None:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def body_of(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in response else b""
