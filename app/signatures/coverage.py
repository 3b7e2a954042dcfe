"""Per signature, whether it could look at an upload: matched, passed, or skipped and why.

Pure: (signatures, files, nodes, findings) in, one Coverage per signature out, in library order.
A signature is *matched* when it produced a finding, *passed* when its input was present on at
least one node and nothing matched, *skipped* when its input was present nowhere. Its input, by
family:

* certificate checks (`match.analyzer`, source pem/pcap): a PEM or a packet capture;
* configuration checks (`match.analyzer`, source xconf): an xconf dump; a check that found
  nothing it could check (a traversal zone whose peer certificate the upload does not hold) is
  skipped with the reason it gives (`unchecked`), never a green pass;
* alarm signatures (`expressway-alarm-*`): alarm events in the log (`Event="Alarm Raised"` /
  `"Alarm Lowered"`) or the xstatus alarm list (alarms active when logging started); with the
  xstatus readings, their reason names the sources read per node (log events, xstatus, both,
  neither);
* Traffic Server signatures: `traffic_server` lines (the MRA modules at debug level);
* signatures over another product's log (an endpoint's all.log, the Jabber log, Unified CM,
  IM and Presence and Meeting Server logs: app.bundle.sources.PRODUCT_LOGS): such a log
  anywhere in the upload, seen by one of its presence literals. The check is upload-wide, not
  per node: that log belongs to no Expressway node, and Expressway lines never earn it a pass.
  Conversely an upload that is only such a log is no node the other signatures could not look
  at (they are asked about the other uploads, when there are any);
* other log signatures: Expressway log lines (a loggingsnapshot, or a log whose first lines are
  Expressway syslog lines);
* xconf / xstat signatures: a file of that kind.

The node's detected product and version never make a signature skip (they qualify its findings,
app.signatures.applicability), except for a signature marked `applies_to.only_on_product` on a
node known to be another product: then the reason names the product and how it was detected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from app.bundle.detect import is_expressway_line
from app.bundle.magic import SNIFF_BYTES
from app.bundle.sources import (
    ABSENCE_HINTS,
    ALARM_EVENT_MARKERS,
    ALARM_HINT,
    CERTIFICATE_HINT,
    MARKERS,
    PRESENCE,
    PRODUCT_LOG_BY_SOURCE,
    PRODUCT_LOGS,
    SOURCES,
    XSTAT_ALARM_MARKERS,
    ProductLog,
)
from app.bundle.stored import open_stored
from app.report import BundleFile, Coverage, FileKind, Finding, NodeInfo
from app.signatures.active_alarms import XstatusAlarms, sources_sentence
from app.signatures.alarms import ALARM_ID_PREFIX
from app.signatures.applicability import NOT_RUN, applicability
from app.signatures.engine import BLOCK_SIZE, FileStats
from app.signatures.model import Signature

MATCHED = "matched"
PASSED = "passed"
SKIPPED = "skipped"
OUTCOMES = (MATCHED, PASSED, SKIPPED)
CERTIFICATE_KINDS = (FileKind.PEM, FileKind.PCAP)
LOG_KINDS = (FileKind.LOGGINGSNAPSHOT, FileKind.LOG)
_SCANNED_MARKERS = frozenset(MARKERS)  # what the signature scan looks for in every log file
CONFIG_HINT = (
    "configuration checks read the xconf_dump_*.txt or .xml of the diagnostic log bundle "
    "(Maintenance > Diagnostics > Diagnostic logging > Collect log)"
)
FORMAT_HINT = (
    "its text files are empty or not Expressway logs (a loggingsnapshot_*.txt, or syslog lines "
    '"YYYY-MM-DDThh:mm:ss±hh:mm host process: …"): upload the diagnostic log bundle'
)


def file_contains(path: Path, needle: bytes, block_size: int = BLOCK_SIZE) -> bool:
    """Whether `needle` occurs in the file; reads it block by block and stops at the first hit."""
    keep = len(needle) - 1  # a needle cut by a block boundary is found in tail + next block
    tail = b""
    with open_stored(path) as stream:
        while block := stream.read(block_size):
            data = tail + block if tail else block
            if needle in data:
                return True
            tail = data[-keep:] if keep > 0 else b""
    return False


class _Inputs:
    """What the files hold: from the scan's FileStats where there are some, else read once."""

    def __init__(self, stats: Mapping[str, FileStats], block_size: int) -> None:
        self.stats = stats
        self.block_size = block_size
        self._known: dict[tuple[Path, str], bool] = {}

    def any_file_has(self, files: Sequence[BundleFile], literals: Sequence[str]) -> bool:
        for file in files:
            for literal in literals:
                scanned = self.stats.get(file.name)
                if scanned is not None and file.kind in LOG_KINDS:
                    if literal in scanned.markers:
                        return True
                    if literal in _SCANNED_MARKERS:
                        continue  # the scan looked for it in this file and did not see it
                key = (file.path, literal)
                if key not in self._known:
                    self._known[key] = file_contains(file.path, literal.encode(), self.block_size)
                if self._known[key]:
                    return True
        return False

    def expressway_lines(self, files: Sequence[BundleFile]) -> bool:
        """Whether any of these log files holds Expressway log lines."""
        for file in files:
            scanned = self.stats.get(file.name)
            if scanned is not None:
                if scanned.lines and (
                    scanned.expressway_format or file.kind == FileKind.LOGGINGSNAPSHOT
                ):
                    return True
            elif file.kind == FileKind.LOGGINGSNAPSHOT or (
                file.kind == FileKind.LOG and file.size and _looks_expressway(file.path)
            ):
                return True
        return False


