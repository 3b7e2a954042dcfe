"""The problems a TAC engineer reads from an Expressway's configuration (the xconf dumps).

Each check takes the ConfigScan (every node's settings, app/analyzers/xconf.py) and the
CertificateScan (captures and PEMs, app/analyzers/certificates.py) and returns a `CheckResult`:
the issues found (node, facts, the xconf lines that show them), how many things it checked, and
what it could not check and why. The signature files with `match: {source: xconf, analyzer:
<name>}` give the issues their texts (app/analyzers/config_findings.py).

Sources (the texts and examples of each signature cite them):
* traversal zones: doc 212475 shows the xconf lines (`Zones Zone 6 TraversalClient Peer 1
  Address`, `Zones Zone 7 TraversalServer SIP TLS Verify Subject Name`, `... SIP TLS Verify
  Mode: "On"`, `... SIP Port`); doc 221624: with TLS verify on, the Expressway-C's peer address
  must be in the Expressway-E's certificate and the Expressway-E's TLS verify subject name in the
  Expressway-C's certificate, else "Peer's TLS certificate identity was unacceptable";
* DNS zone inbound mapping: doc 212475 Issue 6 (`Zones Zone 6 DNS SIP TLS Verify
  InboundClassification: "Off"`);
* Webex Hybrid Call DNS zone with a mistyped TLS verify subject name: doc 212475 Issue 2
  (`Zones Zone 6 DNS SIP TLS Verify Subject Name: "calllservice.ciscospark.com"`);
* Webex Hybrid Call DNS zone without "Modify DNS request": doc 212475 outbound Issue 1 (`Zones
  Zone 6 DNS SIP DnsOverride Override: "Off"` on the zone verifying callservice.ciscospark.com);
* Webex Hybrid Call traversal zones: doc 212475 inbound Issue 4 (`Zones Zone 6 TraversalClient
  SIP PreloadedSipRoutes Accept: "Off"` on the Expressway-C, SIP port 7003 of the Expressway-E
  zone that search rule 3 feeds from the Hybrid DNS zone) and inbound Issue 5 (`Zones Zone 7
  TraversalServer SIP ParameterPreservation Mode: "Off"`);
* search rules: doc 212475 outbound Issue 3 (`Zones Policy SearchRules Rule 1 ... Pattern String:
  "(?!.*@%localdomains%.*$).*"`, `... Progress: "Stop"`, `... Priority: "100"`, before the rule
  of priority 101 it hides);
* `EdgeConfigServer VerifyOriginServer: "Off"`: the seed article's short-term workaround and the
  X14.2 release notes ("xConfiguration EdgeConfigServer VerifyOriginServer: OFF/ON");
* Unified CM / IM and Presence / Unity Connection servers by IP with TLS verify on: the MRA
  deployment guide ("You must enter an FQDN when TLS verify mode is On"), the seed article
  (doc 218018, CSCwc69661: `SNI (10.48.36.215) not in certificate`). No public xconf dump shows
  these server entries: where they sit in the dump is inferred (see `uc_servers_by_ip`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from app.analyzers.cert_scan import CertificateScan, NodeCertificates
from app.analyzers.xconf import ConfigScan, NodeConfig, Setting
from app.report import Snippet

if TYPE_CHECKING:
    from app.analyzers.certinfo import CertInfo

MAX_LISTED_SANS = 12
"""SAN entries named in a finding (the rest are counted)."""
_ON = "on"
_OFF = "off"


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One configuration problem on one node, with the xconf lines that show it."""

    node: str
    facts: dict[str, Any]
    snippets: tuple[Snippet, ...] = ()


@dataclass(slots=True)
class CheckResult:
    issues: list[ConfigIssue] = field(default_factory=list)
    checked: int = 0  # settings (zones, servers) the check could look at
    unchecked: list[str] = field(default_factory=list)  # what it could not check, and why
    notes: list[str] = field(default_factory=list)  # what it looked at, for coverage


# ---- small helpers ---------------------------------------------------------------------------


def address_kind(value: str) -> str:
    """`IPv4 address`, `IPv6 address` or `FQDN` (brackets and a :port are ignored)."""
    text = value.strip().strip("[]")
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        head, colon, port = value.strip().rpartition(":")
        if colon and port.isdigit() and head:
            return address_kind(head)
        return "FQDN"
    return "IPv6 address" if found.version == 6 else "IPv4 address"


def is_ip(value: str) -> bool:
    return address_kind(value) != "FQDN"


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def _dns_match(name: str, pattern: str) -> bool:
    """RFC 6125 name match: exact (case-insensitive), or a `*.` wildcard for one left label."""
    name = name.lower().rstrip(".")
    pattern = pattern.lower().rstrip(".")
    if name == pattern:
        return True
    if pattern.startswith("*.") and "." in name:
        return name.split(".", 1)[1] == pattern[2:]
    return False


