"""What a certificate scan found, per node: plain records, with no cryptography import.

`app.analyzers.certificates` fills them from captures and PEM files. The checks
(app.analyzers.cert_checks, config_checks) read them, and the signature loader validates
analyzer names against those checks: none of these imports `cryptography`, so an analysis of
plain logs (neither captures nor PEM files: an empty scan) never loads it (~40 ms of
`loupe analyze` start-up).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from app.report import BundleFile, FileKind

if TYPE_CHECKING:
    from app.analyzers.certinfo import CertInfo
    from app.analyzers.pcap_tls import TlsSession
    from app.analyzers.truststore import TrustStore

CERTIFICATE_KINDS = frozenset({FileKind.PCAP, FileKind.PEM})
"""The file kinds the certificate step reads."""


@dataclass(slots=True)
class NodeCertificates:
    """What one node's upload says about certificates."""

    label: str  # the node's hostname, else its upload name (what findings call `node`)
    sessions: list[TlsSession] = field(default_factory=list)
    trust_store: TrustStore | None = None  # None: the upload holds no ca_*.pem
    own: list[tuple[str, CertInfo]] = field(default_factory=list)  # (file, cert) of server_*.pem
    reference: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(slots=True)
class CertificateScan:
    nodes: list[NodeCertificates]
    warnings: list[str]


def parse_time(value: str | None) -> datetime | None:
    """An aware datetime from an ISO 8601 string ('Z' or an offset); None when absent or bad."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def holds_certificates(files: Iterable[BundleFile]) -> bool:
    """Whether any of `files` is a capture or a PEM file (else the certificate step finds none)."""
    return any(file.kind in CERTIFICATE_KINDS for file in files)
