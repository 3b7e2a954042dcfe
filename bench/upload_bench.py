"""`make bench`, upload part: stream a 1 GiB upload to `loupe serve`, watch its memory and the 202.

    python bench/upload_bench.py [--mib 1024]

Starts `loupe serve` (no embedded worker: only the upload path is measured) on a free port with a
data dir of its own, then POSTs a generated log of `--mib` MiB as multipart/form-data, streamed
from disk. It samples the server's resident memory every 20 ms, notes when the client sent the
last byte and when the 202 came back, and compares the upload's throughput with copying the same
file on the same disk (`cp`, the baseline of the same run). PASS/FAIL lines for issue 3: the 202
within a second of the last byte, and no memory growth (peak RSS at most 64 MB above the idle
server's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MAX_202_SECONDS = 1.0
MAX_RSS_GROWTH_MB = 64.0
PIECE = 2**20
BOUNDARY = "loupebenchboundary7d1f"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_log(path: Path, mib: int) -> None:
    """A log of `mib` MiB of Expressway-like lines (what the upload path sees does not matter)."""
    line = (
        b'2026-11-20T10:15:33.120+01:00 expc1 tvcs: Event="Call Attempted" Service="SIP" '
        b'Src-ip="10.1.2.3" Src-port="5061" Dst-alias-type="SIP" Dst-alias="sip:alice@example.com" '
        b'Call-serial-number="a4b1e6f0-0000" Tag="77e1" Protocol="TLS" Level="1"\n'
    )
    piece = line * (PIECE // len(line) + 1)
    with path.open("wb") as out:
        for _ in range(mib):
            out.write(piece[:PIECE])


def rss_mb(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) / 1024
    return float("nan")


class Sampler(threading.Thread):
    """Largest RSS of a process (and its threads) while running."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)


def body(path: Path, marks: dict[str, float]) -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="loggingsnapshot_expc1_2026-11-20_10_15_33.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    with path.open("rb") as source:
        while piece := source.read(PIECE):
            yield piece
    marks["last_byte"] = time.perf_counter()
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def body_length(path: Path) -> int:
    marks: dict[str, float] = {}
    head, tail = next(body(path, marks)), f"\r\n--{BOUNDARY}--\r\n".encode()
    return len(head) + path.stat().st_size + len(tail)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the upload in MiB")
    parser.add_argument("--loupe", default=str(ROOT / ".venv/bin/loupe"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loupe-upload-bench-", dir=ROOT / "bench") as tmp:
        work = Path(tmp)
        log = work / "upload.txt"
        make_log(log, args.mib)
        started = time.perf_counter()
        shutil.copyfile(log, work / "copy.txt")
        copy_seconds = time.perf_counter() - started
        (work / "copy.txt").unlink()
        port = free_port()
        env = {
            **os.environ,
            "LOUPE_DATA_DIR": str(work / "data"),
            "LOUPE_PORT": str(port),
            "LOUPE_EMBEDDED_WORKER": "false",
            "LOUPE_MAX_UPLOAD_BYTES": str((args.mib + 64) * 2**20),
        }
        subprocess.run([args.loupe, "migrate"], env=env, check=True, capture_output=True)
        server = subprocess.Popen(
            [args.loupe, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    print("loupe serve did not start", file=sys.stderr)
                    return 1
                time.sleep(0.1)
            with httpx.Client(timeout=600) as client:  # warm up the upload path once
                client.post(f"{url}/api/v1/analyses", files={"files": ("w.log", b"x y z\n")})
            idle = rss_mb(server.pid)
            sampler = Sampler(server.pid)
            sampler.start()
            marks: dict[str, float] = {}
            headers = {
                "content-type": f"multipart/form-data; boundary={BOUNDARY}",
                "content-length": str(body_length(log)),
            }
            sent = time.perf_counter()
            with httpx.Client(timeout=600) as client:
                response = client.post(
                    f"{url}/api/v1/analyses", content=body(log, marks), headers=headers
                )
            answered = time.perf_counter()
            sampler.stop.set()
            sampler.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
    if response.status_code != 202:
        print(f"the upload was refused: {response.status_code} {response.text[:300]}")
        return 1
    size_mb = args.mib * 2**20 / 1e6
    upload_seconds = answered - sent
    after_last = answered - marks["last_byte"]
    growth = sampler.peak - idle
    print()
    print(f"{'upload of ' + str(args.mib) + ' MiB':<40} {'seconds':>8} {'MB/s':>7} {'vs cp':>6}")
    print(
        f"{'cp of the same file (baseline)':<40} {copy_seconds:8.2f} {size_mb / copy_seconds:7.0f}"
    )
    print(
        f"{'POST /api/v1/analyses, streamed':<40} {upload_seconds:8.2f} "
        f"{size_mb / upload_seconds:7.0f} {upload_seconds / copy_seconds:6.2f}"
    )
    print(f"server RSS idle {idle:.0f} MB, peak during the upload {sampler.peak:.0f} MB")
    print()
    ok_202 = after_last <= MAX_202_SECONDS
    ok_rss = growth <= MAX_RSS_GROWTH_MB
    print(
        f"{verdict(ok_202)}  202 came {after_last:.3f} s after the last byte <= {MAX_202_SECONDS}"
    )
    print(f"{verdict(ok_rss)}  server RSS grew {growth:.0f} MB <= {MAX_RSS_GROWTH_MB:.0f} MB")
    return 0 if ok_202 and ok_rss else 1


if __name__ == "__main__":
    sys.exit(main())
