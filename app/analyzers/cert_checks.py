"""The certificate problems logloupe finds by reading certificates rather than log lines.

Each check takes a CertificateScan and returns `CertIssue`s (node + facts); the signature files
with `match: {analyzer: <name>}` give them their texts (app/analyzers/cert_findings.py).
Certificates are looked at where they are used: the chains servers presented in the captures,
the client certificates sent on request, and the node's own `server_*.pem`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from app.analyzers.cert_scan import CertificateScan, NodeCertificates, parse_time

if TYPE_CHECKING:
    from app.analyzers.certinfo import CertInfo

EXPIRY_WARNING_DAYS = 30
MAX_SAN_CHARS = 999  # Expressway ignores longer SAN fields (TAC doc 213872)
SIP_TLS_PORT = 5061  # UCM presents its CallManager certificate here and as a client to Expressway


@dataclass(frozen=True, slots=True)
class CertIssue:
    """One problem with one certificate (or pair of certificates) on one node."""

    node: str
    facts: dict[str, Any]
    seen: str | None = None  # ISO 8601: when the capture showed it; None for PEM files


@dataclass(frozen=True, slots=True)
class _Use:
    """A certificate and where it was seen."""

    cert: CertInfo
    where: str  # "10.48.36.215:6972" or the PEM file name
    seen: str | None
    leaf: bool


def _uses(node: NodeCertificates) -> Iterator[_Use]:
    """Each certificate once per place: own PEM certificates, then the captured server chains."""
    done: set[tuple[str, str]] = set()
    for name, cert in node.own:
        done.add((cert.sha256, name))
        yield _Use(cert, name, None, True)
    for session in node.sessions:
        where = f"{session.server_ip}:{session.server_port}"
        for depth, cert in enumerate(session.chain):
            if (cert.sha256, where) not in done:
                done.add((cert.sha256, where))
                yield _Use(cert, where, session.first_seen, depth == 0)


def display(cert: CertInfo) -> str:
    return f"CN={cert.common_name}" if cert.common_name else cert.subject


def expiry(scan: CertificateScan) -> list[CertIssue]:
    """Certificates expired, or expiring within 30 days, at the node's reference time."""
    issues = []
    for node in scan.nodes:
        for use in _uses(node):
            not_after = parse_time(use.cert.not_after)
            if not_after is None:
                continue
            days_left = int((not_after - node.reference) / timedelta(days=1))  # toward 0
            if not_after > node.reference + timedelta(days=EXPIRY_WARNING_DAYS):
                continue
            facts = {
                "subject": use.cert.subject,
                "certificate": display(use.cert),
                "state": "expired" if not_after <= node.reference else "expiring",
                "not_after": use.cert.not_after,
                "days_left": days_left,
                "where": use.where,
                "role": "server" if use.leaf else "CA",
            }
            issues.append(CertIssue(node.label, facts, use.seen))
    return issues


def san_too_long(scan: CertificateScan) -> list[CertIssue]:
    """Server certificates whose SAN field is longer than Expressway reads (999 characters).
    `cryptography` is imported only for a server certificate to measure (a scan of captures
    without one, TLS 1.3 or no TLS at all, costs no import: 25-35 ms of one core)."""
    issues = []
    for node in scan.nodes:
        for use in _uses(node):
            if not use.leaf:
                continue
            from app.analyzers.truststore import san_length  # (cryptography, imported once)

            length = san_length(use.cert)
            if length > MAX_SAN_CHARS:
                facts = {
                    "subject": use.cert.subject,
                    "certificate": display(use.cert),
                    "san_length": length,
                    "san_entries": len(use.cert.sans),
                    "where": use.where,
                }
                issues.append(CertIssue(node.label, facts, use.seen))
    return issues


def _issuer_label(cert: CertInfo) -> str:
    return "self-signed" if cert.self_signed else cert.issuer


def ecdsa_rsa_different_ca(scan: CertificateScan) -> list[CertIssue]:
    """One server presenting an RSA certificate on one port and an EC one from another issuer."""
    issues = []
    for node in scan.nodes:
        leaves: dict[str, dict[str, tuple[int, CertInfo, str]]] = {}
        for session in node.sessions:
            if session.chain and session.chain[0].key_type in ("RSA", "EC"):
                leaf = session.chain[0]
                kinds = leaves.setdefault(session.server_ip, {})
                kinds.setdefault(leaf.key_type, (session.server_port, leaf, session.first_seen))
        for server, kinds in leaves.items():
            if "RSA" not in kinds or "EC" not in kinds:
                continue
            (rsa_port, rsa, _), (ec_port, ec, seen) = kinds["RSA"], kinds["EC"]
            if rsa.issuer == ec.issuer and not (rsa.self_signed or ec.self_signed):
                continue
            facts = {
                "server": server,
                "rsa_port": rsa_port,
                "rsa_subject": rsa.subject,
                "rsa_issuer": _issuer_label(rsa),
                "ec_port": ec_port,
                "ec_subject": ec.subject,
                "ec_issuer": _issuer_label(ec),
                "ec_self_signed": ec.self_signed,
            }
            issues.append(CertIssue(node.label, facts, seen))
    return issues


def _lacks_client_auth(cert: CertInfo) -> bool:
    """An EKU extension without clientAuth (no EKU at all allows every use)."""
    return bool(cert.eku) and "clientAuth" not in cert.eku


def missing_client_auth(scan: CertificateScan) -> list[CertIssue]:
    """Certificates used (or needed) as TLS client certificates without the clientAuth EKU.

    The node's own certificate (the Expressway is a TLS client to UCM and to its traversal
    peer), client certificates sent on a CertificateRequest, and the certificates UCM presents
    on SIP TLS port 5061 (UCM sends the same CallManager certificate when it connects).
    """
    issues: list[CertIssue] = []
    for node in scan.nodes:
        found: dict[str, CertIssue] = {}
        for name, cert in node.own:
            if _lacks_client_auth(cert):
                found.setdefault(cert.sha256, _eku_issue(node, cert, name, "expressway", None))
        for session in node.sessions:
            client = session.client_chain[0] if session.client_chain else None
            if session.client_cert_requested and client and _lacks_client_auth(client):
                where = f"{session.client_ip} → {session.server_ip}:{session.server_port}"
                issue = _eku_issue(node, client, where, "client", session.first_seen)
                found.setdefault(client.sha256, issue)
            leaf = session.chain[0] if session.chain else None
            if session.server_port == SIP_TLS_PORT and leaf and _lacks_client_auth(leaf):
                where = f"{session.server_ip}:{session.server_port}"
                issue = _eku_issue(node, leaf, where, "sip-server", session.first_seen)
                found.setdefault(leaf.sha256, issue)
        issues.extend(found.values())
    return issues


def _eku_issue(
    node: NodeCertificates, cert: CertInfo, where: str, role: str, seen: str | None
) -> CertIssue:
    facts = {
        "subject": cert.subject,
        "certificate": display(cert),
        "eku": ", ".join(cert.eku),
        "role": role,
        "where": where,
    }
    return CertIssue(node.label, facts, seen)


CHECKS: dict[str, Callable[[CertificateScan], list[CertIssue]]] = {
    "certificate-expiry": expiry,
    "san-length": san_too_long,
    "ecdsa-rsa-issuers": ecdsa_rsa_different_ca,
    "client-auth-eku": missing_client_auth,
}
"""Analyzer name (a signature's `match.analyzer`) → the check it runs."""
