"""Logical sources of signatures: the file kinds that feed them, and how to see their lines."""

from __future__ import annotations

from app.report import FileKind

SOURCES: dict[str, frozenset[FileKind]] = {
    "loggingsnapshot": frozenset({FileKind.LOGGINGSNAPSHOT, FileKind.LOG}),
    "traffic_server": frozenset({FileKind.LOGGINGSNAPSHOT, FileKind.LOG}),
    "xconf": frozenset({FileKind.XCONF}),
    "xstat": frozenset({FileKind.XSTAT}),
    "pem": frozenset({FileKind.PEM}),
    "pcap": frozenset({FileKind.PCAP}),
}
"""Logical source name -> the kinds of file a signature over that source reads."""


PRESENCE: dict[str, str] = {
    "traffic_server": "traffic_server[",
}
"""Logical source -> a literal found on every line of that source (checked by coverage).

A source listed here can be absent from files of the right kind: its lines only appear when the
matching modules logged something (usually at debug level) while the bundle was collected.
"""

ABSENCE_HINTS: dict[str, str] = {
    "traffic_server": "set the MRA debug modules (network.http.trafficserver, "
    "developer.trafficserver etc.) to debug before collecting the diagnostic log",
}
"""Logical source -> what to do when the upload holds no line of it."""

ALARM_EVENT_MARKERS: tuple[str, ...] = ('Event="Alarm ',)
"""An alarm signature can only look when the log holds alarm events, `Event="Alarm Raised"` or
`Event="Alarm Lowered"` (domain.md §2.4 c): one literal for both, so that the scan stops looking
at the first of either (a literal absent from a log costs about 1 s of CPU per GiB)."""

XSTAT_ALARM_MARKERS: tuple[str, ...] = ("*s Alarm", "<Alarm ", "<Alarm>", "<Alarms")
"""The xstatus alarm list (text `*s Alarm …` or XML `<Alarm …>`): the node's active alarms.
Inferred from the xstatus block shape (`*s SystemUnit: /`, domain.md "xstatus blocks"): no
public xstatus dump shows the alarm block itself."""

MARKERS: tuple[str, ...] = (*PRESENCE.values(), *ALARM_EVENT_MARKERS)
"""Every literal whose presence the signature scan records per log file (engine.FileStats)."""

ALARM_HINT = (
    'neither an Event="Alarm Raised" / "Alarm Lowered" line in the log nor the xstatus alarm '
    "list: include the xstatus dump, or a log that covers the time the alarm was raised"
)
CERTIFICATE_HINT = (
    "certificate checks need a PEM (server_*.pem, ca_*.pem) or a packet capture of the TLS "
    "handshake: tick Take tcpdump while logging"
)
