"""The readable report `loupe analyze` prints: nodes, then findings by severity with evidence."""

from __future__ import annotations

import textwrap

from app.schemas import AnalysisOut

BUG_URL = "https://bst.cloudapps.cisco.com/bugsearch/bug/"
EVIDENCE_SHOWN = 5  # evidence lines printed under each node (the JSON has them all)


def _block(label: str, text: str) -> list[str]:
    if not text.strip():
        return []
    body = textwrap.indent(text.strip(), "      ")
    return [f"    {label}:", body]


def _coverage(out: AnalysisOut) -> list[str]:
    """One summary line, then each signature that could not look at these logs and why."""
    if not out.coverage:
        return []
    counts = {
        k: sum(1 for c in out.coverage if c.outcome == k) for k in ("matched", "passed", "skipped")
    }
    lines = [
        f"coverage: {counts['matched']} matched, {counts['passed']} found nothing, "
        f"{counts['skipped']} skipped"
    ]
    lines += [
        f"  skipped {c.signature_id}: {c.reason}" for c in out.coverage if c.outcome == "skipped"
    ]
    return lines


def render_text(out: AnalysisOut) -> str:
    lines: list[str] = []
    for node in out.nodes:
        lines.append(
            f"node {node.hostname or '(hostname unknown)'}: "
            f"{node.product or 'product unknown'} ({node.confidence} confidence), "
            f"{node.version or 'version unknown'}"
        )
        lines += [f"  {item.source}: {item.says}" for item in node.evidence[:EVIDENCE_SHOWN]]
    for warning in out.warnings:
        lines.append(f"warning: {warning}")
    lines += _coverage(out)
    if out.verdict_detail is not None:
        lines.append(f"verdict: {out.verdict}: {out.verdict_detail.summary}")
    if not out.findings:
        if out.verdict == "inconclusive":
            lines.append(f"Nothing could be checked (ruleset {out.ruleset_version}).")
        else:
            lines.append(f"No known problem found (ruleset {out.ruleset_version}).")
        return "\n".join(lines)
    lines.append(f"{len(out.findings)} finding(s), ruleset {out.ruleset_version}:")
    for finding in out.findings:
        sig = finding.signature
        lines.append("")
        status = " [experimental]" if sig.status == "experimental" else ""
        lines.append(f"[{sig.severity.upper()}]{status} {sig.title}  ({sig.id})")
        where = f"node {finding.node}" if finding.node else "node unknown"
        lines.append(
            f"    {where}; seen {finding.count}x, "
            f"{finding.first_seen or '?'} .. {finding.last_seen or '?'}"
        )
        if sig.bug_ids:
            lines.append("    bugs: " + ", ".join(f"{b} {BUG_URL}{b}" for b in sig.bug_ids))
        lines += _block("Description", finding.description)
        lines += _block("Condition", finding.condition)
        lines += _block("Further information", finding.further_info)
        lines += _block("Action", finding.action)
        if finding.snippets:
            lines.append("    Evidence:")
            for snip in finding.snippets:
                lines.append(f"      {snip.file}:{snip.line}: {snip.text}")
    return "\n".join(lines)
