"""Speed of the log search (issue 15) on a large generated log, against grep/rg in the same run.

    python bench/search_bench.py [--mib 1024] [--repeat 3]

Builds its own input: a log of `--mib` MiB made by repeating the lines of the real public log
(../shared/data/real/expressway-e_mra_call.txt when present, a few Expressway-style lines
otherwise), with a unique Call-ID written at 5 places, in a temp dir removed at the end. Then
times, each the median of `--repeat` runs over the page-cached file:

    literal    the unique Call-ID (bytes.find), as `GET …/search?q=<id>`
    no hit     a literal found nowhere: the whole file is read
    ignore-case the Call-ID with case ignored (RE2)
    regex      `Call-ID=[0-9a-f]{6}zz` (RE2, found nowhere)
    filtered   the Call-ID with Module="network.sip" (record filter on each candidate)

with the search core exactly as the service runs it (pages of 100, limit 10,000, and the
page's line numbers from the log viewer's line index, built once before the timings), and the
same literal with `rg -c` (or `grep -c` without ripgrep) as the same-run baseline. Prints
seconds, MB/s and the ratio to the baseline; exits 1 when the literal search of the file
extrapolated to 1 GiB takes 2 s or more.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.search.position import line_at  # noqa: E402
from app.search.query import CompiledQuery, SearchQuery  # noqa: E402
from app.search.scan import SearchFile, search  # noqa: E402
from app.web import logview  # noqa: E402

REAL_LOG = REPO.parent / "shared" / "data" / "real" / "expressway-e_mra_call.txt"
FALLBACK = (
    '2018-01-01T12:56:48.965-05:00 vcse1 tvcs: UTCTime="2018-01-01 17:56:48,965" '
    'Module="network.sip" Level="DEBUG":  Action="Received" Detail="Receive Request '
    'Method=INVITE, Call-ID=e7e75ff9a67fb2435b25eab2a1498171"\n'
    " SIPMSG:\n |INVITE sip:1004@cucm.example.com SIP/2.0\n Call-ID: e7e75ff9a67fb2\n"
)
UNIQUE = "Call-ID=feedc0de0123456789abcdefbench1"
TARGET_SECONDS_PER_GIB = 2.0


def build(path: Path, mib: int) -> int:
    unit = REAL_LOG.read_bytes() if REAL_LOG.is_file() else FALLBACK.encode()
    unit = unit if unit.endswith(b"\n") else unit + b"\n"
    size = mib * 2**20
    copies = max(1, size // len(unit))
    special = (
        f'2018-01-01T12:56:49.000-05:00 vcse1 tvcs: UTCTime="2018-01-01 17:56:49,000" '
        f'Module="network.sip" Level="INFO": Detail="Receive {UNIQUE}"\n'
    ).encode()
    places = {copies * k // 5 for k in range(5)}
    chunk = unit * 64
    with path.open("wb") as handle:
        written = 0
        while written < copies:
            if any(written <= p < written + 64 for p in places):
                handle.write(special)
            handle.write(chunk)
            written += 64
    return path.stat().st_size


def median_time(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def ours(path: Path, index: logview.LineIndex, query: SearchQuery) -> int:
    outcome = search(
        [SearchFile(path, path.name, "bench")],
        CompiledQuery(query),
        skip=0,
        take=100,
        max_hits=10_000,
        deadline=time.monotonic() + 600,
    )
    for hit in outcome.hits:
        line_at(path, index.page_offsets, logview.LINES_PER_PAGE, hit.offset)
    return outcome.total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="loupe-search-bench-"))
    try:
        path = folder / "loggingsnapshot_bench.txt"
        size = build(path, args.mib)
        index = logview.build_index(path)  # the viewer's index, built once per file
        path.read_bytes()  # into the page cache, like the stored file of a recent analysis
        tool = shutil.which("rg") or shutil.which("grep")
        assert tool is not None, "neither rg nor grep is installed"
        baseline = median_time(
            lambda: subprocess.run([tool, "-c", UNIQUE, str(path)], capture_output=True),
            args.repeat,
        )
        print(f"input: {size / 1e6:.0f} MB, {index.line_count} lines; baseline {tool} -c")
        print(f"  {Path(tool).name:<12} {baseline:7.3f} s  {size / 1e6 / baseline:7.0f} MB/s")
        cases = {
            "literal": SearchQuery(text=UNIQUE, case_sensitive=True),
            "no hit": SearchQuery(text="nowhere-in-this-log-4711", case_sensitive=True),
            "ignore-case": SearchQuery(text=UNIQUE.upper(), case_sensitive=False),
            "regex": SearchQuery(text=r"Call-ID=[0-9a-f]{6}zz", regex=True),
            "filtered": SearchQuery(text=UNIQUE, case_sensitive=True, module="network.sip"),
        }
        literal = 0.0
        for name, query in cases.items():
            found = ours(path, index, query)
            seconds = median_time(lambda q=query: ours(path, index, q), args.repeat)
            literal = seconds if name == "literal" else literal
            print(
                f"  {name:<12} {seconds:7.3f} s  {size / 1e6 / seconds:7.0f} MB/s"
                f"  {seconds / baseline:5.2f}× baseline  ({found} hits)"
            )
        per_gib = literal * 2**30 / size
        verdict = "PASS" if per_gib < TARGET_SECONDS_PER_GIB else "FAIL"
        print(f"{verdict}: literal search {per_gib:.2f} s per GiB (target < 2 s)")
        return 0 if verdict == "PASS" else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
