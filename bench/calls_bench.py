"""Measure call flows: extraction overhead, the call list for 20,000 calls, a 500-message ladder.

    python bench/calls_bench.py [--size-mib 200] [--every 40] [--jobs N]

1. A loggingsnapshot of --size-mib MiB in the line mix of bench/make_bundle.py (which already
   holds REGISTER summaries and SIPMSG blocks) with an answered or failed INVITE call of 7
   messages (real-log forms: INFO summary, DEBUG line, SIPMSG block) planted every --every
   events; the whole analysis (app.worker.pipeline.analyze) is timed with and without call
   extraction (best of 2 each).
2. 20,000 calls stored in a fresh SQLite database: the list API (page 1, a search, failed
   only, the last page) and the list page, through the ASGI app.
3. One call of 500 messages: lay-out + SVG, and its page.
Prints one line per figure. Not part of `make bench` (the coordinator decides).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

from make_bundle import _background, _Clock, _Pools  # noqa: E402

CALL_FLOW = (  # direction, start line, CSeq method, status (None: request)
    ("in", "INVITE sip:{to}@example.com SIP/2.0", "INVITE", None),
    ("out", "SIP/2.0 100 Trying", "INVITE", 100),
    ("out", "SIP/2.0 180 Ringing", "INVITE", 180),
    ("out", "SIP/2.0 {final}", "INVITE", 0),
    ("in", "ACK sip:{to}@example.com SIP/2.0", "ACK", None),
    ("in", "BYE sip:{to}@example.com SIP/2.0", "BYE", None),
    ("out", "SIP/2.0 200 OK", "BYE", 200),
)


def planted_call(n: int, ts: str, host: str, utc: str) -> str:
    final = "200 OK" if n % 10 else "486 Busy Here"
    call_id = f"bench{n:08d}@198.51.100.7"
    out = []
    for index, (direction, start, method, status) in enumerate(CALL_FLOW):
        line = start.format(to=5550000 + n, final=final)
        incoming = direction == "in"
        side = "Src" if incoming else "Dst"
        where = (
            f'Action="{"Received" if incoming else "Sent"}" Local-ip="192.0.2.5" '
            f'Local-port="5061" {side}-ip="198.51.100.7" {side}-port="40{n % 1000:03d}"'
        )
        msg_hash = f"{n}{index}"
        verb = "Receive" if incoming else "Sending"
        if status is None:
            detail = f"{verb} Request Method={method}, CSeq=1, Request-URI={line.split()[1]}"
        else:
            detail = f"{verb} Response Code={line.split()[1]}, Method={method}, CSeq=1"
        detail += f", Call-ID={call_id}, From-Tag=ab{n}, To-Tag=, Msg-Hash={msg_hash}"
        head = f'{ts} {host} tvcs: UTCTime="{utc}" Module="network.sip"'
        out += [
            f'{head} Level="INFO":  {where} Detail="{detail}"',
            f'{head} Level="DEBUG":  {where} Msg-Hash="{msg_hash}"',
            " SIPMSG:",
            f" |{line}",
            " Via: SIP/2.0/TLS 198.51.100.7:40000;branch=z9hG4bK1",
            f" Call-ID: {call_id}",
            f" CSeq: {2 if method == 'BYE' else 1} {method}",
            f" From: <sip:1003@example.com>;tag=ab{n}",
            f" To: <sip:{5550000 + n}@example.com>",
            " User-Agent: TANDBERG/529 (ce9.15.0.1) Cisco-DX80",
            " Content-Length: 0",
            " ",
            " |",
            "",
        ]
    return "\n".join(out)


def write_log(path: Path, size: int, every: int) -> int:
    rng = random.Random(7)
    pools, clock = _Pools(rng), _Clock()
    written = calls = events = 0
    with path.open("w", encoding="ascii") as out:
        batch: list[str] = []
        while written < size:
            c = clock.tick(rng)
            events += 1
            if events % every == 0:
                calls += 1
                batch.append(planted_call(calls, *c))
            else:
                batch.append(_background(rng, pools, c))
            if len(batch) >= 4000:
                data = "\n".join(batch) + "\n"
                out.write(data)
                written += len(data)
                batch.clear()
        if batch:
            out.write("\n".join(batch) + "\n")
    return calls


def time_analysis(log: Path, jobs: int | None) -> None:
    from app.config import Settings
    from app.signatures import load_library
    from app.worker.pipeline import Input, analyze, limits_from

    library = load_library()
    limits = limits_from(Settings())
    best: dict[bool, float] = {}
    cpu: dict[bool, float] = {}
    counts: dict[bool, int] = {}
    for extract in (False, True, False, True):
        with tempfile.TemporaryDirectory() as tmp:
            cpu_started = time.process_time()
            started = time.perf_counter()
            report = analyze(
                [Input(log, log.name)],
                Path(tmp) / "w",
                library,
                limits,
                jobs=jobs,
                extract_calls=extract,
            )
            took = time.perf_counter() - started
            used = time.process_time() - cpu_started
        best[extract] = min(best.get(extract, took), took)
        cpu[extract] = min(cpu.get(extract, used), used)
        counts[extract] = len(report.calls or [])
    print(f"analysis without calls: {best[False]:.2f} s wall, {cpu[False]:.2f} s CPU")
    print(
        f"analysis with calls:    {best[True]:.2f} s wall, {cpu[True]:.2f} s CPU "
        f"({counts[True]} calls) → ×{best[True] / best[False]:.3f} wall, "
        f"×{cpu[True] / cpu[False]:.3f} CPU"
    )


def synthetic_calls(count: int, messages: int) -> list[object]:
    from app.calls.model import Call, SipMessage

    start = datetime(2026, 1, 1, tzinfo=UTC)
    calls = []
    for n in range(count):
        when = start + timedelta(seconds=n)
        found = []
        for i in range(messages):
            found.append(
                SipMessage(
                    time=when + timedelta(milliseconds=i),
                    file="log.txt",
                    line=n * messages + i + 1,
                    direction="in" if i % 2 else "out",
                    local="192.0.2.5:5061",
                    remote=f"198.51.100.{i % 3 + 1}:5061",
                    call_id=f"c{n}@x",
                    cseq=1 + i // 2,
                    cseq_method="INVITE",
                    method=None if i % 2 else "INVITE",
                    status=(100, 180, 200, 486)[i % 4] if i % 2 else None,
                    from_uri="sip:1003@example.com",
                    to_uri=f"sip:{5550000 + n}@example.com",
                    node="expe1",
                )
            )
        calls.append(
            Call(
                number=n + 1,
                call_ids=[f"c{n}@x"],
                method="INVITE",
                from_uri="sip:1003@example.com",
                to_uri=f"sip:{5550000 + n}@example.com",
                started_at=when,
                ended_at=when,
                final_status="486 Busy Here" if n % 10 == 0 else "200 OK",
                failed=n % 10 == 0,
                end_reason="",
                nodes=["expe1"],
                joined_by=None,
                messages=found,
            )
        )
    return calls


def time_pages() -> None:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from app.config import Settings
    from app.db import Database
    from app.main import create_app
    from app.migrate import upgrade
    from app.models import Analysis
    from app.report import Report
    from app.services.calls import save_calls

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.sqlalchemy_url)
        database = Database(settings.sqlalchemy_url)
        report = Report(ruleset_version="bench")
        report.calls = synthetic_calls(20_000, 8)  # type: ignore[arg-type]
        big = synthetic_calls(1, 500)[0]
        big.number = 20_001  # type: ignore[attr-defined]
        report.calls.append(big)  # type: ignore[arg-type]
        with Session(database.engine) as session:
            session.add(Analysis(id="bench", status="done"))
            session.flush()
            started = time.perf_counter()
            save_calls(session, "bench", report)
            session.commit()
            print(f"store 20,001 calls: {time.perf_counter() - started:.2f} s")
        with TestClient(create_app(settings)) as client:
            for label, url in (
                ("list API page 1", "/api/v1/analyses/bench/calls"),
                ("list API search", "/api/v1/analyses/bench/calls?q=5551234"),
                ("list API failed", "/api/v1/analyses/bench/calls?failed=true&page=20"),
                ("list API last page", "/api/v1/analyses/bench/calls?page=401"),
                ("list page", "/a/bench/calls?page=200"),
                ("500-message ladder page", "/a/bench/calls/20001"),
                ("500-message ladder.svg", "/a/bench/calls/20001/ladder.svg"),
            ):
                client.get(url)
                took = []
                for _ in range(5):
                    started = time.perf_counter()
                    response = client.get(url)
                    took.append(time.perf_counter() - started)
                    assert response.status_code == 200, (url, response.text[:200])
                print(f"{label}: {min(took) * 1000:.0f} ms")
    from app.calls.ladder import lay_out
    from app.calls.render import to_svg

    started = time.perf_counter()
    to_svg(lay_out(big.messages, {}))  # type: ignore[attr-defined]
    print(f"500-message lay-out + SVG: {(time.perf_counter() - started) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--every", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--skip-analysis", action="store_true")
    parser.add_argument("--skip-pages", action="store_true")
    args = parser.parse_args()
    if not args.skip_analysis:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "loggingsnapshot_expc1_2026-11-20_10_15_33.txt"
            calls = write_log(log, args.size_mib * 2**20, args.every)
            print(f"log: {log.stat().st_size / 2**20:.0f} MiB, {calls} calls planted")
            time_analysis(log, args.jobs)
    if not args.skip_pages:
        time_pages()


if __name__ == "__main__":
    main()