def name_in_certificate(name: str, cert: CertInfo) -> bool:
    """Whether a peer connecting to / verifying `name` finds it in the certificate (SAN or CN)."""
    wanted_ip = _ip(name)
    for san in cert.sans:
        if wanted_ip is not None:
            if _ip(san) == wanted_ip:
                return True
        elif _ip(san) is None and _dns_match(name, san):
            return True
    if cert.common_name:
        if wanted_ip is not None:
            return _ip(cert.common_name) == wanted_ip
        return _dns_match(name, cert.common_name)
    return False


def listed_sans(cert: CertInfo) -> str:
    names = list(cert.sans[:MAX_LISTED_SANS])
    more = len(cert.sans) - len(names)
    text = ", ".join(names) if names else "none"
    return f"{text} (+{more} more)" if more > 0 else text


def _display(cert: CertInfo) -> str:
    return f"CN={cert.common_name}" if cert.common_name else cert.subject


def _values(settings: Iterable[Setting]) -> dict[str, Setting]:
    """The settings of one item by key (the first of each key: text form before XML)."""
    found: dict[str, Setting] = {}
    for setting in settings:
        found.setdefault(setting.key, setting)
    return found


def _all(settings: Iterable[Setting], key: str) -> list[Setting]:
    return [setting for setting in settings if setting.key == key]


def _snippets(*groups: Iterable[Setting]) -> tuple[Snippet, ...]:
    """Every line (text and XML form) of these settings, once each, in file and line order."""
    seen: dict[tuple[str, int], Snippet] = {}
    for group in groups:
        for setting in group:
            seen.setdefault((setting.file, setting.line), setting.snippet())
    return tuple(seen[key] for key in sorted(seen))


def _same(settings: Sequence[Setting], key: str, value: str) -> list[Setting]:
    """The settings with this key and value in every form (text and XML)."""
    return [s for s in settings if s.key == key and s.value.strip() == value]


def _is(setting: Setting | None, value: str) -> bool:
    return setting is not None and setting.value.strip().lower() == value


def _zones(node: NodeConfig) -> dict[str, list[Setting]]:
    return node.items("zones", "zone")


def _zone_name(settings: Sequence[Setting], number: str) -> str:
    found = _values(settings).get("name")
    return found.value.strip() if found is not None and found.value.strip() else f"Zone {number}"


# ---- traversal zones: the TLS verify name against the peer's certificate ---------------------


@dataclass(frozen=True, slots=True)
class _PeerCertificate:
    cert: CertInfo
    where: str  # "server_expe_….pem of node expe" or "192.0.2.2:7001 (capture of node expc)"


def _host_of(node_label: str, name: str) -> bool:
    """Whether a node called `node_label` is the host `name` (FQDN or short name)."""
    label = node_label.lower()
    wanted = name.lower().rstrip(".")
    return bool(label) and (label == wanted or (not is_ip(name) and label == wanted.split(".")[0]))


def _node_addresses(config: ConfigScan, label: str) -> set[str]:
    """The IP addresses another node's xconf gives its interfaces (`Ethernet 1 IP V4 Address`)."""
    addresses: set[str] = set()
    for node in config.nodes:
        if node.label != label:
            continue
        for settings in node.items("ethernet").values():
            for setting in settings:
                if setting.key in ("ipv4address", "ipv6address"):
                    found = _ip(setting.value)
                    if found is not None:
                        addresses.add(str(found))
    return addresses


def _other_nodes_certificates(
    name: str, own_label: str, certs: CertificateScan, config: ConfigScan
) -> list[_PeerCertificate]:
    """The server_*.pem of another node of this analysis that is the host `name`."""
    found = []
    wanted_ip = _ip(name)
    for other in certs.nodes:
        if other.label == own_label or not other.own:
            continue
        if _host_of(other.label, name) or (
            wanted_ip is not None and str(wanted_ip) in _node_addresses(config, other.label)
        ):
            for file, cert in other.own[:1]:
                found.append(_PeerCertificate(cert, f"{file} of node {other.label}"))
    return found


def _captured_server_certificates(
    name: str, port: int | None, node: NodeCertificates | None
) -> list[_PeerCertificate]:
    """Leaf certificates the peer `name` presented as a server in this node's captures."""
    if node is None:
        return []
    wanted_ip = _ip(name)
    found: dict[str, _PeerCertificate] = {}
    for session in node.sessions:
        if not session.chain or (port is not None and session.server_port != port):
            continue
        by_ip = wanted_ip is not None and _ip(session.server_ip) == wanted_ip
        by_sni = session.sni is not None and session.sni.lower() == name.lower()
        if by_ip or by_sni:
            where = f"{session.server_ip}:{session.server_port} (capture of node {node.label})"
            found.setdefault(session.chain[0].sha256, _PeerCertificate(session.chain[0], where))
    return list(found.values())


