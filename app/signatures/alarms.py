"""The Expressway alarm family: one table row → one signature, and raised/lowered → live or cleared.

An alarm table is a YAML file with `kind: alarm-table` (see library/README.md). Each row becomes
an ordinary signature document (id `expressway-alarm-<Id>`) that the loader validates like any
file. Every alarm signature matches both `Event="Alarm Raised"` and `Event="Alarm Lowered"` lines
of its Id and groups them by node and `event`; `resolve_alarm_lifecycle` then turns the pair into
one answer per alarm and node:

* raised, never lowered, or raised again after the last lowering → a live finding, with the
  severity the Expressway wrote on the line (`Severity="warning"` …) when it is one we know;
* raised, then lowered (the last event is the lowering) → kept as a *cleared* finding: severity
  `info`, title suffixed " (cleared)", a description that says when it was raised and lowered.
  Kept rather than dropped on purpose: an alarm that flapped during the log window (cluster
  communication, NTP) is often the clue a TAC engineer is looking for;
* lowered only (raised before the log started) → dropped, it is not a problem in this log.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.errors import SignatureError
from app.report import SEVERITY_ORDER, Finding

TABLE_KIND = "alarm-table"
ALARM_ID_PREFIX = "expressway-alarm-"
RAISED = "raised"
LOWERED = "lowered"
CLEARED_SUFFIX = " (cleared)"

# Expressway alarm severity (Admin Guide) → logloupe severity (domain.md §3).
EXPRESSWAY_SEVERITY = {
    "critical": "critical",
    "alert": "error",
    "error": "error",
    "warning": "warning",
    "notice": "info",
}

# The one published alarm line (doc 217230, domain.md §2.4 c). Inline examples of every row are
# this line with the row's Id, severity and text put in; the "Alarm Lowered" form is the same
# line with the other event name (inferred: no public excerpt shows a lowered line).
SEEN_LINE_SOURCE = (
    "https://www.cisco.com/c/en/us/support/docs/unified-communications/expressway/"
    "217230-what-is-expressway-cluster-and-how-it-wo.html"
)
_SEEN_LINE = (
    '2020-08-12T14:57:43.524-05:00 expc01 alarm: Level="WARN" Event="Alarm {event}" Id="{id}" '
    'UUID="0f96695e-d954-4f6f-85c1-2ef1eae6f764" Severity="{severity}" Detail="{detail}" '
    'UTCTime="2020-08-12 19:57:43,524"'
)
_REGEX = (
    r'\b(?:alarm|management)(?:\[\d+\])?:.*?Event="\s*Alarm (?P<event>Raised|Lowered)\s*"'
    r'\s+Id="\s*{id}\s*"(?:\s+UUID="[^"]*")?(?:\s+Severity="\s*(?P<severity>[^"]*?)\s*")?'
    r'(?:\s+Detail="\s*(?P<detail>[^"]*?)\s*")?'
)
_ALARM_ID = re.compile(r"^\d{5}$")
_ROW_REQUIRED = ("id", "title", "severity", "meaning", "action")
_ROW_OPTIONAL = (
    "condition",
    "further_info",
    "references",
    "bug_ids",
    "applies_to",
    "status",
    "example_detail",
)
_TABLE_KEYS = ("kind", "product", "references", "alarms")


def is_alarm_table(data: Any) -> bool:
    """Whether a parsed YAML document is an alarm table rather than one signature."""
    return isinstance(data, Mapping) and data.get("kind") == TABLE_KIND


def alarm_documents(data: Mapping[str, Any], file: str) -> list[tuple[str, dict[str, Any]]]:
    """(field prefix naming the row, signature document) for every row of an alarm table.

    Row problems raise SignatureError naming `file` and `alarms[<n>].<field>`; the documents
    themselves are validated by the loader like any signature file.
    """
    for key in data:
        if key not in _TABLE_KEYS:
            raise SignatureError(file, str(key), "unknown field of an alarm table")
    rows = data.get("alarms")
    if not isinstance(rows, list) or not rows:
        raise SignatureError(file, "alarms", "must be a non-empty list of alarm rows")
    product = data.get("product", "expressway")
    default_refs = data.get("references") or []
    documents = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        prefix = f"alarms[{index}]."
        if not isinstance(row, Mapping):
            raise SignatureError(file, f"alarms[{index}]", "must be a mapping")
        alarm_id = _row_fields(row, file, prefix)
        if alarm_id in seen:
            raise SignatureError(
                file, f"{prefix}id", f"alarm {alarm_id} is also row {seen[alarm_id]}"
            )
        seen[alarm_id] = index
        documents.append((f"{prefix}", _document(row, alarm_id, product, default_refs)))
    return documents


def _row_fields(row: Mapping[str, Any], file: str, prefix: str) -> str:
    for key in _ROW_REQUIRED:
        if key not in row:
            raise SignatureError(file, f"{prefix}{key}", "missing required field")
    for key in row:
        if key not in _ROW_REQUIRED and key not in _ROW_OPTIONAL:
            raise SignatureError(file, f"{prefix}{key}", "unknown field of an alarm row")
    alarm_id = str(row["id"])
    if not _ALARM_ID.match(alarm_id):
        raise SignatureError(file, f"{prefix}id", f"'{alarm_id}' is not a 5-digit alarm Id")
    severity = str(row["severity"]).lower()
    if severity not in EXPRESSWAY_SEVERITY:
        raise SignatureError(
            file,
            f"{prefix}severity",
            f"'{row['severity']}' is not an Expressway severity "
            f"({', '.join(s.capitalize() for s in EXPRESSWAY_SEVERITY)})",
        )
    for key in ("title", "example_detail"):
        value = row.get(key, "")
        if not isinstance(value, str) or "{" in value or '"' in value:
            raise SignatureError(file, f"{prefix}{key}", 'must be plain text without { or "')
    return alarm_id


def _document(
    row: Mapping[str, Any], alarm_id: str, product: str, default_refs: list[str]
) -> dict[str, Any]:
    title = str(row["title"]).strip()
    expressway_severity = str(row["severity"]).lower()
    detail = str(row.get("example_detail") or title)

    def line(event: str) -> str:
        return _SEEN_LINE.format(
            event=event, id=alarm_id, severity=expressway_severity, detail=detail
        )

    document: dict[str, Any] = {
        "id": f"{ALARM_ID_PREFIX}{alarm_id}",
        "title": f"Alarm {alarm_id}: {title}",
        "severity": EXPRESSWAY_SEVERITY[expressway_severity],
        "status": row.get("status", "stable"),
        "product": product,
        "bug_ids": row.get("bug_ids") or [],
        "references": row.get("references") or default_refs,
        "match": {
            "source": "loggingsnapshot",
            "contains": [alarm_id],  # not `Id="…"`: the regex allows spaces inside the quotes
            "patterns": [
                {"regex": _REGEX.replace("{id}", alarm_id), "facts": {"alarm_id": alarm_id}}
            ],
        },
        "facts": {
            "event": {
                "from": "event",
                "map": [{"if": "Raised", "then": RAISED}, {"if": "Lowered", "then": LOWERED}],
            },
            "alarm_severity": {"from": "severity", "optional": True},
            "detail": {"from": "detail", "optional": True},
        },
        "group_by": ["node", "event"],
        "text": {
            "description": (
                f'Alarm {alarm_id} ("{title}") was '
                '{% if event == "lowered" %}lowered{% else %}raised{% endif %}'
                "{% if node %} on {{ node }}{% endif %}"
                '{% if detail %}: "{{ detail }}"{% endif %}.\n\n' + str(row["meaning"]).strip()
            ),
            "condition": str(
                row.get("condition")
                or "Any Expressway that raises this alarm: the node reported the problem itself."
            ).strip(),
            "further_info": (
                str(row.get("further_info") or "").strip()
                + "\n\nThe Expressway logged this event {{ count }} time(s)"
                "{% if first_seen %} between {{ first_seen }} and {{ last_seen }}{% endif %}"
                '{% if alarm_severity %}, with severity "{{ alarm_severity }}"{% endif %}. '
                "Alarms are listed, with their solution, in the Alarms reference of the "
                "Expressway Administrator Guide."
            ).strip(),
            "action": str(row["action"]).strip(),
        },
        "examples": [
            {
                "name": "alarm raised",
                "line": line("Raised"),
                "source": SEEN_LINE_SOURCE,
                "expect": {
                    "alarm_id": alarm_id,
                    "event": RAISED,
                    "alarm_severity": expressway_severity,
                    "detail": detail,
                },
            },
            {
                "name": "alarm lowered",
                "line": line("Lowered"),
                "expect": {"event": LOWERED},
                "variant_of": "alarm raised",
            },
            {
                "name": "alarms reference prose is not a log line",
                "line": f'Alarms reference: Id="{alarm_id}" {title}. Solution: see the guide.',
                "expect": "no_match",
            },
        ],
    }
    if "applies_to" in row:
        document["applies_to"] = row["applies_to"]
    return document


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _lowered_last(raised: Finding, lowered: Finding) -> bool | None:
    """Whether the last event of the alarm is its lowering; None when that cannot be told."""
    raised_at, lowered_at = _when(raised.last_seen), _when(lowered.last_seen)
    if raised_at is not None and lowered_at is not None:
        return lowered_at >= raised_at
    complete = len(raised.snippets) == raised.count and len(lowered.snippets) == lowered.count
    if complete and raised.snippets and lowered.snippets:
        last_raised, last_lowered = raised.snippets[-1], lowered.snippets[-1]
        if last_raised.file == last_lowered.file:
            return last_lowered.line > last_raised.line
    return None


def _live(raised: Finding, lowered: Finding | None, order_known: bool) -> Finding:
    severity = EXPRESSWAY_SEVERITY.get(
        str(raised.facts.get("alarm_severity", "")).lower(), raised.severity
    )
    further_info = raised.further_info
    if lowered is not None and order_known:
        further_info += (
            f"\n\nThe alarm was also lowered {lowered.count} time(s) in this log, but it was "
            f"raised again afterwards (last raised {raised.last_seen}), so it is still active."
        )
    elif lowered is not None:
        further_info += (
            f"\n\nThe alarm was also lowered {lowered.count} time(s) in this log; the log "
            "lines carry no usable time, so whether it is still active cannot be told."
        )
    return dataclasses.replace(raised, severity=severity, further_info=further_info)


def _cleared(raised: Finding, lowered: Finding) -> Finding:
    where = f" on {raised.node}" if raised.node else ""
    raised_at = raised.first_seen or "an unknown time"
    lowered_at = lowered.last_seen or "an unknown time"
    description = (
        f"This alarm was raised{where} at {raised_at} and lowered at {lowered_at}: it is no "
        f"longer active at the end of this log (raised {raised.count} time(s), lowered "
        f"{lowered.count} time(s)).\n\n{raised.description}"
    )
    action = (
        "Nothing to do for the alarm itself, it cleared. If it comes back, or to find why it "
        f"was raised:\n\n{raised.action}"
    )
    facts = dict(raised.facts)
    facts.update(cleared=True, raised_at=raised.first_seen, lowered_at=lowered.last_seen)
    return dataclasses.replace(
        raised,
        title=raised.title + CLEARED_SUFFIX,
        severity="info",
        description=description,
        action=action,
        facts=facts,
        snippets=[*raised.snippets, *lowered.snippets],
        last_seen=lowered.last_seen or raised.last_seen,
    )


def resolve_alarm_lifecycle(findings: list[Finding], *, keep_cleared: bool = True) -> list[Finding]:
    """Merge each alarm's raised and lowered findings per node into a live or cleared finding.

    Non-alarm findings pass through unchanged. With `keep_cleared=False` a cleared alarm is
    dropped instead of kept as an info finding. The input is not modified; the result is sorted
    like the engine's output (severity, signature id, node).
    """
    pairs: dict[tuple[str, str | None], dict[str, Finding]] = {}
    result: list[Finding] = []
    for finding in findings:
        event = finding.facts.get("event")
        if finding.signature_id.startswith(ALARM_ID_PREFIX) and event in (RAISED, LOWERED):
            pairs.setdefault((finding.signature_id, finding.node), {})[str(event)] = finding
        else:
            result.append(finding)
    for pair in pairs.values():
        raised, lowered = pair.get(RAISED), pair.get(LOWERED)
        if raised is None:
            continue  # lowered only: raised before the log started, cleared within it
        if lowered is None:
            result.append(_live(raised, None, order_known=True))
            continue
        lowered_last = _lowered_last(raised, lowered)
        if lowered_last:
            if keep_cleared:
                result.append(_cleared(raised, lowered))
        else:
            result.append(_live(raised, lowered, order_known=lowered_last is not None))
    result.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.signature_id, f.node or ""))
    return result


def split_cleared(findings: list[Finding]) -> tuple[list[Finding], dict[str, str]]:
    """Live findings, and per alarm signature a sentence for each node where it cleared.

    A raised-then-lowered alarm is not a live problem: the pipeline reports it in the coverage
    panel ("cleared: raised on expc1 at ... and lowered at ...") instead of as a finding.
    """
    live: list[Finding] = []
    notes: dict[str, list[str]] = {}
    for finding in findings:
        if finding.facts.get("cleared"):
            where = f" on {finding.node}" if finding.node else ""
            notes.setdefault(finding.signature_id, []).append(
                f"cleared: raised{where} at {finding.facts.get('raised_at') or '?'} "
                f"and lowered at {finding.facts.get('lowered_at') or '?'}"
            )
        else:
            live.append(finding)
    return live, {sig: "; ".join(parts) for sig, parts in notes.items()}