def _looks_expressway(path: Path) -> bool:
    with open_stored(path) as stream:
        head = stream.read(SNIFF_BYTES)
    return any(is_expressway_line(line.strip(b"\r")) for line in head.split(b"\n")[:50])


def _not_run_reason(signature: Signature, node: NodeInfo, label: str) -> str:
    products = " / ".join(signature.applies_to.products)
    evidence = getattr(node, "evidence", None) or []
    said = "; ".join(
        f"{item.get('source')}: {item.get('says')}"
        for item in evidence[:3]
        if isinstance(item, dict)
    )
    return (
        f"only for {products}: its lines mean something else on other products, and node "
        f"{label} was detected as {node.product}" + (f" ({said})" if said else "")
    )


def _is_alarm(signature: Signature) -> bool:
    return signature.id.startswith(ALARM_ID_PREFIX)


def _skip_reason(
    signature: Signature,
    node: NodeInfo | None,
    label: str,
    files: Sequence[BundleFile],
    inputs: _Inputs,
    *,
    several: bool,
    check_lines: bool,
    xstatus: XstatusAlarms | None = None,
) -> str | None:
    """Why the signature could not look at this node's upload, or None when it could."""
    if node is not None and applicability(signature, node).state == NOT_RUN:
        return _not_run_reason(signature, node, label)
    where = f" of node {label}" if several else ""
    if signature.analyzer is not None and signature.source == "xconf":
        if not any(file.kind == FileKind.XCONF for file in files):
            return f"no xconf dump in the upload{where}: {CONFIG_HINT}"
        return None
    if signature.analyzer is not None:
        if not any(file.kind in CERTIFICATE_KINDS for file in files):
            return f"no PEM or capture in the upload{where}: {CERTIFICATE_HINT}"
        return None
    kinds = sorted(SOURCES.get(signature.source, frozenset()))
    own = [file for file in files if file.kind in kinds]
    if not own:
        wanted = " or ".join(kinds) or signature.source
        return f"no {wanted} file in the upload{where}"
    if not check_lines:
        return None
    logs = [file for file in own if file.kind in LOG_KINDS]
    if logs and not inputs.expressway_lines(logs):
        return f"no Expressway log lines in the upload{where}: {FORMAT_HINT}"
    if _is_alarm(signature):
        if xstatus is not None and xstatus.files:
            return None  # the alarm list active at logging start was read
        xstat = [file for file in files if file.kind == FileKind.XSTAT]
        if not inputs.any_file_has(logs, ALARM_EVENT_MARKERS) and not inputs.any_file_has(
            xstat, XSTAT_ALARM_MARKERS
        ):
            return f"no alarm events in the upload{where}: {ALARM_HINT}"
        return None
    literals = PRESENCE.get(signature.source)
    if literals and not inputs.any_file_has(own, literals):
        hint = ABSENCE_HINTS.get(signature.source)
        return f"no {signature.source} lines in the upload{where}" + (f": {hint}" if hint else "")
    return None


def _product_log_coverage(
    signature: Signature,
    log: ProductLog,
    files: Sequence[BundleFile],
    inputs: _Inputs,
    hit: bool,
) -> Coverage:
    """Coverage of a signature over another product's log: the whole upload is searched."""
    if hit:
        return Coverage(signature.id, signature.title, MATCHED, None)
    kinds = SOURCES[log.source]
    if inputs.any_file_has([file for file in files if file.kind in kinds], log.literals):
        return Coverage(signature.id, signature.title, PASSED, None)
    reason = f"{log.absent}: {log.hint}"
    return Coverage(signature.id, signature.title, SKIPPED, reason)