def _captured_client_certificates(
    port: int | None, node: NodeCertificates | None
) -> list[_PeerCertificate]:
    """Leaf client certificates sent to this node on the zone's port (the traversal client's)."""
    if node is None or port is None:
        return []
    found: dict[str, _PeerCertificate] = {}
    for session in node.sessions:
        if session.server_port == port and session.client_chain:
            where = (
                f"{session.client_ip} → {session.server_ip}:{port} (capture of node {node.label})"
            )
            found.setdefault(
                session.client_chain[0].sha256, _PeerCertificate(session.client_chain[0], where)
            )
    return list(found.values())


def _clients_on_port(
    port: int | None,
    own_label: str,
    certs: CertificateScan,
    config: ConfigScan,
    known: Sequence[_PeerCertificate],
) -> list[_PeerCertificate]:
    """The server_*.pem of other nodes whose traversal client zone uses this SIP port."""
    if port is None:
        return []
    labels = set()
    for node in config.nodes:
        if node.label == own_label:
            continue
        for settings in _zones(node).values():
            values = _values(settings)
            if (
                _is(values.get("type"), "traversalclient")
                and _port(settings, "traversalclientsipport") == port
            ):
                labels.add(node.label)
    found = []
    seen = {peer.cert.sha256 for peer in known}
    for other in certs.nodes:
        if other.label in labels:
            for file, cert in other.own[:1]:
                if cert.sha256 not in seen:
                    found.append(_PeerCertificate(cert, f"{file} of node {other.label}"))
    return found


def _port(settings: Sequence[Setting], key: str) -> int | None:
    found = _values(settings).get(key)
    if found is None or not found.value.strip().isdigit():
        return None
    return int(found.value.strip())


def traversal_peer_name(config: ConfigScan, certs: CertificateScan) -> CheckResult:
    """Traversal zones with TLS verify on whose peer name is not in the peer's certificate.

    Client zone (Expressway-C): each `TraversalClient Peer N Address` must be in the
    Expressway-E's certificate. Server zone (Expressway-E): `TraversalServer SIP TLS Verify Subject
    Name` must be in the Expressway-C's certificate. The peer's certificate comes from the
    bundle only: another node of this analysis that is that host (its server_*.pem), or the
    captures of this node (the server chain of a session to that address, or the client
    certificate sent on the zone's SIP port). Without one, the zone is reported as not checked.
    Facts: zone, zone_name, role (client | server), setting, name, name_kind, certificate,
    certificate_sans, where.
    """
    result = CheckResult()
    cert_nodes = {node.label: node for node in certs.nodes}
    for node in config.nodes:
        for number, settings in _zones(node).items():
            values = _values(settings)
            zone_type = values.get("type")
            role = (zone_type.value.strip().lower() if zone_type else "").removeprefix("traversal")
            if role not in ("client", "server"):
                continue
            prefix = f"traversal{role}"
            mode = values.get(f"{prefix}siptlsverifymode")
            if not _is(mode, _ON):
                continue
            zone_name = _zone_name(settings, number)
            port = _port(settings, f"{prefix}sipport")
            if role == "client":
                names = [s for s in _all(settings, "traversalclientpeeraddress") if s.value.strip()]
                setting_label = "Peer address"
            else:
                names = [
                    s
                    for s in _all(settings, "traversalserversiptlsverifysubjectname")
                    if s.value.strip()
                ]
                setting_label = "TLS verify subject name"
            done: set[str] = set()
            for setting in names:
                name = setting.value.strip()
                if name.lower() in done:
                    continue
                done.add(name.lower())
                own = cert_nodes.get(node.label)
                if role == "client":
                    peers = _other_nodes_certificates(name, node.label, certs, config)
                    peers += _captured_server_certificates(name, port, own)
                else:
                    peers = _other_nodes_certificates(name, node.label, certs, config)
                    peers += _clients_on_port(port, node.label, certs, config, peers)
                    peers += _captured_client_certificates(port, own)
                if not peers:
                    result.unchecked.append(
                        f"zone '{zone_name}' on {node.label}: the upload holds no certificate of "
                        f"the peer {name} (its server_*.pem in its own bundle uploaded with this "
                        "one, or a capture of the traversal connection), so the name could not "
                        "be compared with it"
                    )
                    continue
                result.checked += 1
                same_settings = _same(settings, setting.key, setting.value.strip())
                for peer in peers:
                    if name_in_certificate(name, peer.cert):
                        continue
                    result.issues.append(
                        ConfigIssue(
                            node.label,
                            {
                                "zone": int(number),
                                "zone_name": zone_name,
                                "role": role,
                                "setting": setting_label,
                                "name": name,
                                "name_kind": address_kind(name),
                                "certificate": _display(peer.cert),
                                "certificate_sans": listed_sans(peer.cert),
                                "where": peer.where,
                            },
                            _snippets(same_settings, _same(settings, mode.key, mode.value.strip()))
                            if mode is not None
                            else _snippets(same_settings),
                        )
                    )
    if not result.checked and not result.unchecked:
        result.notes.append("no traversal zone with TLS verify mode On in the configuration")
    return result


