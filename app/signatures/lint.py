"""Checks across the library: `refines` names existing signatures, no line reported twice.

Every line signature runs over every other signature's positive example lines. A line that two
signatures report would give two findings for one problem, so the loader refuses it unless one
of the two declares (directly or through others) that it `refines` the other: then the engine
reports the line once, by the refining signature (app/signatures/engine.py `drop_refined`).
"""

from __future__ import annotations

from collections.abc import Sequence

from app.errors import SignatureError
from app.parsing.expressway import as_logged
from app.signatures.engine import extract_facts, refined_indexes
from app.signatures.model import Signature


def check_library(signatures: Sequence[Signature], *, overlap: bool = True) -> None:
    """Raise SignatureError (file and field) for the first cross-signature problem found.

    `overlap=False` leaves out the costly overlap search (`first_overlap`): for a library that
    passed it before, unchanged (the loader's cache hit)."""
    ids = {signature.id for signature in signatures}
    for signature in signatures:
        for index, other in enumerate(signature.refines):
            if other not in ids:
                raise SignatureError(
                    signature.file, f"refines[{index}]", f"no signature '{other}' in the library"
                )
    problem = first_overlap(signatures) if overlap else None
    if problem is not None:
        raise problem


def first_overlap(signatures: Sequence[Signature]) -> SignatureError | None:
    """The first positive example line that another signature also reports, without `refines`."""
    lines = [s for s in signatures if s.analyzer is None]
    refined = refined_indexes(lines)
    for owner_index, owner in enumerate(lines):
        for number, example in enumerate(owner.examples):
            if not example.positive:
                continue
            for line in example.lines:
                logged = as_logged(line)
                for other_index, other in enumerate(lines):
                    if other_index == owner_index or not any(c in line for c in other.contains):
                        continue
                    if other_index in refined.get(owner_index, ()) or owner_index in refined.get(
                        other_index, ()
                    ):
                        continue
                    if extract_facts(other, logged) is None:
                        continue
                    return SignatureError(
                        owner.file,
                        f"{_prefix(owner)}examples[{number}].line",
                        f"'{other.id}' ({other.file}) reports this line too: one problem would "
                        "give two findings. Narrow one pattern, or declare `refines: <id>` on the "
                        "more specific signature",
                    )
    return None


def _prefix(signature: Signature) -> str:
    """Alarm rows live in one table file: name the row (see app/signatures/alarms.py)."""
    if signature.id.startswith("expressway-alarm-"):
        return f"alarm {signature.id.removeprefix('expressway-alarm-')}: "
    return ""
