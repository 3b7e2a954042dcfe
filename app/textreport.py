"""The readable report `loupe analyze` prints: findings first (by severity, with evidence), then
the nodes, warnings and a one-line coverage summary (`--coverage`: every signature's outcome)."""

from __future__ import annotations

import textwrap

from app import timefmt
from app.schemas import AnalysisOut, FindingOut
from app.signatures.verdict import DAMAGED, NOTHING, UNREAD, inconclusive_case
from app.textformat import to_text

BUG_URL = "https://bst.cloudapps.cisco.com/bugsearch/bug/"
EVIDENCE_SHOWN = 5  # evidence lines printed under each node (the JSON has them all)


def _block(label: str, text: str) -> list[str]:
    plain = to_text(text)
    if not plain.strip():
        return []
    return [f"    {label}:", textwrap.indent(plain, "      ")]


def coverage_summary(out: AnalysisOut, *, full: bool) -> list[str]:
    """One line (how many signatures looked, how many could not); with `full`, every signature
    that could not look and why, then those that looked."""
    if not out.coverage:
        return []
    skipped = [c for c in out.coverage if c.outcome == "skipped"]
    looked = len(out.coverage) - len(skipped)
    line = f"{looked} signature{'s' if looked != 1 else ''} looked, {len(skipped)} could not"
    if not full:
        return [line + (": --coverage lists them" if skipped else "")]
    lines = [line + ":"]
    lines += [f"  could not  {c.signature_id}: {c.reason or 'no reason given'}" for c in skipped]
    lines += [
        f"  {c.outcome:<9}  {c.signature_id}" + (f": {c.reason}" if c.reason else "")
        for c in out.coverage
        if c.outcome != "skipped"
    ]
    return lines


def _finding(finding: FindingOut) -> list[str]:
    sig = finding.signature
    status = " [experimental]" if sig.status == "experimental" else ""
    lines = ["", f"[{sig.severity.upper()}]{status} {sig.title}  ({sig.id})"]
    where = f"node {finding.node}" if finding.node else "node unknown"
    seen = f"{where}; seen {finding.count}x"
    if finding.first_seen:
        seen += f", {timefmt.show(finding.first_seen)}"
        if finding.last_seen and finding.last_seen != finding.first_seen:
            seen += f" .. {timefmt.show(finding.last_seen)}"
    lines.append("    " + seen)
    if sig.bug_ids:
        lines.append("    bugs: " + ", ".join(f"{b} {BUG_URL}{b}" for b in sig.bug_ids))
    lines += _block("Description", finding.description)
    lines += _block("Condition", finding.condition)
    lines += _block("Action", finding.action)
    lines += _block("Further information", finding.further_info)
    if finding.snippets:
        lines.append("    Evidence:")
        for snip in sorted(finding.snippets, key=lambda s: (s.file, s.line)):
            lines.append(f"      {snip.file}:{snip.line}: {snip.text}")
    return lines


_INCONCLUSIVE_HEADLINES = {
    DAMAGED: "Read only in part, up to the upload's damage: not an all-clear",
    UNREAD: "Not every upload could be read: not an all-clear",
    NOTHING: "Nothing could be checked",
}


def render_text(out: AnalysisOut, *, full_coverage: bool = False) -> str:
    lines: list[str] = []
    if out.findings:
        lines.append(f"{len(out.findings)} finding(s), ruleset {out.ruleset_version}:")
        for finding in out.findings:
            lines += _finding(finding)
        lines.append("")
    elif out.verdict == "inconclusive":
        detail = out.verdict_detail
        case = (
            inconclusive_case(detail.read_in_part, detail.lines_examined, detail.unread)
            if detail is not None
            else NOTHING
        )
        lines.append(f"{_INCONCLUSIVE_HEADLINES[case]} (ruleset {out.ruleset_version}).")
    else:
        lines.append(f"No known problem found (ruleset {out.ruleset_version}).")
    for node in out.nodes:
        lines.append(
            f"node {node.hostname or '(hostname unknown)'}: "
            f"{node.product or 'product unknown'} ({node.confidence} confidence), "
            f"{node.version or 'version unknown'}"
        )
        lines += [f"  {item.source}: {item.says}" for item in node.evidence[:EVIDENCE_SHOWN]]
    for warning in out.warnings:
        lines.append(f"warning: {warning}")
    coverage = coverage_summary(out, full=full_coverage)
    if out.verdict_detail is None:
        lines += coverage
    elif full_coverage or not coverage:
        lines.append(f"verdict: {out.verdict}: {out.verdict_detail.summary}")
        lines += coverage[1:] if coverage else []
    else:  # the verdict already counts the signatures: one line, with the hint
        skipped = any(c.outcome == "skipped" for c in out.coverage)
        hint = " --coverage lists those that could not." if skipped else ""
        lines.append(f"verdict: {out.verdict}: {out.verdict_detail.summary}{hint}")
    return "\n".join(lines)
