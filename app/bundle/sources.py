"""Map the logical source names used by signatures to the file kinds that feed them."""

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
