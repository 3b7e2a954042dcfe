"""Read every capture and PEM file of an analysis, per node, into the certificates logloupe shows.

`scan_files` turns a bundle's PCAP and PEM files into one `NodeCertificates` per node (TLS
sessions, trust store from `ca_*.pem`, own certificate from `server_*.pem`, a reference time);
`certificate_entries` lists every chain seen, grouped by server and port, with the trust verdict
(the JSON of `GET /api/v1/analyses/{id}/certificates`); `server_certificate_entries` the nodes'
own certificates. Nothing here raises on bad content: what
could not be read becomes a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from app.analyzers.cert_scan import CertificateScan as CertificateScan
from app.analyzers.cert_scan import NodeCertificates as NodeCertificates
from app.analyzers.cert_scan import parse_time as parse_time
from app.analyzers.pcap_tls import analyze_pcap, summarize
from app.report import BundleFile, FileKind, NodeInfo

if TYPE_CHECKING:  # (cryptography is imported when a certificate is read: see _info)
    from app.analyzers.certinfo import CertInfo

_PEM_STAMP = re.compile(r"_(\d{4}-\d{2}-\d{2})_(\d{2})_(\d{2})_(\d{2})\.pem$")


def _info(cert: Any) -> CertInfo:
    from cryptography.hazmat.primitives.serialization import Encoding

    from app.analyzers.certinfo import parse_der

    return parse_der(cert.public_bytes(Encoding.DER))


def _stamp_of(name: str) -> datetime | None:
    """The collection time in an Expressway PEM name (`server_<host>_2022-07-11_16_55_44.pem`)."""
    found = _PEM_STAMP.search(name)
    if found is None:
        return None
    return parse_time(f"{found[1]}T{found[2]}:{found[3]}:{found[4]}+00:00")


def _capture(node: NodeCertificates, path: Path, name: str, warnings: list[str]) -> None:
    try:
        result = analyze_pcap(path)
    except Exception as exc:  # a capture must never fail the analysis
        warnings.append(f"{name}: the capture could not be analysed ({type(exc).__name__})")
        return
    node.sessions.extend(result.sessions)
    for warning in result.warnings:
        warnings.append(f"{name}: {warning.removeprefix(f'{path.name}: ')}")


def _pems(
    node: NodeCertificates, files: Sequence[BundleFile], warnings: list[str]
) -> list[datetime]:
    """Trust store and own certificates of the node; returns the collection times in the names."""
    if not files:
        return []
    from app.analyzers.truststore import TrustStore, load_pem_file  # (cryptography)

    anchors = []
    stamps = []
    has_store = False
    for file in files:
        base = PurePosixPath(file.name).name
        stamp = _stamp_of(base)
        if stamp is not None:
            stamps.append(stamp)
        bundle = load_pem_file(file.path)
        warnings.extend(
            f"{file.name}: {w.removeprefix(f'{file.path.name}: ')}" for w in bundle.warnings
        )
        if base.startswith("ca_"):
            has_store = True
            anchors.extend(bundle.certificates)
        elif base.startswith("server_") and bundle.certificates and 1 not in bundle.skipped:
            node.own.append((file.name, _info(bundle.certificates[0])))  # the first is the leaf
    if has_store:
        node.trust_store = TrustStore(anchors)
    return stamps


def scan_files(
    files: Sequence[BundleFile],
    nodes: Mapping[str, NodeInfo],
    *,
    now: datetime | None = None,
) -> CertificateScan:
    """Every PCAP and PEM file of `files`, per node (`nodes` maps BundleFile.bundle → NodeInfo).

    A node's reference time, used to tell expired certificates, is the last TLS handshake of its
    captures, else the collection time in its PEM file names, else `now`.
    """
    now = now or datetime.now(UTC)
    warnings: list[str] = []
    by_bundle: dict[str, list[BundleFile]] = {}
    for file in files:
        if file.kind in (FileKind.PCAP, FileKind.PEM):
            by_bundle.setdefault(file.bundle, []).append(file)
    result: list[NodeCertificates] = []
    for bundle, own_files in by_bundle.items():
        info = nodes.get(bundle)
        node = NodeCertificates(label=(info.hostname if info and info.hostname else bundle))
        for file in own_files:
            if file.kind == FileKind.PCAP:
                _capture(node, file.path, file.name, warnings)
        stamps = _pems(node, [f for f in own_files if f.kind == FileKind.PEM], warnings)
        seen = [parse_time(s.first_seen) for s in node.sessions]
        times = [t for t in seen if t is not None]
        node.reference = max(times) if times else max(stamps) if stamps else now
        result.append(node)
    return CertificateScan(result, warnings)


def scan_paths(paths: Iterable[Path], *, now: datetime | None = None) -> CertificateScan:
    """One node made of loose capture and PEM files (signature examples, ad-hoc checks)."""
    files = []
    for path in paths:
        kind = FileKind.PEM if path.suffix == ".pem" else FileKind.PCAP
        files.append(BundleFile(path, path.name, path.stat().st_size, kind, "example"))
    return scan_files(files, {}, now=now)


def verdict(node: NodeCertificates, chain: Sequence[CertInfo]) -> tuple[bool | None, str | None]:
    """(trusted?, why) of a presented chain against the node's trust store; (None, None) without."""
    if node.trust_store is None or not chain:
        return None, None
    return node.trust_store.verify_chain(list(chain))


def certificate_entries(scan: CertificateScan) -> list[dict[str, Any]]:
    """Every chain seen, one entry per node, server, port, SNI, chain and alerts, with a count."""
    entries: list[dict[str, Any]] = []
    for node in scan.nodes:
        chains = {tuple(c.sha256 for c in s.chain): s for s in node.sessions}
        for entry in summarize(node.sessions, node.trust_store):
            session = chains[tuple(c["sha256"] for c in entry["chain"])]
            trusted, reason = verdict(node, session.chain)
            note = next(
                (
                    s.note
                    for s in node.sessions
                    if s.note
                    and (s.server_ip, s.server_port) == (entry["server_ip"], entry["port"])
                    and not s.chain
                    and not entry["chain"]
                ),
                None,
            )
            entries.append(
                {
                    "node": node.label,
                    **entry,
                    "trusted": trusted,
                    "trust_reason": reason,
                    "note": note,
                }
            )
    entries.sort(key=lambda e: (e["node"], e["server_ip"], e["port"], e["first_seen"]))
    return entries


def server_certificate_entries(scan: CertificateScan) -> list[dict[str, Any]]:
    """Each node's own server certificate (`server_*.pem`), with its verdict against the node's
    trust store (the JSON of `GET /api/v1/analyses/{id}/server-certificates`)."""
    entries = []
    for node in scan.nodes:
        for file, cert in node.own:
            trusted, reason = verdict(node, [cert])
            entries.append(
                {
                    "node": node.label,
                    "file": file,
                    **cert.display(),
                    "trusted": trusted,
                    "trust_reason": reason,
                }
            )
    entries.sort(key=lambda e: (e["node"], e["file"]))
    return entries