# ---- DNS zones: TLS verify inbound mapping ---------------------------------------------------


def dns_inbound_mapping_off(config: ConfigScan, certs: CertificateScan) -> CheckResult:
    """DNS zones that verify a subject name with TLS but do not map inbound TLS connections.

    `Zones Zone N DNS SIP TLS Verify Mode: "On"`, a `... Subject Name` and `... TLS Verify
    InboundClassification: "Off"` (the web page's "TLS verify inbound mapping", doc 212475).
    Facts: zone, zone_name, subject_name.
    """
    result = CheckResult()
    for node in config.nodes:
        for number, settings in _zones(node).items():
            values = _values(settings)
            if not _is(values.get("type"), "dns"):
                continue
            mode = values.get("dnssiptlsverifymode")
            subject = values.get("dnssiptlsverifysubjectname")
            mapping = values.get("dnssiptlsverifyinboundclassification")
            if not _is(mode, _ON) or subject is None or not subject.value.strip():
                continue
            if mapping is None:
                continue  # older versions have no such setting (doc 212475's script: "N/A")
            result.checked += 1
            if not _is(mapping, _OFF):
                continue
            result.issues.append(
                ConfigIssue(
                    node.label,
                    {
                        "zone": int(number),
                        "zone_name": _zone_name(settings, number),
                        "subject_name": subject.value.strip(),
                        "inbound_mapping": mapping.value.strip(),
                    },
                    _snippets(
                        _same(settings, mapping.key, mapping.value.strip()),
                        _same(settings, subject.key, subject.value.strip()),
                    ),
                )
            )
    if not result.checked:
        result.notes.append("no DNS zone with TLS verify mode On and a subject name")
    return result


# ---- Webex Hybrid Call DNS zone: "Modify DNS request" off ------------------------------------

WEBEX_CALL_SERVICE_NAMES = ("callservice.ciscospark.com", "callservice.webex.com")
"""The TLS verify subject names of the Webex Hybrid Call Service DNS zone (doc 212475)."""


def dns_webex_dns_override_off(config: ConfigScan, certs: CertificateScan) -> CheckResult:
    """The Webex Hybrid Call DNS zone with "Modify DNS request" Off.

    A DNS zone verifying the subject name callservice.ciscospark.com (or callservice.webex.com)
    is the zone of outbound Webex Hybrid Call Service calls. With `DNS SIP DnsOverride Override:
    "Off"` it looks up the domain of the called URI (`_sips._tcp.<subdomain>.call.ciscospark.com`,
    port 5061) instead of the domain to search for (callservice.ciscospark.com, port 5062), and
    the mutual TLS connection to Webex is never made (doc 212475, outbound Issue 1). Facts: zone,
    zone_name, subject_name, override, search_domain.
    """
    result = CheckResult()
    for node in config.nodes:
        for number, settings in _zones(node).items():
            values = _values(settings)
            if not (_is(values.get("type"), "dns") or any(k.startswith("dnssip") for k in values)):
                continue  # doc 212475 quotes the zone's DNS SIP settings without its Type line
            subject = values.get("dnssiptlsverifysubjectname")
            override = values.get("dnssipdnsoverrideoverride")
            if subject is None or subject.value.strip().lower() not in WEBEX_CALL_SERVICE_NAMES:
                continue
            if override is None:
                continue  # no such setting in this dump: nothing to compare
            result.checked += 1
            if not _is(override, _OFF):
                continue
            domain = values.get("dnssipdnsoverridename")
            result.issues.append(
                ConfigIssue(
                    node.label,
                    {
                        "zone": int(number),
                        "zone_name": _zone_name(settings, number),
                        "subject_name": subject.value.strip(),
                        "override": override.value.strip(),
                        "search_domain": domain.value.strip() if domain is not None else "",
                    },
                    _snippets(
                        _same(settings, override.key, override.value.strip()),
                        _same(settings, subject.key, subject.value.strip()),
                    ),
                )
            )
    if not result.checked:
        result.notes.append(
            "no DNS zone verifying the Webex Hybrid Call Service name "
            f"({' or '.join(WEBEX_CALL_SERVICE_NAMES)}) with a DnsOverride setting"
        )
    return result


