"""Run a signature's inline examples; shared by pytest and `loupe signatures test`."""

from __future__ import annotations

from dataclasses import dataclass

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
    """Run one example through the real engine; None when it behaves as expected."""
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


def run_examples(signature: Signature) -> list[ExampleFailure]:
    """Every failing example of `signature` (empty list = all pass)."""
    failures = [check_example(signature, example) for example in signature.examples]
    return [failure for failure in failures if failure is not None]
