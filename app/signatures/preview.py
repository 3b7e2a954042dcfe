"""A signature's texts as a finding would show them: its first positive example run through the
real engine (or its analyzer) and rendered with the facts found, for the catalogue page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.report import Finding
from app.signatures.engine import scan_lines
from app.signatures.model import Example, Signature
from app.signatures.render import render_finding


@dataclass(frozen=True, slots=True)
class Preview:
    example: Example
    finding: Finding


def _analyzer_finding(signature: Signature, example: Example) -> Finding | None:
    from app.analyzers.cert_findings import check_analyzer_example  # analyzers import signatures

    found = check_analyzer_example(signature, [Path(p) for p in example.fixtures])
    if not found:
        return None
    return render_finding(signature, found[0], node=None, count=1, first_seen=None, last_seen=None)


def example_finding(signature: Signature) -> Preview | None:
    """The finding of the first positive example that produces one; None when none does."""
    for example in signature.examples:
        if not example.positive:
            continue
        try:
            if signature.analyzer is not None:
                finding = _analyzer_finding(signature, example)
            else:
                findings = scan_lines([signature], example.lines)
                finding = findings[0] if findings else None
        except (OSError, ValueError):  # a fixture missing on this server: try the next example
            continue
        if finding is not None:
            return Preview(example, finding)
    return None