_PRODUCT_LOG_LITERALS = tuple(literal for log in PRODUCT_LOGS for literal in log.literals)


def _without_product_logs(
    by_bundle: dict[str, list[BundleFile]], inputs: _Inputs
) -> dict[str, list[BundleFile]]:
    """The uploads an Expressway signature is asked about: not those that are another product's
    plain log (a jabber.log next to the bundle is no Expressway node that lacks log lines),
    unless nothing else was uploaded."""
    kept = {
        bundle: files
        for bundle, files in by_bundle.items()
        if not (
            files
            and all(file.kind == FileKind.LOG for file in files)
            and not inputs.expressway_lines(files)
            and inputs.any_file_has(files, _PRODUCT_LOG_LITERALS)
        )
    }
    return kept if any(kept.values()) else by_bundle


def _alarm_sources(
    by_bundle: Mapping[str, Sequence[BundleFile]],
    nodes: Mapping[str, NodeInfo],
    inputs: _Inputs,
    xstatus: Mapping[str, XstatusAlarms],
    several: bool,
) -> str:
    """ "alarm sources read: …", per node when there are several."""
    parts = []
    for bundle, files in by_bundle.items():
        logs = [file for file in files if file.kind in LOG_KINDS]
        sentence = sources_sentence(
            inputs.any_file_has(logs, ALARM_EVENT_MARKERS), xstatus.get(bundle)
        )
        node = nodes.get(bundle)
        label = node.hostname if node is not None and node.hostname else bundle
        parts.append(f"{label}: {sentence}" if several else sentence)
    return "alarm sources read: " + "; ".join(parts) if parts else ""


def coverage_of(
    signatures: Sequence[Signature],
    files: Sequence[BundleFile],
    nodes: Mapping[str, NodeInfo],
    findings: Sequence[Finding],
    *,
    notes: Mapping[str, str] | None = None,
    stats: Mapping[str, FileStats] | None = None,
    block_size: int = BLOCK_SIZE,
    unchecked: Mapping[str, str] | None = None,
    xstatus: Mapping[str, XstatusAlarms] | None = None,
) -> list[Coverage]:
    """One Coverage per signature; `nodes` maps BundleFile.bundle → NodeInfo, as for run_library.

    `notes` adds a sentence to the reason of a signature that ran (e.g. an alarm that was raised
    and lowered within the log: reported here as cleared, not as a finding). `stats` are the
    FileStats the signature scan recorded (file name → lines, presence markers, format): with
    them no log is read again; a file without them is searched (each literal at most once per
    file, stopping at the first hit), only for signatures without a finding.
    `unchecked` (signature id → why) names the signatures that had their input but could check
    nothing with it (the configuration checks): without a finding they are skipped, with that
    reason. `xstatus` (upload → XstatusAlarms, app.signatures.active_alarms) are the xstatus
    alarm lists read: an alarm signature then ran wherever a dump was read, and its reason names
    the sources read.
    """
    matched = {finding.signature_id for finding in findings}
    by_bundle: dict[str, list[BundleFile]] = {bundle: [] for bundle in nodes}
    for file in files:
        by_bundle.setdefault(file.bundle, []).append(file)
    inputs = _Inputs(stats or {}, block_size)
    by_bundle = _without_product_logs(by_bundle, inputs)
    several = len(by_bundle) > 1
    sources = (
        _alarm_sources(by_bundle, nodes, inputs, xstatus, several) if xstatus is not None else ""
    )
    result: list[Coverage] = []
    for signature in signatures:
        hit = signature.id in matched
        product_log = PRODUCT_LOG_BY_SOURCE.get(signature.source)
        if product_log is not None:
            result.append(_product_log_coverage(signature, product_log, files, inputs, hit))
            continue
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
                inputs,
                several=several,
                check_lines=not hit,
                xstatus=(xstatus or {}).get(bundle),
            )
            if reason is None:
                ran = True
            elif reason not in reasons:
                reasons.append(reason)
        outcome = MATCHED if hit else PASSED if ran else SKIPPED
        could_not = (unchecked or {}).get(signature.id)
        if could_not and outcome == PASSED:
            outcome = SKIPPED
            reasons = [could_not, *reasons]
        text = "; ".join(reasons) or None
        if text and outcome != SKIPPED:
            text = f"not checked everywhere: {text}"
        note = (notes or {}).get(signature.id)
        if note and outcome != SKIPPED:
            text = f"{note}; {text}" if text else note
        if sources and _is_alarm(signature):
            text = f"{text}; {sources}" if text else sources
        result.append(Coverage(signature.id, signature.title, outcome, text))
    return result
