"""Pure data of a signature file, as the loader validated and compiled it (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.parsing.linear_regex import LinearRegex
from app.signatures.render import CompiledText

SEVERITIES = ("critical", "error", "warning", "info")
STATUSES = ("experimental", "stable", "deprecated")
FACT_TYPES = ("int", "str")
NO_MATCH = "no_match"


@dataclass(frozen=True, slots=True)
class Pattern:
    """One regex (RE2, linear time); a line matches when any pattern does. `facts` are constants."""

    regex: LinearRegex
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MapRule:
    """`{if: regex, then: value}`: the first rule whose regex is found in the raw value wins."""

    test: LinearRegex
    then: Any


@dataclass(frozen=True, slots=True)
class FactRule:
    """How one fact is derived from a named group: type conversion and an ordered value map."""

    name: str
    source_group: str
    type: str = "str"
    optional: bool = False
    value_map: tuple[MapRule, ...] = ()


@dataclass(frozen=True, slots=True)
class Follow:
    """Lines within `within_lines` after a hit that match `regex` are kept as extra snippets.

    With `same_facts`, a follow line must also contain the hit's value of each named fact.
    """

    regex: LinearRegex
    within_lines: int
    same_facts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Texts:
    """The four explanatory texts, as source and as compiled sandboxed Jinja templates."""

    description: str
    condition: str
    further_info: str
    action: str
    compiled: dict[str, CompiledText] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Example:
    """An inline fixture: `expect` is a facts subset, or None for `expect: no_match`."""

    name: str
    lines: tuple[str, ...]
    expect: dict[str, Any] | None
    count: int | None = None
    fixtures: tuple[str, ...] = ()  # analyzer signatures: capture/PEM files (absolute paths)

    @property
    def positive(self) -> bool:
        return self.expect is not None


@dataclass(frozen=True, slots=True)
class AppliesTo:
    """Products and inclusive version range a signature is documented for (empty = any).

    They qualify a finding, they never hide one: a match on a node detected as another product
    or version is shown with a note. Only with `only_on_product` (lines that mean something else
    on other products) is the signature not run on a node known to be another product.
    """

    products: tuple[str, ...] = ()
    min_version: str | None = None
    max_version: str | None = None
    only_on_product: bool = False


@dataclass(frozen=True, slots=True)
class Signature:
    """One validated signature file."""

    id: str
    title: str
    severity: str
    status: str
    product: str
    source: str
    contains: tuple[str, ...]
    patterns: tuple[Pattern, ...]
    facts: tuple[FactRule, ...]
    group_by: tuple[str, ...]
    text: Texts
    examples: tuple[Example, ...]
    applies_to: AppliesTo = AppliesTo()
    bug_ids: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    follow: Follow | None = None
    file: str = ""
    analyzer: str | None = None  # `match.analyzer`: a check of app/analyzers/cert_checks.py
