"""Whether a signature's `applies_to` agrees with a node: it qualifies a finding, never hides it.

A signature whose lines are present is run whatever product or version the node was detected
as: detection can be wrong (an Expressway reports "TANDBERG VCS" in several places), and a false
all-clear is the worst answer a diagnostic tool can give. The answer is a fact on the finding
(`applies`: yes | unknown | disagrees) and a sentence added to its condition text. The only
exception is a signature marked `applies_to.only_on_product` (its lines mean something else on
other products): it is not run on a node known to be another product.

VCS is the platform Expressway runs on: VCS Control behaves as an Expressway-C and VCS
Expressway as an Expressway-E, and a node detected only as "VCS" may be either.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.report import NodeInfo
from app.signatures.model import AppliesTo, Signature
from app.signatures.versions import in_range

YES = "yes"
UNKNOWN = "unknown"
DISAGREES = "disagrees"
NOT_RUN = "not_run"  # only_on_product and the node is known to be another product

_ROLES: dict[str, frozenset[str]] = {
    "Expressway-C": frozenset({"C"}),
    "VCS Control": frozenset({"C"}),
    "Expressway-E": frozenset({"E"}),
    "VCS Expressway": frozenset({"E"}),
    "VCS": frozenset({"C", "E"}),
}


@dataclass(frozen=True, slots=True)
class Applicability:
    """How a signature's applies_to compares with one node, and what to tell the reader."""

    state: str  # YES | UNKNOWN | DISAGREES | NOT_RUN
    note: str = ""  # a sentence for the finding's condition (UNKNOWN, DISAGREES)
    version_unknown: bool = False
    conditional: bool = True  # the signature has product or version conditions at all

    def facts(self) -> dict[str, object]:
        """The facts a finding of this signature on this node carries: `applies` when the
        signature has conditions (none: it applies everywhere), `version_unknown` as before."""
        facts: dict[str, object] = {"applies": self.state} if self.conditional else {}
        if self.version_unknown:
            facts["version_unknown"] = True
        return facts


def _roles(product: str) -> frozenset[str]:
    return _ROLES.get(product, frozenset({product}))


def product_agrees(detected: str, products: tuple[str, ...]) -> bool:
    """Whether a detected product is one of `products`, VCS counting as either Expressway role."""
    wanted = frozenset().union(*(_roles(p) for p in products))
    return bool(_roles(detected) & wanted)


def version_range(applies: AppliesTo) -> str:
    """'X14.2+', 'up to X12.7', 'X12.5 to X14.0', or '' without a range."""
    low, high = applies.min_version, applies.max_version
    if low and high:
        return f"{low} to {high}"
    if low:
        return f"{low}+"
    return f"up to {high}" if high else ""


def documented_for(applies: AppliesTo) -> str:
    """'Expressway-C X14.2+', 'Expressway-E', 'X8.6 to X8.6.999'."""
    return " ".join(part for part in (" / ".join(applies.products), version_range(applies)) if part)


def _node_words(node: NodeInfo | None) -> str:
    name = node.hostname if node is not None and node.hostname else None
    return f"node {name}" if name else "this node"


def _detected_as(node: NodeInfo) -> str:
    product = node.product or "an unknown product"
    version = node.version or "(version unknown)"
    confidence = getattr(node, "confidence", None)
    extra = f" (confidence {confidence})" if confidence else ""
    return f"{product} {version}{extra}"


def applicability(signature: Signature, node: NodeInfo | None) -> Applicability:
    """Compare the signature's applies_to with the node (None: nothing known about it)."""
    applies = signature.applies_to
    has_range = applies.min_version is not None or applies.max_version is not None
    if not applies.products and not has_range:
        return Applicability(YES, conditional=False)
    product = node.product if node is not None else None
    version = node.version if node is not None else None
    product_ok: bool | None = None
    if applies.products:
        product_ok = product_agrees(product, applies.products) if product else None
    if product_ok is False and applies.only_on_product:
        return Applicability(NOT_RUN)
    version_ok: bool | None = True
    if has_range:
        version_ok = (
            in_range(version, applies.min_version, applies.max_version) if version else None
        )
    version_unknown = has_range and version_ok is None
    documented = documented_for(applies)
    if product_ok is False or version_ok is False:
        assert node is not None
        note = (
            f"This problem is documented for {documented}; {_node_words(node)} was detected "
            f"as {_detected_as(node)}: shown because its log lines are present."
        )
        return Applicability(DISAGREES, note, version_unknown)
    if (applies.products and product_ok is None) or version_unknown:
        missing = " and ".join(
            word
            for word, unknown in (
                ("product", applies.products and product_ok is None),
                ("software version", version_unknown),
            )
            if unknown
        )
        note = (
            f"This problem is documented for {documented}; the {missing} of "
            f"{_node_words(node)} could not be determined, so this finding is shown because its "
            "log lines are present, although the problem may not apply to it."
        )
        return Applicability(UNKNOWN, note, version_unknown)
    return Applicability(YES)
