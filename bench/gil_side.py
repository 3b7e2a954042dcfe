"""Whether an analysis is bound by the GIL or by the cores: a side thread's work against its cost.

    python bench/gil_side.py [--library DIR] [--rounds 3] [BUNDLE]

Runs `loupe analyze --json` on the bench bundle of bench/make_bundle.py (built or reused under
bench/out, as bench/calls_bench.py does) or on BUNDLE, in a child process per run, interleaved:
alone, with a side thread running Python in short bursts (~0.2 ms of work, then a 0.3 ms
sleep: what the scan's own Python looks like), and with a side thread hashing in C without the
GIL. The side threads start 0.5 s into the run (the scan) and work for 1.2 s. Per kind it
prints the median wall time, the side thread's CPU seconds and the run's slowdown per second
of side work: near 1 for the Python side means the scan's wall time is the Python its threads
run holding the GIL (cut that, not C work); near 0.5 for the C side means the two cores are
full. The session that had the Hyperscan pass group its candidates by line measured about 0.8
and 0.2 on the 1 GiB bench bundle before its changes, and 0.4–1.0 and 0.1–0.5 after them
(3 and 5 rounds in a noisy hour: the slowdowns are a tenth of a run, the same size as the
machine's noise, so take many rounds). Not part of `make bench` (it checks no target).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

CHILD = """
import hashlib, os, sys, threading, time
started = time.perf_counter()
side_cpu = [0.0]

def side(kind):
    time.sleep(0.5)
    end, cpu = time.perf_counter() + 1.2, time.thread_time()
    data = b"x" * (1 << 20)
    while time.perf_counter() < end:
        if kind == "c":
            hashlib.sha1(data).digest()  # (hashlib lets go of the GIL for large inputs)
        else:
            total = 0
            for number in range(6000):
                total += number
            time.sleep(0.0003)
    side_cpu[0] = time.thread_time() - cpu

kind = sys.argv[1]
if kind != "alone":
    threading.Thread(target=side, args=(kind,), daemon=True).start()
import app.cli
sys.argv = ["loupe", *sys.argv[2:]]
sys.stdout = open(os.devnull, "w")
try:
    app.cli.app()
except SystemExit:
    pass
print(time.perf_counter() - started, side_cpu[0], file=sys.stderr)
"""

KINDS = ("alone", "python", "c")


def run(kind: str, command: list[str]) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind, *command],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(BENCH_DIR.parent)},
    )
    wall, side = done.stderr.strip().splitlines()[-1].split()
    return float(wall), float(side)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", type=Path, help="default: the bench bundle")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--library", type=Path, help="a signature library (default: the app's)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bundle = args.bundle
    if bundle is None:
        from calls_bench import bench_bundle

        bundle, _manifest = bench_bundle(args.size_mib, BENCH_DIR / "out")
    command = ["analyze", "--json", str(bundle)]
    if args.library is not None:
        command[1:1] = ["--library", str(args.library)]
    run("alone", command)  # warm-up: the library cache, the page cache
    samples: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
    for number in range(args.rounds):
        for kind in KINDS:
            samples[kind].append(run(kind, command))
        print(f"round {number + 1}/{args.rounds} done", flush=True)
    alone = statistics.median(wall for wall, _side in samples["alone"])
    print(f"alone: {alone:.3f} s (median of {args.rounds})")
    for kind in KINDS[1:]:
        wall = statistics.median(w for w, _side in samples[kind])
        side = statistics.median(s for _w, s in samples[kind])
        per_second = (wall - alone) / side if side > 0 else float("nan")
        print(
            f"side thread in {'Python' if kind == 'python' else 'C'}: {wall:.3f} s, its CPU "
            f"{side:.2f} s: {per_second:.2f} s of slowdown per second of side work"
        )


if __name__ == "__main__":
    main()
