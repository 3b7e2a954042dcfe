"""The configuration step of an analysis: xconf dumps → findings, and what could not be checked.

`apply_configuration(report, signatures, certificates)` reads every node's xconf dumps once
(text and XML, app/analyzers/xconf.py), runs the checks of the signatures with `match: {source:
xconf, analyzer: …}` (app/analyzers/config_checks.py) and adds their findings; each finding's
snippets are the xconf lines that show the configured value, so the log viewer opens there.
It returns, per signature id, a `ConfigCoverage`: what the check looked at, or why it could not
look (coverage then says skipped, never a green pass). `check_config_example` runs an inline
example of such a signature over its fixture files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.analyzers.cert_scan import CertificateScan
from app.analyzers.config_checks import CHECKS, ConfigIssue
from app.analyzers.xconf import ConfigScan, scan_config, scan_config_paths
from app.report import Finding, NodeInfo, Report, Snippet, sort_findings
from app.signatures.applicability import applicability
from app.signatures.model import Signature
from app.signatures.render import render_finding

CONFIG_SOURCE = "xconf"
MAX_SNIPPETS = 8
"""xconf lines kept as evidence of one finding."""
MAX_REASONS = 3
"""Sentences of what could not be checked kept per signature."""


@dataclass(frozen=True, slots=True)
class ConfigCoverage:
    """What one configuration check did on this upload.

    `skipped` holds the reason when it could check nothing (while its input, an xconf dump, was
    there); `note` says what it looked at or what it could not check.
    """

    skipped: str | None = None
    note: str | None = None


def is_config_signature(signature: Signature) -> bool:
    return signature.analyzer is not None and signature.source == CONFIG_SOURCE


def config_findings(
    signature: Signature,
    config: ConfigScan,
    certs: CertificateScan,
    nodes: Mapping[str, NodeInfo] | None = None,
) -> tuple[list[Finding], ConfigCoverage]:
    """The findings of one configuration signature: one per node and distinct facts.

    `nodes` (node label → NodeInfo) qualify each finding as the line engine does: `applies`
    facts and a sentence in the condition when the node's product or version is not the one
    the signature is documented for (app.signatures.applicability), never hiding it.
    """
    result = CHECKS[signature.analyzer or ""](config, certs)
    groups: dict[tuple[str, str], ConfigIssue] = {}
    snippets: dict[tuple[str, str], dict[tuple[str, int], Snippet]] = {}
    for issue in result.issues:
        key = (issue.node, json.dumps(issue.facts, sort_keys=True, default=str))
        groups.setdefault(key, issue)
        kept = snippets.setdefault(key, {})
        for snippet in issue.snippets:
            if len(kept) < MAX_SNIPPETS:
                kept.setdefault((snippet.file, snippet.line), snippet)
    findings = []
    for key, issue in groups.items():
        fit = applicability(signature, (nodes or {}).get(issue.node))
        findings.append(
            render_finding(
                signature,
                {**issue.facts, **fit.facts()},
                node=issue.node,
                count=1,
                first_seen=None,
                last_seen=None,
                snippets=[snippets[key][where] for where in sorted(snippets[key])],
                condition_note=fit.note,
            )
        )
    reasons = list(dict.fromkeys(result.unchecked))
    shown = "; ".join(reasons[:MAX_REASONS])
    if len(reasons) > MAX_REASONS:
        shown += f"; and {len(reasons) - MAX_REASONS} more"
    if result.checked == 0 and reasons and not findings:
        return findings, ConfigCoverage(skipped=f"could not be checked: {shown}")
    note = f"not checked: {shown}" if reasons else "; ".join(result.notes) or None
    return findings, ConfigCoverage(note=note)


def apply_configuration(
    report: Report, signatures: Sequence[Signature], certs: CertificateScan | None
) -> dict[str, ConfigCoverage]:
    """Run the configuration checks over the report's xconf dumps (see the module docstring)."""
    nodes = {node.bundle: node for node in report.nodes}
    chosen = [signature for signature in signatures if is_config_signature(signature)]
    if not chosen:
        return {}
    config = scan_config(report.files, nodes)
    if not config.nodes:
        return {}
    report.warnings.extend(config.warnings)
    certificates = certs if certs is not None else CertificateScan([], [])
    coverage: dict[str, ConfigCoverage] = {}
    added = False
    by_label = {node.hostname or node.bundle: node for node in report.nodes}
    for signature in chosen:
        findings, coverage[signature.id] = config_findings(
            signature, config, certificates, by_label
        )
        report.findings.extend(findings)
        added = added or bool(findings)
    if added:
        sort_findings(report)
    return coverage


def check_config_example(signature: Signature, fixtures: Sequence[Path]) -> list[dict[str, Any]]:
    """The facts a configuration signature finds in fixture files (xconf dumps, PEMs, captures):
    the xconf files are one node (one per host when their names name several hosts), the PEM
    and capture files another (its peer)."""
    from app.analyzers.certificates import scan_paths  # cryptography: only for fixtures

    dumps = [path for path in fixtures if "xconf" in path.name]
    others = [path for path in fixtures if path not in dumps]
    config = scan_config_paths(dumps)
    certs = scan_paths(others) if others else CertificateScan([], [])
    for node in certs.nodes:  # the peer: named by the host in its PEM file name
        node.label = _peer_label(others) or "peer"
    findings, _ = config_findings(signature, config, certs)
    return [finding.facts for finding in findings]


def _peer_label(paths: Sequence[Path]) -> str | None:
    """`expe` from `server_expe_2024-03-01_10_00_00.pem`."""
    for path in paths:
        parts = path.name.split("_")
        if path.suffix == ".pem" and len(parts) > 2:
            return parts[1]
    return None
