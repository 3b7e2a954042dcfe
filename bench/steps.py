"""Where an analysis' time goes, step by step: wall time against the CPU time of its thread.

    python bench/steps.py [--size-mib 1024] [--library DIR] [--no-calls] [BUNDLE]

Runs `loupe analyze --json` in this process on the bench bundle of bench/make_bundle.py (built
or reused under bench/out, as bench/calls_bench.py does) or on BUNDLE, with a timer around each
step of the scan that runs per block (in the matcher threads, the thread feeding the scan, the
SIP thread) and each step after it. Per step it prints the calls, the wall seconds summed over
them and the CPU seconds of the calling thread (`time.thread_time`) over the same calls: the
difference is time the thread waited, for the GIL or for a core. The session that made the
call-flow readers make their messages in C found that way the sign-in reader waiting 0.16 s
for the GIL for 0.15 s of work.

Before the steps it prints the run's three phases: start-up (imports, the library, up to the
first block's scan), the scan (first block to last) and after the scan, each with its wall
seconds, the process's CPU seconds in it and the cores that kept busy on average. Start-up and
after the scan run on one core (the scan's threads have not started or are done): a second
saved there is a second of the run; during the scan two cores share the work. Not part of
`make bench` (it measures, it checks no target).
"""

from __future__ import annotations

import argparse
import atexit
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))


class Steps:
    """Timers put around methods and functions: calls, wall and thread CPU seconds per step."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.scan_began: tuple[float, float] | None = None  # (wall, process CPU)
        self.scan_ended: tuple[float, float] | None = None

    def mark_scan(self, owner: Any, name: str) -> None:
        """Note when the first call of `owner.name` starts and the last one ends (the scan)."""
        original: Callable[..., Any] = getattr(owner, name)

        def marked(*args: Any, **kwargs: Any) -> Any:
            if self.scan_began is None:
                self.scan_began = (time.perf_counter(), time.process_time())
            try:
                return original(*args, **kwargs)
            finally:
                self.scan_ended = (time.perf_counter(), time.process_time())

        setattr(owner, name, marked)

    def phases(self, started: tuple[float, float]) -> None:
        """Start-up, scan and after the scan: wall, process CPU and cores busy of each."""
        ended = (time.perf_counter(), time.process_time())
        if self.scan_began is None or self.scan_ended is None:
            return
        print(f"\n{'phase':20} {'wall s':>8} {'CPU s':>8} {'cores busy':>11}", file=sys.stderr)
        bounds = [started, self.scan_began, self.scan_ended, ended]
        for label, (wall0, cpu0), (wall1, cpu1) in zip(
            ("start-up", "scan", "after the scan"), bounds[:-1], bounds[1:], strict=True
        ):
            wall, cpu = wall1 - wall0, cpu1 - cpu0
            busy = cpu / wall if wall > 0 else 0.0
            print(f"{label:20} {wall:8.3f} {cpu:8.3f} {busy:11.2f}", file=sys.stderr)

    def around(self, owner: Any, name: str, label: str) -> None:
        """Time every call of `owner.name` (a class's method or a module's function)."""
        original: Callable[..., Any] = getattr(owner, name)  # AttributeError: renamed step

        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
                with self._lock:
                    total = self.totals.setdefault(label, [0.0, 0.0, 0.0])
                    total[0] += 1
                    total[1] += wall
                    total[2] += cpu

        setattr(owner, name, timed)

    def report(self, started: tuple[float, float]) -> None:
        self.phases(started)
        print(f"\nwhole run {time.perf_counter() - started[0]:.3f} s (wall)", file=sys.stderr)
        print(f"{'step':44} {'calls':>6} {'wall s':>8} {'CPU s':>8} {'waited':>8}", file=sys.stderr)
        for label, (calls, wall, cpu) in self.totals.items():
            print(
                f"{label:44} {int(calls):6d} {wall:8.3f} {cpu:8.3f} {max(0.0, wall - cpu):8.3f}",
                file=sys.stderr,
            )


def instrument(steps: Steps) -> None:
    import app.calls.extract as extract
    import app.calls.signin as signin
    import app.signatures.engine as engine
    import app.worker.pipeline as pipeline

    steps.around(engine.FileScan, "locate", "matcher thread: a block's whole step")
    steps.mark_scan(engine.FileScan, "locate")
    steps.around(engine.FileScan, "confirm", "  of it: confirming candidate lines")
    steps.around(extract.ThreadedExtractor, "prepare", "  of it: SIP lines sorted (call flows)")
    steps.around(signin.SigninReader, "prepare", "  of it: sign-in lines marked (call flows)")
    steps.around(engine.FileScan, "feed", "feeding thread: hits of a block")
    steps.around(signin.SigninReader, "feed", "feeding thread: sign-ins read (call flows)")
    steps.around(extract.FileExtractor, "feed", "SIP thread: messages and keep-alive rows")
    for name in (
        "_identify_nodes",
        "run_library",
        "_certificates",
        "build_calls",
        "merge_background",
        "build_signins",
        "coverage_of",
    ):
        steps.around(pipeline, name, f"after the scan: {name.lstrip('_')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", type=Path, help="default: the bench bundle")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--library", type=Path, help="a signature library (default: the app's)")
    parser.add_argument("--no-calls", action="store_true", help="LOUPE_CALL_FLOWS=false")
    args = parser.parse_args()
    bundle = args.bundle
    if bundle is None:
        from calls_bench import bench_bundle

        bundle, _manifest = bench_bundle(args.size_mib, BENCH_DIR / "out")
    if args.no_calls:
        import os

        os.environ["LOUPE_CALL_FLOWS"] = "false"
    steps = Steps()
    started = (time.perf_counter(), time.process_time())  # start-up: the app's imports too
    import app.cli as cli

    instrument(steps)
    atexit.register(steps.report, started)

    command = ["analyze", "--json", str(bundle)]
    if args.library is not None:
        command[1:1] = ["--library", str(args.library)]
    sys.argv = ["loupe", *command]
    with open("/dev/null", "w") as quiet:  # the report itself is not what is measured
        sys.stdout = quiet
        try:
            cli.app()
        except SystemExit:
            pass
        finally:
            sys.stdout = sys.__stdout__


if __name__ == "__main__":
    main()
