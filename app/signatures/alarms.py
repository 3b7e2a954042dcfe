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
from app.report import SEVERITY_ORDER, Finding, Snippet
from app.signatures.active_alarms import ActiveAlarm
from app.signatures.model import Signature
from app.signatures.render import render_finding

TABLE_KIND = "alarm-table"
ALARM_ID_PREFIX = "expressway-alarm-"
RAISED = "raised"
LOWERED = "lowered"
CLEARED_SUFFIX = " (cleared)"
UNLISTED_ID = "expressway-alarm-unlisted"
"""The signature of alarm events whose Id is not in the Alarms reference (every listed row
refines it, so it keeps only the others)."""
NEVER_A_PROBLEM = frozenset({"25019"})
"""Alarms never reported: 25019 "Verbose log levels configured" is raised by diagnostic logging
itself (Admin Guide: ignore it)."""
ACTIVE_AT_START = "active when logging started"
LOWERED_MEANS = (
    'The Expressway lowered this alarm during the log: "The issue that caused an alarm to be '
    'raised has been resolved" (Alarm lowered, Events and levels, Expressway Administrator '
    "Guide X15.0). It is therefore not a current problem and is reported as information."
)

# Expressway alarm severity (Admin Guide) → logloupe severity (domain.md §3). The Alarms
# reference uses Critical, Alert, Error, Warning, Notice and (alarm 90001) emergency; the guide's
# alarm e-mail settings (`xConfiguration Alarm Notification Email Destination <severity>`) list
# Emergency, Alert, Critical, Error, Warning, Notice, Info and Debug.
EXPRESSWAY_SEVERITY = {
    "emergency": "critical",
    "critical": "critical",
    "alert": "error",
    "error": "error",
    "warning": "warning",
    "notice": "info",
    "info": "info",
    "debug": "info",
}
UNPUBLISHED = "unpublished"
"""A row's `severity` when the Alarms reference gives the alarm none (15029, 25029, 40050-40053):
shown as a warning until the log line carries a severity, and the text says so."""
UNPUBLISHED_SEVERITY = "warning"
GUIDE = "X15.0"
"""The Administrator Guide version the Alarms reference rows come from, unless a row says
`guide:` (rows taken from an older guide name its version)."""

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
# Whatever process wrote the line (`alarm:`, `management:`, `supervisor:`, …, or none after a
# remote-syslog prefix): the key is the `Event="Alarm Raised|Lowered"` field followed, possibly
# after other fields, by `Id="<id>"`. The event word is matched in either case (the guide's
# event list writes "Alarm raised"); a CR left by CRLF line ends is outside the quotes.
_REGEX = (
    r'Event="\s*Alarm (?P<event>[Rr]aised|[Ll]owered)\s*"(?:\s+[\w.-]+="[^"]*"){0,8}?'
    r'\s+Id="{id}\s*"(?:\s+UUID="[^"]*")?(?:\s+Severity="\s*(?P<severity>[^"]*?)\s*")?'
    r'(?:\s+Detail="\s*(?P<detail>[^"]*?)\s*")?'
)
_ALARM_ID = re.compile(r"^\d{5}$")
_ROW_REQUIRED = ("id", "title", "severity", "meaning", "action")
_ROW_OPTIONAL = (
    "guide",
    "published_description",
    "published_solution",
    "condition",
    "further_info",
    "references",
    "bug_ids",
    "applies_to",
    "status",
    "example_detail",
)
_TABLE_KEYS = ("kind", "product", "references", "guide", "refines", "alarms")


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
    guide = str(data.get("guide") or GUIDE)
    refines = data.get("refines")
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
        document = _document(row, alarm_id, product, default_refs, guide)
        if refines:
            document["refines"] = refines
        documents.append((f"{prefix}", document))
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
    if severity not in EXPRESSWAY_SEVERITY and severity != UNPUBLISHED:
        raise SignatureError(
            file,
            f"{prefix}severity",
            f"'{row['severity']}' is not an Expressway severity "
            f"({', '.join(s.capitalize() for s in EXPRESSWAY_SEVERITY)}) nor {UNPUBLISHED}",
        )
    for key in ("title", "example_detail"):
        value = row.get(key, "")
        if not isinstance(value, str) or "{" in value or '"' in value:
            raise SignatureError(file, f"{prefix}{key}", 'must be plain text without { or "')
    return alarm_id


