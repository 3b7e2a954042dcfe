"""`make bench`, stored-analysis part (issue 16): what one analysis of the 1 GiB bundle keeps on
disk, how fast its log viewer pages near the end, how fast a re-run is, how much memory it takes.

    python bench/store_bench.py [--size 1024] [--repeat 3]

Everything goes through the public entry points, so the figures hold whatever the storage
under the data dir looks like: `loupe serve` (embedded worker, SQLite, a data dir of its own
under bench/out, the bench's 300-signature library) gets the bench bundle of `--size` MiB
(built by bench/run.py, reused from bench/out) as an upload, `POST /api/v1/analyses`; then

  footprint   bytes under the analysis' directory of the data dir (<data>/analyses/<id>/:
              the kept upload, the unpacked or stored files, indexes, JSON), as a fraction of
              the bundle's unpacked size, once the worker has kept the analysis' files (it
              compresses the work dir and removes the upload after the run is saved, holding
              <analysis>/.lock until then: the bench waits for it), after the log viewer was
              used (its line index is derived data kept there too) and after the re-runs; the
              bytes at the moment the run was done and the upload's share are printed on their
              own lines. Target: at most 0.15 of the unpacked size, all included.
  log viewer  `GET /a/<id>/files/<loggingsnapshot>?page=N` near the end of the 1 GiB log:
              the first view of the file once its files are kept (its last page; it may have
              to build the viewer's line index), then the median of one request to each of the
              `--pages` pages before the last, then of the same page again. Target: under
              100 ms, both the first view and the median.
  re-run      `POST /api/v1/analyses/<id>/rerun` until the API says done again (polled every
              50 ms), `--repeat` times, interleaved with `gzip -dc bundle > /dev/null` (the
              baseline of the same run). Target: median re-run at most 0.5x the median gzip.
              A re-run of the same files keeps the calls and sign-ins the first run stored
              (app/calls/reuse.py: they do not depend on the library); one more re-run, with
              the key of those calls removed, times the re-run that reads them again (after
              an upgrade of the extraction code), for information.
  memory      peak RSS (VmHWM) of every process under the server while it analyses (the
              analysing child, forked per analysis), sampled every 50 ms. Target: 300 MB.

The first analysis (upload to done) is printed with its ratio to gzip too, for information.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH_DIR))

MAX_FOOTPRINT = 0.15  # bytes kept per analysis / unpacked bytes of the bundle
MAX_PAGE_MS = 100.0
MAX_RERUN_VS_GZIP = 0.5
MAX_RSS_MB = 300.0
LIBRARY_SIGNATURES = 300
POLL_SECONDS = 0.05
LAST_PAGE = 10**9  # past any file's end: the viewer shows its last page
PIECE = 2**20
BOUNDARY = "loupestorebenchboundary5c2e"
_PAGE_OF = re.compile(r"Page (\d+) of (\d+)")
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "268435456", "MALLOC_TRIM_THRESHOLD_": "1073741824"}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tree_bytes(folder: Path) -> tuple[int, int]:
    """(apparent, allocated) bytes of the regular files under `folder` (links not followed)."""
    apparent = allocated = 0
    for base, _dirs, files in os.walk(folder):
        for name in files:
            try:
                info = os.lstat(os.path.join(base, name))
            except FileNotFoundError:
                continue
            apparent += info.st_size
            allocated += info.st_blocks * 512
    return apparent, allocated


def by_part(folder: Path) -> dict[str, int]:
    """Apparent bytes per first-level entry of an analysis dir (uploads, work, index, json ...)."""
    parts: dict[str, int] = {}
    for entry in sorted(folder.iterdir()):
        size = tree_bytes(entry)[0] if entry.is_dir() else entry.lstat().st_size
        parts[entry.name] = size
    return parts


class TreeMemory(threading.Thread):
    """Peak RSS (VmHWM) of every process descending from `root` (not `root` itself)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peaks: dict[int, tuple[str, float]] = {}  # pid → (command, MB)
        self.stop_event = threading.Event()
        self._lock = threading.Lock()

    def descendants(self) -> list[int]:
        parents: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2 :].split()
            parents[int(entry.name)] = int(fields[1])
        found, frontier = [], [self.root]
        while frontier:
            parent = frontier.pop()
            children = [pid for pid, ppid in parents.items() if ppid == parent]
            found += children
            frontier += children
        return found

    def run(self) -> None:
        pids: list[int] = []
        tick = 0
        while not self.stop_event.is_set():
            if tick % 4 == 0:
                pids = self.descendants()
            tick += 1
            for pid in pids:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                peak = int(fields.get("VmHWM", "0 kB").split()[0]) / 1024
                command = fields.get("Name", "?").strip()
                with self._lock:
                    if peak > self.peaks.get(pid, ("", 0.0))[1]:
                        self.peaks[pid] = (command, peak)
            time.sleep(POLL_SECONDS)

    def reset(self) -> None:
        with self._lock:
            self.peaks.clear()

    def peak(self) -> tuple[float, str]:
        """The largest peak seen since the last reset, and which process it was."""
        with self._lock:
            if not self.peaks:
                return 0.0, "none"
            pid, (command, peak) = max(self.peaks.items(), key=lambda item: item[1][1])
            return peak, f"pid {pid} ({command})"


