"""The verdict rule and the coverage input checks it rests on: never an all-clear not earned."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.report import BundleFile, Examined, FileKind, NodeInfo
from app.signatures import coverage, load_library, run_library
from app.signatures.coverage import coverage_of
from app.signatures.engine import FileStats
from app.signatures.verdict import CLEAR, INCONCLUSIVE, PROBLEMS, decide, examined_lines
from tests.corpus import alarm_line, healthy_expressway_c_loggingsnapshot

LIBRARY = load_library()
ALARM = "expressway-alarm-20006"
TRAFFIC_SERVER = "mra-traffic-server-cert-verification"
CERTIFICATE = "cert-expired"
LOG_LINE = "tls-inbound-untrusted-ca"
NODE = NodeInfo("b1", "expc1", "Expressway-C", "X14.2.1")


def snapshot(lines: int = 3163) -> Examined:
    return Examined("b1", "vcse1", "Expressway-E", "X8.11", "loggingsnapshot", 1, lines, True)


def test_problems_clear_and_inconclusive() -> None:
    passed = ["passed"] * 77 + ["skipped"] * 14
    problems = decide(1, passed, [snapshot()])
    assert problems.verdict == PROBLEMS and problems.summary.startswith("1 problem found in ")
    clear = decide(0, passed, [snapshot(1163)])
    assert clear.verdict == CLEAR
    assert clear.summary == (
        "No known problem found in 1,163 lines of loggingsnapshot from vcse1 (Expressway-E "
        "X8.11); 77 signatures looked, 14 could not."
    )
    assert (clear.looked, clear.could_not, clear.lines) == (77, 14, 1163)
    text = Examined("b1", None, None, None, "log", 3, 40, False)
    unrelated = decide(0, passed, [text])
    assert unrelated.verdict == INCONCLUSIVE
    assert unrelated.reason is not None and "no loggingsnapshot" in unrelated.reason
    assert "40 lines of other text" in unrelated.reason
    nothing = decide(0, ["skipped"] * 91, [snapshot()])
    assert nothing.verdict == INCONCLUSIVE and "every one lacked its input" in str(nothing.reason)
    assert decide(0, passed, []).verdict == INCONCLUSIVE  # no log at all: a PEM or pcap only
    empty = decide(0, passed, [snapshot(0)])
    assert empty.verdict == INCONCLUSIVE and "are empty" in str(empty.reason)


def test_a_run_without_recorded_lines_rests_on_its_coverage() -> None:
    old = decide(0, ["passed"], None)
    assert old.verdict == CLEAR and old.lines is None
    assert "not recorded for this run" in old.summary
    assert decide(0, [], None).verdict == INCONCLUSIVE


def test_info_findings_alone_are_not_problems() -> None:
    assert decide(0, ["matched", "passed"], [snapshot()]).verdict == CLEAR


# --- coverage: each family needs its own input -------------------------------------------------


def _file(tmp_path: Path, name: str, text: str, kind: FileKind) -> BundleFile:
    path = tmp_path / name
    path.write_text(text)
    return BundleFile(path, f"b1/{name}", path.stat().st_size, kind, "b1")


def _outcomes(files: list[BundleFile], ids: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    signatures = [LIBRARY.get(i) for i in ids]
    stats: dict[str, FileStats] = {}
    findings = run_library(LIBRARY, files, {"b1": NODE}, stats=stats)
    result = coverage_of(signatures, files, {"b1": NODE}, findings, stats=stats)
    return {c.signature_id: (c.outcome, c.reason or "") for c in result}


def test_each_family_is_skipped_with_its_reason_when_its_input_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = healthy_expressway_c_loggingsnapshot("expc1", n_lines=200)
    log = "".join(line for line in log.splitlines(True) if "Alarm" not in line)
    log = "".join(line for line in log.splitlines(True) if "traffic_server" not in line)
    files = [_file(tmp_path, "loggingsnapshot_expc1.txt", log, FileKind.LOGGINGSNAPSHOT)]

    def no_second_read(*args: object, **kwargs: object) -> bool:
        raise AssertionError("the scan's FileStats answer for a scanned log")

    monkeypatch.setattr(coverage, "file_contains", no_second_read)
    got = _outcomes(files, (ALARM, TRAFFIC_SERVER, CERTIFICATE, LOG_LINE))
    assert got[LOG_LINE] == ("passed", "")
    outcome, reason = got[ALARM]
    assert outcome == "skipped" and reason.startswith("no alarm events in the upload")
    assert "xstatus" in reason
    outcome, reason = got[TRAFFIC_SERVER]
    assert outcome == "skipped" and reason.startswith("no traffic_server lines in the upload")
    outcome, reason = got[CERTIFICATE]
    assert outcome == "skipped" and reason.startswith("no PEM or capture in the upload")


def test_alarm_signatures_look_when_the_log_has_alarm_events_or_xstat_lists_alarms(
    tmp_path: Path,
) -> None:
    log = healthy_expressway_c_loggingsnapshot("expc1", n_lines=50)
    log = "".join(line for line in log.splitlines(True) if "Alarm" not in line)
    other_alarm = alarm_line("expc1", "20004", "Raised")
    with_event = [
        _file(tmp_path, "loggingsnapshot_expc1.txt", log + other_alarm + "\n", FileKind.LOG)
    ]
    assert _outcomes(with_event, (ALARM,))[ALARM] == ("passed", "")
    xstat = '*s Alarm 1: /\n    Id: "20004"\n    State: "Active"\n*s/end\nOK\n'
    with_list = [
        _file(tmp_path, "loggingsnapshot_expc1_b.txt", log, FileKind.LOGGINGSNAPSHOT),
        _file(tmp_path, "xstat_dump_expc1.txt", xstat, FileKind.XSTAT),
    ]
    assert _outcomes(with_list, (ALARM,))[ALARM] == ("passed", "")


def test_certificate_checks_look_at_a_capture_or_a_pem(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    for kind, name in ((FileKind.PEM, "server_expc1.pem"), (FileKind.PCAP, "eth0.pcap")):
        files = [_file(tmp_path, name, pem, kind)]
        (entry,) = coverage_of([LIBRARY.get(CERTIFICATE)], files, {"b1": NODE}, [])
        assert (entry.outcome, entry.reason) == ("passed", None), kind


def test_unrelated_text_is_not_an_expressway_log(tmp_path: Path) -> None:
    text = "".join(f"shopping list item {n}: milk\n" for n in range(30))
    files = [_file(tmp_path, "notes.txt", text, FileKind.LOG)]
    stats: dict[str, FileStats] = {}
    run_library(LIBRARY, files, {"b1": NODE}, stats=stats)
    assert stats["b1/notes.txt"].lines == 30 and not stats["b1/notes.txt"].expressway_format
    (entry,) = coverage_of([LIBRARY.get(LOG_LINE)], files, {"b1": NODE}, [], stats=stats)
    assert entry.outcome == "skipped"
    assert entry.reason is not None and entry.reason.startswith("no Expressway log lines")
    (examined,) = examined_lines(files, {"b1": NODE}, stats)
    assert (examined.lines, examined.expressway) == (30, False)


@pytest.mark.parametrize("ending", ["", "\n"])
def test_lines_are_counted_in_the_scan_with_or_without_a_last_newline(
    tmp_path: Path, ending: str
) -> None:
    lines = healthy_expressway_c_loggingsnapshot("expc1", n_lines=200).splitlines()
    log = "\n".join([line for line in lines if line.strip()][:120]) + ending
    files = [_file(tmp_path, "loggingsnapshot_expc1.txt", log, FileKind.LOGGINGSNAPSHOT)]
    stats: dict[str, FileStats] = {}
    run_library(LIBRARY, files, {"b1": NODE}, stats=stats, block_size=4096)
    assert stats["b1/loggingsnapshot_expc1.txt"].lines == 120
    (examined,) = examined_lines(files, {"b1": NODE}, stats)
    assert (examined.node, examined.kind, examined.lines) == ("expc1", "loggingsnapshot", 120)


CUT = "diag.tar.gz: the gzip-compressed file is truncated (it ends in the middle)"


def test_an_upload_read_only_in_part_is_never_clear() -> None:
    passed = ["passed"] * 77 + ["skipped"] * 14
    cut = decide(0, passed, [snapshot(451)], read_in_part=[CUT])
    assert cut.verdict == INCONCLUSIVE
    assert cut.reason == "the upload was read only in part, up to its damage"
    assert cut.read_in_part == [CUT]
    assert cut.summary.startswith("Inconclusive: the upload was read only in part")
    assert "no known problem found in 451 lines of loggingsnapshot from vcse1" in cut.summary
    assert "what came after the damage was not looked at" in cut.summary
    assert cut.summary.endswith(f"Read only in part: {CUT}.")
    problems = decide(2, passed, [snapshot(451)], read_in_part=[CUT])
    assert problems.verdict == PROBLEMS  # what was found stands: the damage is named with it
    assert problems.summary.startswith("2 problems found in 451 lines")
    assert problems.summary.endswith(f"Read only in part: {CUT}.")
    nothing = decide(0, passed, [], read_in_part=[CUT])  # cut before any log
    assert nothing.verdict == INCONCLUSIVE and "no loggingsnapshot" in str(nothing.reason)
    assert nothing.summary.endswith(f"Read only in part: {CUT}.")
    assert decide(0, passed, [snapshot(451)], read_in_part=[]).verdict == CLEAR


def test_a_node_whose_logs_gave_no_expressway_line_is_named_and_not_clear() -> None:
    passed = ["passed"] * 77 + ["skipped"] * 14
    notes = Examined("notes.tar.gz", None, None, None, "log", 2, 50, False)
    both = decide(0, passed, [snapshot(1163), notes])
    assert both.verdict == INCONCLUSIVE
    assert both.unread == ["notes.tar.gz (50 lines of other text)"]
    assert (
        both.reason == "no Expressway log line was read from notes.tar.gz (50 lines of other text)"
    )
    assert "no known problem found in 1,163 lines of loggingsnapshot from vcse1" in both.summary
    found = decide(1, passed, [snapshot(1163), notes])
    assert found.verdict == PROBLEMS
    assert found.summary.endswith(
        "No Expressway log line was read from notes.tar.gz (50 lines of other text)."
    )
    jabber = Examined("jabber.log", None, None, None, "log", 1, 30, False, product_log=True)
    assert decide(0, passed, [snapshot(1163), jabber]).verdict == CLEAR  # read by its own rules
    assert decide(0, passed, [notes]).unread == []  # alone: "holds no loggingsnapshot"


def test_examined_lines_saved_before_product_log_keep_their_verdict() -> None:
    from app.signatures.verdict import examined_from_json

    saved = [
        {"bundle": "b1", "node": "vcse1", "kind": "loggingsnapshot", "files": 1, "lines": 900,
         "expressway": True},
        {"bundle": "jabber.log", "node": None, "kind": "log", "files": 1, "lines": 30,
         "expressway": False},
    ]  # fmt: skip
    examined = examined_from_json(saved)
    assert [e.product_log for e in examined] == [False, True]
    assert decide(0, ["passed"], examined).verdict == CLEAR
