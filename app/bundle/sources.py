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
