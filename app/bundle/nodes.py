"""Work out which Expressway peer a bundle came from: hostname, product and version, with the
evidence for each and how sure it is.

Only bounded prefixes of files are read (`HEAD_BYTES` each, at most `MAX_LOG_FILES` logs and
`MAX_DUMP_FILES` dumps), CRLF and CR-only line ends count as line ends, each line is cut at
`MAX_LINE` characters, and every pattern is an RE2 (linear-time) match on such a line or a
plain substring search: the time is linear in the bytes read, whatever they hold.

Which evidence wins
    hostname: the syslog host field (after the timestamp, ISO or BSD) of the loggingsnapshot's
        first lines, then that of other Expressway-format logs, then `IP DNS Hostname` in an
        xconf dump, and last the host part of the bundle's file names
        (`loggingsnapshot_<host>_<ts>.txt`, `xstat_dump_<host>_...`, ...). Content beats names
        because browsers and archivers rename files; a majority vote settles disagreeing lines
        (the others are listed).
    version: the xstat dump's SystemUnit software version (text or XML form), then the
        `Server:` header of `100 Trying` responses the node itself sent (a 100 is always
        generated locally), then any `Server:`/`User-Agent: TANDBERG/<n> (X...)` header in
        a message the node sent (forwarded messages may carry a peer's header, so this is
        the weakest). Endpoint headers such as `TANDBERG/529 (ce9.2...)` never count.
    product: weighed evidence from xstat, xconf and the logs, or the user's choice
        (app.bundle.identity.product, whose docstring lists the rules and the confidence).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from app.bundle.hosts import name_host
from app.bundle.identity.dumps import MAX_LINE, dump_entries
from app.bundle.identity.product import Clue, LogClues, decide, read_dump
from app.bundle.stored import open_stored
from app.parsing.linear_regex import compile_linear
from app.report import BundleFile, FileKind, NodeInfo

HEAD_BYTES = 2 * 2**20
"""How much of each file is read."""
MAX_LOG_FILES = 8
"""How many log files are looked at (the loggingsnapshot first)."""
MAX_DUMP_FILES = 8
"""How many xstat/xconf dumps are looked at (a bundle has two of each)."""
HOST_LINES = 200
"""How many syslog lines vote for the hostname."""

_SYSLOG_PREFIX = compile_linear(
    r"(?:<\d{1,3}>(?:1 )?)?"
    r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]?\d \d\d:\d\d:\d\d(?:\.\d{1,6})?)"
    r"[ \t]{1,8}(?P<host>[A-Za-z0-9][A-Za-z0-9._-]{0,252})[ \t]"
)
"""The host field after a syslog timestamp: the Expressway's own (ISO with offset), a remote
syslog server's BSD one (`Nov 18 19:55:58 host tag: …`; a line without the host field has
the process tag there, whose colon the host pattern refuses) or RFC 5424 (`<166>1 ISO host`)."""
_SIP_PRODUCT_HEADER = compile_linear(
    r"(?:Server|User-Agent):[ \t]*TANDBERG/(\d{1,9})[ \t]*\((X\d[^)\s]{0,60})\)"
)
_SIP_PRODUCT_LITERAL = "TANDBERG/"  # in every match of _SIP_PRODUCT_HEADER


def identify_node(
    files: Sequence[BundleFile], bundle: str, chosen_product: str | None = None
) -> NodeInfo:
    """Identify the peer of the node key `bundle` from its files (others are ignored): an
    upload's name, or one host of an upload holding several (app.bundle.hosts).

    `chosen_product` is what the user chose for the upload (None: detect it).
    """
    own = [file for file in files if file.bundle == bundle]
    clues: list[Clue] = []
    evidence: list[dict[str, str]] = []
    version: str | None = None
    xconf_host: tuple[str, str] | None = None
    dumps = [file for file in own if file.kind in (FileKind.XSTAT, FileKind.XCONF)]
    for file in dumps[:MAX_DUMP_FILES]:
        reading = read_dump(file.name, dump_entries(_read_text(file.path)))
        clues += reading.clues
        if reading.version and version is None and file.kind is FileKind.XSTAT:
            version = reading.version[0]
            evidence.append(
                {
                    "source": file.name,
                    "says": f"software version {version} ({reading.version[1]})",
                }
            )
        if reading.hostname and xconf_host is None and file.kind is FileKind.XCONF:
            xconf_host = (reading.hostname, file.name)
    scans = [_scan_log(file) for file in _log_files(own)]
    for scan in scans:
        clues += scan.clues.clues()
    hostname, host_evidence = _hostname(own, scans, xconf_host)
    evidence[:0] = host_evidence
    if version is None:
        version, version_evidence = _version_from_sip(scans)
        evidence += version_evidence
    header = next((scan.header for scan in scans if scan.header), None)
    if header is not None:
        evidence.append(
            {
                "source": header[0],
                "says": f"SIP header {header[1]}: the VCS platform's SIP stack, which "
                "Expressway shares; it does not tell the product",
            }
        )
    identity = decide(clues, chosen_product)
    return NodeInfo(
        bundle=bundle,
        hostname=hostname,
        product=identity.product,
        version=version,
        evidence=[clue.shown() for clue in identity.evidence] + evidence,
        confidence=identity.confidence,
    )


# ---- reading ---------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        with open_stored(path) as file:
            data = file.read(HEAD_BYTES)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _lines(text: str) -> list[str]:
    """Each line of `text` (its line ends made `\n` by `_read_text`) cut at MAX_LINE
    characters, without its end of line."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # (the end of the last line, or an empty text)
    return [line if len(line) <= MAX_LINE else line[:MAX_LINE] for line in lines]


