"""Alarms already active when logging started: the xstatus dump's alarm list, text and XML."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bundle.identity.dumps import dump_entries
from app.bundle.unpack import Limits
from app.report import BundleFile, FileKind, Finding, NodeInfo, Report
from app.signatures import load_library, scan_lines
from app.signatures.active_alarms import (
    MAX_ALARMS,
    ActiveAlarm,
    read_alarm_list,
    xstatus_alarms,
)
from app.signatures.alarms import resolve_alarm_lifecycle, split_cleared
from app.signatures.coverage import coverage_of
from app.worker.pipeline import Input, analyze
from tests.corpus import alarm_line, healthy_expressway_c_loggingsnapshot, xstat_dump
from tests.factories import make_tar, write_upload

LIBRARY = load_library()
BY_ID = {signature.id: signature for signature in LIBRARY.signatures}
NODE = NodeInfo("b1", "expc1", "Expressway-C", "X14.2.1")

TEXT_DUMP = (
    "*s SystemUnit: /\n"
    '    Name: "expc1"\n'
    "*s/end\n"
    "*s Alarm 1: /\n"
    '    Id: "20004"\n'
    '    Title: "Cluster communication failure"\n'
    '    Description: "The system is unable to communicate with one or more of the cluster '
    'peers"\n'
    '    Severity: "warning"\n'
    '    State: "Unacknowledged"\n'
    "*s Alarm 2: /\n"
    '    Id: "40003"\n'
    '    Title: "Insecure password in use"\n'
    '    State: "Lowered"\n'
    "*s Alarm 3: /\n"
    '    Id: "99123"\n'
    '    Title: "Something only a later release knows"\n'
    '    Severity: "error"\n'
    '    State: "Acknowledged"\n'
    "*s Alarm 4: /\n"
    '    Id: "25019"\n'
    '    Title: "Verbose log levels configured"\n'
    "*s/end\n"
    "OK\n"
)
XML_DUMP = (
    '<?xml version="1.0"?>\n<Status product="TANDBERG VCS" version="X14.2.1">\n'
    '<Alarms><Alarm item="1"><Id item="1">35013</Id>'
    '<Title item="1">Unified Communications SSH tunnel failure</Title>'
    '<Description item="1">This system cannot communicate with one or more remote hosts: '
    "expe1.example.com</Description>"
    '<Severity item="1">Warning</Severity><State item="1">Unacknowledged</State></Alarm>'
    '<Alarm item="2"><Id item="1">20004</Id><Title item="1">Cluster communication failure'
    "</Title></Alarm></Alarms></Status>\n"
)


def _active(text: str) -> dict[str, ActiveAlarm]:
    return {a.alarm_id: a for a in read_alarm_list(dump_entries(text), "xstat") if a.active}


def test_text_form_lists_the_active_alarms_with_their_fields() -> None:
    active = _active(TEXT_DUMP)
    assert set(active) == {"20004", "99123", "25019"}  # 40003 was lowered
    alarm = active["20004"]
    assert alarm.title == "Cluster communication failure"
    assert alarm.severity == "warning" and alarm.state == "Unacknowledged"
    assert "unable to communicate" in alarm.description
    assert alarm.line == 5  # its first field's line: the snippet points there


def test_xml_form_lists_the_active_alarms() -> None:
    active = _active(XML_DUMP)
    assert set(active) == {"35013", "20004"}
    assert active["35013"].description.endswith("expe1.example.com")
    assert active["35013"].severity == "Warning"


@pytest.mark.parametrize(
    "text",
    [
        TEXT_DUMP.replace("\n", "\r\n"),
        '*s Alarm 1 Id: "20004"\n*s Alarm 1 Title: "Cluster communication failure"\nOK\n',
        '*s xStatus Alarm 1: /\n    Id: "20004"\n*s/end\n',
    ],
    ids=["crlf", "flat-lines", "xstatus-root"],
)
def test_text_variants_are_read(text: str) -> None:
    assert "20004" in _active(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "OK\n",
        '*s Alarm 1: /\n    Title: "no id"\n*s/end\n',
        '*s Alarm 1: /\n    Id: "2004"\n*s/end\n',
        "<Status><Alarm><Id>abcde</Id></Alarm>",
        "<Status><Alarm item='1'><Id item='1'>20004",
        '*s SystemUnit Alarm: "20004"\n',
    ],
    ids=["empty", "ok", "no-id", "short-id", "not-digits", "truncated-xml", "other-block"],
)
def test_no_alarm_from_what_is_not_an_alarm_item(text: str) -> None:
    assert _active(text) == {}


def test_a_dump_of_many_items_keeps_a_bounded_number() -> None:
    text = "".join(f'*s Alarm {n}: /\n    Id: "{20000 + n % 9000:05d}"\n' for n in range(5000))
    assert len(read_alarm_list(dump_entries(text))) == MAX_ALARMS


def _file(tmp_path: Path, name: str, text: str, kind: FileKind, bundle: str = "b1") -> BundleFile:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return BundleFile(path, f"{bundle}/{name}", path.stat().st_size, kind, bundle)


def test_both_dump_forms_give_one_alarm_per_id_and_a_missing_dump_gives_none(
    tmp_path: Path,
) -> None:
    files = [
        _file(tmp_path, "xstat_dump_expc1.xml", XML_DUMP, FileKind.XSTAT),
        _file(tmp_path, "xstat_dump_expc1.txt", TEXT_DUMP, FileKind.XSTAT),
        _file(tmp_path, "loggingsnapshot_expc2.txt", "x\n", FileKind.LOGGINGSNAPSHOT, "b2"),
    ]
    readings = xstatus_alarms(files)
    assert set(readings) == {"b1"}  # b2 has no xstatus dump
    reading = readings["b1"]
    assert reading.files == ["b1/xstat_dump_expc1.txt", "b1/xstat_dump_expc1.xml"]
    ids = [alarm.alarm_id for alarm in reading.alarms]
    assert sorted(ids) == ["20004", "25019", "35013", "99123"]
    assert reading.by_id()["20004"].file == "b1/xstat_dump_expc1.txt"  # text form first


# -- the alarms of the dump against the log's alarm events ------------------------------------


def _resolve(lines: list[str], dump: str = TEXT_DUMP) -> list[Finding]:
    findings = scan_lines(LIBRARY.signatures, lines, node=NODE)
    return resolve_alarm_lifecycle(findings, active={"expc1": _active(dump)}, signatures=BY_ID)


def test_an_alarm_active_at_start_and_never_lowered_is_reported_as_active() -> None:
    findings = {f.facts["alarm_id"]: f for f in _resolve([])}
    assert set(findings) == {"20004", "99123"}  # 25019 is never a problem
    finding = findings["20004"]
    assert finding.signature_id == "expressway-alarm-20004"
    assert finding.severity == "warning" and finding.node == "expc1"
    assert "active when logging started" in finding.description
    assert "unable to communicate" in finding.description
    assert "xstatus" in finding.condition
    assert finding.snippets[0].file == "xstat" and finding.snippets[0].line == 5
    assert "logged this event" not in finding.further_info  # no log event to count


def test_an_alarm_id_in_no_row_is_still_reported_with_the_dump_s_title() -> None:
    finding = next(f for f in _resolve([]) if f.facts["alarm_id"] == "99123")
    assert finding.signature_id == "expressway-alarm-unlisted"
    assert finding.title == "Alarm 99123: Something only a later release knows"
    assert finding.severity == "error"  # the dump's severity
    assert "not in the Alarms reference" in finding.description


def test_an_alarm_active_at_start_and_lowered_in_the_log_is_cleared() -> None:
    lowered = alarm_line("expc1", "20004", "Lowered", index=30)
    resolved = _resolve([lowered])
    cleared = next(f for f in resolved if f.signature_id == "expressway-alarm-20004")
    assert cleared.severity == "info" and cleared.title.endswith("(cleared)")
    assert "active when logging started" in cleared.description
    assert "not a current problem" in cleared.condition
    live, notes = split_cleared(resolved)
    assert all(f.signature_id != "expressway-alarm-20004" for f in live)
    assert notes["expressway-alarm-20004"].startswith(
        "cleared: active when logging started on expc1 and lowered at 2023-"
    )


def test_an_alarm_active_at_start_and_raised_again_is_one_live_finding() -> None:
    raised = alarm_line("expc1", "20004", "Raised", index=30)
    mine = [f for f in _resolve([raised]) if f.signature_id == "expressway-alarm-20004"]
    assert len(mine) == 1 and mine[0].count == 1
    assert mine[0].first_seen is not None  # the log's finding


def test_without_a_dump_a_lowered_only_alarm_is_still_dropped() -> None:
    lowered = alarm_line("expc1", "20004", "Lowered", index=30)
    findings = scan_lines(LIBRARY.signatures, [lowered], node=NODE)
    assert resolve_alarm_lifecycle(findings, active={}, signatures=BY_ID) == []


def test_an_unlisted_alarm_event_in_the_log_is_reported_and_25019_is_not() -> None:
    lines = [
        alarm_line("expc1", "99123", "Raised", detail="Something new"),
        alarm_line("expc1", "25019", "Raised", detail="Verbose log levels configured"),
    ]
    [finding] = resolve_alarm_lifecycle(scan_lines(LIBRARY.signatures, lines, node=NODE))
    assert finding.signature_id == "expressway-alarm-unlisted"
    assert finding.facts["alarm_id"] == "99123"
    assert "Something new" in finding.description


def test_a_listed_alarm_is_reported_by_its_row_only() -> None:
    findings = scan_lines(LIBRARY.signatures, [alarm_line("expc1", "20004")], node=NODE)
    assert [f.signature_id for f in findings] == ["expressway-alarm-20004"]


# -- coverage says which source was read --------------------------------------------------------


def test_coverage_names_the_alarm_sources_read(tmp_path: Path) -> None:
    log = healthy_expressway_c_loggingsnapshot("expc1", n_lines=50)
    log = "".join(line for line in log.splitlines(True) if "Alarm" not in line)
    alarm = LIBRARY.get("expressway-alarm-20006")
    cases = {
        "both": (log + alarm_line("expc1", "20004") + "\n", True),
        "log": (log + alarm_line("expc1", "20004") + "\n", False),
        "dump": (log, True),
        "none": (log, False),
    }
    reasons = {}
    for case, (text, with_dump) in cases.items():
        folder = tmp_path / case
        folder.mkdir()
        files = [_file(folder, "loggingsnapshot_expc1.txt", text, FileKind.LOGGINGSNAPSHOT)]
        if with_dump:
            files.append(_file(folder, "xstat_dump_expc1.txt", TEXT_DUMP, FileKind.XSTAT))
        (entry,) = coverage_of([alarm], files, {"b1": NODE}, [], xstatus=xstatus_alarms(files))
        reasons[case] = (entry.outcome, entry.reason or "")
    assert reasons["both"] == (
        "passed",
        "alarm sources read: alarm events in the log and the xstatus alarm list",
    )
    assert reasons["log"][0] == "passed"
    assert "no xstatus dump" in reasons["log"][1]
    assert reasons["dump"] == (
        "passed",
        "alarm sources read: the xstatus alarm list (no alarm event in the log)",
    )
    assert reasons["none"][0] == "skipped"
    assert "neither alarm events in the log nor an xstatus dump" in reasons["none"][1]


# -- end to end: a bundle whose xstatus lists an active alarm -----------------------------------


def _analyze(tmp_path: Path, members: dict[str, bytes | str]) -> Report:
    upload = write_upload(tmp_path / "in", "diagnostic_log_expc1.tar.gz", make_tar(members))
    return analyze([Input(upload, upload.name)], tmp_path / "work", LIBRARY, Limits(), jobs=1)


def test_a_bundle_reports_the_alarms_active_when_logging_started(tmp_path: Path) -> None:
    log = healthy_expressway_c_loggingsnapshot("expc1", n_lines=80)
    log = "".join(line for line in log.splitlines(True) if "Alarm" not in line)
    log += alarm_line("expc1", "35013", "Lowered", index=70) + "\r\n"
    dump = xstat_dump("expc1") + TEXT_DUMP
    report = _analyze(
        tmp_path,
        {
            "loggingsnapshot_expc1_2023-03-02_09_00_00.txt": log,
            "xstat_dump_expc1_2023-03-02_09_00_00.txt": dump,
            "xstat_dump_expc1_2023-03-02_09_00_00.xml": XML_DUMP,
        },
    )
    by_id = {f.signature_id: f for f in report.findings}
    active = by_id["expressway-alarm-20004"]
    assert "active when logging started" in active.description
    assert active.snippets[0].file.endswith(".txt")
    assert "expressway-alarm-35013" not in by_id  # active at start (XML), lowered in the log
    coverage = {c.signature_id: c for c in report.coverage}
    reason = coverage["expressway-alarm-35013"].reason or ""
    assert "cleared: active when logging started on expc1 and lowered at" in reason
    assert "alarm events in the log and the xstatus alarm list" in reason
    assert not any("25019" in f.signature_id for f in report.findings)


def test_a_bundle_without_xstatus_says_alarms_active_before_logging_are_unknown(
    tmp_path: Path,
) -> None:
    log = healthy_expressway_c_loggingsnapshot("expc1", n_lines=40)
    log += alarm_line("expc1", "20004", "Raised", index=30) + "\n"
    report = _analyze(tmp_path, {"loggingsnapshot_expc1_2023-03-02_09_00_00.txt": log})
    coverage = {c.signature_id: c for c in report.coverage}
    assert coverage["expressway-alarm-20004"].outcome == "matched"
    assert "no xstatus dump" in (coverage["expressway-alarm-20006"].reason or "")
