"""Give a Traffic Server certificate finding the certificate the capture shows, and the exact fix.

A warning names the server (and its IP) but not the port or the certificate. The handshake to
that server around the same time (the warning's first/last seen ± 2 minutes; the nearest one
when the clocks disagree) does: the finding gains `cert_*` facts and `issuer_trusted`, and its
action starts with the precise fix ("upload the self-signed certificate CN=… (ECDSA, port 6972)
to the trust store or re-issue it from …").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.analyzers.cert_checks import display
from app.analyzers.certificates import CertificateScan, NodeCertificates, parse_time, verdict
from app.analyzers.pcap_tls import TlsSession
from app.report import Finding

if TYPE_CHECKING:
    from app.analyzers.certinfo import CertInfo  # (cryptography: imported when a chain is read)

CORRELATED = frozenset({"mra-traffic-server-cert-verification", "mra-traffic-server-cert-expired"})
WINDOW = timedelta(minutes=2)
MAX_LISTED_CAS = 3
MAX_CORRELATED = 500
"""Traffic Server findings compared with the captured handshakes, most severe first: each is
compared with every handshake, so a log of thousands of distinct warnings and a capture of
thousands of handshakes would otherwise take hours. The others keep the generic action."""

Verdicts = dict[tuple[int, tuple[str, ...]], tuple[bool | None, str | None]]
KEY_NAMES = {"EC": "ECDSA"}
FIX_PREFIX = "From the packet capture: "


@dataclass(frozen=True, slots=True)
class Match:
    node: NodeCertificates
    session: TlsSession


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _strength(session: TlsSession, names: set[str]) -> int:
    """2: the session's address or SNI is the warning's server; 1: only its certificate names it."""
    if session.server_ip in names or (session.sni or "").lower() in names:
        return 2
    leaf = session.chain[0]
    known = {n.lower() for n in leaf.sans} | {(leaf.common_name or "").lower()}
    return 1 if known & names else 0


def _fits(reason: Any, session: TlsSession, trusted: bool | None, names: set[str]) -> bool:
    leaf = session.chain[0]
    if reason == "self_signed":
        return leaf.self_signed
    if reason == "unknown_ca":
        return not leaf.self_signed and trusted is not True
    if reason == "sni_mismatch":
        return not ({n.lower() for n in leaf.sans} & names)
    return any(c.not_after < session.first_seen for c in session.chain)  # ISO strings, UTC


def _verdict(
    node: NodeCertificates, chain: Sequence[CertInfo], verdicts: Verdicts
) -> tuple[bool | None, str | None]:
    """`verdict` of a chain on a node, checked once per distinct chain (signatures are costly)."""
    key = (id(node), tuple(cert.sha256 for cert in chain))
    if key not in verdicts:
        verdicts[key] = verdict(node, chain)
    return verdicts[key]


def best_session(
    finding: Finding, scan: CertificateScan, verdicts: Verdicts | None = None
) -> Match | None:
    """The handshake this finding is about: same node and server, in the time window, failing."""
    verdicts = {} if verdicts is None else verdicts
    names = {str(finding.facts[k]).lower() for k in ("server", "ip") if finding.facts.get(k)}
    nodes = [n for n in scan.nodes if n.label == finding.node] or scan.nodes
    start = parse_time(finding.first_seen)
    end = parse_time(finding.last_seen) or start
    best: tuple[tuple[Any, ...], Match] | None = None
    for node in nodes:
        for session in node.sessions:
            if not session.chain:
                continue
            strength = _strength(session, names)
            if not strength:
                continue
            when = parse_time(session.first_seen)
            distance = _distance(when, start, end)
            trusted, _ = _verdict(node, session.chain, verdicts)
            failing = any("fatal" in a for a in session.alerts) or trusted is False
            fit = _fits(finding.facts.get("reason"), session, trusted, names)
            score = (distance <= WINDOW, failing, fit, strength, -distance)
            if best is None or score > best[0]:
                best = (score, Match(node, session))
    return best[1] if best else None


def _distance(when: datetime | None, start: datetime | None, end: datetime | None) -> timedelta:
    if when is None or start is None or end is None:
        return timedelta(0)
    if when < start:
        return start - when
    return when - end if when > end else timedelta(0)


def _cn_of(name: str) -> str:
    """The CN value of an RFC 4514 name ("CN=steven-DC-CA,DC=steven" → "steven-DC-CA")."""
    for part in name.split(","):
        if part.strip().upper().startswith("CN="):
            return part.strip()[3:]
    return name


def _trusted_issuers(node: NodeCertificates, server_ip: str) -> list[str]:
    """CAs the node trusts that already issued a certificate seen from this server, or its own."""
    found: list[str] = []
    for session in node.sessions:
        if session.server_ip == server_ip and verdict(node, session.chain)[0]:
            found.append(_cn_of(session.chain[-1].issuer))
    for _, cert in node.own:
        if verdict(node, [cert])[0]:
            found.append(_cn_of(cert.issuer))
    return list(dict.fromkeys(found))


def _ca_hint(node: NodeCertificates, server_ip: str) -> str:
    issuers = _trusted_issuers(node, server_ip)
    if issuers:
        return issuers[0]
    anchors = node.trust_store.anchors if node.trust_store else []
    if 0 < len(anchors) <= MAX_LISTED_CAS:
        names = [_cn_of(a.subject.rfc4514_string()) for a in anchors]
        return "a CA the Expressway trusts (" + ", ".join(names) + ")"
    return "a CA the Expressway trusts"


def _missing_cas(chain: Sequence[CertInfo]) -> list[str]:
    """The CA certificates to upload: the CAs the server sent, then the root it did not send."""
    cas = [f"the intermediate CA {display(c)}" for c in chain[1:] if not c.self_signed]
    roots = [c for c in chain[1:] if c.self_signed]
    if roots:
        cas.append(f"the root CA {display(roots[0])}")
    else:
        cas.append(f"the root CA CN={_cn_of(chain[-1].issuer)}")
    return cas


def precise_fix(finding: Finding, match: Match) -> str:
    """One sentence naming the certificate, the port and what to do."""
    session = match.session
    leaf = session.chain[0]
    name = display(leaf)
    kind = f"{KEY_NAMES.get(leaf.key_type, leaf.key_type)}, port {session.server_port}"
    reason = finding.facts.get("reason")
    server = str(finding.facts.get("server") or session.sni or session.server_ip)
    ca = _ca_hint(match.node, session.server_ip)
    if reason == "sni_mismatch":
        if _is_ip(server):
            return f"add IP {server} to the SAN of {name}, or define the node by FQDN."
        return (
            f"add {server} to the SAN of {name}, or define the node by a name its certificate "
            f"holds ({', '.join(leaf.sans) or 'none'})."
        )
    if finding.signature_id == "mra-traffic-server-cert-expired":
        expired = [c for c in session.chain if c.not_after < session.first_seen] or [leaf]
        return (
            f"renew the expired certificate {display(expired[0])} (valid until "
            f"{expired[0].not_after[:10]}, {kind}) and upload the new one to the server."
        )
    if leaf.self_signed:
        return (
            f"upload the self-signed certificate {name} ({kind}) to the trust store or "
            f"re-issue it from {ca}."
        )
    return (
        f"upload {' and '.join(_missing_cas(session.chain))} to the trust store, or re-issue "
        f"{name} ({kind}) from {ca}."
    )


def enrich(finding: Finding, match: Match) -> None:
    """Add the certificate facts and put the precise fix first in the action."""
    leaf = match.session.chain[0]
    trusted, _ = verdict(match.node, match.session.chain)
    finding.facts.update(
        cert_subject=leaf.subject,
        cert_issuer=leaf.issuer,
        cert_sans=list(leaf.sans),
        cert_self_signed=leaf.self_signed,
        cert_key_type=leaf.key_type,
        cert_not_after=leaf.not_after,
        cert_port=match.session.server_port,
        issuer_trusted=trusted,
        cert_seen=match.session.first_seen,
    )
    finding.action = f"{FIX_PREFIX}{precise_fix(finding, match)}\n\n{finding.action}".strip()


def correlate(findings: Sequence[Finding], scan: CertificateScan) -> int:
    """Enrich the Traffic Server certificate findings a capture explains (the first
    MAX_CORRELATED of them); returns how many."""
    enriched = 0
    tried = 0
    verdicts: Verdicts = {}
    for finding in findings:
        if finding.signature_id in CORRELATED and tried < MAX_CORRELATED:
            tried += 1
            match = best_session(finding, scan, verdicts)
            if match is not None:
                enrich(finding, match)
                enriched += 1
    return enriched
