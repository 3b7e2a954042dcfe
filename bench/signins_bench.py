"""Measure MRA sign-in extraction: its cost in the call-flow pass, and a million requests.

    python bench/signins_bench.py [--size-mib 200] [--requests 1000000] [--rounds 5]

1. A log of --size-mib MiB in the line mix of bench/make_bundle.py (SIP, traffic_server
   request lines, developer.*, events …) is fed in 4 MiB line-aligned blocks, in interleaved
   rounds, to: a baseline that only counts the blocks' newlines (what any observer pays at
   least), the call-flow extractor (app.calls.extract), and the sign-in reader
   (app.calls.signin). Median seconds of each are printed.
2. --requests Traffic Server requests with their HTTPMSG blocks and responses (the doc 225746
   and doc 117811 forms) streamed through the sign-in reader in 4 MiB blocks: seconds, the
   messages kept and counted, and the peak of Python's allocations (tracemalloc) while doing it.
Prints one line per figure. Not part of `make bench` (the coordinator decides).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

from make_bundle import _background, _Clock, _Pools  # noqa: E402

from app.calls.extract import Collector  # noqa: E402
from app.calls.signin import SigninCollector  # noqa: E402
from app.report import FileKind  # noqa: E402

BLOCK = 4 * 2**20


def write_log(path: Path, size: int) -> None:
    rng = random.Random(7)
    pools, clock = _Pools(rng), _Clock()
    written = 0
    with path.open("w", encoding="ascii") as out:
        batch: list[str] = []
        while written < size:
            batch.append(_background(rng, pools, clock.tick(rng)))
            if len(batch) >= 4000:
                data = "\n".join(batch) + "\n"
                out.write(data)
                written += len(data)
                batch.clear()


def blocks(path: Path) -> Iterator[tuple[bytes, int]]:
    """Line-aligned blocks of about BLOCK bytes and the newlines before each."""
    before = 0
    rest = b""
    with path.open("rb") as source:
        while chunk := source.read(BLOCK):
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            block, rest = data[:cut], data[cut:]
            yield block, before
            before += block.count(b"\n")
    if rest:
        yield rest, before


def timed(kind: str, loaded: list[tuple[bytes, int]]) -> float:
    started = time.perf_counter()
    if kind == "baseline":
        for block, _before in loaded:
            block.count(b"\n")
    elif kind == "calls":
        reader = Collector().observer("bench.log", FileKind.LOG)
        assert reader is not None
        for block, before in loaded:
            reader.feed(block, before)
        reader.close()
    else:
        signins = SigninCollector().observer("bench.log", FileKind.LOG)
        assert signins is not None
        for block, before in loaded:
            signins.feed(block, before)
        signins.close()
    return time.perf_counter() - started


def overhead(size_mib: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "mix.log"
        write_log(log, size_mib * 2**20)
        loaded = list(blocks(log))
    times: dict[str, list[float]] = {"baseline": [], "calls": [], "signins": []}
    for _ in range(rounds):  # interleaved: the shared VM's noise hits all three alike
        for kind in times:
            times[kind].append(timed(kind, loaded))
    for kind, values in times.items():
        print(
            f"{size_mib} MiB mix, {kind}: median {statistics.median(values):.3f} s "
            f"({rounds} rounds)"
        )


def request_lines(n: int) -> bytes:
    when = f"2026-01-29 19:{(n // 60) % 60:02d}:{n % 60:02d},974"
    client = f"198.51.{(n // 250) % 250}.{n % 250 + 1}"
    lines = [
        f'2026-01-29T14:01:16.974-05:00 exp-c traffic_server[2030]: UTCTime="{when}" '
        'Module="network.http.trafficserver" Level="DEBUG": Detail="Sending Request" '
        f'Txn-id="{n}" TrackingID="f{n:07x}-86f6-4030-8259-0b768c07723e" Dst-ip="10.0.0.10" '
        'Dst-port="8443"',
        "HTTPMSG:",
        f"|GET /cucm-uds/user/user{n % 5000}/devices?access_token=t{n} HTTP/1.1",
        " Host: cucm.example.com:8443",
        " User-Agent: Jabber/14.1",
        f" Client-ip: {client}",
        " |",
        f'ExpresswayE traffic_server[15550]: Module="network.http.trafficserver" Level="DEBUG": '
        f'Detail="Sending Response" Txn-id="{n}" Dst-ip="{client}" Dst-port="50314" HTTPMSG: '
        "|HTTP/1.1 401 Unauthorized Date: Wed, 21 May 2014 14:31:18 GMT",
    ]
    return ("\n".join(lines) + "\n").encode()


def million(requests: int) -> None:
    collector = SigninCollector()
    reader = collector.observer("million.log", FileKind.LOG)
    assert reader is not None
    tracemalloc.start()
    reading = 0.0  # seconds in the reader (generating the requests is not counted)
    pending: list[bytes] = []
    size = before = total = 0
    for n in range(requests):
        piece = request_lines(n)
        pending.append(piece)
        size += len(piece)
        if size >= BLOCK or n == requests - 1:
            block = b"".join(pending)
            started = time.perf_counter()
            reader.feed(block, before)
            reading += time.perf_counter() - started
            before += block.count(b"\n")
            total += len(block)
            pending.clear()
            size = 0
    started = time.perf_counter()
    reader.close()
    reading += time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{requests} requests + responses ({total / 2**20:.0f} MiB): {reading:.1f} s reading, "
        f"{collector.kept} messages kept, {collector.dropped} counted only, "
        f"peak Python allocations {peak / 2**20:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    overhead(args.size_mib, args.rounds)
    million(args.requests)


if __name__ == "__main__":
    main()
