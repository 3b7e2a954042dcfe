"""`loupe analyze` (Limits.scanned_head_bytes) writes only the head of a log it scanned whole.

The report must be the one a run that keeps every file gives: same findings and line numbers,
same file sizes, same node, same coverage; the files other steps read whole (xstatus) stay whole.
"""

from __future__ import annotations

from pathlib import Path

from app.bundle.unpack import BLOCK_BYTES, Limits
from app.report import Report
from app.signatures import load_library
from app.worker.pipeline import Input, analyze
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_tar, write_upload

LIBRARY = load_library()
LOG_NAME = "loggingsnapshot_vcsc_2022-07-11_17_33_18.txt"
XSTAT_NAME = "xstat_dump_vcsc_2022-07-11_17_33_18.txt"
HEAD = 64 * 1024


def _big_log(line_end: str = "\n") -> bytes:
    """A log several unpack blocks long, with the seed scenario near its end."""
    healthy = healthy_expressway_c_loggingsnapshot("vcsc", n_lines=2000).splitlines()
    lines: list[str] = []
    while sum(len(line) + 1 for line in lines) < 3 * BLOCK_BYTES:
        lines.extend(healthy)
    lines.extend(seed_scenario_lines("self_signed"))
    lines.extend(healthy[:50])
    return (line_end.join(lines) + line_end).encode()


def _analyze(tmp_path: Path, tag: str, log: bytes, limits: Limits, *, jobs: int = 2) -> Report:
    members: dict[str, bytes | str] = {LOG_NAME: log, XSTAT_NAME: xstat_dump("vcsc")}
    upload = write_upload(tmp_path / tag, "diagnostic_log_vcsc.tar.gz", make_tar(members))
    return analyze(
        [Input(upload, upload.name)], tmp_path / f"work-{tag}", LIBRARY, limits, jobs=jobs
    )


def _summary(report: Report) -> object:
    return (
        [
            (f.signature_id, f.count, f.node, [(s.file, s.line, s.text) for s in f.snippets])
            for f in report.findings
        ],
        [(f.name, f.size, f.kind) for f in report.files],
        [(n.hostname, n.product, n.version) for n in report.nodes],
        report.coverage,
        report.examined,
        report.warnings,
    )


def _on_disk(report: Report, suffix: str) -> int:
    (file,) = [f for f in report.files if f.name.endswith(suffix)]
    return file.path.stat().st_size


def test_only_the_head_of_a_scanned_log_is_written_and_the_report_is_unchanged(
    tmp_path: Path,
) -> None:
    log = _big_log()
    kept = _analyze(tmp_path, "kept", log, Limits())
    heads = _analyze(tmp_path, "heads", log, Limits(scanned_head_bytes=HEAD))

    assert any(f.signature_id == "mra-traffic-server-cert-verification" for f in kept.findings)
    assert _summary(heads) == _summary(kept)
    assert _on_disk(kept, LOG_NAME) == len(log)
    assert HEAD <= _on_disk(heads, LOG_NAME) <= HEAD + BLOCK_BYTES < len(log)
    assert _on_disk(heads, XSTAT_NAME) == _on_disk(kept, XSTAT_NAME)  # read whole later


def test_one_job_and_cr_line_ends_give_the_converted_size(tmp_path: Path) -> None:
    log = _big_log("\r")
    kept = _analyze(tmp_path, "kept", log, Limits(), jobs=1)
    heads = _analyze(tmp_path, "heads", log, Limits(scanned_head_bytes=HEAD), jobs=1)

    assert _summary(heads) == _summary(kept)
    assert _on_disk(heads, LOG_NAME) < len(log)


def test_logs_read_back_after_unpacking_are_kept_whole(tmp_path: Path) -> None:
    log = _big_log()
    upload = write_upload(tmp_path / "up", "diagnostic_log_vcsc.tar.gz", make_tar({LOG_NAME: log}))
    report = analyze(
        [Input(upload, upload.name)],
        tmp_path / "work",
        LIBRARY,
        Limits(scanned_head_bytes=HEAD),
        jobs=2,
        scan_while_unpacking=False,  # no scan while unpacking: the engine reads the file back
    )
    assert _on_disk(report, LOG_NAME) == len(log)
    assert any(f.signature_id == "mra-traffic-server-cert-verification" for f in report.findings)
