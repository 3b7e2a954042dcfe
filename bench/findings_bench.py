"""Response time of an analysis with many findings: the JSON and the overview page (issue 3).

    python bench/findings_bench.py [--findings 10000] [--repeat 5] [--database-url URL]

Creates a fresh data dir (a temp dir), runs the Alembic migrations, stores one analysis with
`--findings` findings through the worker's real `save_report` (texts rendered from the seed
signature, 5 snippets of ~230 characters each, 3 facts, six signatures of every severity, two
nodes), then starts the app as `make run` does (uvicorn in a child process, embedded worker off:
nothing is queued) on a free port and times, over HTTP on loopback:

    GET /healthz                     the same-run baseline
    GET /api/v1/analyses/{id}        the whole analysis as JSON (every finding and snippet)
    GET /a/{id}                      the overview page

each the median of `--repeat` requests after one warm-up, with the body read to the end (by
httpx, in this process). For information, also: the JSON fetched with curl (when installed: the
server without a Python client's cost); the JSON with the findings JSON that save_report keeps
under the data dir removed before each request (the first view of a run saved by an earlier
version, or after that copy is lost); the last page of the overview; a log viewer page with
evidence. Prints the figures, the ratio to /healthz, and a PASS/FAIL line per target (300 ms);
exits 1 on a miss.

`--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test` runs it on PostgreSQL: in a
schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import jinja2
import yaml

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))

from app.db import Database  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Analysis, AnalysisRun, StoredFile  # noqa: E402
from app.report import (  # noqa: E402
    BundleFile,
    Coverage,
    FileKind,
    Finding,
    NodeInfo,
    Report,
    Snippet,
)
from app.services import storage  # noqa: E402
from app.services.findings import save_report  # noqa: E402

TARGET_MS = 300.0
SEED = "mra-traffic-server-cert-verification"
SEED_YAML = ROOT / "app" / "signatures" / "library" / "expressway" / f"{SEED}.yaml"
NODES = ("vcsc1", "vcsc2")
LOG_LINES = 20_000
SNIPPETS_PER_FINDING = 5
# (id, title, severity): every severity, the seed signature's texts for all of them
SIGNATURES = (
    ("cluster-database-inconsistent", "Cluster database is inconsistent", "critical"),
    (SEED, "MRA fails: Traffic Server rejects the CUCM / IM&P / Unity certificate", "error"),
    ("mra-imp-sasl-query-failed", "MRA: IM&P SASL query failed", "error"),
    ("mra-http-403-forbidden", "MRA: HTTP 403 Forbidden from the Expressway-C", "warning"),
    ("sip-tls-handshake-failed", "SIP: TLS handshake failed", "warning"),
    ("expressway-alarm-15010", "Alarm 15010: application failed", "info"),
)
REASONS = ("self_signed", "unknown_ca", "sni_mismatch")
SNIPPET_LINE = (
    "2022-07-11T19:33:{second:02d}.740+02:00 {node} traffic_server[3936]: [ET_NET {net}] WARNING: "
    "Core server certificate verification failed for ({server}). Action:Terminate "
    "Error=ssl signed certificate in certificate chain server={server}({ip}) depth=1"
)


# --- the analysis: rows as the worker leaves them ------------------------------------------


def seed_texts() -> dict[str, jinja2.Template]:
    texts = yaml.safe_load(SEED_YAML.read_text(encoding="utf-8"))["text"]
    env = jinja2.Environment(autoescape=False)
    return {name: env.from_string(source) for name, source in texts.items()}


def make_report(data_dir: Path, analysis_id: str, n_findings: int) -> Report:
    """A report with `n_findings` distinct findings, its log files written under the work dir."""
    rng = random.Random(3)
    templates = seed_texts()
    work = storage.work_dir(data_dir, analysis_id)
    files: list[BundleFile] = []
    for position, node in enumerate(NODES):
        bundle = f"diagnostic_log_{node}_2022-07-11_17_33_18.tar.gz"
        path = work / f"{position:03d}" / f"loggingsnapshot_{node}_2022-07-11_17_33_18.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            for n in range(1, LOG_LINES + 1):
                out.write(f"2022-07-11T19:33:06.740+02:00 {node} tvcs: line {n}\n")
        files.append(
            BundleFile(
                path=path,
                name=f"{bundle}/{path.name}",
                size=path.stat().st_size,
                kind=FileKind.LOGGINGSNAPSHOT,
                bundle=bundle,
            )
        )
    findings = []
    for i in range(n_findings):
        signature_id, title, severity = SIGNATURES[i % len(SIGNATURES)]
        node_index = (i // len(SIGNATURES)) % len(NODES)
        node = NODES[node_index]
        server = f"cucm{i:05d}.example.com"
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        facts = {"server": server, "reason": REASONS[i % len(REASONS)], "ip": ip}
        context = {
            **facts,
            "depth": i % 2,
            "count": 2 + i % 7,
            "bug_ids": ["CSCwc69661", "CSCwa25108"],
            "first_seen": "2022-07-11T19:33:06.160+02:00",
            "last_seen": "2022-07-11T19:50:02.000+02:00",
        }
        texts = {name: template.render(**context) for name, template in templates.items()}
        # the seed's condition is one sentence: make it as long as a typical one
        texts["condition"] += (
            f" The Traffic Server of {node} checks every CUCM, IM&P and Unity Connection node it"
            " proxies for; MRA clients log in through it, so a single untrusted node is enough"
            " to make logins fail for the users homed on that node."
        )
        snippet_lines = sorted(rng.sample(range(1, LOG_LINES + 1), SNIPPETS_PER_FINDING))
        snippets = [
            Snippet(
                file=files[node_index].name,
                line=line,
                text=SNIPPET_LINE.format(second=line % 60, node=node, net=k, server=server, ip=ip),
            )
            for k, line in enumerate(snippet_lines)
        ]
        findings.append(
            Finding(
                signature_id=signature_id,
                title=title,
                severity=severity,
                bug_ids=["CSCwc69661", "CSCwa25108"],
                node=node,
                description=texts["description"],
                condition=texts["condition"],
                further_info=texts["further_info"],
                action=texts["action"],
                facts=facts,
                snippets=snippets,
                count=int(context["count"]),
                first_seen="2022-07-11T19:33:06.160+02:00",
                last_seen="2022-07-11T19:50:02.000+02:00",
            )
        )
    rng.shuffle(findings)  # the worker does not store them in display order
    return Report(
        ruleset_version="bench-ruleset",
        files=files,
        nodes=[
            NodeInfo(bundle=f.bundle, hostname=node, product="Expressway-C", version="X14.2.1")
            for f, node in zip(files, NODES, strict=True)
        ],
        findings=findings,
        coverage=[Coverage(signature_id=s[0], title=s[1], outcome="matched") for s in SIGNATURES],
    )


def store_analysis(url: str, data_dir: Path, n_findings: int) -> tuple[str, Report, float]:
    """A running analysis claimed by 'bench', then its report saved; (id, report, seconds)."""
    analysis_id = secrets.token_urlsafe(16)
    db = Database(url)
    try:
        with db.session() as session:
            analysis = Analysis(
                id=analysis_id,
                title=f"Bench: {n_findings} findings",
                status="running",
                worker="bench",
                warnings=[],
            )
            for position, node in enumerate(NODES):
                analysis.files.append(
                    StoredFile(
                        position=position,
                        name=f"diagnostic_log_{node}_2022-07-11_17_33_18.tar.gz",
                        size=50_000_000,
                        sha256="ab" * 32,
                        storage_path=f"analyses/{analysis_id}/uploads/{position:03d}",
                    )
                )
            analysis.runs.append(AnalysisRun(number=1))
            session.add(analysis)
            session.commit()
        report = make_report(data_dir, analysis_id, n_findings)
        started = time.perf_counter()
        with db.session() as session:
            saved = save_report(
                session, analysis_id=analysis_id, report=report, data_dir=data_dir, worker="bench"
            )
        seconds = time.perf_counter() - started
        if not saved:
            raise SystemExit("save_report refused the analysis")
    finally:
        db.dispose()
    return analysis_id, report, seconds


# --- the database: a SQLite file, or a PostgreSQL schema of its own ------------------------


@contextmanager
def database(url: str | None, data_dir: Path) -> Iterator[str]:
    if url is None:
        yield f"sqlite:///{data_dir / 'loupe.db'}"
        return
    import psycopg

    schema = f"loupe_bench_{os.getpid()}_{secrets.token_hex(4)}"
    parts = urlsplit(url)
    plain = urlunsplit(parts._replace(scheme="postgresql", query=""))
    query = parse_qsl(parts.query) + [
        ("application_name", schema),
        ("options", f"-csearch_path={schema}"),
    ]
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield urlunsplit(parts._replace(query=urlencode(query)))
    finally:
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s AND pid <> pg_backend_pid()",
                (schema,),
            )
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# --- the server: the app as `make run` starts it ------------------------------------------

SERVER = """
import uvicorn
from app.main import create_app
uvicorn.run(create_app(), host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(url: str, data_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "LOUPE_DATA_DIR": str(data_dir),
        "LOUPE_DATABASE_URL": url,
        "LOUPE_EMBEDDED_WORKER": "false",
        "MALLOC_MMAP_THRESHOLD_": os.environ.get("MALLOC_MMAP_THRESHOLD_", "268435456"),
        "MALLOC_TRIM_THRESHOLD_": os.environ.get("MALLOC_TRIM_THRESHOLD_", "1073741824"),
    }
    env.pop("LOUPE_BROKER_URL", None)
    process = subprocess.Popen([sys.executable, "-c", SERVER.format(port=port)], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited with {process.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- timing -------------------------------------------------------------------------------


@dataclass
class Timing:
    label: str
    median_ms: float
    min_ms: float
    max_ms: float
    size: int


def time_get(
    client: httpx.Client,
    label: str,
    path: str,
    repeat: int,
    headers: dict[str, str],
    before_each: Callable[[], None] = lambda: None,
) -> tuple[Timing, httpx.Response]:
    """One warm-up, then the median of `repeat` requests, each with its body read to the end."""
    samples = []
    before_each()
    response = client.get(path, headers=headers)
    response.raise_for_status()
    for _ in range(repeat):
        before_each()
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        _ = response.content
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    timing = Timing(
        label, statistics.median(samples), min(samples), max(samples), len(response.content)
    )
    return timing, response


def time_curl(label: str, url: str, repeat: int) -> Timing | None:
    """The same with curl, when installed: the server's time without a Python client's cost."""
    curl = shutil.which("curl")
    if curl is None:
        return None
    samples, size = [], 0
    for n in range(repeat + 1):
        out = subprocess.run(
            [curl, "-sS", "-o", "/dev/null", "-w", "%{time_total} %{size_download}", url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        if n:  # the first is the warm-up
            samples.append(float(out[0]) * 1000)
            size = int(float(out[1]))
    return Timing(label, statistics.median(samples), min(samples), max(samples), size)


def human(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 1024:.1f} KiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--target-ms", type=float, default=TARGET_MS)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL URL (postgresql+psycopg://...); default: SQLite in the temp data dir",
    )
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="loupe-findings-bench-") as tmp,
        database(args.database_url, Path(tmp)) as url,
    ):
        data_dir = Path(tmp)
        backend = "postgresql" if url.startswith("postgresql") else "sqlite"
        upgrade(url)
        analysis_id, report, save_seconds = store_analysis(url, data_dir, args.findings)
        n_snippets = sum(len(f.snippets) for f in report.findings)
        text_chars = statistics.mean(
            len(getattr(f, name))
            for f in report.findings
            for name in ("description", "condition", "further_info", "action")
        )
        print(
            f"{backend}: {len(report.findings)} findings, {n_snippets} snippets, texts "
            f"{text_chars:.0f} characters on average; save_report took {save_seconds:.2f} s"
        )
        evidence = report.findings[0].snippets[0]
        html = {"accept": "text/html,application/xhtml+xml"}
        api = {"accept": "application/json"}
        with server(url, data_dir) as base, httpx.Client(base_url=base, timeout=120) as client:
            health, _ = time_get(client, "GET /healthz", "/healthz", args.repeat, api)
            body, response = time_get(
                client,
                "GET /api/v1/analyses/{id}",
                f"/api/v1/analyses/{analysis_id}",
                args.repeat,
                api,
            )
            findings = response.json()["findings"]
            if len(findings) != len(report.findings) or any(
                len(f["snippets"]) != SNIPPETS_PER_FINDING for f in findings
            ):
                print("FAIL: the JSON does not hold every finding with its snippets")
                return 1
            curl = time_curl(
                "  the same, with curl", f"{base}/api/v1/analyses/{analysis_id}", args.repeat
            )
            cold, _ = time_get(
                client,
                "  the same, kept JSON removed",
                f"/api/v1/analyses/{analysis_id}",
                args.repeat,
                api,
                before_each=lambda: shutil.rmtree(
                    storage.json_dir(data_dir, analysis_id), ignore_errors=True
                ),
            )
            page, _ = time_get(client, "GET /a/{id}", f"/a/{analysis_id}", args.repeat, html)
            last_page = max(1, -(-len(report.findings) // 100))
            last, _ = time_get(
                client,
                "GET /a/{id}?page=last",
                f"/a/{analysis_id}?page={last_page}",
                args.repeat,
                html,
            )
            viewer, _ = time_get(
                client,
                "GET /a/{id}/files/...?line=N",
                f"/a/{analysis_id}/files/{evidence.file}?line={evidence.line}",
                args.repeat,
                html,
            )

    print(f"{'':34} {'median':>10} {'min':>10} {'max':>10} {'size':>10} {'x healthz':>10}")
    for timing in (health, body, *([curl] if curl else []), cold, page, last, viewer):
        ratio = timing.median_ms / health.median_ms
        print(
            f"{timing.label:34} {timing.median_ms:8.1f}ms {timing.min_ms:8.1f}ms "
            f"{timing.max_ms:8.1f}ms {human(timing.size):>10} {ratio:9.0f}x"
        )
    missed = False
    for timing in (body, page):
        ok = timing.median_ms < args.target_ms
        missed |= not ok
        print(
            f"{'PASS' if ok else 'FAIL'} {backend} {timing.label}: {timing.median_ms:.1f} ms "
            f"(target < {args.target_ms:.0f} ms, {timing.median_ms / health.median_ms:.0f}x "
            f"the /healthz baseline of {health.median_ms:.2f} ms)"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
