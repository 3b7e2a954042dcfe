"""Uploads that stall, drag on, crowd in or carry huge fields are refused; nothing stays staged.

Each hostile request is followed by a normal upload on the same server, which must finish.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.services import storage
from app.services.uploads import receive_upload
from app.web.server import HeaderDeadlineH11Protocol, uvicorn_options
from tests.web.live_server import (
    LiveServer,
    body_of,
    live_server,
    read_response,
    request_head,
    sqlite_settings,
    status_of,
    stream_until_answered,
)

BOUNDARY = "----loupetestboundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
LOG = b'2026-12-02T06:00:00+00:00 vcsc tvcs: Event="Startup" Detail="hello"\n' * 20


def file_part_head(name: str = "x.log", field: str = "files") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()


def field_part_head(field: str) -> bytes:
    return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n'.encode()


def closing() -> bytes:
    return f"\r\n--{BOUNDARY}--\r\n".encode()


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def normal_upload_finishes(server: LiveServer) -> None:
    """A plain log uploaded next is stored, analysed and done."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post("/api/v1/analyses", files={"files": ("vcsc.log", LOG)})
        assert response.status_code == 202, response.text
        url = response.json()["api_url"]
        deadline = time.monotonic() + 60
        while (status := client.get(url).json()["status"]) not in ("done", "failed"):
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        assert status == "done"
    assert server.staged() == []


