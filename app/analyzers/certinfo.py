"""Turn one DER certificate into the plain facts logloupe shows (CertInfo), cached by SHA-256."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
}
_CACHE_LIMIT = 4096
_cache: dict[bytes, CertInfo] = {}


@dataclass(slots=True)
class CertInfo:
    """What a certificate says, in display-ready strings (dates are ISO 8601 UTC)."""

    subject: str  # RFC 4514
    issuer: str
    sans: list[str]  # DNS names and IP addresses
    self_signed: bool  # issuer == subject AND the signature verifies with its own key
    key_type: str  # "RSA" | "EC" | "DSA" | "Ed25519" | "Ed448" | "unknown"
    key_bits: int
    signature_algorithm: str
    not_before: str
    not_after: str
    serial: str  # hex
    sha256: str  # hex of the DER
    is_ca: bool
    eku: list[str]
    common_name: str | None
    der: bytes = field(default=b"", repr=False, compare=False)

    def certificate(self) -> x509.Certificate:
        """The parsed certificate again (for signature checks)."""
        return x509.load_der_x509_certificate(self.der)

    def display(self) -> dict[str, Any]:
        """The fields the API and the Certificates page show for one certificate."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": list(self.sans),
            "self_signed": self.self_signed,
            "key_type": self.key_type,
            "key_bits": self.key_bits,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "sha256": self.sha256,
        }


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_facts(cert: x509.Certificate) -> tuple[str, int]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):  # unsupported curve or algorithm
        return "unknown", 0
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return "unknown", 0


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [str(v) for v in ext.get_values_for_type(x509.DNSName)] + [
        str(v) for v in ext.get_values_for_type(x509.IPAddress)
    ]


def _eku(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [_EKU_NAMES.get(oid, oid.dotted_string) for oid in ext]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when `issuer`'s key verifies `cert`'s signature (names must chain too)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, unsupported algorithm or key type
        return False
    return True


def _common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


def unreadable(cert: x509.Certificate) -> str | None:
    """Why logloupe cannot use this certificate (a name, a date or an extension it cannot
    decode), or None. Parsing is lazy: a certificate that loads may still fail on first use.
    An unknown public key algorithm is not a reason: the key type is shown as "unknown"."""
    try:
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        _ = cert.not_valid_before_utc, cert.not_valid_after_utc, cert.serial_number
        _ = cert.signature_algorithm_oid
        for extension in cert.extensions:
            _ = extension.value
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        return str(err) or type(err).__name__
    return None


def unusable_key(cert: x509.Certificate) -> str | None:
    """Why the certificate's public key cannot be used (unknown algorithm or curve), or None."""
    try:
        cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        return str(err) or type(err).__name__
    return None


def describe(cert: x509.Certificate) -> str:
    """A name for a certificate that may be partly unreadable: its CN, else its serial."""
    try:
        name = _common_name(cert.subject)
    except (ValueError, TypeError, UnicodeError):
        name = None
    if name:
        return f"CN={name}"
    try:
        return f"serial {cert.serial_number:x}"
    except (ValueError, TypeError):
        return "unnamed"


def parse_der(der: bytes) -> CertInfo:
    """Parse a DER certificate; raises ValueError when it is not one or logloupe cannot read
    it (`unreadable`). Results are cached."""
    digest = hashlib.sha256(der).digest()
    cached = _cache.get(digest)
    if cached is not None:
        return cached
    cert = x509.load_der_x509_certificate(der)
    problem = unreadable(cert)
    if problem is not None:
        raise ValueError(f"{describe(cert)}: {problem}")
    key_type, key_bits = _key_facts(cert)
    sig_oid = cert.signature_algorithm_oid
    info = CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=_sans(cert),
        self_signed=cert.issuer == cert.subject and signed_by(cert, cert),
        key_type=key_type,
        key_bits=key_bits,
        signature_algorithm=getattr(sig_oid, "_name", sig_oid.dotted_string),
        not_before=_iso(cert.not_valid_before_utc),
        not_after=_iso(cert.not_valid_after_utc),
        serial=format(cert.serial_number, "x"),
        sha256=digest.hex(),
        is_ca=_is_ca(cert),
        eku=_eku(cert),
        common_name=_common_name(cert.subject),
        der=der,
    )
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[digest] = info
    return info
