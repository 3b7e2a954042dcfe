"""Data dir per analysis, and a re-run from the stored work dir against `gzip -dc` of the bundle.

    python bench/rerun_bench.py --bundle bench/out/bundle-1024MiB/diagnostic_log_*.tar.gz \
        --library bench/out/library-300 [--rounds 3]

The analysis goes through the worker's own code (`app.worker.child.run_claimed`, in this
process: no supervisor) on a fresh SQLite data dir. After the first run (upload removed, work dir
compressed) it prints the bytes of the analysis dir against the unpacked bytes. Then, in
interleaved rounds: `gzip -dc bundle > /dev/null`; a re-run from the stored work dir; a re-run
from the upload (the upload put back and the record removed first, as for an analysis made
before), each timed (wall and CPU seconds); medians. Also the zstd level-1 ratio of the bench
log, and of --real (a real Expressway log) when given.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.bundle.stored import FRAME_BYTES  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import Database  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import StoredFile  # noqa: E402
from app.services import analyses, storage  # noqa: E402
from app.services.uploads import IncomingFile, ReceivedUpload  # noqa: E402
from app.worker.child import run_claimed  # noqa: E402

WORKER = "bench-worker"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(action: Callable[[], object], children: bool = False) -> tuple[float, float]:
    """(wall, CPU seconds) of `action`: this process' CPU, or its children's."""
    wall, cpu = time.perf_counter(), children_cpu() if children else time.process_time()
    action()
    after = children_cpu() if children else time.process_time()
    return time.perf_counter() - wall, after - cpu


def create(settings: Settings, db: Database, bundle: Path) -> str:
    data_dir = settings.resolved_data_dir
    staging = storage.staging_root(data_dir) / "upload-bench"
    staging.mkdir(parents=True)
    target = staging / "000"
    shutil.copyfile(bundle, target)
    digest = hashlib.sha256()
    with target.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    incoming = IncomingFile(bundle.name, target, target.stat().st_size, digest.hexdigest())
    with db.session() as session:
        analysis = analyses.create(
            session, upload=ReceivedUpload(staging, [incoming]), data_dir=data_dir
        )
        return analysis.id


def run(settings: Settings, db: Database, analysis_id: str) -> None:
    with db.session() as session:
        assert analyses.claim(session, analysis_id, WORKER, timedelta(hours=1))
    status = run_claimed(analysis_id, WORKER, settings, db)
    assert status == "done", status


def rerun(settings: Settings, db: Database, analysis_id: str) -> None:
    with db.session() as session:
        analyses.rerun(session, analysis_id)
    run(settings, db, analysis_id)


def put_upload_back(settings: Settings, db: Database, analysis_id: str, bundle: Path) -> None:
    """As an analysis made before the record: its upload there, no record."""
    with db.session() as session:
        relative = session.query(StoredFile).filter_by(analysis_id=analysis_id).one().storage_path
    path = storage.resolve_inside(settings.resolved_data_dir, relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle, path)
    storage.manifest_path(settings.resolved_data_dir, analysis_id).unlink()


def zstd_ratio(read: Callable[[], bytes], limit: int) -> tuple[float, float]:
    """(whole stream, 1 MiB frames as logloupe stores them) ratios at level 1 of `limit` bytes."""
    data = read()[:limit]
    whole = len(zstandard.ZstdCompressor(level=1).compress(data))
    compressor = zstandard.ZstdCompressor(level=1, write_content_size=True)
    framed = sum(
        len(compressor.compress(data[i : i + FRAME_BYTES]))
        for i in range(0, len(data), FRAME_BYTES)
    )
    return len(data) / whole, len(data) / framed


def bench_log(bundle: Path, limit: int) -> bytes:
    with tarfile.open(bundle, "r:gz") as archive:
        for member in archive:
            if "loggingsnapshot" in member.name and member.isfile():
                extracted = archive.extractfile(member)
                assert extracted is not None
                return extracted.read(limit)
    raise SystemExit("no loggingsnapshot in the bundle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--library", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/out/rerun-data"))
    parser.add_argument("--real", type=Path, default=None, help="a real log for the zstd ratio")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    settings = Settings(
        data_dir=args.out.resolve(),
        library_dir=args.library.resolve() if args.library else None,
        embedded_worker=False,
    )
    upgrade(settings.sqlalchemy_url)
    db = Database(settings.sqlalchemy_url)
    data_dir = settings.resolved_data_dir
    analysis_id = create(settings, db, args.bundle)
    wall, cpu = timed(lambda: run(settings, db, analysis_id))
    usage = storage.disk_usage(data_dir, analysis_id)
    on_disk, unpacked = storage.work_sizes(data_dir, analysis_id)
    print(
        "first run (from the upload, record, compaction, upload removed): "
        f"{wall:.1f} s, CPU {cpu:.1f} s"
    )
    print(f"analysis dir: {usage}")
    print(
        f"unpacked {unpacked} bytes; analysis dir {usage['total']} bytes = "
        f"{usage['total'] / unpacked:.3f} of the unpacked size (work dir {on_disk / unpacked:.3f})"
    )
    results: dict[str, list[tuple[float, float]]] = {"gzip -dc": [], "store": [], "upload": []}
    for number in range(args.rounds):
        results["gzip -dc"].append(
            timed(
                lambda: subprocess.run(
                    f"gzip -dc '{args.bundle}' > /dev/null", shell=True, check=True
                ),
                children=True,
            )
        )
        results["store"].append(timed(lambda: rerun(settings, db, analysis_id)))
        put_upload_back(settings, db, analysis_id, args.bundle)
        results["upload"].append(timed(lambda: rerun(settings, db, analysis_id)))
        print(
            f"round {number + 1}: " + ", ".join(f"{k} {v[-1][0]:.2f} s" for k, v in results.items())
        )
    gzip_wall = statistics.median(w for w, _ in results["gzip -dc"])
    for name, figures in results.items():
        wall = statistics.median(w for w, _ in figures)
        cpu = statistics.median(c for _, c in figures)
        print(
            f"{name:10s} median wall {wall:6.2f} s ({wall / gzip_wall:.2f}x gzip -dc), "
            f"CPU {cpu:6.2f} s; walls {[round(w, 2) for w, _ in figures]}"
        )
    assert not storage.uploads_kept(data_dir, analysis_id)
    print(f"analysis dir after the re-runs: {storage.disk_usage(data_dir, analysis_id)}")
    limit = 256 * 2**20
    bench = zstd_ratio(lambda: bench_log(args.bundle, limit), limit)
    print(
        f"zstd -1 bench log (first 256 MiB): {bench[0]:.1f}x whole, {bench[1]:.1f}x in 1 MiB frames"
    )
    if args.real:
        real = zstd_ratio(args.real.read_bytes, limit)
        print(f"zstd -1 {args.real.name}: {real[0]:.1f}x whole, {real[1]:.1f}x in 1 MiB frames")
    db.dispose()


if __name__ == "__main__":
    main()
