"""Keep what one analysis outputs bounded: how many findings, and how many bytes they weigh.

A log can be written so that every line is a finding of its own (a distinct value in a grouped
fact on each line): 1.1 MB gave 200,000 findings and a 206 MB JSON answer. `cap_findings`
keeps at most `max_findings` findings and `max_bytes` of their texts, facts and snippets,
choosing them in this order:

1. severity first: a critical or error finding is never dropped to keep a warning or info one;
2. within a severity, one finding of each signature before a second one of any (the most
   repetitive signatures lose first), and within a signature the findings with most hits first.

What was left out is said in one report warning (how many, of which severity and signature).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from app.report import SEVERITY_ORDER, Finding

MAX_FINDINGS = 5_000
MAX_FINDINGS_BYTES = 32 * 2**20
GROUPS_PER_FINDING = 2
"""While scanning, distinct findings kept in memory: this many times `max_findings` (at least
MIN_GROUPS), so the final choice still has room to prefer severe and varied findings."""
MIN_GROUPS = 10_000
_NAMED_SIGNATURES = 5


@dataclass(frozen=True, slots=True)
class OutputLimits:
    """The bounds of one analysis' output (LOUPE_MAX_FINDINGS, LOUPE_MAX_FINDINGS_BYTES)."""

    max_findings: int = MAX_FINDINGS
    max_bytes: int = MAX_FINDINGS_BYTES

    @property
    def max_groups(self) -> int:
        """Distinct findings the signature engine keeps while it scans (memory bound)."""
        return max(MIN_GROUPS, GROUPS_PER_FINDING * self.max_findings)


def finding_weight(finding: Finding) -> int:
    """About how many bytes the finding takes in the API's JSON answer."""
    texts = (
        finding.title,
        finding.description,
        finding.condition,
        finding.further_info,
        finding.action,
    )
    facts = json.dumps(finding.facts, default=str, ensure_ascii=False)
    snippets = sum(len(s.text) + len(s.file) + 40 for s in finding.snippets)
    return sum(len(t) for t in texts) + len(facts) + snippets + 200


def _choice_order(findings: Sequence[Finding]) -> list[int]:
    """Positions of `findings` in the order they are kept (see the module docstring)."""
    by_signature: dict[str, list[int]] = {}
    for position, finding in enumerate(findings):
        by_signature.setdefault(finding.signature_id, []).append(position)
    turn: dict[int, int] = {}
    for positions in by_signature.values():
        positions.sort(key=lambda p: -findings[p].count)
        for rank, position in enumerate(positions):
            turn[position] = rank
    return sorted(
        range(len(findings)),
        key=lambda p: (SEVERITY_ORDER.get(findings[p].severity, 9), turn[p], p),
    )


def cap_findings(
    findings: Sequence[Finding], limits: OutputLimits
) -> tuple[list[Finding], str | None]:
    """The findings to keep (in their given order), and a warning when some were left out."""
    total_weight = 0
    kept: set[int] = set()
    for position in _choice_order(findings):
        weight = finding_weight(findings[position])
        if len(kept) >= limits.max_findings or total_weight + weight > limits.max_bytes:
            break
        kept.add(position)
        total_weight += weight
    if len(kept) == len(findings):
        return list(findings), None
    dropped = [f for p, f in enumerate(findings) if p not in kept]
    return [f for p, f in enumerate(findings) if p in kept], _warning(
        len(findings), dropped, limits, total_weight
    )


def _warning(total: int, dropped: Sequence[Finding], limits: OutputLimits, weight: int) -> str:
    severities = Counter(f.severity for f in dropped)
    by_severity = ", ".join(
        f"{severities[s]:,} {s}" for s in sorted(severities, key=lambda s: SEVERITY_ORDER.get(s, 9))
    )
    signatures = Counter(f.signature_id for f in dropped).most_common()
    named = ", ".join(f"{sig} ({count:,})" for sig, count in signatures[:_NAMED_SIGNATURES])
    more = len(signatures) - _NAMED_SIGNATURES
    if more > 0:
        named += f" and {more} more signature(s)"
    kept = total - len(dropped)
    if kept >= limits.max_findings:
        bound = f"at most {limits.max_findings:,} findings are kept (LOUPE_MAX_FINDINGS)"
    else:
        bound = (
            f"the findings kept already weigh {weight / 2**20:.1f} MiB, the most kept "
            f"(LOUPE_MAX_FINDINGS_BYTES is {limits.max_bytes / 2**20:.0f} MiB)"
        )
    return (
        f"This analysis produced {total:,} findings; {len(dropped):,} were left out because "
        f"{bound}. Left out: {by_severity}; from {named}. Critical and error findings are kept "
        "first, then one finding of each signature before a second one of any."
    )


def dropped_hits_warning(dropped: dict[str, int], max_groups: int) -> str | None:
    """The warning for matching lines the engine could not keep as findings (memory bound)."""
    if not dropped:
        return None
    ordered = sorted(dropped.items(), key=lambda item: -item[1])
    named = ", ".join(f"{sig} ({hits:,})" for sig, hits in ordered[:_NAMED_SIGNATURES])
    if len(ordered) > _NAMED_SIGNATURES:
        named += f" and {len(ordered) - _NAMED_SIGNATURES} more signature(s)"
    return (
        f"More than {max_groups:,} distinct findings while scanning: {sum(dropped.values()):,} "
        f"matching line(s) did not become findings of their own, from {named}. Every signature "
        "that matched keeps at least one finding, and severe findings are kept first."
    )
