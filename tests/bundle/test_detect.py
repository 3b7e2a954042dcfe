"""detect_kind: each bundle file kind from its name and its first bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bundle.detect import detect_kind
from app.bundle.sources import SOURCES
from app.report import FileKind

SYSLOG = (
    "2022-07-11T19:33:06.740+02:00 vcsd traffic_server[3936]: [ET_NET 0] WARNING: Core server "
    "certificate verification failed for (10.48.36.215). Action:Terminate\n"
)
OLD_SYSLOG = '2016-04-19T17:09:13+10:00 expc tvcs: UTCTime="2016-04-19 07:09:13,982" Module="x"\n'
XSTAT_TEXT = '*s SystemUnit: /\n    Product: "Cisco Expressway-E"\n*s/end\nOK\n'
XCONF_TEXT = '*c xConfiguration IP DNS Hostname: "expe"\n*c xConfiguration Zones Zone 1 Name: "a"\n'
PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
PCAP = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(8) + b"\xff\xff\x00\x00\x01\x00\x00\x00"
PCAPNG = b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a" + bytes(16)


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("b/loggingsnapshot_expe_2024-05-02_10:00:00.txt", SYSLOG, FileKind.LOGGINGSNAPSHOT),
        ("b/xconf_dump_expe_2024.txt", XCONF_TEXT, FileKind.XCONF),
        ("b/xconf_dump_expe_2024.xml", "<?xml version='1.0'?><Configuration/>", FileKind.XCONF),
        ("b/xstat_dump_expe_2024.txt", XSTAT_TEXT, FileKind.XSTAT),
        ("b/xstat_dump_expe_2024.xml", "<?xml version='1.0'?><Status/>", FileKind.XSTAT),
        ("b/eth0_diagnostic_logging_tcpdump00_expe_2024.pcap", PCAP, FileKind.PCAP),
        ("b/capture.pcapng", PCAPNG, FileKind.PCAP),
        ("b/ca_expe_2024.pem", PEM, FileKind.PEM),
        ("b/server_expe_2024.pem", PEM, FileKind.PEM),
        # by content only
        ("b/renamed.bin", PCAP, FileKind.PCAP),
        ("b/trust.crt", "Bag Attributes\n" + PEM, FileKind.PEM),
        ("b/status", XSTAT_TEXT, FileKind.XSTAT),
        ("b/config", XCONF_TEXT, FileKind.XCONF),
        ("b/status.xml", "<?xml version='1.0'?>\n<Status product='x'>", FileKind.XSTAT),
        ("b/var/log/messages.1", OLD_SYSLOG, FileKind.LOG),
        ("b/remote-syslog", "<166>" + OLD_SYSLOG, FileKind.LOG),
        ("b/notes.txt", "some notes a colleague wrote\n", FileKind.LOG),
        ("b/readme.md", "# not a log\n", FileKind.UNKNOWN),
        ("b/program.txt", b"\x7fELF\x02\x01\x01\x00" + bytes(100), FileKind.UNKNOWN),
        ("b/loggingsnapshot_expe_2024.txt", b"\x00\x01\x02binary", FileKind.UNKNOWN),
        ("b/image.pcap", b"\x89PNG\r\n\x1a\n" + bytes(40), FileKind.UNKNOWN),
        ("b/empty.log", b"", FileKind.UNKNOWN),
    ],
)
def test_detect_kind(tmp_path: Path, name: str, content: str | bytes, kind: FileKind) -> None:
    path = tmp_path / "file"
    path.write_bytes(content.encode() if isinstance(content, str) else content)

    assert detect_kind(path, name) is kind


def test_sources_map_signature_inputs_to_file_kinds() -> None:
    assert FileKind.LOGGINGSNAPSHOT in SOURCES["traffic_server"]
    assert SOURCES["loggingsnapshot"] == {FileKind.LOGGINGSNAPSHOT, FileKind.LOG}
    assert SOURCES["xconf"] == {FileKind.XCONF}
    assert SOURCES["xstat"] == {FileKind.XSTAT}
    assert SOURCES["pem"] == {FileKind.PEM}
    assert SOURCES["pcap"] == {FileKind.PCAP}
