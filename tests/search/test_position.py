"""Line numbers from byte offsets, the time jump's binary search, and the block reader."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from app.search.blocks import line_blocks
from app.search.position import line_at, offset_at_time
from app.web import logview


def timed_log(minutes: int, per_minute: int) -> str:
    lines = []
    for minute in range(minutes):
        for n in range(per_minute):
            lines.append(f"2018-01-01T17:{minute:02d}:{n % 60:02d}.000Z host x: m{minute} n{n}\n")
            lines.append(" | continuation without a time\n")
    return "".join(lines)


def test_line_at_agrees_with_counting_newlines(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("".join(f"line {n}\n" for n in range(1, 3500)))
    index = logview.build_index(path)
    data = path.read_bytes()
    for line in (1, 2, 999, 1000, 1001, 2500, 3499):
        offset = data.index(f"line {line}\n".encode())
        assert line_at(path, index.page_offsets, logview.LINES_PER_PAGE, offset) == line


def test_offset_at_time_finds_the_first_line_of_a_minute(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    path.write_text(timed_log(30, 50))
    data = path.read_bytes()
    for minute in (0, 1, 17, 29):
        offset = offset_at_time(path, datetime(2018, 1, 1, 17, minute, tzinfo=UTC))
        assert data[offset:].startswith(
            f"2018-01-01T17:{minute:02d}:00.000Z host x: m{minute} n0".encode()
        )
    assert offset_at_time(path, datetime(2018, 1, 1, 16, 0, tzinfo=UTC)) == 0
    assert offset_at_time(path, datetime(2018, 1, 2, tzinfo=UTC)) == len(data)


def test_blocks_end_at_line_ends_and_cut_only_overlong_lines() -> None:
    data = b"short\n" + b"x" * 50 + b"\nlast line without end"
    pieces = [
        (base, bytes(block[:length])) for base, block, length in line_blocks(io.BytesIO(data), 16)
    ]
    assert b"".join(piece for _, piece in pieces) == data
    assert [base for base, _ in pieces] == [
        sum(len(p) for _, p in pieces[:i]) for i in range(len(pieces))
    ]
    assert pieces[0][1] == b"short\n"
    assert all(len(piece) <= 16 for _, piece in pieces)
