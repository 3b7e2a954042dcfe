"""Checks across the library: `refines` names existing signatures, no line reported twice.

A `refines` naming no signature of the library is a typo, refused, unless the library is a subset
of a larger one that has the refined signature (`elsewhere`: the packaged library, for a
directory holding some of its files): the refining signature then reports its lines on its own,
which the engine does for a refined signature that is not in the list it runs.

Every line signature runs over every other signature's positive example lines. A line that two
signatures report would give two findings for one problem, so the loader refuses it unless one
of the two declares (directly or through others) that it `refines` the other: then the engine
reports the line once, by the refining signature (app/signatures/engine.py `drop_refined`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.errors import SignatureError
from app.parsing.expressway import as_logged
from app.signatures.engine import extract_facts, refined_indexes
from app.signatures.model import Signature

Detached = tuple[tuple[str, str], ...]
"""(refining signature id, refined id) pairs whose refined signature is not in the library."""


def check_library(
    signatures: Sequence[Signature],
    *,
    elsewhere: Callable[[], frozenset[str]] | None = None,
    overlap: bool = True,
) -> Detached:
    """Raise SignatureError (file and field) for the first cross-signature problem found.

    `elsewhere` gives the ids of the larger library this one may be a subset of (None: it is
    the whole library). A `refines` naming a signature found only there is returned (detached),
    not refused; one naming a signature found nowhere is refused (a typo). `overlap=False`
    leaves out the costly overlap search (`first_overlap`): for a library that passed it
    before, unchanged (the loader's cache hit).
    """
    ids = {signature.id for signature in signatures}
    detached: list[tuple[str, str]] = []
    for signature in signatures:
        for index, other in enumerate(signature.refines):
            if other in ids:
                continue
            if elsewhere is not None and other in elsewhere():
                detached.append((signature.id, other))
                continue
            where = "in the library" if elsewhere is None else "here or in the packaged library"
            raise SignatureError(
                signature.file, f"refines[{index}]", f"no signature '{other}' {where}"
            )
    problem = first_overlap(signatures) if overlap else None
    if problem is not None:
        raise problem
    return tuple(detached)


def first_overlap(signatures: Sequence[Signature]) -> SignatureError | None:
    """The first positive example line that another signature also reports, without `refines`."""
    lines = [s for s in signatures if s.analyzer is None]
    refined = refined_indexes(lines)
    by_literal: dict[str, list[int]] = {}  # each literal looked for once per line
    for index, signature in enumerate(lines):
        for literal in signature.contains:
            by_literal.setdefault(literal, []).append(index)
    for owner_index, owner in enumerate(lines):
        for number, example in enumerate(owner.examples):
            if not example.positive:
                continue
            for line in example.lines:
                logged = as_logged(line)
                candidates = sorted(
                    {i for literal, found in by_literal.items() if literal in line for i in found}
                )
                for other_index in candidates:
                    other = lines[other_index]
                    if other_index == owner_index:
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