# ---- Webex Hybrid Call DNS zone: a mistyped subject name ---------------------------------------

MAX_TYPO_EDITS = 2
"""Edits (insert, delete, replace) that still make a subject name a typo of a Webex name."""


def _edits(first: str, second: str, limit: int) -> int:
    """Levenshtein distance of two short names, `limit + 1` once it exceeds `limit`."""
    if abs(len(first) - len(second)) > limit:
        return limit + 1
    previous = list(range(len(second) + 1))
    for i, a in enumerate(first, 1):
        current = [i]
        for j, b in enumerate(second, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def dns_webex_subject_name_typo(config: ConfigScan, certs: CertificateScan) -> CheckResult:
    """DNS zones whose TLS verify subject name is a near miss of the Webex call service name.

    Webex's certificate holds callservice.ciscospark.com (and callservice.webex.com); a zone
    verifying `calllservice.ciscospark.com` never finds it, and every inbound Hybrid Call
    Service call fails with "Peer's TLS certificate identity was unacceptable" (doc 212475,
    Issue 2: "note the extra l"). A name one or two edits away from a Webex name, and not equal
    to one, is reported. Facts: zone, zone_name, subject_name, expected.
    """
    result = CheckResult()
    for node in config.nodes:
        for number, settings in _zones(node).items():
            values = _values(settings)
            subject = values.get("dnssiptlsverifysubjectname")
            if subject is None or not subject.value.strip():
                continue
            result.checked += 1
            name = subject.value.strip().lower().rstrip(".")
            if name in WEBEX_CALL_SERVICE_NAMES:
                continue
            expected = next(
                (
                    w
                    for w in WEBEX_CALL_SERVICE_NAMES
                    if _edits(name, w, MAX_TYPO_EDITS) <= MAX_TYPO_EDITS
                ),
                None,
            )
            if expected is None:
                continue
            result.issues.append(
                ConfigIssue(
                    node.label,
                    {
                        "zone": int(number),
                        "zone_name": _zone_name(settings, number),
                        "subject_name": subject.value.strip(),
                        "expected": expected,
                    },
                    _snippets(_same(settings, subject.key, subject.value.strip())),
                )
            )
    if not result.checked:
        result.notes.append("no DNS zone with a TLS verify subject name in the configuration")
    return result


# ---- Webex Hybrid Call traversal zones ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _HybridZone:
    node: str
    number: str
    name: str
    role: str  # client | server
    settings: list[Setting]
    how: str  # why this zone carries Webex Hybrid Call Service calls


def _traversal_role(settings: Sequence[Setting]) -> str | None:
    """`client` or `server` from the zone's Type, else from its setting names (doc 212475 quotes
    some zone blocks without their Type line)."""
    kind = _values(settings).get("type")
    if kind is not None:
        role = kind.value.strip().lower().removeprefix("traversal")
        return role if role in ("client", "server") else None
    for role in ("client", "server"):
        if any(s.key.startswith(f"traversal{role}") for s in settings):
            return role
    return None


def _hybrid_zones(config: ConfigScan) -> list[_HybridZone]:
    """The traversal zones of the Webex Hybrid Call Service path.

    On an Expressway-E: a traversal zone linked by an enabled search rule to the DNS zone that
    verifies the Webex call service name (rule source DNS zone → target traversal zone, inbound;
    or the reverse, outbound). On another node of the analysis: its traversal client zones to
    the SIP port of such a traversal server zone (the Expressway-C side).
    """
    found: list[_HybridZone] = []
    ports: dict[int, str] = {}
    for node in config.nodes:
        zones = _zones(node)
        names = {_zone_name(settings, number).lower(): number for number, settings in zones.items()}
        webex = set()
        for number, settings in zones.items():
            subject = _values(settings).get("dnssiptlsverifysubjectname")
            if subject is not None and subject.value.strip().lower() in WEBEX_CALL_SERVICE_NAMES:
                webex.add(_zone_name(settings, number).lower())
        if not webex:
            continue
        linked: dict[str, str] = {}
        for rule in _rules(node):
            if not rule.enabled or rule.value("sourcemode").lower() != "named":
                continue
            source = rule.value("sourcename").lower()
            target = rule.value("targetname").lower()
            for dns, other in ((source, target), (target, source)):
                if dns in webex and other in names:
                    linked.setdefault(
                        names[other],
                        f"search rule {rule.number} ('{rule.name}') links it to the Webex "
                        f"Hybrid Call DNS zone '{_zone_name(zones[names[dns]], names[dns])}'",
                    )
        for number, how in linked.items():
            settings = zones[number]
            role = _traversal_role(settings)
            if role is None:
                continue
            name = _zone_name(settings, number)
            found.append(_HybridZone(node.label, number, name, role, settings, how))
            port = _port(settings, f"traversal{role}sipport")
            if role == "server" and port is not None:
                ports.setdefault(port, f"zone '{name}' on {node.label}")
    hybrid_nodes = {zone.node for zone in found}
    for node in config.nodes:
        if node.label in hybrid_nodes:
            continue
        for number, settings in _zones(node).items():
            if _traversal_role(settings) != "client":
                continue
            port = _port(settings, "traversalclientsipport")
            if port is None or port not in ports:
                continue
            how = f"its SIP port {port} is that of the Webex Hybrid Call traversal {ports[port]}"
            found.append(
                _HybridZone(
                    node.label, number, _zone_name(settings, number), "client", settings, how
                )
            )
    return found


def _hybrid_zone_setting(config: ConfigScan, key: str, bad: str, fact: str) -> CheckResult:
    """Webex Hybrid Call traversal zones whose `traversal<role><key>` setting is `bad`."""
    result = CheckResult()
    for zone in _hybrid_zones(config):
        found = _values(zone.settings).get(f"traversal{zone.role}{key}")
        if found is None:
            continue
        result.checked += 1
        if not _is(found, bad):
            continue
        result.issues.append(
            ConfigIssue(
                zone.node,
                {
                    "zone": int(zone.number),
                    "zone_name": zone.name,
                    "role": zone.role,
                    fact: found.value.strip(),
                    "linked_by": zone.how,
                },
                _snippets(_same(zone.settings, found.key, found.value.strip())),
            )
        )
    if not result.checked:
        result.notes.append(
            "no traversal zone of a Webex Hybrid Call Service path (a search rule between it "
            "and the DNS zone verifying callservice.ciscospark.com / callservice.webex.com, or a "
            "traversal client to such a zone's port) with this setting in the configuration"
        )
    return result


def hybrid_preloaded_routes_off(config: ConfigScan, certs: CertificateScan) -> CheckResult:
    """Webex Hybrid Call traversal zones with Preloaded SIP routes support Off.

    Webex routes inbound Hybrid Call Service calls on the Route header (the user's Unified CM
    cluster FQDN); a zone with `SIP PreloadedSipRoutes Accept: "Off"` rejects INVITEs holding
    one, and the caller gets 404 Not Found (doc 212475, inbound Issue 4, on the Expressway-C
    traversal client zone; the note adds that the Expressway-E traversal server zone fails the
    same way). Facts: zone, zone_name, role, preloaded_routes, linked_by.
    """
    return _hybrid_zone_setting(config, "sippreloadedsiproutesaccept", _OFF, "preloaded_routes")


def hybrid_parameter_preservation_off(config: ConfigScan, certs: CertificateScan) -> CheckResult:
    """Webex Hybrid Call traversal zones with SIP parameter preservation Off.

    The B2BUA then rewrites the Contact header of the Webex INVITE and drops its
    `call-type=squared` parameter; Webex cannot cancel the forked leg and the called user's
    Webex app shows two call notifications (doc 212475, inbound Issue 5: `Zones Zone 7
    TraversalServer SIP ParameterPreservation Mode: "Off"`). Facts: zone, zone_name, role,
    parameter_preservation, linked_by.
    """
    return _hybrid_zone_setting(
        config, "sipparameterpreservationmode", _OFF, "parameter_preservation"
    )


# ---- search rules: a catch-all rule that stops the search before later rules -----------------

_CATCH_ALL_PATTERNS = {
    ".*": "every alias",
    "(?!.*@%localdomains%.*$).*": "every non-local alias",
    "(?!.*@%localdomains%).*": "every non-local alias",
}
"""Regex pattern strings that match every alias (or every alias outside the local domains):
doc 212475's DNS rule, and doc 222176's match-everything wildcard and negative lookahead."""
MAX_LISTED_RULES = 6
"""Hidden rules named in a finding (the rest are counted)."""


@dataclass(frozen=True, slots=True)
class _Rule:
    number: str
    name: str
    priority: int
    values: dict[str, Setting]
    settings: list[Setting]

    def value(self, key: str, default: str = "") -> str:
        found = self.values.get(key)
        return found.value.strip() if found is not None else default

    @property
    def enabled(self) -> bool:
        return self.value("state", "Enabled").lower() != "disabled"


def _rules(node: NodeConfig) -> list[_Rule]:
    rules = []
    for number, settings in node.items("zones", "policy", "searchrules", "rule").items():
        values = _values(settings)
        priority = values.get("priority")
        if priority is None or not priority.value.strip().isdigit():
            continue
        found = values.get("name")
        name = (
            found.value.strip() if found is not None and found.value.strip() else f"Rule {number}"
        )
        rules.append(_Rule(number, name, int(priority.value.strip()), values, settings))
    return sorted(rules, key=lambda rule: (rule.priority, int(rule.number)))


def _catch_all_scope(rule: _Rule) -> str | None:
    """What a rule matches when it matches whatever the alias (`every alias`, `every non-local
    alias`), from any source and without authentication; None otherwise."""
    if not rule.enabled or rule.value("progress").lower() != "stop":
        return None
    if rule.value("sourcemode", "Any").lower() != "any":
        return None
    if rule.value("authentication", "No").lower() not in ("no", "off"):
        return None
    mode = rule.value("mode").lower()
    if mode == "anyalias":
        return "every alias"
    if mode == "aliaspatternmatch" and rule.value("patterntype").lower() == "regex":
        return _CATCH_ALL_PATTERNS.get(rule.value("patternstring"))
    return None


def _covers(first: _Rule, later: _Rule, key: str) -> bool:
    """Whether `first` applies to the requests `later` applies to (protocol, SIP traffic type)."""
    mine = first.value(key, "Any").lower()
    return mine == "any" or mine == later.value(key, "Any").lower()


def _is_local_rule(rule: _Rule) -> bool:
    """A rule for aliases in the local domains (not hidden by a rule for non-local aliases)."""
    pattern = rule.value("patternstring").lower()
    return rule.value("targetname").lower() == "localzone" or (
        "%localdomains%" in pattern and "(?!" not in pattern
    )


def search_rule_stop_hides_later(config: ConfigScan, certs: CertificateScan) -> CheckResult:
    """Search rules that match every (non-local) alias with Progress "Stop" before other rules.

    Search rules are tried in priority order (lowest number first); a rule whose pattern matches
    and whose On successful match is Stop ends the search, whatever the target zone finds. An
    enabled rule from any source matching every alias (Any alias, regex `.*`) or every non-local
    alias (`(?!.*@%localdomains%.*$).*`, doc 212475's "to DNS" rule at priority 100) hides the
    enabled rules of a higher priority number for those aliases (doc 212475, outbound Issue 3:
    the Webex rule at priority 101 was never tried). Rules of the same priority are searched
    together and are not hidden. Facts: rule, rule_name, priority, pattern, scope, target, hidden,
    hidden_count.
    """
    result = CheckResult()
    for node in config.nodes:
        rules = _rules(node)
        for first in rules:
            scope = _catch_all_scope(first)
            if scope is None:
                continue
            result.checked += 1
            hidden = [
                later
                for later in rules
                if later.enabled
                and later.priority > first.priority
                and _covers(first, later, "protocol")
                and _covers(first, later, "siptraffictype")
                and not (scope == "every non-local alias" and _is_local_rule(later))
            ]
            if not hidden:
                continue
            names = [f"'{rule.name}' (priority {rule.priority})" for rule in hidden]
            shown = ", ".join(names[:MAX_LISTED_RULES])
            if len(names) > MAX_LISTED_RULES:
                shown += f" (+{len(names) - MAX_LISTED_RULES} more)"
            pattern = (
                "Any alias"
                if first.value("mode").lower() == "anyalias"
                else first.value("patternstring")
            )
            keys = ("priority", "progress", "mode", "patternstring", "sourcemode")
            result.issues.append(
                ConfigIssue(
                    node.label,
                    {
                        "rule": int(first.number),
                        "rule_name": first.name,
                        "priority": first.priority,
                        "pattern": pattern,
                        "scope": scope,
                        "target": first.value("targetname"),
                        "hidden": shown,
                        "hidden_count": len(hidden),
                    },
                    _snippets(
                        *(
                            _same(first.settings, key, first.values[key].value.strip())
                            for key in keys
                            if key in first.values
                        ),
                        *(
                            _same(rule.settings, "priority", rule.value("priority"))
                            for rule in hidden[:2]
                        ),
                    ),
                )
            )
    if not result.checked:
        result.notes.append(
            'no enabled search rule from any source with On successful match "Stop" that '
            "matches every alias (or every non-local alias)"
        )
    return result


# ---- Unified CM / IM and Presence / Unity Connection servers by IP ---------------------------

_UC_WORDS = ("unifiedcm", "cucm", "presence", "unity", "imp")
"""Words of a configuration item name that mark a UC server list (inferred, see below)."""
_UC_KINDS = (
    ("unity", "Unity Connection server"),
    ("presence", "IM and Presence Service node"),
    ("imp", "IM and Presence Service node"),
    ("unifiedcm", "Unified CM server"),
    ("cucm", "Unified CM server"),
)


def _uc_kind(path: Sequence[str]) -> tuple[int, str] | None:
    """(position, kind) of the first path word that marks a UC server list, if any."""
    for index, token in enumerate(path[:-1]):
        name = token.lower()
        for word, kind in _UC_KINDS:
            if name == word or (len(word) > 3 and word in name):
                return index, kind
    return None


def _uc_item(path: Sequence[str], marker: int) -> tuple[str, ...]:
    """The server item a setting belongs to: the path up to its last item number (`UnifiedCm
    Server 3`), else up to the word that marked it (a single server in the XML form)."""
    last = max((i for i, token in enumerate(path[:-1]) if token.isdigit()), default=-1)
    end = last + 1 if last > marker else marker + 1
    return tuple(path[:end])


def uc_servers_by_ip(config: ConfigScan, certs: CertificateScan) -> CheckResult:
    """Unified CM / IM&P / Unity Connection servers configured by IP address with TLS verify on.

    Inferred dump shape: no public xconf shows these entries. The web page (seed article) has
    "Unified CM publisher address" and "TLS verify mode"; the check reads every item whose path
    holds `UnifiedCm`, `Cucm`, `Presence`, `Imp` or `Unity` (up to its item number), with a
    setting whose key ends in `address` and one whose key holds `tlsverify`. Facts:
    server_kind, address, address_kind, tls_verify, item.
    """
    result = CheckResult()
    for node in config.nodes:
        groups: dict[tuple[str, ...], tuple[str, str, list[Setting]]] = {}
        for setting in node.settings:
            marked = _uc_kind(setting.path)
            if marked is None:
                continue
            item = _uc_item(setting.path, marked[0])
            keyed = replace(setting, key="".join(t.lower() for t in setting.path[len(item) :]))
            group: tuple[str, str, list[Setting]] = (" ".join(item), marked[1], [])
            groups.setdefault(tuple(t.lower() for t in item), group)[2].append(keyed)
        for shown_item, kind, settings in groups.values():
            verify = next((s for s in settings if "tlsverify" in s.key), None)
            addresses = [s for s in settings if s.key.endswith("address") and s.value.strip()]
            if verify is None or not addresses:
                continue
            result.checked += 1
            if not _is(verify, _ON):
                continue
            for address in addresses:
                value = address.value.strip()
                if not is_ip(value):
                    continue
                result.issues.append(
                    ConfigIssue(
                        node.label,
                        {
                            "server_kind": kind,
                            "address": value,
                            "address_kind": address_kind(value),
                            "tls_verify": verify.value.strip(),
                            "item": shown_item,
                        },
                        _snippets(
                            _same(settings, address.key, value),
                            _same(settings, verify.key, verify.value.strip()),
                        ),
                    )
                )
    if not result.checked:
        result.notes.append(
            "no Unified CM, IM and Presence or Unity Connection server entry with an address and "
            "a TLS verify mode was recognised in the configuration (where the dump lists them "
            "is inferred)"
        )
    return result


# ---- Traffic Server verification of the UC servers switched off ----------------------------


def verify_origin_server_off(config: ConfigScan, certs: CertificateScan) -> CheckResult:
    """`EdgeConfigServer VerifyOriginServer: "Off"`: the X14.2 workaround of the seed article.

    The Traffic Server then no longer verifies the certificates of the Unified CM / IM&P / Unity
    servers for MRA (the behaviour before X14.2). Facts: value.
    """
    result = CheckResult()
    for node in config.nodes:
        found = [
            s
            for s in node.settings
            if s.key == "edgeconfigserververifyoriginserver"
            and not any(t.isdigit() for t in s.path)
        ]
        if not found:
            continue
        result.checked += 1
        first = found[0]
        if not _is(first, _OFF):
            continue
        result.issues.append(
            ConfigIssue(
                node.label,
                {"value": first.value.strip()},
                _snippets(_same(found, first.key, first.value.strip())),
            )
        )
    if not result.checked:
        result.notes.append(
            "no EdgeConfigServer VerifyOriginServer setting in the configuration (it exists "
            "from X14.2)"
        )
    return result


CHECKS: dict[str, Callable[[ConfigScan, CertificateScan], CheckResult]] = {
    "traversal-peer-name": traversal_peer_name,
    "dns-inbound-mapping-off": dns_inbound_mapping_off,
    "dns-webex-dns-override-off": dns_webex_dns_override_off,
    "dns-webex-subject-name-typo": dns_webex_subject_name_typo,
    "search-rule-stop-hides-later": search_rule_stop_hides_later,
    "hybrid-preloaded-routes-off": hybrid_preloaded_routes_off,
    "hybrid-parameter-preservation-off": hybrid_parameter_preservation_off,
    "uc-server-by-ip": uc_servers_by_ip,
    "verify-origin-server-off": verify_origin_server_off,
}
"""Analyzer name (a signature's `match.analyzer` with `source: xconf`) → check."""
