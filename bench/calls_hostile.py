"""CPU seconds of the call-flow and sign-in readers on each hostile log of tests/calls/hostile.py.

Each case runs in a child process under a CPU limit (RLIMIT_CPU), at each size; the table gives
CPU seconds per MiB and the growth from the smallest size to the others (linear: the ratio of
the sizes). Usage: python bench/calls_hostile.py [--sizes 1 4 16] [--limit 60] [--only TEXT]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(name: str, mib: float) -> None:
    sys.path.append(str(ROOT))  # (PYTHONPATH may name another app to compare)
    from tests.calls.hostile import CASES, scan

    data = CASES[name](int(mib * 2**20))
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.process_time()
    scan(data)
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{time.process_time() - started:.3f} {after.ru_maxrss - before.ru_maxrss}")


def measure(name: str, mib: float, limit: int) -> tuple[float | None, int]:
    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (limit, limit))

    done = subprocess.run(
        [sys.executable, __file__, "--child", name, str(mib)],
        capture_output=True,
        text=True,
        preexec_fn=limited,
        check=False,
    )
    if done.returncode != 0:
        return None, 0
    seconds, rss = done.stdout.split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 4])
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--only", default="")
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], float(args.child[1]))
        return
    sys.path.append(str(ROOT))  # (PYTHONPATH may name another app to compare)
    from tests.calls.hostile import CASES

    for name in CASES:
        if args.only and args.only not in name:
            continue
        cells, first = [], None
        for mib in args.sizes:
            seconds, rss = measure(name, mib, args.limit)
            if seconds is None:
                cells.append(f"{mib:g} MiB: >{args.limit} s (CPU limit)")
                break
            first = first if first is not None else (mib, seconds)
            growth = seconds / max(first[1], 1e-3) / (mib / first[0]) if mib != first[0] else 1.0
            per = f"{seconds / mib:.2f} s/MiB, x{growth:.1f} of linear, +{rss // 1024} MiB rss"
            cells.append(f"{mib:g} MiB: {seconds:.2f} s ({per})")
        print(f"{name:45} " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
