"""The timeline counts made by the analysis pass equal those counted from the stored files.

The pass counts each block on its own (in the matcher threads) and adds them up in file order;
the blocks it sees are cut where the unpacker's chunks end, not where count_file's reads do.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.bundle.unpack import Limits
from app.report import FileKind
from app.search.timeline import (
    HEAD_BYTES,
    LOG_KINDS,
    TimelineCollector,
    count_file,
    counts_to_json,
)
from app.signatures import load_library
from app.signatures.engine import (
    Aggregator,
    BlockFeeder,
    FileScan,
    LiteralMatcher,
    MatcherFactory,
)
from app.signatures.matchers import HyperscanMatcher
from app.web import logview
from app.worker.pipeline import Input, analyze
from tests.corpus import alarm_line, healthy_expressway_c_loggingsnapshot
from tests.search.test_position import timed_log
from tests.test_api import seed_bundle
from tests.test_cli_formats import REAL_LOG


def eventful_log() -> str:
    """Many minutes, continuation lines, errors, warnings, alarms, markers, no last newline."""
    text = timed_log(40, 300)
    for minute in range(0, 40, 3):
        text = text.replace(f"m{minute} n7\n", f'm{minute} n7 Level="ERROR" Module="network.sip"\n')
        text = text.replace(f"m{minute} n9\n", f"m{minute} n9 ] WARNING: slow\n")
    for minute in range(1, 40, 5):
        alarm = alarm_line("expc1", "20006", "Raised" if minute % 2 else "Lowered")
        text = text.replace(f"m{minute} n11\n", f"m{minute} n11\n{alarm}\n")
        text = text.replace(
            f"m{minute} n13\n", f'm{minute} n13 Event="DEBUG_MARKER" Detail="mark"\n'
        )
    return text.rstrip("\n")


def test_head_bytes_is_the_log_viewers_binary_sniff() -> None:
    assert HEAD_BYTES == logview.SNIFF_BYTES


@pytest.mark.parametrize("factory", [HyperscanMatcher, LiteralMatcher])
@pytest.mark.parametrize("jobs", [1, 2])
def test_blocks_of_any_size_add_up_to_the_file_counts(
    tmp_path: Path, jobs: int, factory: MatcherFactory
) -> None:
    path = tmp_path / "loggingsnapshot_expc1.txt"
    path.write_text(eventful_log())
    expected = counts_to_json(count_file(path, deadline=time.monotonic() + 60))
    assert expected["alarms"] == 8 and expected["markers"] == 8
    assert len(expected["minutes"]) > 40  # the 40 minutes of lines, and the alarms' time
    data = path.read_bytes()
    collector = TimelineCollector()
    rng = random.Random(15)
    with ThreadPoolExecutor(jobs) as pool:
        tally = collector.tally(path.name, FileKind.LOGGINGSNAPSHOT)
        assert tally is not None
        matcher = factory([], tally.literals)  # the needles found in the matcher's pass
        scan = FileScan(path.name, [], matcher, Aggregator(), tally=tally)
        feeder = BlockFeeder(scan, pool if jobs > 1 else None, window=5)
        position = 0
        while position < len(data):  # chunks of 1 byte to 40 kB: blocks cut anywhere
            size = rng.choice((1, 7, 300, 4096, 40_000))
            feeder.write(data[position : position + size])
            position += size
        feeder.close()
        scan.close()
    assert collector.to_json([path.name]) == {path.name: expected}


def test_a_file_with_a_nul_byte_near_its_start_is_not_counted(tmp_path: Path) -> None:
    collector = TimelineCollector()
    tally = collector.tally("capture.log", FileKind.LOG)
    assert tally is not None and collector.tally("x.pem", FileKind.PEM) is None
    block = b"\x00\x01binary\n" + timed_log(1, 5).encode()
    tally.add(tally.count(block, block.count(b"\n"), []))
    tally.close()
    assert collector.to_json(["capture.log"]) == {"capture.log": None}


def bundles(tmp_path: Path) -> list[Path]:
    seeded = tmp_path / "diagnostic_log_vcsc.tar.gz"
    seeded.write_bytes(seed_bundle("self_signed"))
    healthy = tmp_path / "loggingsnapshot_expc1_2026-01-29_19_01_16.txt"
    healthy.write_text(healthy_expressway_c_loggingsnapshot("expc1", n_lines=3000))
    return ([REAL_LOG] if REAL_LOG.is_file() else []) + [seeded, healthy]  # ../shared may be absent


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_analysis_pass_counts_what_the_stored_files_hold(tmp_path: Path, jobs: int) -> None:
    library = load_library()
    for number, upload in enumerate(bundles(tmp_path)):
        work = tmp_path / f"work{number}"
        report = analyze(
            [Input(upload, upload.name)], work, library, Limits(), jobs=jobs, count_timeline=True
        )
        logs = [f for f in report.files if f.kind in LOG_KINDS]
        assert logs and report.timeline is not None
        assert set(report.timeline) == {f.name for f in logs}
        for file in logs:
            counted = counts_to_json(count_file(file.path, deadline=time.monotonic() + 60))
            assert report.timeline[file.name] == counted, file.name
            assert counted["minutes"]


def test_the_offline_cli_does_not_count(tmp_path: Path) -> None:
    log = bundles(tmp_path)[-1]
    report = analyze([Input(log, log.name)], tmp_path / "w", load_library(), Limits())
    assert report.timeline is None
