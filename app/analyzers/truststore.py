"""Read the Expressway's PEM files and decide whether a presented chain reaches a trusted CA.

`ca_<host>_<ts>.pem` is the trusted CA list, `server_<host>_<ts>.pem` the node's own server
certificate. Path building follows issuer/subject names (and AKI/SKI when both are present) and
checks every signature with `cryptography`; the reason strings are written for people.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from app.analyzers.certinfo import CertInfo, describe, signed_by, unreadable, unusable_key

MAX_DEPTH = 10
_PEM_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.DOTALL
)


@dataclass(slots=True)
class PemBundle:
    """Certificates read from PEM text, plus what could not be read."""

    certificates: list[x509.Certificate] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # numbers (from 1) of the blocks left out


def load_pem_bundle(data: bytes, source: str) -> PemBundle:
    """All certificates in `data`; junk between blocks is ignored, bad blocks become warnings."""
    bundle = PemBundle()
    for number, match in enumerate(_PEM_BLOCK.finditer(data), start=1):
        try:
            der = base64.b64decode(b"".join(match.group(1).split()), validate=True)
            cert = x509.load_der_x509_certificate(der)
        except (binascii.Error, ValueError) as err:
            bundle.warnings.append(f"{source}: certificate block {number} is not valid ({err})")
            bundle.skipped.append(number)
            continue
        problem = unreadable(cert)
        if problem is not None:
            bundle.warnings.append(
                f"{source}: certificate {number} ({describe(cert)}) cannot be read and was "
                f"skipped ({problem})"
            )
            bundle.skipped.append(number)
            continue
        bundle.certificates.append(cert)
        key_problem = unusable_key(cert)
        if key_problem is not None:
            bundle.warnings.append(
                f"{source}: certificate {number} ({describe(cert)}) has a public key "
                f"logloupe cannot use ({key_problem}): signatures made with it are not checked"
            )
    if not bundle.certificates and not bundle.warnings:
        bundle.warnings.append(f"{source}: no PEM certificate found")
    return bundle


def load_pem_file(path: Path) -> PemBundle:
    try:
        return load_pem_bundle(path.read_bytes(), path.name)
    except OSError as err:
        return PemBundle(warnings=[f"{path.name}: cannot read: {err.strerror or err}"])


def display_name(name: x509.Name) -> str:
    """Return "CN=<cn>" when the name has a common name, else the full RFC 4514 string."""
    cns = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"CN={cns[0].value!s}" if cns else name.rfc4514_string()


def _to_x509(cert: x509.Certificate | CertInfo) -> x509.Certificate:
    return cert.certificate() if isinstance(cert, CertInfo) else cert


def _key_id(cert: x509.Certificate, ext_type: type[x509.ExtensionType]) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_class(ext_type).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    if isinstance(value, x509.SubjectKeyIdentifier):
        return value.digest
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return value.key_identifier
    return None


def _may_have_issued(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    if issuer.subject != cert.issuer:
        return False
    aki = _key_id(cert, x509.AuthorityKeyIdentifier)
    ski = _key_id(issuer, x509.SubjectKeyIdentifier)
    return aki is None or ski is None or aki == ski


def _fingerprint(cert: x509.Certificate) -> bytes:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).digest()


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject and signed_by(cert, cert)


class TrustStore:
    """The trusted CA certificates of one node."""

    def __init__(self, anchors: Iterable[x509.Certificate], warnings: Iterable[str] = ()) -> None:
        self.anchors = list(anchors)
        self.warnings = list(warnings)
        self._pinned = {_fingerprint(c) for c in self.anchors}

    @classmethod
    def from_pem_files(cls, paths: Iterable[Path]) -> TrustStore:
        anchors: list[x509.Certificate] = []
        warnings: list[str] = []
        for path in paths:
            bundle = load_pem_file(path)
            anchors += bundle.certificates
            warnings += bundle.warnings
        return cls(anchors, warnings)

    def verify_chain(
        self, chain: Sequence[x509.Certificate | CertInfo], at: datetime | None = None
    ) -> tuple[bool, str]:
        """(trusted?, reason) for a chain as presented (leaf first). `at` also checks dates."""
        if not chain:
            return False, "no certificate was presented"
        presented = [_to_x509(c) for c in chain]
        leaf = presented[0]
        if at is not None:
            for cert in presented:
                if cert.not_valid_after_utc < at or cert.not_valid_before_utc > at:
                    return False, (
                        f"certificate {display_name(cert.subject)} is not valid at "
                        f"{at:%Y-%m-%d} (valid {cert.not_valid_before_utc:%Y-%m-%d} to "
                        f"{cert.not_valid_after_utc:%Y-%m-%d})"
                    )
        current = leaf
        for depth in range(MAX_DEPTH):
            if _fingerprint(current) in self._pinned:
                return True, f"{display_name(current.subject)} is in the trust store"
            named = [a for a in self.anchors if _may_have_issued(a, current)]
            if any(signed_by(current, anchor) for anchor in named):
                return True, f"issued by trusted CA {display_name(current.issuer)}"
            parent = next(
                (
                    c
                    for c in presented[1:]
                    if c is not current and _may_have_issued(c, current) and signed_by(current, c)
                ),
                None,
            )
            if parent is None or _self_signed(current):
                return False, self._untrusted_reason(current, depth, named)
            current = parent
        return False, f"chain is longer than {MAX_DEPTH} certificates"

    @staticmethod
    def _untrusted_reason(cert: x509.Certificate, depth: int, named: list[x509.Certificate]) -> str:
        issuer = display_name(cert.issuer)
        if named:
            return (
                f"issuer {issuer} is in the trust store but its key does not match the "
                f"signature of {display_name(cert.subject)} (a different CA with the same name)"
            )
        if _self_signed(cert):
            kind = "self-signed certificate" if depth == 0 else "root CA"
            return f"{kind} {display_name(cert.subject)} is not in the trust store"
        return f"issuer {issuer} is not in the trust store"


def expiring(cert: x509.Certificate | CertInfo, now: datetime, days: int = 30) -> bool:
    """True when the certificate has expired or expires within `days` of `now` (aware UTC)."""
    return _to_x509(cert).not_valid_after_utc <= now + timedelta(days=days)


def san_length(cert: x509.Certificate | CertInfo) -> int:
    """Characters of the SAN field as OpenSSL prints it ("DNS:a, DNS:b, IP Address:10.0.0.1").

    Expressway ignores SAN fields longer than 999 characters (TAC doc 213872).
    """
    x = _to_x509(cert)
    try:
        ext = x.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return 0
    parts = [f"DNS:{v}" for v in ext.get_values_for_type(x509.DNSName)]
    parts += [f"IP Address:{v}" for v in ext.get_values_for_type(x509.IPAddress)]
    parts += [f"URI:{v}" for v in ext.get_values_for_type(x509.UniformResourceIdentifier)]
    parts += [f"email:{v}" for v in ext.get_values_for_type(x509.RFC822Name)]
    return len(", ".join(parts))
