"""Run a signature's inline examples; shared by pytest and `loupe signatures test`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.signatures.engine import scan_lines
from app.signatures.model import Example, Signature


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    """One example that did not behave as its `expect` says."""

    signature_id: str
    example: str
    problem: str

    def __str__(self) -> str:
        return f"{self.signature_id} / {self.example}: {self.problem}"


def check_example(signature: Signature, example: Example) -> ExampleFailure | None:
    """Run one example through the real engine; None when it behaves as expected.

    An analyzer signature's example runs its analyzer over the example's fixture files.
    """
    if signature.analyzer is not None:
        return _check_analyzer_example(signature, example)
    findings = scan_lines([signature], example.lines)

    def failure(problem: str) -> ExampleFailure:
        return ExampleFailure(signature.id, example.name, problem)

    if example.expect is None:
        if findings:
            return failure(f"expected no match, got facts {findings[0].facts}")
        return None
    if not findings:
        return failure("expected a match, got none")
    expected = example.expect
    matching = [
        f for f in findings if all(k in f.facts and f.facts[k] == v for k, v in expected.items())
    ]
    if not matching:
        got = "; ".join(str(f.facts) for f in findings)
        return failure(f"expected facts {expected}, got {got}")
    if example.count is not None and sum(f.count for f in matching) != example.count:
        return failure(f"expected count {example.count}, got {sum(f.count for f in matching)}")
    return None


def _check_analyzer_example(signature: Signature, example: Example) -> ExampleFailure | None:
    from app.analyzers.cert_findings import check_analyzer_example  # analyzers import signatures

    found = check_analyzer_example(signature, [Path(p) for p in example.fixtures])
    if example.expect is None:
        if not found:
            return None
        return ExampleFailure(signature.id, example.name, f"expected no match, got {found[0]}")
    expected = example.expect
    if any(all(k in facts and facts[k] == v for k, v in expected.items()) for facts in found):
        return None
    got = "; ".join(str(facts) for facts in found) or "no finding"
    return ExampleFailure(signature.id, example.name, f"expected facts {expected}, got {got}")


def run_examples(signature: Signature) -> list[ExampleFailure]:
    """Every failing example of `signature` (empty list = all pass)."""
    failures = [check_example(signature, example) for example in signature.examples]
    return [failure for failure in failures if failure is not None]
