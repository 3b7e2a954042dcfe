"""`make loadtest`: the team topology under load and faults, on loopback, bounded in time.

Starts `loupe serve` (2 web processes) and 2 `loupe worker` processes against the machine's
PostgreSQL (a schema of its own, reached through a TCP proxy that can be cut) and a
redis-server of its own, then:
1. N concurrent uploads of mixed bundles: every analysis done, none duplicated, none lost;
   upload-to-202 latency p50/p95/max;
2. one worker SIGKILLed in the middle of an analysis: it still ends done;
3. PostgreSQL cut for a few seconds during uploads: 503s with a clear detail, then all done;
4. Redis restarted empty with analyses queued: all done.
Prints the figures; exit code 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.db import Database  # noqa: E402
from app.models import Analysis, AnalysisRun, FindingRow  # noqa: E402
from tests.services.fleet import Fleet, RedisServer, TcpProxy, big_bundle, until  # noqa: E402
from tests.test_api import seed_bundle  # noqa: E402

POSTGRES = os.environ.get("LOUPE_TEST_POSTGRES", "postgres@127.0.0.1:5432/test")
Files = list[tuple[str, bytes]]


def mixed_uploads(n: int) -> list[Files]:
    """Single bundles of each failure kind, two-node uploads, and larger healthy bundles."""
    shapes: list[Files] = [
        [("a.tar.gz", seed_bundle("self_signed"))],
        [("b.tar.gz", seed_bundle("unknown_ca", "expc2"))],
        [
            ("c1.tar.gz", seed_bundle("sni_mismatch", "expc1")),
            ("c2.tar.gz", seed_bundle("sni_mismatch", "expc2")),
        ],
        [("d.tar.gz", seed_bundle("self_signed", "expe1"))],
    ]
    return [shapes[i % len(shapes)] for i in range(n)]


@dataclass
class LoadResult:
    ids: list[str]
    latencies: list[float]
    statuses: dict[str, str]
    duplicated: list[str]  # analysed more than once, or findings stored twice
    refused: int  # 503 answers

    @property
    def lost(self) -> list[str]:
        return [i for i in self.ids if self.statuses.get(i) != "done"]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def upload_concurrently(team: Fleet, uploads: list[Files]) -> tuple[list[str], list[float], int]:
    """All uploads at once; returns the ids accepted, their upload-to-202 times, the 503 count."""
    with httpx.Client(
        base_url=team.base_url, timeout=120, limits=httpx.Limits(max_connections=len(uploads))
    ) as client:

        def one(files: Files) -> tuple[int, str | None, float]:
            started = time.perf_counter()
            response = client.post(
                "/api/v1/analyses", files=[("files", (name, body)) for name, body in files]
            )
            elapsed = time.perf_counter() - started
            body = response.json()
            return response.status_code, body.get("id"), elapsed

        with ThreadPoolExecutor(len(uploads)) as pool:
            answers = list(pool.map(one, uploads))
    unexpected = [code for code, _, _ in answers if code not in (202, 503)]
    assert not unexpected, f"unexpected answers: {unexpected}"
    accepted = [(i, t) for code, i, t in answers if code == 202 and i]
    return [i for i, _ in accepted], [t for _, t in accepted], sum(c == 503 for c, _, _ in answers)


def settle(
    team: Fleet, url: str, ids: list[str], latencies: list[float], refused: int, timeout: float
) -> LoadResult:
    """Wait (bounded) for every analysis to end, then check the database for duplicates."""
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    for analysis_id in ids:
        left = max(1.0, deadline - time.monotonic())
        try:
            statuses[analysis_id] = team.wait_done(analysis_id, timeout=left)["status"]
        except AssertionError:
            statuses[analysis_id] = "lost"
    db = Database(url)
    duplicated = []
    with db.session() as session:
        for analysis_id in ids:
            row = session.get(Analysis, analysis_id)
            if row is None:
                continue
            runs = session.scalar(
                select(func.count())
                .select_from(AnalysisRun)
                .where(AnalysisRun.analysis_id == analysis_id)
            )
            findings = session.scalar(
                select(func.count())
                .select_from(FindingRow)
                .join(AnalysisRun)
                .where(AnalysisRun.analysis_id == analysis_id)
            )
            api = team.get(f"/api/v1/analyses/{analysis_id}").json()
            if runs != 1 or findings != len(api.get("findings", [])):
                duplicated.append(analysis_id)
    db.dispose()
    return LoadResult(ids, latencies, statuses, duplicated, refused)


def run_load(team: Fleet, url: str, n: int, timeout: float = 300) -> LoadResult:
    ids, latencies, refused = upload_concurrently(team, mixed_uploads(n))
    return settle(team, url, ids, latencies, refused, timeout)


@contextmanager
def postgres_schema() -> Iterator[str]:
    schema = f"loupe_load_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(f"postgresql://{POSTGRES}", autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            f"postgresql+psycopg://{POSTGRES}"
            f"?application_name={schema}&options=-csearch_path%3D{schema}"
        )
    finally:
        with psycopg.connect(f"postgresql://{POSTGRES}", autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s AND pid <> pg_backend_pid()",
                (schema,),
            )
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def say(line: str) -> None:
    """The figures go to stdout, a line at a time, as they are measured."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def report(name: str, result: LoadResult) -> bool:
    ok = not result.lost and not result.duplicated
    say(
        f"{name}: {len(result.ids)} accepted, "
        f"{sum(s == 'done' for s in result.statuses.values())} done, "
        f"{len(result.lost)} lost, {len(result.duplicated)} duplicated, {result.refused} x 503"
        + (
            f"; upload-to-202 p50 {result.percentile(50) * 1000:.0f} ms, "
            f"p95 {result.percentile(95) * 1000:.0f} ms, max {max(result.latencies) * 1000:.0f} ms"
            if result.latencies
            else ""
        )
        + ("" if ok else "  <-- FAILED")
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.monotonic()
    ok = True
    with tempfile.TemporaryDirectory(prefix="loupe-loadtest-") as tmp, postgres_schema() as pg:
        work = Path(tmp)
        redis = RedisServer(work / "redis")
        redis.start()
        target = make_url(pg)
        proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
        proxy.start()
        through_proxy = target.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        team = Fleet(work, through_proxy, redis.url, LOUPE_STALE_AFTER_SECONDS="15")
        try:
            team.migrate()
            team.serve(web_workers=2)
            for number in range(1, args.workers + 1):
                team.worker(f"worker-{number}")
            say(
                f"topology: web (2 processes) + {args.workers} workers, PostgreSQL via proxy "
                f":{proxy.port}, redis-server :{redis.port}"
            )

            ok &= report(f"1. {args.uploads} concurrent uploads", run_load(team, pg, args.uploads))

            bundle = big_bundle(work / "big.tar.gz")
            big = team.upload(("big.tar.gz", bundle.read_bytes())).json()["id"]
            db = Database(pg)

            def owner() -> str | None:
                with db.session() as session:
                    row = session.get(Analysis, big)
                    return row.worker if row is not None and row.status == "running" else None

            pid = int(until(owner, 60, "the big analysis to start", 0.05).split(":")[1])
            db.dispose()
            victim = next(n for n, p in team.workers.items() if p.pid == os.getpgid(pid))
            ids, latencies, _ = upload_concurrently(team, mixed_uploads(10))
            team.kill(victim)
            killed_at = time.monotonic()
            team.worker(f"{victim}-replacement")
            result = settle(team, pg, [big, *ids], latencies, 0, 300)
            ok &= report(f"2. SIGKILL of {victim} mid-analysis (+10 uploads)", result)
            say(
                f"   the killed analysis ended {result.statuses[big]} "
                f"{time.monotonic() - killed_at:.1f} s after the kill"
            )

            with ThreadPoolExecutor(1) as background:
                pending = background.submit(upload_concurrently, team, mixed_uploads(20))
                time.sleep(0.5)
                proxy.cut()
                refused = team.upload(("x.tar.gz", seed_bundle("self_signed")))
                detail = refused.json().get("detail", "")
                time.sleep(5)
                proxy.restore()
                ids, latencies, refused_count = pending.result()
            ok &= refused.status_code == 503
            say(f'3. PostgreSQL cut for 5 s: an upload got {refused.status_code} "{detail}"')
            ok &= report(
                "   20 concurrent uploads around the cut",
                settle(team, pg, ids, latencies, refused_count + 1, 300),
            )

            for name in list(team.workers):
                team.kill(name)
            ids, latencies, _ = upload_concurrently(team, mixed_uploads(10))
            redis.stop()
            redis.start()
            for number in range(1, args.workers + 1):
                team.worker(f"worker-after-redis-{number}")
            ok &= report(
                "4. Redis restarted empty with 10 analyses queued",
                settle(team, pg, ids, latencies, 0, 300),
            )
        finally:
            team.stop()
            redis.stop()
            proxy.close()
    say(
        f"{'all checks passed' if ok else 'SOME CHECKS FAILED'} in "
        f"{time.monotonic() - started:.0f} s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
