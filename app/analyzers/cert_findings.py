"""The certificate step of an analysis: captures and PEMs → certificate list, findings, warnings.

`apply_certificates(report, signatures)` is the one call the pipeline makes after the signature
engine: it reads the report's PCAP and PEM files per node, fills `report.certificates`, adds the
findings of the analyzer signatures (`match: {analyzer: …}`), gives the Traffic Server
certificate findings the certificate facts and the precise fix, and adds what could not be read
to `report.warnings`. `check_analyzer_example` runs an analyzer signature's inline example.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from app.analyzers.cert_checks import CHECKS, CertIssue
from app.analyzers.cert_correlate import correlate
from app.analyzers.certificates import (
    CertificateScan,
    certificate_entries,
    scan_files,
    scan_paths,
    server_certificate_entries,
)
from app.report import Finding, Report, sort_findings
from app.signatures.model import Signature
from app.signatures.render import render_finding

CERTIFICATE_SOURCES = ("pem", "pcap")
"""`match.source` of the certificate analyzer signatures (the others are configuration checks)."""


def _render(
    signature: Signature, issue: CertIssue, count: int, seen: tuple[str, str] | None
) -> Finding:
    return render_finding(
        signature,
        issue.facts,
        node=issue.node,
        count=count,
        first_seen=seen[0] if seen else None,
        last_seen=seen[1] if seen else None,
    )


def analyzer_findings(signature: Signature, scan: CertificateScan) -> list[Finding]:
    """The findings of one analyzer signature: one per node and distinct facts, with a count.

    Each keeps its first and last sighting only, however many sessions showed it (bounded).
    """
    check = CHECKS[signature.analyzer or ""]
    groups: dict[tuple[str, str], CertIssue] = {}
    counts: dict[tuple[str, str], int] = {}
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for issue in check(scan):
        key = (issue.node, json.dumps(issue.facts, sort_keys=True, default=str))
        groups.setdefault(key, issue)
        counts[key] = counts.get(key, 0) + 1
        if issue.seen:
            first, last = seen.get(key, (issue.seen, issue.seen))
            seen[key] = (min(first, issue.seen), max(last, issue.seen))
    return [_render(signature, issue, counts[key], seen.get(key)) for key, issue in groups.items()]


def apply_certificates(
    report: Report, signatures: Sequence[Signature], *, now: datetime | None = None
) -> CertificateScan:
    """Run the certificate step over the report's files (see the module docstring).

    Returns the scan (the configuration checks compare names with the certificates it holds).
    """
    nodes = {node.bundle: node for node in report.nodes}
    scan = scan_files(report.files, nodes, now=now)
    if not scan.nodes:
        return scan
    report.warnings.extend(scan.warnings)
    report.certificates = certificate_entries(scan)
    report.server_certificates = server_certificate_entries(scan)
    correlate(report.findings, scan)
    for signature in signatures:
        if signature.analyzer is not None and signature.source in CERTIFICATE_SOURCES:
            report.findings.extend(analyzer_findings(signature, scan))
    sort_findings(report)
    return scan


def check_analyzer_example(signature: Signature, fixtures: Sequence[Path]) -> list[dict[str, Any]]:
    """The facts an analyzer signature finds in fixture files (one node, reference time now).

    A configuration signature (`source: xconf`) runs app.analyzers.config_findings instead.
    """
    if signature.source not in CERTIFICATE_SOURCES:
        from app.analyzers.config_findings import check_config_example

        return check_config_example(signature, fixtures)
    scan = scan_paths(fixtures)
    return [finding.facts for finding in analyzer_findings(signature, scan)]
