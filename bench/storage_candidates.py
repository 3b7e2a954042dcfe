"""Measure the candidate compressed forms of an unpacked log (issue 16): ratio, compress MB/s
on one core, time to read a page of 100 lines near the end.

    python bench/storage_candidates.py LOG [--frame-kib 1024] [--mib 256]

Each candidate cuts the log into frames of about --frame-kib KiB that end at a line end,
compresses each independently and keeps (first line, offset, compressed offset) per frame,
as app/bundle/stored.py does; pyzstd's SeekableZstdFile (its own offset table) is measured too.
"""

from __future__ import annotations

import argparse
import bisect
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

Codec = tuple[str, Callable[[bytes], bytes], Callable[[bytes], bytes]]


def codecs() -> list[Codec]:
    out: list[Codec] = []
    try:
        import zstandard

        for level in (-3, -1, 1, 3, 6):
            c = zstandard.ZstdCompressor(level=level)
            d = zstandard.ZstdDecompressor()
            out.append((f"zstandard L{level}", c.compress, d.decompress))
    except ImportError:
        pass
    try:
        import pyzstd

        for level in (-1, 1, 3):
            opt = {pyzstd.CParameter.compressionLevel: level}
            out.append(
                (
                    f"pyzstd L{level}",
                    lambda b, opt=opt: pyzstd.compress(b, opt),
                    pyzstd.decompress,
                )
            )
    except ImportError:
        pass
    from isal import isal_zlib

    for level in (0, 1, 2):
        out.append(
            (
                f"isal gzip L{level}",
                lambda b, level=level: isal_zlib.compress(b, level, wbits=31),
                lambda b: isal_zlib.decompress(b, wbits=31),
            )
        )
    return out


def frames_of(data: bytes, frame: int) -> list[tuple[int, int]]:
    spans = []
    start = 0
    while start < len(data):
        end = min(start + frame, len(data))
        if end < len(data):
            cut = data.rfind(b"\n", start, end)
            end = cut + 1 if cut >= start else end
        spans.append((start, end))
        start = end
    return spans


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("log", type=Path)
    parser.add_argument("--frame-kib", type=int, default=1024)
    parser.add_argument("--mib", type=int, default=256)
    args = parser.parse_args()
    with args.log.open("rb") as f:
        data = f.read(args.mib * 2**20)
    spans = frames_of(data, args.frame_kib * 1024)
    lines_before = []
    count = 0
    for start, end in spans:
        lines_before.append(count)
        count += data.count(b"\n", start, end)
    target_line = count - 500  # a page of 100 lines near the end
    print(
        f"{len(data) / 2**20:.0f} MiB, {len(spans)} frames of ~{args.frame_kib} KiB, {count} lines"
    )
    print(f"{'candidate':18} {'ratio':>7} {'MB/s c':>8} {'MB/s d':>8} {'page ms':>8}")
    for name, compress, decompress in codecs():
        t0 = time.perf_counter()
        blobs = [compress(data[s:e]) for s, e in spans]
        ct = time.perf_counter() - t0
        size = sum(len(b) for b in blobs)
        t0 = time.perf_counter()
        for b in blobs[:64]:
            decompress(b)
        dt = time.perf_counter() - t0
        raw_64 = sum(e - s for s, e in spans[:64])
        times = []
        for _ in range(9):
            t0 = time.perf_counter()
            k = bisect.bisect_right(lines_before, target_line) - 1
            plain = decompress(blobs[k])
            pos = 0
            for _ in range(target_line - lines_before[k]):
                pos = plain.index(b"\n", pos) + 1
            page = plain[pos:].split(b"\n", 100)[:100]
            times.append(time.perf_counter() - t0)
            assert page
        print(
            f"{name:18} {size / len(data):7.4f} {len(data) / ct / 1e6:8.0f} "
            f"{raw_64 / dt / 1e6:8.0f} {statistics.median(times) * 1000:8.2f}"
        )
    try:
        import pyzstd

        path = Path("/tmp/_seekable_probe.zst")
        t0 = time.perf_counter()
        with pyzstd.SeekableZstdFile(
            path, "w", level_or_option=1, max_frame_content_size=args.frame_kib * 1024
        ) as f:
            for s in range(0, len(data), 4 * 2**20):
                f.write(data[s : s + 4 * 2**20])
        ct = time.perf_counter() - t0
        size = path.stat().st_size
        times = []
        near_end = spans[-1][0] + 10
        for _ in range(9):
            t0 = time.perf_counter()
            with pyzstd.SeekableZstdFile(path, "r") as f:
                f.seek(near_end)
                f.read(100 * 200)
            times.append(time.perf_counter() - t0)
        path.unlink()
        print(
            f"{'SeekableZstdFile 1':18} {size / len(data):7.4f} {len(data) / ct / 1e6:8.0f} "
            f"{'':>8} {statistics.median(times) * 1000:8.2f}  (seek by offset; needs a line index)"
        )
    except ImportError:
        pass
    sys.stdout.flush()


if __name__ == "__main__":
    main()
