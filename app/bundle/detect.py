"""Say what one unpacked file is (FileKind), from its name and its first bytes."""

from __future__ import annotations

import re
from pathlib import Path

from app.bundle.magic import PCAP_MAGICS, PCAPNG_MAGIC, SNIFF_BYTES, is_text
from app.bundle.stored import open_stored
from app.report import FileKind

SYSLOG_LINE = re.compile(
    rb"^(?:<\d{1,3}>(?:1 )?)?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)"
    rb"[ \t]+\S+[ \t]+\S"
)
"""An Expressway syslog-style line: local timestamp with offset, host, then process or fields
(also with a remote syslog server's `<PRI>` or RFC 5424 `<PRI>1 ` before it)."""
BSD_SYSLOG_LINE = re.compile(
    rb"^(?:<\d{1,3}>)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]?\d "
    rb"\d\d:\d\d:\d\d(?:\.\d{1,6})? (?:[A-Za-z0-9][\w.\-]* )?"
    rb"(?:[A-Za-z_][\w.\-/]*(?:\[\d+\])?: ?){0,8}(?:UTCTime=\"|\[ET_NET |Event=\")"
)
"""An Expressway line as a syslog server with the traditional format writes it: a BSD timestamp
(no year, no zone), maybe the host, the process tag (maybe written again), then what only an
Expressway writes there (`UTCTime="`, an event, a Traffic Server thread): a BSD timestamp alone
is any Unix machine's syslog."""


def is_expressway_line(line: bytes) -> bool:
    """Whether one line (no newline; a trailing CR is fine) is an Expressway log line."""
    return SYSLOG_LINE.match(line) is not None or BSD_SYSLOG_LINE.match(line) is not None


_PEM_HEADER = re.compile(rb"-----BEGIN [A-Z0-9 ]+-----")
_TEXT_LOG_SUFFIXES = (".txt", ".log", ".out")
_NAME_KINDS: tuple[tuple[re.Pattern[str], FileKind], ...] = (
    (re.compile(r"^loggingsnapshot_"), FileKind.LOGGINGSNAPSHOT),
    (re.compile(r"^xconf_dump_"), FileKind.XCONF),
    (re.compile(r"^xstat_dump_"), FileKind.XSTAT),
    (re.compile(r"^(?:ca|server)_.*\.pem$"), FileKind.PEM),
)


def detect_kind(path: Path, name: str) -> FileKind:
    """Classify the file at `path`, shown to people as `name` ("<upload>/<member path>").

    Evidence, strongest first:
    1. Packet captures: pcap/pcapng magic numbers, whatever the file is called.
    2. The bundle file names of the Expressway admin guide (`loggingsnapshot_*`, `xconf_dump_*`,
       `xstat_dump_*`, `ca_*.pem`, `server_*.pem`), as long as the content is text.
    3. Content: a PEM header -> PEM; `*s ` / `*c ` lines (or an XML Status/Configuration
       document) -> XSTAT / XCONF; Expressway syslog lines -> LOG.
    4. Other text named `*.txt` / `*.log` / `*.out` -> LOG; anything else (binary, or text that
       is none of the above) -> UNKNOWN.
    """
    return kind_from_head(_read_head(path), name)


def kind_from_head(head: bytes, name: str) -> FileKind:
    """`detect_kind` for a file whose first SNIFF_BYTES bytes (or all, if shorter) are `head`."""
    head = head[:SNIFF_BYTES]
    if head.startswith(PCAP_MAGICS) or head.startswith(PCAPNG_MAGIC):
        return FileKind.PCAP
    if not is_text(head):
        return FileKind.UNKNOWN
    base = name.rsplit("/", 1)[-1].lower()
    for pattern, kind in _NAME_KINDS:
        if pattern.search(base):
            return kind
    return _kind_from_text(head, base)


def _kind_from_text(head: bytes, base: str) -> FileKind:
    if _PEM_HEADER.search(head):
        return FileKind.PEM
    lines = [line.strip(b"\r") for line in head.split(b"\n")[:50]]
    first = next((line.lstrip() for line in lines if line.strip()), b"")
    if first.startswith(b"*s ") or first.startswith(b"*s/"):
        return FileKind.XSTAT
    if first.startswith(b"*c "):
        return FileKind.XCONF
    if first.startswith(b"<?xml") or first.startswith(b"<"):
        if re.search(rb"<Status[\s>]", head):
            return FileKind.XSTAT
        if re.search(rb"<Configuration[\s>]", head):
            return FileKind.XCONF
    if any(is_expressway_line(line) for line in lines):
        return FileKind.LOG
    if base.endswith(_TEXT_LOG_SUFFIXES):
        return FileKind.LOG
    return FileKind.UNKNOWN


def _read_head(path: Path) -> bytes:
    with open_stored(path) as file:
        return file.read(SNIFF_BYTES)
