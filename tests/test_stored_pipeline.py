"""An analysis reads the same from files kept compressed as from plain ones: findings with
their line numbers, calls and the logged text of their messages, the scan run while unpacking
and the one reading the stored files back."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.bundle import stored
from app.bundle.budget import Limits
from app.report import Report
from app.services.calls import read_texts
from app.signatures import LIBRARY_DIR, load_library
from app.worker.pipeline import Input, analyze
from tests.calls.scenarios import two_node_logs
from tests.calls.siplog import START
from tests.corpus import seed_scenario_lines
from tests.factories import make_tar

FILLER_LINES = 25_000  # about 3 MiB before the calls: they lie in later frames


def bundles(tmp_path: Path) -> list[Input]:
    inputs = []
    for node in two_node_logs():
        filler = [
            f"{(START - timedelta(hours=2, seconds=-n // 10)).isoformat()} {node.host} tvcs: "
            f'Module="network.http" Level="INFO": Detail="filler {n} {"z" * (n % 53)}"'
            for n in range(FILLER_LINES)
        ]
        hits = [
            line.replace(" vcsc ", f" {node.host} ") for line in seed_scenario_lines("self_signed")
        ]
        log = "\n".join(filler) + "\n" + node.text() + "\n".join(hits) + "\n"
        path = tmp_path / f"diagnostic_log_{node.host}.tar.gz"
        path.write_bytes(make_tar({f"loggingsnapshot_{node.host}_2018-01-01_17_56_00.txt": log}))
        inputs.append(Input(path=path, name=path.name))
    return inputs


def summary(report: Report) -> dict[str, Any]:
    assert report.calls is not None
    return {
        "files": sorted((f.name, f.size, f.kind) for f in report.files),
        "findings": sorted(
            (f.signature_id, f.count, tuple((s.file, s.line, s.text) for s in f.snippets))
            for f in report.findings
        ),
        "calls": [dataclasses.asdict(call) for call in report.calls],
    }


@pytest.mark.parametrize("scan_while_unpacking", [True, False])
def test_compressed_and_plain_storage_give_the_same_analysis(
    tmp_path: Path, scan_while_unpacking: bool
) -> None:
    library = load_library(LIBRARY_DIR)
    inputs = bundles(tmp_path)
    results = {}
    for compress in (True, False):
        work = tmp_path / f"work-{compress}"
        report = analyze(
            inputs,
            work,
            library,
            Limits(compress_from_bytes=stored.PLAIN_BELOW if compress else 0),
            jobs=2,
            scan_while_unpacking=scan_while_unpacking,
            extract_calls=True,
        )
        packed = [f for f in report.files if f.path.name.endswith(stored.SUFFIX)]
        assert len(packed) == (2 if compress else 0)
        results[compress] = (report, summary(report))
    (packed_report, packed), (plain_report, plain) = results[True], results[False]
    assert packed == plain
    assert packed["findings"] and any(call["failed"] for call in packed["calls"])
    assert max(line for f in packed["findings"] for _, line, _ in f[2]) > FILLER_LINES

    def texts(report: Report) -> list[str | None]:
        assert report.calls is not None
        paths = {f.name: f.path for f in report.files}
        return read_texts(paths, [m for call in report.calls for m in call.messages])

    packed_texts = texts(packed_report)
    assert packed_texts == texts(plain_report)
    assert any(text and "INVITE sip:" in text for text in packed_texts)