def _published(row: Mapping[str, Any], guide: str, expressway_severity: str) -> str:
    """What the Alarms reference says of the row, for the further information (a list)."""
    version = str(row.get("guide") or guide)
    parts = [f"Alarms reference, Expressway Administrator Guide {version}:"]
    described = str(row.get("published_description") or "").strip()
    if described:
        parts.append(f"- Description: {described}")
    solution = str(row.get("published_solution") or "").strip()
    if solution:
        parts.append(f"- Solution: {solution}")
    if expressway_severity == UNPUBLISHED:
        parts.append(
            "- Severity: none given; logloupe shows it as a warning unless the log line carries "
            "a severity."
        )
    else:
        parts.append(f"- Severity: {expressway_severity.capitalize()}")
    return "\n".join(parts)


def _document(
    row: Mapping[str, Any],
    alarm_id: str,
    product: str,
    default_refs: list[str],
    guide: str = GUIDE,
) -> dict[str, Any]:
    title = str(row["title"]).strip()
    expressway_severity = str(row["severity"]).lower()
    detail = str(row.get("example_detail") or title)
    published = _published(row, guide, expressway_severity)
    example_severity = (
        UNPUBLISHED_SEVERITY if expressway_severity == UNPUBLISHED else expressway_severity
    )

    def line(event: str) -> str:
        return _SEEN_LINE.format(event=event, id=alarm_id, severity=example_severity, detail=detail)

    document: dict[str, Any] = {
        "id": f"{ALARM_ID_PREFIX}{alarm_id}",
        "title": f"Alarm {alarm_id}: {title}",
        "severity": EXPRESSWAY_SEVERITY.get(expressway_severity, UNPUBLISHED_SEVERITY),
        "status": row.get("status", "stable"),
        "product": product,
        "bug_ids": row.get("bug_ids") or [],
        "references": row.get("references") or default_refs,
        "match": {
            "source": "loggingsnapshot",
            "contains": [f'Id="{alarm_id}'],
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
            # the template part is the same for every row (compiled once, render._JoinedText)
            "description": (
                'Alarm {{ alarm_id }} ("{{ title.partition(": ")[2] }}") was '
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
                '{% if alarm_severity %}, with severity "{{ alarm_severity }}"{% endif %}.'
                "\n\n" + published
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
                    "alarm_severity": example_severity,
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
        condition=f"{raised.condition}\n\n{LOWERED_MEANS}",
        action=action,
        facts=facts,
        snippets=[*raised.snippets, *lowered.snippets],
        last_seen=lowered.last_seen or raised.last_seen,
    )


def _alarm_id(finding: Finding) -> str:
    return str(finding.facts.get("alarm_id") or finding.signature_id.removeprefix(ALARM_ID_PREFIX))


def _dump_snippet(alarm: ActiveAlarm) -> Snippet:
    return Snippet(alarm.file, alarm.line, "; ".join(alarm.text)[:1000])


def _cleared_from_start(lowered: Finding, alarm: ActiveAlarm) -> Finding:
    """Active in the xstatus dump (logging start), lowered in the log: cleared."""
    where = f" on {lowered.node}" if lowered.node else ""
    lowered_at = lowered.last_seen or "an unknown time"
    description = (
        f"This alarm was {ACTIVE_AT_START}{where} (xstatus alarm list, {alarm.file}) and was "
        f"lowered at {lowered_at}: it is no longer active at the end of this log.\n\n"
        f"{lowered.description}"
    )
    facts = dict(lowered.facts)
    facts.update(
        cleared=True, active_at_start=True, raised_at=ACTIVE_AT_START, lowered_at=lowered_at
    )
    return dataclasses.replace(
        lowered,
        title=lowered.title + CLEARED_SUFFIX,
        severity="info",
        description=description,
        condition=f"{lowered.condition}\n\n{LOWERED_MEANS}",
        action="Nothing to do for the alarm itself, it cleared. If it comes back:\n\n"
        + lowered.action,
        facts=facts,
        snippets=[_dump_snippet(alarm), *lowered.snippets],
    )


def _active_at_start(signature: Signature | None, alarm: ActiveAlarm, node: str | None) -> Finding:
    """An alarm of the xstatus dump that the log neither raises nor lowers: still active."""
    facts: dict[str, Any] = {
        "alarm_id": alarm.alarm_id,
        "event": RAISED,
        "active_at_start": True,
        "source": "xstatus",
    }
    if alarm.description:
        facts["detail"] = alarm.description
    if alarm.severity:
        facts["alarm_severity"] = alarm.severity
    title = alarm.title or (signature.title if signature is not None else "")
    where = f" on {node}" if node else ""
    said = f': "{alarm.description}"' if alarm.description else ""
    opening = (
        f'Alarm {alarm.alarm_id} ("{title}") was {ACTIVE_AT_START}{where}, per the xstatus '
        f"alarm list ({alarm.file}){said}."
    )
    note = (
        f"Read from the xstatus dump ({alarm.file}), the status at the time logging started; "
        "the log holds no Alarm Lowered event for it, so it is taken to be still active."
    )
    if signature is not None and signature.id != UNLISTED_ID:
        finding = render_finding(
            signature, facts, node=node, count=1, first_seen=None, last_seen=None
        )
        _, _, meaning = finding.description.partition("\n\n")
        finding = dataclasses.replace(
            finding,
            description=f"{opening}\n\n{meaning}".strip(),
            condition=f"{finding.condition}\n\n{note}",
            further_info="\n\n".join(
                part
                for part in finding.further_info.split("\n\n")
                if not part.startswith("The Expressway logged this event")
            ),
        )
    else:
        finding = Finding(
            signature_id=UNLISTED_ID,
            title=f"Alarm {alarm.alarm_id}: {title or 'not in the Alarms reference'}",
            severity="warning",
            bug_ids=[],
            node=node,
            description=(
                f"{opening}\n\nThis alarm Id is not in the Alarms reference of the Expressway "
                "Administrator Guide X15.0 that logloupe knows: its title and text are the "
                "Expressway's own."
            ),
            condition=note,
            further_info="Look the Id up in the Alarms reference of the guide for this node's "
            "software version.",
            action="Read the alarm on the Expressway (Status > Alarms) and follow its action.",
            facts=facts,
            snippets=[],
            count=1,
            first_seen=None,
            last_seen=None,
        )
    severity = EXPRESSWAY_SEVERITY.get(alarm.severity.strip().lower(), finding.severity)
    return dataclasses.replace(finding, severity=severity, snippets=[_dump_snippet(alarm)])


def resolve_alarm_lifecycle(
    findings: list[Finding],
    *,
    keep_cleared: bool = True,
    active: Mapping[str | None, Mapping[str, ActiveAlarm]] | None = None,
    signatures: Mapping[str, Signature] | None = None,
) -> list[Finding]:
    """Merge each alarm's raised and lowered findings per node into a live or cleared finding.

    `active` (node name → alarm Id → ActiveAlarm) are the alarms the xstatus dump lists as
    active when logging started: such an alarm lowered in the log is cleared; neither raised nor
    lowered, it is a live finding "active when logging started" (of its row's signature from
    `signatures`, or of the unlisted-alarm signature when its Id is in no row).

    Non-alarm findings pass through unchanged. With `keep_cleared=False` a cleared alarm is
    dropped instead of kept as an info finding. The input is not modified; the result is sorted
    like the engine's output (severity, signature id, node).
    """
    active = active or {}
    pairs: dict[tuple[str, str, str | None], dict[str, Finding]] = {}
    result: list[Finding] = []
    for finding in findings:
        event = finding.facts.get("event")
        if finding.signature_id.startswith(ALARM_ID_PREFIX) and event in (RAISED, LOWERED):
            alarm_id = _alarm_id(finding)
            if alarm_id in NEVER_A_PROBLEM:
                continue
            key = (finding.signature_id, alarm_id, finding.node)
            pairs.setdefault(key, {})[str(event)] = finding
        else:
            result.append(finding)
    for (_, alarm_id, node), pair in pairs.items():
        raised, lowered = pair.get(RAISED), pair.get(LOWERED)
        at_start = active.get(node, {}).get(alarm_id)
        if raised is None:
            if at_start is not None and lowered is not None and keep_cleared:
                result.append(_cleared_from_start(lowered, at_start))
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
    seen = {(alarm_id, node) for (_, alarm_id, node) in pairs}
    for node, alarms in active.items():
        for alarm_id, alarm in alarms.items():
            if (alarm_id, node) in seen or alarm_id in NEVER_A_PROBLEM:
                continue
            signature = (signatures or {}).get(f"{ALARM_ID_PREFIX}{alarm_id}")
            result.append(_active_at_start(signature, alarm, node))
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
            raised_at = finding.facts.get("raised_at") or "?"
            raised = (
                f"{ACTIVE_AT_START}{where}"
                if raised_at == ACTIVE_AT_START
                else f"raised{where} at {raised_at}"
            )
            notes.setdefault(finding.signature_id, []).append(
                f"cleared: {raised} and lowered at {finding.facts.get('lowered_at') or '?'}"
            )
        else:
            live.append(finding)
    return live, {sig: "; ".join(parts) for sig, parts in notes.items()}