IDLE_SECONDS = 0.5
BODY_SECONDS = 4.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server for the module (its worker process starts once): short body timeouts,
    two upload slots."""
    settings = sqlite_settings(
        tmp_path_factory.mktemp("live"),
        upload_idle_seconds=IDLE_SECONDS,
        upload_body_seconds=BODY_SECONDS,
        max_concurrent_uploads=2,
    )
    with live_server(settings) as running:
        yield running


@contextmanager
def trickling(sockets: list[socket.socket], every: float = 0.1) -> Iterator[None]:
    """Keep uploads alive but unfinished: one byte on each socket every `every` seconds."""
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(every):
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(b"x")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def connection_closed(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def start_upload(server: LiveServer) -> socket.socket:
    sock = server.connect()
    sock.sendall(request_head("/api/v1/analyses", MULTIPART, length=10_000_000))
    sock.sendall(file_part_head() + LOG)
    return sock


def test_a_stalled_upload_gets_408_and_nothing_stays_staged(server: LiveServer) -> None:
    started = time.monotonic()
    with start_upload(server) as sock:  # then nothing more
        response = read_response(sock)
    assert status_of(response) == 408, response[:300]
    assert b"nothing arrived for 0.5 seconds" in body_of(response)
    assert time.monotonic() - started < BODY_SECONDS
    wait_until(lambda: server.staged() == [])
    normal_upload_finishes(server)


def test_an_upload_dragging_past_the_body_timeout_gets_408(server: LiveServer) -> None:
    started = time.monotonic()
    with start_upload(server) as sock, trickling([sock]):  # never idle, never done
        response = read_response(sock)
    assert status_of(response) == 408, response[:300]
    assert b"LOUPE_UPLOAD_BODY_SECONDS" in body_of(response)
    assert BODY_SECONDS - 0.5 < time.monotonic() - started < BODY_SECONDS + 3
    wait_until(lambda: server.staged() == [])
    normal_upload_finishes(server)


def test_uploads_beyond_the_concurrency_limit_get_503_while_the_service_answers(
    server: LiveServer,
) -> None:
    held = [start_upload(server) for _ in range(2)]
    try:
        with trickling(held):
            wait_until(lambda: len(server.staged()) == 2)
            with httpx.Client(base_url=server.url, timeout=10) as client:
                refused = client.post("/api/v1/analyses", files={"files": ("vcsc.log", LOG)})
                assert refused.status_code == 503
                assert refused.headers["retry-after"] == "30"
                assert refused.headers["connection"] == "close"
                assert "LOUPE_MAX_CONCURRENT_UPLOADS" in refused.json()["detail"]
                assert client.get("/healthz").status_code == 200
                assert client.get("/").status_code == 200
            assert len(server.staged()) == 2  # the refused one staged nothing
    finally:
        for sock in held:
            sock.close()  # the clients leave: their staging dirs go too
    wait_until(lambda: server.staged() == [])
    normal_upload_finishes(server)


@pytest.mark.parametrize("field", ["notes", "product", "title"])
def test_a_huge_form_field_is_refused_early_with_nothing_staged(
    server: LiveServer, field: str
) -> None:
    hundred_mb = 100 * 2**20
    with server.connect() as sock:
        sock.sendall(request_head("/api/v1/analyses", MULTIPART, length=hundred_mb + 200))
        sock.sendall(file_part_head() + LOG + b"\r\n" + field_part_head(field))
        sent, response = stream_until_answered(sock, b"A" * 65536, hundred_mb)
        assert connection_closed(sock)  # the rest of the body is not read into the void
    assert status_of(response) in (413, 422), response[:300]
    assert field.encode() in body_of(response)
    assert sent < 16 * 2**20  # refused after the first KiB of the field, not at the end
    wait_until(lambda: server.staged() == [])
    normal_upload_finishes(server)


def test_a_declared_length_over_the_cap_is_refused_before_the_body(server: LiveServer) -> None:
    with server.connect() as sock:
        sock.sendall(request_head("/api/v1/analyses", MULTIPART, length=50 * 2**30))
        response = read_response(sock)
    assert status_of(response) == 413
    assert b"LOUPE_MAX_UPLOAD_BYTES" in body_of(response)
    assert server.staged() == []


@pytest.fixture
def upload_client(tmp_path: Path) -> Any:
    settings = sqlite_settings(tmp_path, max_files_per_request=3, embedded_worker=False)
    with TestClient(create_app(settings)) as client:
        client.staging = storage.staging_root(settings.resolved_data_dir)  # type: ignore[attr-defined]
        yield client


def nothing_staged(client: Any) -> bool:
    root: Path = client.staging
    return not root.exists() or list(root.iterdir()) == []


def test_too_many_files_in_one_request_is_refused(upload_client: Any) -> None:
    files = [("files", (f"n{i}.log", LOG)) for i in range(4)]
    response = upload_client.post("/api/v1/analyses", files=files)
    assert response.status_code == 422
    assert "LOUPE_MAX_FILES_PER_REQUEST" in response.json()["detail"]
    assert nothing_staged(upload_client)
    ok = upload_client.post("/api/v1/analyses", files=files[:3])
    assert ok.status_code == 202


@pytest.mark.parametrize(
    ("boundary", "why"),
    [("b" * 300, "300 characters long"), ("a<b>c", "characters RFC 2046 does not allow")],
)
def test_a_long_or_malformed_boundary_is_400_before_staging(
    upload_client: Any, boundary: str, why: str
) -> None:
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="files"; filename="x.log"\r\n\r\n'
        ).encode()
        + LOG
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"content-type": f'multipart/form-data; boundary="{boundary}"'}
    response = upload_client.post("/api/v1/analyses", content=body, headers=headers)
    assert response.status_code == 400
    assert why in response.json()["detail"]
    assert not upload_client.staging.exists()  # refused before the staging dir was made
    form = upload_client.post("/analyses", content=body, headers={**headers, "accept": "text/html"})
    assert form.status_code == 400 and "RFC 2046" in form.text
    assert (
        upload_client.post("/api/v1/analyses", files={"files": ("x.log", LOG)}).status_code == 202
    )


def test_bytes_after_the_last_part_count_against_the_cap(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path, max_upload_bytes=4096, embedded_worker=False)
    body = file_part_head() + LOG + closing() + b"E" * (2 * 2**20)  # a 2 MiB epilogue
    with TestClient(create_app(settings)) as client:
        chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))  # no Content-Length
        response = client.post(
            "/api/v1/analyses", content=chunks, headers={"content-type": MULTIPART}
        )
        assert response.status_code == 413
        assert "LOUPE_MAX_UPLOAD_BYTES" in response.json()["detail"]
        assert list(storage.staging_root(settings.resolved_data_dir).iterdir()) == []


@pytest.mark.parametrize(
    ("padding", "why"),
    [
        ("X-Padding: " + "p" * 20_000 + "\r\n", "header size exceeded"),  # one long line
        ("".join(f"X-P{i}: {'p' * 1200}\r\n" for i in range(7)), "KiB of headers"),  # many
    ],
)
def test_oversized_part_headers_are_refused(upload_client: Any, padding: str, why: str) -> None:
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="x.log"\r\n'
            f"{padding}\r\n"
        ).encode()
        + LOG
        + closing()
    )
    response = upload_client.post(
        "/api/v1/analyses", content=body, headers={"content-type": MULTIPART}
    )
    assert response.status_code == 400
    assert why in response.json()["detail"]
    assert nothing_staged(upload_client)


def test_staging_dirs_left_by_a_dead_process_are_swept_and_nothing_else(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    root = storage.staging_root(data_dir)
    old, fresh, other = root / "upload-old", root / "upload-fresh", root / "keep-me"
    outside = tmp_path / "outside"
    for directory in (old, fresh, other, outside):
        directory.mkdir(parents=True)
        (directory / "000").write_bytes(b"x")
    (root / "upload-link").symlink_to(outside, target_is_directory=True)
    hours_ago = time.time() - 3 * 3600
    for path in (old / "000", old, other / "000", other):
        os.utime(path, (hours_ago, hours_ago))
    settings = sqlite_settings(tmp_path, embedded_worker=False)
    with TestClient(create_app(settings)):  # start-up sweeps
        pass
    assert not old.exists()
    assert fresh.exists() and other.exists()  # recent, or not ours
    assert (outside / "000").exists() and (root / "upload-link").is_symlink()
    assert storage.sweep_staging(data_dir, 3600) == 0


class QuickHeaderDeadline(HeaderDeadlineH11Protocol):
    header_seconds = 0.5


def test_headers_sent_a_byte_at_a_time_lose_the_connection(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path, embedded_worker=False)
    options = {**uvicorn_options(settings), "http": QuickHeaderDeadline}
    with live_server(settings, **options) as slow_server:
        started = time.monotonic()
        with slow_server.connect() as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            closed = False
            with trickling([sock], every=0.1):  # "X-a" forever: never the blank line
                sock.settimeout(5)
                try:
                    closed = sock.recv(100) == b""
                except ConnectionResetError:  # closed with trickled bytes unread: the kernel
                    closed = True  # answers RST instead of FIN; the connection is lost either way
        assert closed and time.monotonic() - started < 3
        with httpx.Client(base_url=slow_server.url, timeout=5) as client:
            assert client.get("/healthz").status_code == 200  # others are served as before
            assert client.get("/healthz").status_code == 200  # and again on the same connection


def test_a_cancelled_upload_leaves_nothing_staged(tmp_path: Path) -> None:
    """The server stopping (or the request task cancelled) mid-upload removes what it staged."""
    root = tmp_path / "staging"

    async def stalled_body() -> AsyncIterator[bytes]:
        yield file_part_head() + LOG
        await anyio.sleep(3600)
        yield b""

    async def upload_then_cancel() -> None:
        async with anyio.create_task_group() as group:

            async def receive() -> None:
                await receive_upload(
                    MULTIPART, stalled_body(), staging_root=root, max_total=2**20, max_files=4
                )

            group.start_soon(receive)
            while not (root.exists() and list(root.iterdir())):
                await anyio.sleep(0.01)
            group.cancel_scope.cancel()

    anyio.run(upload_then_cancel)
    assert list(root.iterdir()) == []


def test_a_flood_of_never_finishing_uploads_is_shed_and_the_service_answers(
    server: LiveServer,
) -> None:
    """The table's "1,000 uploads that never finish", at the scale of a test: 30 of them."""
    flood = [start_upload(server) for _ in range(30)]
    try:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            assert client.get("/healthz").status_code == 200
        statuses = sorted(status_of(read_response(sock)) for sock in flood)
    finally:
        for sock in flood:
            sock.close()
    assert statuses.count(503) >= 28  # refused at once: two slots
    assert set(statuses) <= {503, 408}  # the two in a slot stalled: 408 after 0.5 s
    wait_until(lambda: server.staged() == [])
    normal_upload_finishes(server)
