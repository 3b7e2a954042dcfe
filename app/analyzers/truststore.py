"""Read the Expressway's PEM files and decide whether a presented chain reaches a trusted CA.

`ca_<host>_<ts>.pem` is the trusted CA list, `server_<host>_<ts>.pem` the node's own server
certificate. Path building follows issuer/subject names (and AKI/SKI when both are present) and
checks every signature with `cryptography`; the reason strings are written for people.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from app.analyzers.certinfo import CertInfo, describe, signed_by, unreadable, unusable_key
from app.bundle.stored import open_stored

MAX_DEPTH = 10
BEGIN_MARKER = b"-----BEGIN CERTIFICATE-----"
END_MARKER = b"-----END CERTIFICATE-----"
MAX_PEM_FILE_BYTES = 16 * 2**20
"""A PEM file is read up to here (a full public CA bundle is about 250 KB)."""
MAX_BLOCK_BYTES = 64 * 1024
"""A certificate block longer than this (a real one is 1 to 10 KB) is skipped with a warning."""
MAX_CERTIFICATES = 1000
"""Blocks read from one file; the rest is skipped with a warning."""
MAX_BLOCK_WARNINGS = 5
"""Bad blocks named one by one; further ones are counted in one more warning."""


@dataclass(slots=True)
class PemBundle:
    """Certificates read from PEM text, plus what could not be read."""

    certificates: list[x509.Certificate] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # numbers (from 1) of the blocks left out


def pem_blocks(data: bytes) -> tuple[list[bytes | None], int]:
    """The bodies between BEGIN and END CERTIFICATE markers, and how many BEGINs have no END.

    A body longer than MAX_BLOCK_BYTES is None. Plain scanning with `bytes.find`, each byte of
    `data` looked at a bounded number of times: linear whatever the file holds (a regex over
    thousands of BEGIN markers without an END was quadratic). At most MAX_CERTIFICATES + 1
    blocks are returned, so the caller can tell there were more.
    """
    blocks: list[bytes | None] = []
    unterminated = 0
    pos = 0
    end = -1  # the first END marker at or after the current body, once looked for
    while len(blocks) <= MAX_CERTIFICATES:
        begin = data.find(BEGIN_MARKER, pos)
        if begin == -1:
            break
        body = begin + len(BEGIN_MARKER)
        if end < body:
            end = data.find(END_MARKER, body)
        if end == -1:  # no END after this BEGIN, so none after any later BEGIN either
            unterminated += data.count(BEGIN_MARKER, begin)
            break
        restart = data.find(BEGIN_MARKER, body, end)
        if restart != -1:  # another BEGIN before the END: this block was cut short
            unterminated += 1
            pos = restart
            continue
        blocks.append(data[body:end] if end - body <= MAX_BLOCK_BYTES else None)
        pos = end + len(END_MARKER)
    return blocks, unterminated


def load_pem_bundle(data: bytes, source: str, *, cut: bool = False) -> PemBundle:
    """All certificates in `data`; junk between blocks is ignored, bad blocks become warnings.

    `cut`: `data` is only the start of the file (see MAX_PEM_FILE_BYTES).
    """
    bundle = PemBundle()
    blocks, unterminated = pem_blocks(data)
    bad: list[str] = []
    odd_keys: list[str] = []
    for number, body in enumerate(blocks[:MAX_CERTIFICATES], start=1):
        if body is None:
            bad.append(f"certificate block {number} is larger than {MAX_BLOCK_BYTES // 1024} KiB")
            bundle.skipped.append(number)
            continue
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
            cert = x509.load_der_x509_certificate(der)
        except (binascii.Error, ValueError) as err:
            bad.append(f"certificate block {number} is not valid ({err})")
            bundle.skipped.append(number)
            continue
        problem = unreadable(cert)
        if problem is not None:
            bad.append(
                f"certificate {number} ({describe(cert)}) cannot be read and was skipped "
                f"({problem})"
            )
            bundle.skipped.append(number)
            continue
        bundle.certificates.append(cert)
        key_problem = unusable_key(cert)
        if key_problem is not None:
            odd_keys.append(
                f"certificate {number} ({describe(cert)}) has a public key logloupe cannot use "
                f"({key_problem}): signatures made with it are not checked"
            )
    bundle.warnings.extend(f"{source}: {problem}" for problem in bad[:MAX_BLOCK_WARNINGS])
    if len(bad) > MAX_BLOCK_WARNINGS:
        bundle.warnings.append(
            f"{source}: {len(bad) - MAX_BLOCK_WARNINGS} more certificate blocks could not be read"
        )
    bundle.warnings.extend(f"{source}: {note}" for note in odd_keys[:MAX_BLOCK_WARNINGS])
    if len(odd_keys) > MAX_BLOCK_WARNINGS:
        bundle.warnings.append(
            f"{source}: {len(odd_keys) - MAX_BLOCK_WARNINGS} more certificates have a public key "
            "logloupe cannot use"
        )
    if unterminated:
        bundle.warnings.append(
            f"{source}: {unterminated} certificate block(s) start with BEGIN CERTIFICATE but "
            "have no END CERTIFICATE line; they were skipped"
        )
    if len(blocks) > MAX_CERTIFICATES:
        bundle.warnings.append(
            f"{source}: holds more than {MAX_CERTIFICATES} certificate blocks; only the first "
            f"{MAX_CERTIFICATES} were read"
        )
    if cut:
        bundle.warnings.append(
            f"{source}: larger than {MAX_PEM_FILE_BYTES // 2**20} MiB; only its start was read"
        )
    if not bundle.certificates and not bundle.warnings:
        bundle.warnings.append(f"{source}: no PEM certificate found")
    return bundle


def load_pem_file(path: Path) -> PemBundle:
    """`load_pem_bundle` over the file's first MAX_PEM_FILE_BYTES."""
    try:
        with open_stored(path) as handle:
            data = handle.read(MAX_PEM_FILE_BYTES + 1)
    except OSError as err:
        return PemBundle(warnings=[f"{path.name}: cannot read: {err.strerror or err}"])
    cut = len(data) > MAX_PEM_FILE_BYTES
    return load_pem_bundle(data[:MAX_PEM_FILE_BYTES], path.name, cut=cut)


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
