"""Expressway alarms: one signature per table row, and raised/lowered resolved into live/cleared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from app.errors import SignatureError
from app.report import Finding, NodeInfo
from app.signatures import load_library, scan_lines
from app.signatures.alarms import resolve_alarm_lifecycle
from tests.corpus import alarm_line, seed_scenario_lines

LIBRARY = load_library()
ALARMS = [
    s
    for s in LIBRARY.signatures
    if s.id.startswith("expressway-alarm-") and s.id != "expressway-alarm-unlisted"
]
C_NODE = NodeInfo("b1", "expc1", "Expressway-C", "X14.2.1")


def _findings(lines: list[str], node: NodeInfo | None = C_NODE) -> list[Finding]:
    return resolve_alarm_lifecycle(scan_lines(LIBRARY.signatures, lines, node=node))


def test_every_alarm_row_is_its_own_stable_signature_with_a_reference() -> None:
    ids = {s.id for s in ALARMS}
    assert len(ALARMS) >= 40
    assert {"expressway-alarm-20006", "expressway-alarm-40068", "expressway-alarm-35013"} <= ids
    assert "expressway-alarm-25019" not in ids
    for signature in ALARMS:
        assert signature.status == "stable" and signature.references
        assert signature.file == "expressway/alarms.yaml"
    assert LIBRARY.get("expressway-alarm-20025").severity == "critical"
    assert LIBRARY.get("expressway-alarm-40069").severity == "error"  # Alert
    assert LIBRARY.get("expressway-alarm-40049").severity == "info"  # Notice


def test_raised_alarm_is_a_live_finding_with_the_alarm_text() -> None:
    [finding] = _findings([alarm_line("expc1", "20006", "Raised")])
    assert finding.signature_id == "expressway-alarm-20006"
    assert finding.severity == "warning" and finding.node == "expc1"
    assert finding.facts["event"] == "raised"
    assert "unable to replicate" in finding.description
    assert "xcommand" not in finding.action.lower()  # 20006's own action, not 20009's
    assert "(cleared)" not in finding.title


def test_the_severity_written_on_the_line_wins_over_the_table() -> None:
    line = alarm_line("expc1", "20006", "Raised", severity="critical")
    [finding] = _findings([line])
    assert finding.severity == "critical"


def test_raised_then_lowered_is_reported_as_cleared() -> None:
    lines = [
        alarm_line("expc1", "20006", "Raised", index=1),
        alarm_line("expc1", "20006", "Lowered", index=50),
    ]
    [finding] = _findings(lines)
    assert finding.severity == "info"
    assert finding.title == "Alarm 20006: Cluster database communication failure (cleared)"
    assert "raised on expc1 at 2023-03-02T09:00:00.007000+00:00" in finding.description
    assert "lowered at 2023-03-02T09:00:00.350000+00:00" in finding.description
    assert finding.facts["cleared"] is True
    assert [s.line for s in finding.snippets] == [1, 2]


def test_cleared_alarms_can_be_dropped() -> None:
    lines = [
        alarm_line("expc1", "20006", "Raised"),
        alarm_line("expc1", "20006", "Lowered", index=3),
    ]
    findings = scan_lines(LIBRARY.signatures, lines, node=C_NODE)
    assert resolve_alarm_lifecycle(findings, keep_cleared=False) == []


def test_lowered_only_is_not_a_problem() -> None:
    assert _findings([alarm_line("expc1", "20006", "Lowered")]) == []


def test_raised_again_after_lowering_is_live() -> None:
    lines = [
        alarm_line("expc1", "20006", "Raised", index=1),
        alarm_line("expc1", "20006", "Lowered", index=2),
        alarm_line("expc1", "20006", "Raised", index=3),
    ]
    [finding] = _findings(lines)
    assert finding.severity == "warning" and finding.count == 2
    assert "raised again afterwards" in finding.further_info


def test_lifecycle_is_per_node_and_leaves_other_findings_alone() -> None:
    raised = alarm_line("expc1", "20006", "Raised", index=1)
    lowered = alarm_line("expc1", "20006", "Lowered", index=2)
    on_c = scan_lines(LIBRARY.signatures, [raised], node=C_NODE)
    on_c2 = scan_lines(
        LIBRARY.signatures, [lowered], node=NodeInfo("b2", "expc2", "Expressway-C", "X14.2.1")
    )
    seed = scan_lines(LIBRARY.signatures, seed_scenario_lines("unknown_ca"), node=C_NODE)
    resolved = resolve_alarm_lifecycle(on_c + on_c2 + seed)
    assert [(f.signature_id, f.severity) for f in resolved] == [
        ("mra-traffic-server-cert-verification", "error"),
        ("expressway-alarm-20006", "warning"),
    ]
    assert resolved[0] is seed[0]


def test_verbose_logging_alarm_is_never_reported() -> None:
    line = (
        '2023-03-02T10:00:00.000+01:00 expc1 alarm: Level="WARN" Event="Alarm Raised" '
        'Id="25019" UUID="0f96695e-d954-4f6f-85c1-2ef1eae6f764" Severity="warning" '
        'Detail="Verbose log levels configured: One or more modules of the Network Log or '
        'Support Log have been configured with a level of Debug or Trace" '
        'UTCTime="2023-03-02 09:00:00,000"'
    )
    assert _findings([line]) == []


def test_portforwarding_crash_explains_the_host_name_rule() -> None:
    detail = "Application failed: An unexpected software error was detected in portforwarding.pyc"
    [finding] = _findings([alarm_line("expe1", "15004", "Raised", severity="error", detail=detail)])
    assert "underscore" in finding.description
    assert "letters, digits and hyphens" in finding.action
    other = "Application failed: An unexpected software error was detected in tvcs"
    [plain] = _findings([alarm_line("expe1", "15004", "Raised", severity="error", detail=other)])
    assert "underscore" not in plain.description


def test_an_alarm_in_a_bundle_without_a_known_version_is_still_reported() -> None:
    [finding] = _findings([alarm_line("expc1", "40068", "Raised", severity="critical")], None)
    assert finding.severity == "critical" and finding.node is None


# -- every published alarm, whatever process logged it ----------------------------------------

REFERENCE = Path(__file__).resolve().parents[2] / "tools" / "alarm_reference" / "x15.0.psv"
_EVENT = (
    'Event="Alarm Raised" Id="20004" UUID="0f96695e-d954-4f6f-85c1-2ef1eae6f764" '
    'Severity="warning" Detail="Cluster communication failure: The system is unable to '
    'communicate with one or more of the cluster peers" UTCTime="2023-03-02 09:00:00,000"'
)


def _published() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        fields = line.split("|")
        rows.setdefault(fields[0], fields)
    return rows


def test_every_alarm_of_the_x15_reference_is_a_signature_with_the_published_title() -> None:
    published = _published()
    assert len(published) >= 400  # the X15.0 Alarms reference: 401 Ids
    by_id = {s.id: s for s in ALARMS}
    for alarm_id, (_, title, _, _, severity) in published.items():
        if alarm_id == "25019":
            assert f"expressway-alarm-{alarm_id}" not in by_id
            continue
        signature = by_id[f"expressway-alarm-{alarm_id}"]
        assert signature.title == f"Alarm {alarm_id}: {title}"
        expected = {"emergency": "critical", "alert": "error", "notice": "info", "": "warning"}
        assert signature.severity == expected.get(severity.lower(), severity.lower())
    assert len(by_id) == len(published) - 1


def test_alarm_20004_has_the_published_severity_and_solution() -> None:
    signature = LIBRARY.get("expressway-alarm-20004")
    assert signature.severity == "warning"  # X15.0: Warning (was our guess, error)
    [finding] = _findings([alarm_line("expc1", "20004", "Raised", severity="")])
    assert finding.severity == "warning"
    assert "Check the clustering configuration" in finding.further_info
    assert "Administrator Guide X15.0" in finding.further_info


def test_a_generated_row_reports_the_published_description_and_solution() -> None:
    [finding] = _findings([alarm_line("expe1", "45023", "Raised", severity="", detail="x")])
    assert finding.title == "Alarm 45023: Configuration error"
    assert "share host/port tuple among multiple connections" in finding.description
    assert finding.action == "Review zones and correct any hostname or port conflict"
    assert finding.severity == "error"  # as published


def test_an_alarm_without_a_published_severity_is_a_warning_and_says_so() -> None:
    [finding] = _findings([alarm_line("expc1", "15029", "Raised", severity="")])
    assert finding.severity == "warning"
    assert "Severity: none given" in finding.further_info


def test_the_emergency_call_alarm_is_critical() -> None:
    assert LIBRARY.get("expressway-alarm-90001").severity == "critical"


@pytest.mark.parametrize(
    "line",
    [
        f'2023-03-02T10:00:00.000+01:00 expc1 alarm: Level="WARN" {_EVENT}',
        f'2023-03-02T10:00:00.000+01:00 expc1 supervisor: Level="WARN" {_EVENT}',
        f'2023-03-02T10:00:00.000+01:00 expc1 management[1234]: Level="WARN" {_EVENT}',
        f"2023-03-02T10:00:00.000+01:00 expc1 tvcs: {_EVENT}",
        f'2023-03-02T10:00:00.000+01:00 expc1 alarm: Level="WARN" {_EVENT}\r',
        f"<134>2023-03-02T10:00:00.000+01:00 expc1 alarm: {_EVENT}",
        f"Mar  2 10:00:00 syslog01 2023-03-02T10:00:00.000+01:00 expc1 alarm: {_EVENT}",
        "expc1 alarm: " + _EVENT.replace("Alarm Raised", "Alarm raised"),
        "expc1 alarm: " + _EVENT.replace("Id=", 'Level="WARN" Id='),
    ],
    ids=[
        "alarm",
        "supervisor",
        "management-pid",
        "tvcs",
        "crlf",
        "syslog-priority",
        "relay-prefix",
        "lower-case-event",
        "field-between",
    ],
)
def test_alarm_events_are_recognised_whatever_wrote_them(line: str) -> None:
    [finding] = _findings([line])
    assert finding.signature_id == "expressway-alarm-20004"
    assert finding.facts["event"] == "raised"
    assert finding.facts["alarm_id"] == "20004"


@pytest.mark.parametrize(
    "line",
    [
        'expc1 alarm: Event="Alarm Raised" Id="200041" Severity="warning"',
        'expc1 alarm: Event="Alarm Acknowledged" Id="20004" Severity="warning"',
        'expc1 tvcs: Event="Call Attempted" Id="20004" Dst-port="20004"',
        'Alarms reference: Id="20004" Cluster communication failure',
    ],
    ids=["longer-id", "acknowledged", "not-an-alarm-event", "prose"],
)
def test_near_misses_of_an_alarm_event_are_not_alarms(line: str) -> None:
    assert _findings([line]) == []


# -- the table file is validated row by row --------------------------------------------------


def _row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": 20006,
        "title": "Cluster database communication failure",
        "severity": "Warning",
        "meaning": "The database cannot replicate.",
        "action": "Restore connectivity.",
    }
    row.update(overrides)
    return row


def _write_table(root: Path, *rows: dict[str, Any], **table: Any) -> Path:
    folder = root / "expressway"
    folder.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"kind": "alarm-table", "alarms": list(rows), **table}
    (folder / "alarms.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return root


def test_a_table_gives_one_signature_per_row(tmp_path: Path) -> None:
    library = load_library(_write_table(tmp_path, _row(), _row(id=25021, title="NTP down")))
    assert [s.id for s in library.signatures] == [
        "expressway-alarm-20006",
        "expressway-alarm-25021",
    ]


BAD_ROWS = [
    ("missing title", {"title": None}, "alarms[1].title"),
    ("bad severity", {"severity": "Major"}, "alarms[1].severity"),
    ("bad id", {"id": "2006"}, "alarms[1].id"),
    ("unknown field", {"colour": "red"}, "alarms[1].colour"),
    ("quote in title", {"title": 'Say "hi"'}, "alarms[1].title"),
    ("bad template", {"action": "{% if %}"}, "alarms[1].text.action"),
    ("bad status", {"status": "beta"}, "alarms[1].status"),
]


@pytest.mark.parametrize(("change", "field"), [pytest.param(c, f, id=n) for n, c, f in BAD_ROWS])
def test_table_errors_name_the_file_and_the_row(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    bad = _row(id=25021)
    for key, value in change.items():
        if value is None:
            del bad[key]
        else:
            bad[key] = value
    _write_table(tmp_path, _row(), bad)
    with pytest.raises(SignatureError) as caught:
        load_library(tmp_path)
    assert caught.value.file == "expressway/alarms.yaml"
    assert caught.value.field == field
    assert "alarms.yaml" in str(caught.value) and field in str(caught.value)


def test_duplicate_alarm_rows_are_refused(tmp_path: Path) -> None:
    _write_table(tmp_path, _row(), _row())
    with pytest.raises(SignatureError) as caught:
        load_library(tmp_path)
    assert caught.value.field == "alarms[1].id" and "row 0" in caught.value.problem


def test_a_row_from_an_older_guide_names_its_version(tmp_path: Path) -> None:
    library = load_library(
        _write_table(
            tmp_path,
            _row(),
            _row(id=25021, title="NTP down", guide="X14.3", severity="unpublished"),
            guide="X15.0",
        )
    )
    lines = [alarm_line("expc1", "20006"), alarm_line("expc1", "25021", severity="")]
    found = {f.signature_id: f for f in scan_lines(library.signatures, lines, node=C_NODE)}
    assert "Administrator Guide X15.0:" in found["expressway-alarm-20006"].further_info
    older = found["expressway-alarm-25021"]
    assert "Administrator Guide X14.3:" in older.further_info
    assert "Severity: none given" in older.further_info and older.severity == "warning"
