"""Per-minute counts of one file: exact across samples and blocks, errors in their minute."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.search import timeline
from app.search.timeline import count_file, minute_of
from tests.search.test_position import timed_log


@pytest.mark.parametrize("hyperscan", [True, False])
@pytest.mark.parametrize("block_size", [4096, 4 * 2**20])
def test_lines_per_minute_are_exact(
    tmp_path: Path, block_size: int, hyperscan: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timeline, "SAMPLE_BYTES", 1000)
    if not hyperscan:
        monkeypatch.setattr(timeline, "hyperscan", None)
    path = tmp_path / "t.log"
    text = timed_log(7, 120).replace("m3 n5\n", 'm3 n5 Level="ERROR" ] ERROR: twice\n')
    text = text.replace("m6 n9\n", "m6 n9 DEBUG_MARKER here\n")
    path.write_text(text)
    counts = count_file(path, deadline=time.monotonic() + 30, block_size=block_size)
    assert counts.complete
    by_minute = [counts.minutes[m] for m in sorted(counts.minutes)]
    assert [lines for lines, _, _ in by_minute] == [240] * 7
    assert [errors for _, errors, _ in by_minute] == [0, 0, 0, 1, 0, 0, 0]
    assert [(e.kind, e.line, e.text) for e in counts.events] == [
        ("marker", 6 * 240 + 19, "DEBUG_MARKER here")
    ]
    assert min(counts.minutes) == minute_of(datetime(2018, 1, 1, 17, 0, tzinfo=UTC))


def test_deadline_leaves_the_counts_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    path.write_text(timed_log(2, 10))
    ticks = iter(range(100))
    counts = count_file(path, deadline=-1, clock=lambda: next(ticks))
    assert not counts.complete and not counts.minutes


@pytest.mark.parametrize("hyperscan", [True, False])
def test_a_line_repeating_a_needle_counts_once(
    tmp_path: Path, hyperscan: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hyperscan:
        monkeypatch.setattr(timeline, "hyperscan", None)
    path = tmp_path / "t.log"
    hostile = "2018-01-01T17:00:30.000Z h x: " + 'Level="ERROR" DEBUG_MARKER ' * 100_000
    path.write_text(timed_log(2, 10).replace("m0 n3\n", f"m0 n3\n{hostile}\n"))
    counts = count_file(path, deadline=time.monotonic() + 60)
    first = counts.minutes[min(counts.minutes)]
    assert first == [21, 1, 0]  # 20 lines of the minute and the hostile one: one error line
    assert counts.markers == 1 and [e.line for e in counts.events] == [8]
    assert counts.events[0].text.startswith("DEBUG_MARKER")


def test_lines_jumping_between_minutes_are_all_counted_in_bounded_work(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    path.write_text(
        "".join(f"2018-01-01T{17 + n % 2}:00:{n % 60:02d}.000Z h x: n{n}\n" for n in range(200_000))
    )
    parsed = 0
    real = timeline.timestamp_of

    def counting(text: str) -> datetime | None:
        nonlocal parsed
        parsed += 1
        return real(text)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timeline, "timestamp_of", counting)
        counts = count_file(path, deadline=time.monotonic() + 60)
    assert sum(lines for lines, _, _ in counts.minutes.values()) == 200_000
    assert set(counts.minutes) == {minute_of(datetime(2018, 1, 1, h, tzinfo=UTC)) for h in (17, 18)}
    blocks = -(-path.stat().st_size // (4 * 2**20))
    assert parsed < blocks * (timeline.MAX_WALKED_LINES + 2000)  # not one per line


def test_a_log_naming_too_many_minutes_is_not_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timeline, "MAX_MINUTES", 100)
    path = tmp_path / "t.log"
    path.write_text(
        "".join(f"2018-01-01T{10 + k // 60}:{k % 60:02d}:00.000Z h x: {k}\n" for k in range(120))
    )
    counts = count_file(path, deadline=time.monotonic() + 60)
    assert len(counts.minutes) == 100 and not counts.complete
