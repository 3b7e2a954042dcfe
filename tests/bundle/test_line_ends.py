"""CR-only and CRLF line ends, and lines longer than the engine's piece size, are analysed.

A finding's snippets must quote the same line numbers the log viewer shows, and anything that
could not be read as usual is named in a warning (file and line).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bundle.lineends import CrToLf
from app.bundle.unpack import Limits, unpack_upload
from app.report import Finding, Report
from app.signatures import load_library
from app.signatures.engine import MAX_LINE_BYTES
from app.web.logview import build_index, read_page
from app.worker.pipeline import Input, analyze
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_tar, write_upload

LIBRARY = load_library()
SEED = "mra-traffic-server-cert-verification"
LOG_NAME = "loggingsnapshot_vcsc_2022-07-11_17_33_18.txt"


def _log_lines() -> list[str]:
    healthy = healthy_expressway_c_loggingsnapshot("vcsc", n_lines=60).splitlines()
    return healthy[:30] + seed_scenario_lines("self_signed") + healthy[30:]


def _analyze(
    tmp_path: Path, log: bytes, tag: str, *, prescan: bool = True, limits: Limits | None = None
) -> Report:
    members: dict[str, bytes | str] = {
        LOG_NAME: log,
        "xstat_dump_vcsc_2022-07-11_17_33_18.txt": xstat_dump("vcsc"),
    }
    upload = write_upload(tmp_path / tag, "diagnostic_log_vcsc.tar.gz", make_tar(members))
    return analyze(
        [Input(upload, upload.name)],
        tmp_path / f"work-{tag}",
        LIBRARY,
        limits or Limits(),
        jobs=2,
        scan_while_unpacking=prescan,
    )


def _seed_finding(report: Report) -> Finding:
    return next(finding for finding in report.findings if finding.signature_id == SEED)


def _viewer_line(report: Report, number: int) -> str:
    (log,) = [file for file in report.files if file.name.endswith(LOG_NAME)]
    index = build_index(log.path)
    page = read_page(log.path, index, (number - 1) // 1000 + 1)
    return next(line.text for line in page.lines if line.number == number)


@pytest.mark.parametrize("line_end", ["\r", "\r\n"], ids=["cr-only", "crlf"])
def test_cr_and_crlf_logs_give_the_findings_and_line_numbers_of_an_lf_log(
    tmp_path: Path, line_end: str
) -> None:
    lines = _log_lines()
    plain = _analyze(tmp_path, ("\n".join(lines) + "\n").encode(), "lf")
    other = _analyze(tmp_path, (line_end.join(lines) + line_end).encode(), "other")

    assert [(f.signature_id, f.count, f.node) for f in other.findings] == [
        (f.signature_id, f.count, f.node) for f in plain.findings
    ]
    expected = _seed_finding(plain).snippets
    snippets = _seed_finding(other).snippets
    assert [(s.line, s.text) for s in snippets] == [(s.line, s.text) for s in expected]
    assert all("\r" not in s.text for s in snippets)
    for snippet in snippets:  # the viewer shows the quoted line under the same number
        assert _viewer_line(other, snippet.line) == snippet.text.splitlines()[0]
    lone_cr = [w for w in other.warnings if "lone CR" in w]
    if line_end == "\r":
        assert lone_cr == [
            f"diagnostic_log_vcsc.tar.gz/{LOG_NAME}: its lines end with a lone CR (old Mac "
            "style, as some syslog exports write them); they were read as ordinary line ends, "
            "so line numbers count those lines (the log viewer shows the file the same way)."
        ]
    else:
        assert lone_cr == []


def test_a_cr_log_split_anywhere_converts_to_the_same_lines() -> None:
    text = b"one\rtwo\r\nthree\r\rfive\r"
    expected = b"one\ntwo\nthree\n\nfive\n"
    for cut in range(len(text) + 1):
        converter = CrToLf()
        assert converter.convert(text[:cut]) + converter.convert(text[cut:]) == expected


def test_an_lf_log_with_stray_crs_is_stored_as_it_is(tmp_path: Path) -> None:
    data = b"a line\rwith a stray CR\nnext\n"
    src = write_upload(tmp_path, "x.log", data)
    result = unpack_upload(src, "x.log", tmp_path / "work")
    assert result.files[0].path.read_bytes() == data
    assert result.warnings == []


@pytest.mark.parametrize("prescan", [True, False], ids=["while-unpacking", "read-back"])
def test_a_line_longer_than_the_piece_size_is_named_and_the_rest_still_matches(
    tmp_path: Path, prescan: bool
) -> None:
    lines = _log_lines()
    long_line = "x" * (2 * MAX_LINE_BYTES + 2**20)  # held whole up to the piece size + a chunk
    log = "\n".join(lines[:10] + [long_line] + lines[10:]) + "\n"

    lenient = Limits(max_ratio=1e6)  # the long line compresses 1000:1; it is no bomb here
    report = _analyze(tmp_path, log.encode(), "long", prescan=prescan, limits=lenient)

    plain = _analyze(tmp_path, ("\n".join(lines) + "\n").encode(), "plain")
    shifted = [(s.line + 1, s.text) for s in _seed_finding(plain).snippets]
    assert [(s.line, s.text) for s in _seed_finding(report).snippets] == shifted
    assert [w for w in report.warnings if "longer than" in w] == [
        f"diagnostic_log_vcsc.tar.gz/{LOG_NAME}: line 11 is longer than 16 MB (no line break); "
        "scanned in pieces of that size, so a pattern across a cut can be missed."
    ]


def test_a_file_without_any_line_break_is_scanned_and_named(tmp_path: Path) -> None:
    seed = seed_scenario_lines("self_signed")[0]
    blob = "y" * (MAX_LINE_BYTES // 2) + f" {seed} " + "y" * MAX_LINE_BYTES
    upload = write_upload(tmp_path, "messages.log", blob.encode())

    report = analyze([Input(upload, upload.name)], tmp_path / "work", LIBRARY, Limits(), jobs=1)

    assert SEED in {finding.signature_id for finding in report.findings}
    assert report.warnings == [
        "messages.log: line 1 is longer than 16 MB (no line break); scanned in pieces of that "
        "size, so a pattern across a cut can be missed."
    ]
