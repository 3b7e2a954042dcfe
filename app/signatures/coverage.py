"""Per signature, whether it could look at an upload: matched, passed, or skipped and why.

Pure: (signatures, files, nodes, findings) in, one Coverage per signature out, in library order.
On each node (one per upload) a signature is skipped when the node's product or version is
outside its `applies_to`, when the upload holds no file of its source's kinds, or when those
files hold no line of its source (for example no traffic_server lines because the MRA modules
were not at debug level). The signature is *matched* when it produced a finding, *passed* when it
could run on at least one node and found nothing, *skipped* when it could run nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from app.bundle.sources import ABSENCE_HINTS, PRESENCE, SOURCES
from app.report import BundleFile, Coverage, Finding, NodeInfo
from app.signatures.engine import BLOCK_SIZE, version_state
from app.signatures.model import AppliesTo, Signature

MATCHED = "matched"
PASSED = "passed"
SKIPPED = "skipped"
OUTCOMES = (MATCHED, PASSED, SKIPPED)


def file_contains(path: Path, needle: bytes, block_size: int = BLOCK_SIZE) -> bool:
    """Whether `needle` occurs in the file; reads it block by block and stops at the first hit."""
    keep = len(needle) - 1  # a needle cut by a block boundary is found in tail + next block
    tail = b""
    with path.open("rb") as stream:
        while block := stream.read(block_size):
            data = tail + block if tail else block
            if needle in data:
                return True
            tail = data[-keep:] if keep > 0 else b""
    return False


def version_range(applies: AppliesTo) -> str:
    """'X14.2+', 'up to X12.7' or 'X12.5 to X14.0'."""
    low, high = applies.min_version, applies.max_version
    if low and high:
        return f"{low} to {high}"
    return f"{low}+" if low else f"up to {high}"


class _PresenceCache:
    """Whether files hold a literal; each (file, literal) is read at most once per analysis."""

    def __init__(self, block_size: int) -> None:
        self.block_size = block_size
        self._known: dict[tuple[Path, str], bool] = {}

    def any_file_has(self, files: Sequence[BundleFile], literal: str) -> bool:
        for file in files:
            key = (file.path, literal)
            if key not in self._known:
                self._known[key] = file_contains(file.path, literal.encode(), self.block_size)
            if self._known[key]:
                return True
        return False


def _product_or_version_reason(signature: Signature, node: NodeInfo, label: str) -> str:
    applies = signature.applies_to
    if node.product and applies.products and node.product not in applies.products:
        return (
            f"the product does not apply (node {label} is {node.product}; "
            f"the signature is for {' / '.join(applies.products)})"
        )
    return f"version {node.version} of node {label} is outside {version_range(applies)}"


def _skip_reason(
    signature: Signature,
    node: NodeInfo | None,
    label: str,
    files: Sequence[BundleFile],
    presence: _PresenceCache,
    *,
    several: bool,
    check_lines: bool,
) -> str | None:
    """Why the signature could not look at this node's upload, or None when it could."""
    if node is not None and version_state(signature, node) == "skip":
        return _product_or_version_reason(signature, node, label)
    kinds = sorted(SOURCES.get(signature.source, frozenset()))
    where = f" of node {label}" if several else ""
    own = [file for file in files if file.kind in kinds]
    if not own:
        wanted = " or ".join(kinds) or signature.source
        return f"no {wanted} file in the upload{where}"
    literal = PRESENCE.get(signature.source)
    if check_lines and literal and not presence.any_file_has(own, literal):
        hint = ABSENCE_HINTS.get(signature.source)
        return f"no {signature.source} lines in the upload{where}" + (f": {hint}" if hint else "")
    return None


def coverage_of(
    signatures: Sequence[Signature],
    files: Sequence[BundleFile],
    nodes: Mapping[str, NodeInfo],
    findings: Sequence[Finding],
    *,
    notes: Mapping[str, str] | None = None,
    block_size: int = BLOCK_SIZE,
) -> list[Coverage]:
    """One Coverage per signature; `nodes` maps BundleFile.bundle → NodeInfo, as for run_library.

    `notes` adds a sentence to the reason of a signature that ran (e.g. an alarm that was raised
    and lowered within the log: reported here as cleared, not as a finding).

    The files of a source with a presence literal (app/bundle/sources.PRESENCE) are searched
    only for signatures without a finding, and each file at most once, stopping at the first hit.
    """
    matched = {finding.signature_id for finding in findings}
    by_bundle: dict[str, list[BundleFile]] = {bundle: [] for bundle in nodes}
    for file in files:
        by_bundle.setdefault(file.bundle, []).append(file)
    several = len(by_bundle) > 1
    presence = _PresenceCache(block_size)
    result: list[Coverage] = []
    for signature in signatures:
        hit = signature.id in matched
        reasons: list[str] = [] if by_bundle else ["the upload holds no file"]
        ran = False
        for bundle, bundle_files in by_bundle.items():
            node = nodes.get(bundle)
            label = node.hostname if node is not None and node.hostname else bundle
            reason = _skip_reason(
                signature,
                node,
                label,
                bundle_files,
                presence,
                several=several,
                check_lines=not hit,
            )
            if reason is None:
                ran = True
            elif reason not in reasons:
                reasons.append(reason)
        outcome = MATCHED if hit else PASSED if ran else SKIPPED
        text = "; ".join(reasons) or None
        if text and outcome != SKIPPED:
            text = f"not checked everywhere: {text}"
        note = (notes or {}).get(signature.id)
        if note and outcome != SKIPPED:
            text = f"{note}; {text}" if text else note
        result.append(Coverage(signature.id, signature.title, outcome, text))
    return result
