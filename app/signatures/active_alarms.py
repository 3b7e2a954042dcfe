"""The alarms already active when logging started: the xstatus dump's alarm list.

A diagnostic bundle holds `xstat_dump_<host>_<timestamp>.txt` and `.xml`, "status of the system
at the time the logging was started" (Admin Guide, domain.md §2.2); the web page Status > Alarms
"is similar to the 'xstatus alarm' output and contains data on the alarms that are, or have been
raised on the system and not yet acknowledged and cleared" (a public VCS/Expressway
troubleshooting write-up, see README). No public dump shows the alarm block itself, so its shape
is read from the xstatus grammar both dump forms share (app/bundle/identity/dumps.py):

    text   `*s Alarm 1: /` then indented `Id: "20004"`, `Title: "…"`, `Severity: "warning"` …,
           or flat `*s Alarm 1 Id: "20004"` lines
    XML    `<Status><Alarm item="1"><Id item="1">20004</Id><Title item="1">…</Title>…`
           (optionally inside `<Alarms>`)

Each numbered `Alarm` item is one alarm; its fields are recognised by name, case-insensitively:
`Id`/`AlarmId`, `Title`/`Name`, `Description`/`Detail`, `Severity`/`Level`, `State`/`Status`,
`LastRaised`/`FirstRaised`/`Raised`/`Time`. An item is active unless its state says it was
lowered (Lowered, Cleared, Inactive); an acknowledged alarm is still active. Items without a
five-digit Id are ignored. Bounded: the dump is read up to MAX_DUMP_BYTES, at most MAX_ALARMS
items are kept, values are cut by the dump reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.bundle.identity.dumps import DumpEntry, dump_entries
from app.report import BundleFile, FileKind

MAX_DUMP_BYTES = 32 * 2**20
"""Bytes of one xstatus dump that are read (real dumps are a few MB)."""
MAX_ALARMS = 1000
"""Alarm items kept from one dump."""
MAX_DUMPS = 4
"""xstatus dumps read per upload (a bundle has two: text and XML)."""

_ALARM_ID = re.compile(r"^\d{5}$")
_ROOTS = frozenset({"xstatus", "status", "alarms"})
_FIELDS = {
    "id": "alarm_id",
    "alarmid": "alarm_id",
    "title": "title",
    "name": "title",
    "description": "description",
    "detail": "description",
    "severity": "severity",
    "level": "severity",
    "state": "state",
    "status": "state",
    "lastraised": "raised_at",
    "firstraised": "raised_at",
    "raised": "raised_at",
    "time": "raised_at",
}
_LOWERED = frozenset({"lowered", "cleared", "inactive", "resolved"})


@dataclass(slots=True)
class ActiveAlarm:
    """One alarm of the xstatus alarm list."""

    alarm_id: str
    title: str = ""
    description: str = ""
    severity: str = ""
    state: str = ""
    raised_at: str = ""
    file: str = ""
    line: int = 0
    text: list[str] = field(default_factory=list)  # the dump lines, as people recognise them

    @property
    def active(self) -> bool:
        return self.state.strip().lower() not in _LOWERED


@dataclass(slots=True)
class XstatusAlarms:
    """What the xstatus dumps of one upload say about alarms."""

    files: list[str] = field(default_factory=list)  # the dumps read
    alarms: list[ActiveAlarm] = field(default_factory=list)  # active ones, one per Id

    def by_id(self) -> dict[str, ActiveAlarm]:
        return {alarm.alarm_id: alarm for alarm in self.alarms}


def _item(entry: DumpEntry) -> tuple[str, str] | None:
    """(item key, field name) when the entry belongs to an `Alarm` item, else None."""
    path = entry.path
    start = 0
    while start < len(path) and start < 3 and path[start].lower() in _ROOTS:
        start += 1
    if start >= len(path) or path[start].lower() != "alarm":
        return None
    rest = path[start + 1 :]
    key = "1"
    if rest and rest[0].isdigit():
        key, rest = rest[0], rest[1:]
    names = [token for token in rest if not token.isdigit()]
    if not names:
        return None
    return key, names[0].lower()


def read_alarm_list(entries: Iterable[DumpEntry], file: str = "") -> list[ActiveAlarm]:
    """The alarm items of one dump (active or not), in the order they appear."""
    items: dict[str, ActiveAlarm] = {}
    for entry in entries:
        found = _item(entry)
        if found is None:
            continue
        key, name = found
        attribute = _FIELDS.get(name)
        if attribute is None:
            continue
        alarm = items.get(key)
        if alarm is None:
            if len(items) >= MAX_ALARMS:
                continue
            alarm = items[key] = ActiveAlarm(alarm_id="", file=file, line=entry.line)
        if not getattr(alarm, attribute):
            setattr(alarm, attribute, entry.value.strip())
        alarm.text.append(entry.shown)
    return [alarm for alarm in items.values() if _ALARM_ID.match(alarm.alarm_id)]


def _read(path: Path) -> str:
    with path.open("rb") as stream:
        return stream.read(MAX_DUMP_BYTES).decode("utf-8", errors="replace")


def xstatus_alarms(files: Sequence[BundleFile]) -> dict[str, XstatusAlarms]:
    """Per upload (BundleFile.bundle): the xstatus dumps read and the alarms active in them.

    An Id listed by several dumps (the text and XML forms of the same status) is kept once, from
    the first dump that names it; the text form is read first.
    """
    result: dict[str, XstatusAlarms] = {}
    dumps = [file for file in files if file.kind == FileKind.XSTAT]
    dumps.sort(key=lambda file: (file.bundle, file.name.lower().endswith(".xml"), file.name))
    for file in dumps:
        reading = result.setdefault(file.bundle, XstatusAlarms())
        if len(reading.files) >= MAX_DUMPS:
            continue
        reading.files.append(file.name)
        known = {alarm.alarm_id for alarm in reading.alarms}
        for alarm in read_alarm_list(dump_entries(_read(file.path)), file.name):
            if alarm.active and alarm.alarm_id not in known:
                reading.alarms.append(alarm)
                known.add(alarm.alarm_id)
    return result


def sources_sentence(log_events: bool, reading: XstatusAlarms | None) -> str:
    """Which alarm sources one upload offered: log events, the xstatus alarm list, both, none."""
    dump = reading is not None and bool(reading.files)
    if log_events and dump:
        return "alarm events in the log and the xstatus alarm list"
    if log_events:
        return "alarm events in the log (no xstatus dump: alarms active before logging unknown)"
    if dump:
        return "the xstatus alarm list (no alarm event in the log)"
    return "neither alarm events in the log nor an xstatus dump"