def body(path: Path) -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="{path.name}"\r\nContent-Type: application/gzip\r\n\r\n'
    ).encode()
    with path.open("rb") as source:
        while piece := source.read(PIECE):
            yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def body_length(path: Path) -> int:
    parts = body(path)
    head = next(parts)
    return len(head) + path.stat().st_size + len(f"\r\n--{BOUNDARY}--\r\n")


def analysis(client: httpx.Client, analysis_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/analyses/{analysis_id}", params={"page": 1, "per_page": 50})
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def wait_done(
    client: httpx.Client, analysis_id: str, finished_before: str | None
) -> dict[str, Any]:
    """Poll until the analysis is done with a run that finished after `finished_before` (the
    re-run's POST has set it queued before it answered); a failed analysis ends the bench."""
    while True:
        state = analysis(client, analysis_id)
        if state["status"] == "failed":
            raise SystemExit(f"analysis {analysis_id} failed: {state.get('error')}")
        if state["status"] == "done" and state.get("finished_at") != finished_before:
            return state
        time.sleep(POLL_SECONDS)


def wait_kept(folder: Path, timeout: float = 600.0) -> float:
    """Seconds until the worker has kept the analysis' files (compressed the work dir, removed
    the upload): it holds `<analysis>/.lock` from the start of the run until then."""
    import fcntl

    started = time.perf_counter()
    lock = folder / ".lock"
    while time.perf_counter() - started < timeout:
        if lock.exists():
            with lock.open("rb") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    time.sleep(0.1)
                    continue
                fcntl.flock(handle, fcntl.LOCK_UN)
                return time.perf_counter() - started
        time.sleep(0.1)
    return float("nan")


def planted_problems(client: httpx.Client, analysis_id: str, manifest: dict[str, Any]) -> list[str]:
    """Planted hits of the bench signatures that the stored analysis does not count exactly."""
    from run import Run, check_findings

    from app.signatures import load_library

    response = client.get(f"/api/v1/analyses/{analysis_id}")  # every finding
    response.raise_for_status()
    generated = LIBRARY_SIGNATURES - len(load_library().signatures)
    return check_findings(Run("stored analysis", 0.0, 0.0, response.text), manifest, generated)


def server_seconds(state: dict[str, Any]) -> float:
    """started_at → finished_at of the analysis' current run, as the server recorded them."""
    from datetime import datetime

    started = datetime.fromisoformat(state["started_at"])
    finished = datetime.fromisoformat(state["finished_at"])
    return (finished - started).total_seconds()


def log_file_name(value: Any) -> str | None:
    """The name of the loggingsnapshot file quoted in the findings' evidence."""
    if isinstance(value, dict):
        name = value.get("file")
        if isinstance(name, str) and "loggingsnapshot" in name:
            return name
        values: list[Any] = list(value.values())
    elif isinstance(value, list):
        values = value
    else:
        return None
    for item in values:
        found = log_file_name(item)
        if found:
            return found
    return None


def timed_get(client: httpx.Client, url: str) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.get(url)
    seconds = time.perf_counter() - started
    response.raise_for_status()
    return seconds, response.text


def gzip_seconds(bundle: Path) -> float:
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run(["gzip", "-dc", str(bundle)], stdout=sink, check=True)
    return time.perf_counter() - started


def find_bundle(out: Path, size: int) -> tuple[Path, dict[str, Any]]:
    folder = out / f"bundle-{size}MiB"
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        from make_bundle import build_bundle

        print(f"building the {size} MiB bundle ...", flush=True)
        build_bundle(size, LIBRARY_SIGNATURES, out)
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    return folder / str(manifest["bundle"]), manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="bundle size in MiB")
    parser.add_argument("--repeat", type=int, default=3, help="re-runs (and gzip runs)")
    parser.add_argument("--pages", type=int, default=10, help="log viewer pages timed")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--loupe", default=str(ROOT / ".venv/bin/loupe"))
    parser.add_argument("--keep", action="store_true", help="keep the data dir afterwards")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    bundle, manifest = find_bundle(args.out, args.size)
    unpacked = int(manifest["uncompressed_bytes"])
    from make_library import build_library

    library = args.out / f"library-{LIBRARY_SIGNATURES}"
    if not library.exists():
        build_library(LIBRARY_SIGNATURES, args.out)
    data = args.out / "store-bench-data"
    shutil.rmtree(data, ignore_errors=True)
    port = free_port()
    env = {
        **os.environ,
        **MALLOC_ENV,
        "LOUPE_DATA_DIR": str(data),
        "LOUPE_PORT": str(port),
        "LOUPE_LIBRARY_DIR": str(library),
        "LOUPE_EMBEDDED_WORKER": "true",
        "LOUPE_LOG_JSON": "false",
    }
    env.pop("LOUPE_DATABASE_URL", None)
    env.pop("LOUPE_BROKER_URL", None)
    subprocess.run([args.loupe, "migrate"], env=env, check=True, capture_output=True)
    server_log = (args.out / "store-bench-server.log").open("wb")
    server = subprocess.Popen(
        [args.loupe, "serve"], env=env, stdout=server_log, stderr=subprocess.STDOUT
    )
    memory = TreeMemory(server.pid)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print("loupe serve did not start (see bench/out/store-bench-server.log)")
                return 1
            time.sleep(0.1)
        memory.start()
        with httpx.Client(base_url=url, timeout=900) as client:
            # the first analysis: the upload, then the worker's run
            data_before = tree_bytes(data)[0]  # the database and whatever start-up wrote
            print(f"uploading the {args.size} MiB bundle to loupe serve ...", flush=True)
            headers = {
                "content-type": f"multipart/form-data; boundary={BOUNDARY}",
                "content-length": str(body_length(bundle)),
            }
            sent = time.perf_counter()
            response = client.post("/api/v1/analyses", content=body(bundle), headers=headers)
            if response.status_code != 202:
                print(f"the upload was refused: {response.status_code} {response.text[:300]}")
                return 1
            analysis_id = response.json()["id"]
            accepted = time.perf_counter()
            state = wait_done(client, analysis_id, None)
            first_done = time.perf_counter()
            first_server = server_seconds(state)
            first_rss, first_rss_of = memory.peak()
            problems = planted_problems(client, analysis_id, manifest)
            folder = data / "analyses" / analysis_id
            at_done = tree_bytes(folder)  # before the worker keeps the files (compresses them)
            parts_at_done = by_part(folder)
            keeping = wait_kept(folder)
            after_run = tree_bytes(folder)
            parts_after_run = by_part(folder)

            # the log viewer, near the end of the log
            name = log_file_name(state.get("findings"))
            page_times: list[float] = []
            same_page: list[float] = []
            first_view = float("nan")
            page_count = 0
            if name is None:
                print("no finding quotes the loggingsnapshot: the log viewer is not timed")
            else:
                base = f"/a/{analysis_id}/files/{quote(name)}"
                # the first view of the file, at its last page (a page number past the end
                # shows the last one): it may have to build the viewer's line index
                first_view, text = timed_get(client, f"{base}?page={LAST_PAGE}")
                found = _PAGE_OF.search(text)
                page_count = int(found.group(2)) if found else 0
                wanted = [max(1, page_count - k) for k in range(1, args.pages + 1)]
                for page in wanted:
                    seconds, text = timed_get(client, f"{base}?page={page}")
                    if f"Page {page} of " not in text:
                        print(f"page {page} did not come back as asked")
                    page_times.append(seconds)
                for _ in range(args.pages):
                    same_page.append(timed_get(client, f"{base}?page={wanted[0]}")[0])
            after_view = tree_bytes(folder)
            data_grew = tree_bytes(data)[0] - data_before
            parts_after_view = by_part(folder)

            # re-runs, interleaved with gzip -dc of the same bundle
            gzip_times: list[float] = []
            rerun_times: list[float] = []
            rerun_server: list[float] = []
            memory.reset()
            for round_number in range(1, args.repeat + 1):
                print(f"[round {round_number}/{args.repeat}] gzip -dc ...", flush=True)
                gzip_times.append(gzip_seconds(bundle))
                print(f"[round {round_number}/{args.repeat}] re-run ...", flush=True)
                started = time.perf_counter()
                response = client.post(f"/api/v1/analyses/{analysis_id}/rerun")
                if response.status_code != 202:
                    print(f"the re-run was refused: {response.status_code} {response.text[:300]}")
                    return 1
                state = wait_done(client, analysis_id, state.get("finished_at"))
                rerun_times.append(time.perf_counter() - started)
                rerun_server.append(server_seconds(state))
            rerun_rss, rerun_rss_of = memory.peak()
            problems += [f"re-run: {p}" for p in planted_problems(client, analysis_id, manifest)]
            # for information: a re-run that reads the calls and sign-ins again, as after an
            # upgrade of the extraction code (the key of the stored ones removed)
            print("[once] re-run that extracts the calls anew ...", flush=True)
            (folder / "json" / "calls-key.json").unlink(missing_ok=True)
            started = time.perf_counter()
            if client.post(f"/api/v1/analyses/{analysis_id}/rerun").status_code != 202:
                print("the re-run was refused")
                return 1
            state = wait_done(client, analysis_id, state.get("finished_at"))
            rerun_extracting = time.perf_counter() - started
            after_reruns = tree_bytes(folder)
    finally:
        memory.stop_event.set()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)

    gzip_median = statistics.median(gzip_times)
    rerun_median = statistics.median(rerun_times)
    upload_bytes = parts_after_view.get("uploads", 0)
    kept = max(after_run[0], after_view[0], after_reruns[0])
    mb = 1e6
    print()
    print(
        f"bundle: {bundle.stat().st_size / mb:.0f} MB compressed, {unpacked / mb:.0f} MB unpacked"
    )
    print(f"{'stored analysis':<58} {'seconds':>8} {'vs gzip':>8}")
    print(f"{'gzip -dc bundle > /dev/null (baseline, median)':<58} {gzip_median:8.2f} {1:8.2f}")
    print(
        f"{'upload → 202 (streamed POST)':<58} {accepted - sent:8.2f} "
        f"{(accepted - sent) / gzip_median:8.2f}"
    )
    print(
        f"{'first analysis, 202 → done (polled)':<58} {first_done - accepted:8.2f} "
        f"{(first_done - accepted) / gzip_median:8.2f}"
    )
    print(f"{'first analysis, started → finished (server)':<58} {first_server:8.2f}")
    print(
        f"{'re-run, POST → done (polled, median)':<58} {rerun_median:8.2f} "
        f"{rerun_median / gzip_median:8.2f}"
    )
    label = "re-run, started → finished (server, median)"
    print(f"{label:<58} {statistics.median(rerun_server):8.2f}")
    label = "re-run extracting the calls anew (once, for information)"
    print(f"{label:<58} {rerun_extracting:8.2f} {rerun_extracting / gzip_median:8.2f}")
    print()
    print("bytes under the analysis' directory (apparent size; allocated on disk in brackets):")
    print(f"  (the worker kept the files {keeping:.1f} s after the analysis was done)")
    for label, (apparent, allocated), parts in (
        ("when it was done", at_done, parts_at_done),
        ("once its files kept", after_run, parts_after_run),
        ("after the log viewer", after_view, parts_after_view),
    ):
        shares = ", ".join(f"{key} {value / mb:.1f} MB" for key, value in parts.items())
        print(
            f"  {label:<22} {apparent / mb:8.1f} MB [{allocated / mb:.1f}] = "
            f"{apparent / unpacked:.3f} of unpacked  ({shares})"
        )
    print(
        f"  {'after the re-runs':<22} {after_reruns[0] / mb:8.1f} MB [{after_reruns[1] / mb:.1f}]"
        f" = {after_reruns[0] / unpacked:.3f} of unpacked"
    )
    print(
        f"  the upload's share: {upload_bytes / mb:.1f} MB = {upload_bytes / unpacked:.3f} of "
        f"unpacked; everything else: {(kept - upload_bytes) / unpacked:.3f}"
    )
    print(
        f"  the whole data dir grew by {data_grew / mb:.1f} MB = {data_grew / unpacked:.3f} of "
        "unpacked (the analysis' directory, the database, anything else)"
    )
    if page_times:
        print(
            f"log viewer, {name} ({page_count} pages): first view {first_view * 1000:.0f} ms; "
            f"the {len(page_times)} pages before the last: median "
            f"{statistics.median(page_times) * 1000:.0f} ms "
            f"(max {max(page_times) * 1000:.0f}); the same page again median "
            f"{statistics.median(same_page) * 1000:.0f} ms"
        )
    print(
        f"peak RSS: first analysis {first_rss:.0f} MB ({first_rss_of}), "
        f"re-runs {rerun_rss:.0f} MB ({rerun_rss_of})"
    )
    print()
    footprint = kept / unpacked
    page_ms = statistics.median(page_times) * 1000 if page_times else float("inf")
    rerun_ratio = rerun_median / gzip_median
    peak = max(first_rss, rerun_rss)
    targets = [
        (
            f"data dir per analysis {footprint:.3f} of the unpacked size <= {MAX_FOOTPRINT} "
            f"(upload {upload_bytes / unpacked:.3f} of it)",
            footprint <= MAX_FOOTPRINT,
        ),
        (
            f"log viewer, first view of the file (its last page) {first_view * 1000:.0f} ms "
            f"< {MAX_PAGE_MS:.0f} ms",
            first_view * 1000 < MAX_PAGE_MS,
        ),
        (
            f"log viewer, pages near the end {page_ms:.0f} ms (median) < {MAX_PAGE_MS:.0f} ms",
            page_ms < MAX_PAGE_MS,
        ),
        (
            f"re-run {rerun_ratio:.2f}x gzip -dc <= {MAX_RERUN_VS_GZIP}",
            rerun_ratio <= MAX_RERUN_VS_GZIP,
        ),
        (
            f"peak RSS of the analysing processes {peak:.0f} MB <= {MAX_RSS_MB:.0f} MB",
            peak <= MAX_RSS_MB,
        ),
    ]
    targets.append(
        (f"every planted hit found, first run and re-run ({len(problems)} problems)", not problems)
    )
    for text, ok in targets:
        print(f"{verdict(ok)}  {text}")
    for problem in problems[:10]:
        print(f"      {problem}")
    print(f"machine load average: {os.getloadavg()[0]:.1f} (2 cores: > 2 skews)")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