def _log_files(files: Sequence[BundleFile]) -> list[BundleFile]:
    snapshots = [f for f in files if f.kind is FileKind.LOGGINGSNAPSHOT]
    others = [f for f in files if f.kind is FileKind.LOG]
    return (snapshots + others)[:MAX_LOG_FILES]


class _LogScan:
    """One pass over a log's head: host votes, product hints, SIP versions the node sent."""

    def __init__(self, file: BundleFile) -> None:
        self.file = file
        self.hosts: Counter[str] = Counter()
        self.clues = LogClues(file.name)
        self.own_trying: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.header: tuple[str, str] | None = None  # (file, a TANDBERG SIP header seen)


def _scan_log(file: BundleFile) -> _LogScan:
    scan = _LogScan(file)
    host_lines = 0
    sending = in_message = False
    first_line: str | None = None
    text = _read_text(file.path)
    scan.clues.look_for(text)
    for number, line in enumerate(_lines(text), 1):
        scan.clues.feed(number, line)
        if line and not line[0].isspace():
            if host_lines < HOST_LINES and (match := _SYSLOG_PREFIX.match(line)):
                scan.hosts[match["host"] or ""] += 1
                host_lines += 1
            sending = 'Action="Sent"' in line
            in_message = False
            first_line = None
            continue
        stripped = line.strip()
        if stripped == "SIPMSG:":
            in_message, first_line = True, None
            continue
        if not in_message:
            continue
        if first_line is None and stripped.startswith("|"):
            first_line = stripped[1:]
            continue
        if _SIP_PRODUCT_LITERAL not in stripped:
            continue  # (the regex below, without a call into RE2)
        match = _SIP_PRODUCT_HEADER.match(stripped)
        if match is None:
            continue
        if scan.header is None:
            scan.header = (file.name, stripped[:80])
        if sending:
            version = match[2] or ""
            scan.sent[version] += 1
            if first_line is not None and first_line.startswith("SIP/2.0 100 "):
                scan.own_trying[version] += 1
    return scan


# ---- hostname --------------------------------------------------------------------------


def _hostname(
    files: Sequence[BundleFile], scans: list[_LogScan], xconf_host: tuple[str, str] | None
) -> tuple[str | None, list[dict[str, str]]]:
    host, evidence = _host_from_content(scans, xconf_host)
    names: Counter[str] = Counter()
    first: dict[str, str] = {}
    for file in files:
        if (host_part := name_host(file.name.rsplit("/", 1)[-1])) is not None:
            names[host_part] += 1
            first.setdefault(host_part, file.name)
    if host is not None:
        other = next((name for name, _ in names.most_common() if name != host), None)
        if other is not None and host not in names:
            says = f"the file names say {other}, the content {host}: content wins (renamed files)"
            evidence.append({"source": first[other], "says": says})
        return host, evidence
    if not names:
        return None, []
    host = names.most_common(1)[0][0]
    return host, [{"source": first[host], "says": f"hostname {host}: the file name only"}]


def _host_from_content(
    scans: list[_LogScan], xconf_host: tuple[str, str] | None
) -> tuple[str | None, list[dict[str, str]]]:
    for kind in (FileKind.LOGGINGSNAPSHOT, FileKind.LOG):
        votes: Counter[str] = Counter()
        sources: dict[str, str] = {}
        for scan in scans:
            if scan.file.kind is kind:
                votes.update(scan.hosts)
                for host in scan.hosts:
                    sources.setdefault(host, scan.file.name)
        if votes:
            host, count = votes.most_common(1)[0]
            total = sum(votes.values())
            says = f"hostname {host}: syslog host field of {count} of {total} lines"
            others = [f"{name} ({n})" for name, n in votes.most_common(4) if name != host]
            if others:
                says += "; other hosts: " + ", ".join(others)
            return host, [{"source": sources[host], "says": says}]
    if xconf_host is not None:
        return xconf_host[0], [
            {"source": xconf_host[1], "says": f"hostname {xconf_host[0]}: IP DNS Hostname"}
        ]
    return None, []


# ---- version from SIP ------------------------------------------------------------------


def _version_from_sip(scans: list[_LogScan]) -> tuple[str | None, list[dict[str, str]]]:
    """The Expressway version in SIP headers of messages this node sent (see module doc)."""
    for attribute, what in (
        ("own_trying", "Server header of 100 Trying responses the node sent"),
        ("sent", "Server/User-Agent header of SIP messages the node sent"),
    ):
        votes: Counter[str] = Counter()
        source: str | None = None
        for scan in scans:
            counted: Counter[str] = getattr(scan, attribute)
            if counted and source is None:
                source = scan.file.name
            votes.update(counted)
        if votes and source is not None:
            version, count = votes.most_common(1)[0]
            says = f"version {version}: {what} ({count} message{'s' if count > 1 else ''})"
            return version, [{"source": source, "says": says}]
    return None, []
