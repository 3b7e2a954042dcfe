"""Work out which Expressway peer a bundle came from: hostname, product and version.

Only bounded prefixes of files are read (`HEAD_BYTES` each, at most `MAX_LOG_FILES` logs), so
a 1 GB bundle costs a few MB here. Anything not backed by evidence stays None.

Which evidence wins
    hostname: the syslog host field (2nd token) of the loggingsnapshot's first lines, then
        that of other Expressway-format logs, then `IP DNS Hostname` in an xconf dump, and
        last the host part of the bundle's file names (`loggingsnapshot_<host>_<ts>.txt`,
        `xstat_dump_<host>_...`, ...). Content beats names because browsers and archivers
        rename files; a majority vote settles disagreeing lines.
    version: the xstat dump's SystemUnit software version (text or XML form), then the
        `Server:` header of `100 Trying` responses the node itself sent (a 100 is always
        generated locally), then any `Server:`/`User-Agent: TANDBERG/<n> (X...)` header in
        a message the node sent (forwarded messages may carry a peer's header, so this is
        the weakest). Endpoint headers such as `TANDBERG/529 (ce9.2...)` never count.
    product: the xstat SystemUnit product ("Expressway-E", "Expressway-C" or "VCS"); when it
        is missing or only says "Expressway", log hints decide: a local traversal *server*
        zone (`ZONETYPE_TRAVERSALSERVER`, `TYPE_ASSENTSERVER`) means Expressway-E; a
        traversal *client* zone, edge-config provisioning (UDS towards Unified CM) or Traffic
        Server verifying UC server certificates means Expressway-C. Hints for both sides, or
        none, leave the product None. Logs alone cannot tell VCS from Expressway.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from app.report import BundleFile, FileKind, NodeInfo

HEAD_BYTES = 2 * 2**20
"""How much of each file is read."""
MAX_LOG_FILES = 8
"""How many log files are looked at (the loggingsnapshot first)."""
HOST_LINES = 200
"""How many syslog lines vote for the hostname."""

_SYSLOG_PREFIX = re.compile(
    r"^(?:<\d{1,3}>)?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)"
    r"[ \t]+(?P<host>[A-Za-z0-9][A-Za-z0-9._-]*)[ \t]+\S"
)
_NAME_HOST = re.compile(
    r"^(?:loggingsnapshot|xstat_dump|xconf_dump|ca|server"
    r"|eth\d+_diagnostic_logging_tcpdump\d*)_(?P<host>[A-Za-z0-9][A-Za-z0-9._-]*?)"
    r"_(?:\d{4}-?\d\d-?\d\d|\d{8,})"
)
_XCONF_HOSTNAME = re.compile(r'^\*c xConfiguration IP DNS Hostname:\s*"?([A-Za-z0-9._-]+)"?\s*$')
_SIP_PRODUCT_HEADER = re.compile(r"^(?:Server|User-Agent):\s*TANDBERG/\d+\s*\((X\d[^)\s]*)\)")
_XSTAT_TEXT_PRODUCT = re.compile(r'\bProduct(?:Type)?:\s*"([^"]+)"')
_XSTAT_TEXT_VERSION = re.compile(r'\bVersion:\s*"?(X\d[\w.\-]*)"?')
_XSTAT_XML_UNIT = re.compile(r"<SystemUnit\b.*?</SystemUnit>", re.DOTALL)
_XSTAT_XML_PRODUCT = re.compile(r"<Product(?:Type)?\b[^>]*>\s*([^<]+?)\s*</Product(?:Type)?>")
_XSTAT_XML_VERSION = re.compile(r"<Version\b[^>]*>\s*(X\d[^<\s]*)\s*</Version>")
_EXPRESSWAY_E_HINT = re.compile(r"ZONETYPE_TRAVERSALSERVER|\bTYPE_ASSENTSERVER\b")
_EXPRESSWAY_C_HINT = re.compile(
    r"ZONETYPE_TRAVERSALCLIENT|\bTYPE_ASSENTCLIENT\b|edgeconfigprovisioning"
    r"|Core server certificate verification failed"
)
_GENERIC_EXPRESSWAY = "Expressway"


def identify_node(files: Sequence[BundleFile], bundle: str) -> NodeInfo:
    """Identify the peer behind the upload `bundle` from its files (others are ignored)."""
    own = [file for file in files if file.bundle == bundle]
    logs = _log_texts(own)
    xstat_product, xstat_version = _from_xstat(own)
    return NodeInfo(
        bundle=bundle,
        hostname=_hostname(own, logs),
        product=_product(xstat_product, logs),
        version=xstat_version or _version_from_sip(logs),
    )


# ---- reading ---------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(HEAD_BYTES)
    except OSError:
        return ""
    return data.decode("utf-8", "replace")


def _log_texts(files: Sequence[BundleFile]) -> list[tuple[BundleFile, str]]:
    snapshots = [f for f in files if f.kind is FileKind.LOGGINGSNAPSHOT]
    others = [f for f in files if f.kind is FileKind.LOG]
    chosen = (snapshots + others)[:MAX_LOG_FILES]
    return [(file, _read_text(file.path)) for file in chosen]


# ---- hostname --------------------------------------------------------------------------


def _hostname(files: Sequence[BundleFile], logs: list[tuple[BundleFile, str]]) -> str | None:
    for kind in (FileKind.LOGGINGSNAPSHOT, FileKind.LOG):
        votes = Counter(
            host for file, text in logs if file.kind is kind for host in _syslog_hosts(text)
        )
        if votes:
            return votes.most_common(1)[0][0]
    for file in files:
        if file.kind is FileKind.XCONF:
            for line in _read_text(file.path).splitlines():
                match = _XCONF_HOSTNAME.match(line.strip())
                if match:
                    return match.group(1)
    names = Counter(
        match.group("host")
        for file in files
        if (match := _NAME_HOST.match(file.name.rsplit("/", 1)[-1]))
    )
    return names.most_common(1)[0][0] if names else None


def _syslog_hosts(text: str) -> Iterable[str]:
    found = 0
    for line in text.splitlines():
        match = _SYSLOG_PREFIX.match(line)
        if match:
            yield match.group("host")
            found += 1
            if found >= HOST_LINES:
                return


# ---- xstat -----------------------------------------------------------------------------


def _from_xstat(files: Sequence[BundleFile]) -> tuple[str | None, str | None]:
    """(product, version) from the first xstat dump that names them."""
    product: str | None = None
    version: str | None = None
    for file in files:
        if file.kind is not FileKind.XSTAT:
            continue
        text = _read_text(file.path)
        found = _xstat_xml(text) if text.lstrip().startswith("<") else _xstat_text(text)
        product = product or found[0]
        version = version or found[1]
        if product and version:
            break
    return _product_from_label(product) if product else None, version


def _xstat_text(text: str) -> tuple[str | None, str | None]:
    """Read `*s SystemUnit: /` blocks and flat `*s SystemUnit Software Version: "X"` lines."""
    product: str | None = None
    version: str | None = None
    in_unit = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("*s"):
            in_unit = stripped.startswith("*s SystemUnit")
        if not in_unit:
            continue
        if product is None and (match := _XSTAT_TEXT_PRODUCT.search(stripped)):
            product = match.group(1)
        if version is None and (match := _XSTAT_TEXT_VERSION.search(stripped)):
            version = match.group(1)
    return product, version


def _xstat_xml(text: str) -> tuple[str | None, str | None]:
    unit = _XSTAT_XML_UNIT.search(text)
    if unit is None:
        return None, None
    product = _XSTAT_XML_PRODUCT.search(unit.group(0))
    version = _XSTAT_XML_VERSION.search(unit.group(0))
    return (product.group(1) if product else None, version.group(1) if version else None)


def _product_from_label(label: str) -> str | None:
    """Map an xstat product label to a NodeInfo product (or the generic "Expressway")."""
    lower = label.lower()
    if re.search(r"expressway[- ]?e\b", lower):
        return "Expressway-E"
    if re.search(r"expressway[- ]?c\b", lower):
        return "Expressway-C"
    if re.search(r"\bvcs\b|video communication server", lower):
        return "VCS"
    if "expressway" in lower:
        return _GENERIC_EXPRESSWAY
    return None


# ---- logs ------------------------------------------------------------------------------


def _product(from_xstat: str | None, logs: list[tuple[BundleFile, str]]) -> str | None:
    if from_xstat is not None and from_xstat != _GENERIC_EXPRESSWAY:
        return from_xstat
    edge = any(_EXPRESSWAY_E_HINT.search(text) for _, text in logs)
    core = any(_EXPRESSWAY_C_HINT.search(text) for _, text in logs)
    if edge and not core:
        return "Expressway-E"
    if core and not edge:
        return "Expressway-C"
    return None


def _version_from_sip(logs: list[tuple[BundleFile, str]]) -> str | None:
    """The Expressway version in SIP headers of messages this node sent (see module doc)."""
    own_trying: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    for _, text in logs:
        sending = False
        in_message = False
        first_line: str | None = None
        for line in text.splitlines():
            if line and not line[0].isspace():
                sending = 'Action="Sent"' in line
                in_message = False
                first_line = None
                continue
            stripped = line.strip()
            if stripped == "SIPMSG:":
                in_message, first_line = True, None
                continue
            if not (in_message and sending):
                continue
            if first_line is None and stripped.startswith("|"):
                first_line = stripped[1:]
                continue
            match = _SIP_PRODUCT_HEADER.match(stripped)
            if match:
                sent[match.group(1)] += 1
                if first_line is not None and first_line.startswith("SIP/2.0 100 "):
                    own_trying[match.group(1)] += 1
    for votes in (own_trying, sent):
        if votes:
            return votes.most_common(1)[0][0]
    return None
