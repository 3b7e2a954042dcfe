"""Real processes for the scale-out tests: `loupe serve`, `loupe worker`, redis-server, a TCP proxy.

Everything listens on 127.0.0.1 on free ports, writes under the test's tmp_path, and is
stopped by the test that started it (SIGTERM, then SIGKILL after a bound).
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import redis
from isal import igzip

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def until(condition: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def _stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


class RedisServer:
    """A redis-server of the test's own, keeping nothing on disk; can be restarted empty."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        until(lambda: _pings(client), 10, "redis-server to answer")
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; `cut()` refuses and drops connections."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Like a database going down: new connections are refused, open ones reset."""
        if self._listener is not None:
            with suppress(OSError):  # wakes the thread blocked in accept() (Linux)
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    restore = start
    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class Fleet:
    """`loupe serve` plus any number of `loupe worker` processes sharing env and data dir."""

    def __init__(self, tmp_path: Path, database_url: str, broker_url: str, **extra: str) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "LOUPE_DATA_DIR": str(tmp_path / "data"),
            "LOUPE_DATABASE_URL": database_url,
            "LOUPE_BROKER_URL": broker_url,
            "LOUPE_QUEUE_NAME": f"analyses-{tmp_path.name}-{os.getpid()}",
            "LOUPE_LOG_JSON": "true",
            "LOUPE_SWEEP_INTERVAL_SECONDS": "1",
            "LOUPE_STALE_AFTER_SECONDS": "15",
            "LOUPE_REDISPATCH_AFTER_SECONDS": "3",
            "LOUPE_UNPACK_MAX_RATIO": "1000",
            # the load test sends 50 uploads at once to 2 web processes, which may take them
            # unevenly: room for all in either (the default, 8 per process, answers the rest 503)
            "LOUPE_MAX_CONCURRENT_UPLOADS": "64",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
        self.web: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def loupe(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.tmp_path / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "app", *args],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def migrate(self) -> None:
        process = self.loupe("migrate", "migrate")
        assert process.wait(timeout=120) == 0, self.log("migrate")

    def serve(self, web_workers: int = 1) -> None:
        self.web = self.loupe(
            "web", "serve", "--port", str(self.port), "--web-workers", str(web_workers)
        )
        until(self._healthy, 60, f"loupe serve to answer\n{self.log('web')}", step=0.2)

    def worker(self, name: str, concurrency: int = 1) -> subprocess.Popen[bytes]:
        process = self.loupe(name, "worker", "--concurrency", str(concurrency))
        self.workers[name] = process
        until(lambda: "ready" in self.log(name), 60, f"worker {name} ready", step=0.2)
        return process

    def kill(self, name: str) -> None:
        """SIGKILL a worker and its pool processes, as when its machine dies."""
        process = self.workers.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in [*self.workers.values(), *([self.web] if self.web else [])]:
            _stop(process)
        self.workers.clear()
        self.web = None

    def log(self, name: str) -> str:
        path = self.tmp_path / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.tmp_path.glob("*.log"))
        )

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.base_url}{path}", timeout=10)

    def upload(self, *files: tuple[str, bytes]) -> httpx.Response:
        return httpx.post(
            f"{self.base_url}/api/v1/analyses",
            files=[("files", (name, body)) for name, body in files],
            timeout=60,
        )

    def wait_done(self, analysis_id: str, timeout: float = 120) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            try:
                body: dict[str, Any] = self.get(f"/api/v1/analyses/{analysis_id}").json()
            except (httpx.HTTPError, ValueError):
                return None
            return body if body.get("status") in ("done", "failed") else None

        try:
            result: dict[str, Any] = until(finished, timeout, f"analysis {analysis_id}", 0.25)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None
        return result


@contextmanager
def fleet(tmp_path: Path, database_url: str, broker_url: str, **extra: str) -> Iterator[Fleet]:
    running = Fleet(tmp_path, database_url, broker_url, **extra)
    try:
        running.migrate()
        yield running
    finally:
        running.stop()


def big_bundle(path: Path, host: str = "vcsc", megabytes: int = 600) -> Path:
    """A real-looking bundle of ~`megabytes` MB of logs (about 25x smaller gzipped): slow enough
    to kill a worker in the middle of it."""
    from tests.corpus import healthy_expressway_c_loggingsnapshot, xstat_dump

    log = healthy_expressway_c_loggingsnapshot(host, n_lines=200_000).encode()
    times = max(1, megabytes * 1_000_000 // len(log))
    xstat = xstat_dump(host, "Expressway-C", "X14.2.1").encode()
    with (
        path.open("wb") as raw,
        igzip.IGzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz,  # type: ignore[no-untyped-call]
        tarfile.open(fileobj=gz, mode="w|") as tar,
    ):
        info = tarfile.TarInfo(f"xstat_dump_{host}_2022-07-11_17_33_18.txt")
        info.size = len(xstat)
        tar.addfile(info, io.BytesIO(xstat))
        info = tarfile.TarInfo(f"loggingsnapshot_{host}_2022-07-11_17_33_18.txt")
        info.size = len(log) * times
        tar.addfile(info, _Repeat(log, times))
    return path


class _Repeat(io.RawIOBase):
    """`data` repeated `times` times, read in exactly the sizes asked for."""

    def __init__(self, data: bytes, times: int) -> None:
        self.data = data
        self.left = len(data) * times
        self.pos = 0

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        out = bytearray()
        while len(out) < size:
            piece = self.data[self.pos : self.pos + size - len(out)]
            out += piece
            self.pos = (self.pos + len(piece)) % len(self.data)
        self.left -= size
        return bytes(out)
