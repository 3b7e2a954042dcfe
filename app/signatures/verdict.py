"""The verdict of an analysis, and what it rests on: the one rule the API, the page and the CLI use.

* `problems`: a finding of severity warning or worse;
* `inconclusive`: nothing an Expressway signature can read (no loggingsnapshot and no log in
  the Expressway format), or no signature could look (every one lacked its input);
* `clear`: signatures could look at Expressway log lines and found nothing of severity warning
  or worse. Never said without log lines to rest on: an all-clear that was not earned closes
  TAC cases. Never said of an upload read only in part (damaged: app.bundle.damage.
  read_in_part): what came after the damage was not looked at, so that verdict is
  `inconclusive`, and any verdict's summary names the damage. Nor of an upload of several
  nodes when the log files of one of them gave no Expressway line (empty, or other text): the
  summary names it, and what was there.

Signatures over another product's log (an endpoint's all.log, the Jabber log, …: app.bundle.
sources.PRODUCT_LOGS) skipped because that log was not uploaded count among those that could
not look, and the summary says how many of them read such logs; they never make an Expressway
upload inconclusive (the Expressway signatures looked at its lines).

Pure: severities, coverage outcomes and the examined lines in (stored or fresh), Verdict out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.bundle.sources import PRODUCT_LOGS
from app.report import BundleFile, Examined, FileKind, NodeInfo
from app.signatures.engine import FileStats

PROBLEMS = "problems"
CLEAR = "clear"
INCONCLUSIVE = "inconclusive"
VERDICTS = (PROBLEMS, CLEAR, INCONCLUSIVE)
PROBLEM_SEVERITIES = frozenset({"critical", "error", "warning"})
LOOKED = frozenset({"matched", "passed"})
_LOG_KINDS = (FileKind.LOGGINGSNAPSHOT, FileKind.LOG)
_KIND_WORDS = {"loggingsnapshot": "loggingsnapshot", "log": "Expressway log"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The verdict and, in words and numbers, what it rests on."""

    verdict: str  # problems | clear | inconclusive
    summary: str  # one sentence for people
    reason: str | None  # why inconclusive (None otherwise)
    looked: int  # signatures whose input was present (matched or passed)
    could_not: int  # signatures skipped for lack of input
    problems: int  # findings of severity warning or worse
    lines: int | None  # Expressway log lines examined; None: not recorded for this run
    examined: list[Examined] = field(default_factory=list)
    read_in_part: list[str] = field(default_factory=list)  # "<upload>: <what is wrong>"
    unread: list[str] = field(default_factory=list)  # nodes whose logs gave no Expressway line


def examined_lines(
    files: Sequence[BundleFile], nodes: Mapping[str, NodeInfo], stats: Mapping[str, FileStats]
) -> list[Examined]:
    """The lines the scan read, per node and log kind, from the FileStats it recorded."""
    groups: dict[tuple[str, str, bool, bool], list[int]] = {}
    for file in files:
        scanned = stats.get(file.name)
        if file.kind not in _LOG_KINDS or scanned is None:
            continue
        expressway = scanned.expressway_format or file.kind == FileKind.LOGGINGSNAPSHOT
        product_log = not expressway and not scanned.markers.isdisjoint(_PRODUCT_LOG_LITERALS)
        key = (file.bundle, str(file.kind), expressway, product_log)
        counts = groups.setdefault(key, [0, 0])
        counts[0] += 1
        counts[1] += scanned.lines
    result = []
    for (bundle, kind, expressway, product_log), (count, lines) in groups.items():
        node = nodes.get(bundle)
        result.append(
            Examined(
                bundle=bundle,
                node=node.hostname if node is not None else None,
                product=node.product if node is not None else None,
                version=node.version if node is not None else None,
                kind=kind,
                files=count,
                lines=lines,
                expressway=expressway,
                product_log=product_log,
            )
        )
    return result


def examined_to_json(examined: Iterable[Examined]) -> list[dict[str, Any]]:
    return [
        {
            "bundle": e.bundle,
            "node": e.node,
            "product": e.product,
            "version": e.version,
            "kind": e.kind,
            "files": e.files,
            "lines": e.lines,
            "expressway": e.expressway,
            "product_log": e.product_log,
        }
        for e in examined
    ]


def examined_from_json(stored: Iterable[Mapping[str, Any]]) -> list[Examined]:
    return [
        Examined(
            bundle=str(item.get("bundle", "")),
            node=item.get("node"),
            product=item.get("product"),
            version=item.get("version"),
            kind=str(item.get("kind", "log")),
            files=int(item.get("files", 0)),
            lines=int(item.get("lines", 0)),
            expressway=bool(item.get("expressway", False)),
            # (recorded before product_log was: other text may be another product's log, so an
            # analysis saved then keeps its verdict rather than turn inconclusive on re-reading)
            product_log=bool(item.get("product_log", not item.get("expressway", False))),
        )
        for item in stored
    ]


def _where(item: Examined) -> str:
    name = item.node or item.bundle
    identity = " ".join(part for part in (item.product, item.version) if part)
    return f"{name} ({identity})" if identity else name


def _lines_text(examined: Sequence[Examined]) -> str:
    parts = [
        f"{item.lines:,} line{'s' if item.lines != 1 else ''} of "
        f"{_KIND_WORDS.get(item.kind, item.kind)} from {_where(item)}"
        for item in examined
        if item.expressway
    ]
    if len(parts) > 1:
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    return parts[0] if parts else ""


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'s' if count != 1 else ''}"


def problem_count(counts: Mapping[str, int]) -> int:
    """Findings of severity warning or worse, from counts by severity."""
    return sum(n for severity, n in counts.items() if severity in PROBLEM_SEVERITIES)


_ABSENT_PRODUCT_LOGS = tuple(log.absent for log in PRODUCT_LOGS)
_PRODUCT_LOG_LITERALS = frozenset(literal for log in PRODUCT_LOGS for literal in log.literals)


def without_product_log(outcome: str, reason: str | None) -> bool:
    """Whether a coverage entry is a skip for want of another product's log (not uploaded)."""
    return outcome == "skipped" and bool(reason) and str(reason).startswith(_ABSENT_PRODUCT_LOGS)


def skip_lines(skipped: Iterable[tuple[str, str | None]]) -> list[str]:
    """ "id: reason" per skipped signature (id, reason), for people: the signatures skipped for
    want of the same product log share one line, their ids joined, the reason said once."""
    rows: list[tuple[list[str], str]] = []  # (ids, reason), in order of first appearance
    by_reason: dict[str, list[str]] = {}
    for signature_id, reason in skipped:
        text = reason or ""
        if without_product_log("skipped", reason) and text in by_reason:
            by_reason[text].append(signature_id)
            continue
        ids = [signature_id]
        if without_product_log("skipped", reason):
            by_reason[text] = ids
        rows.append((ids, text))
    return [f"{', '.join(ids)}: {text}" for ids, text in rows]


def decide(
    problems: int,
    outcomes: Iterable[str],
    examined: Sequence[Examined] | None,
    *,
    elsewhere: int = 0,
    read_in_part: Sequence[str] = (),
) -> Verdict:
    """The verdict from the number of findings of severity warning or worse (`problem_count`),
    the coverage outcomes and the examined lines.

    `examined` None means the run recorded no line counts (saved before they existed): the
    verdict then rests on the coverage alone, and the summary says so. `elsewhere`: how many
    of the skipped signatures read another product's log that was not uploaded
    (`without_product_log`): the summary groups them in one clause. `read_in_part`: the uploads
    (or the archives and files in them) read only up to their damage, as app.bundle.damage.
    read_in_part names them: no all-clear then, and the summary says what was cut.
    """
    outcome_list = list(outcomes)
    looked = sum(1 for outcome in outcome_list if outcome in LOOKED)
    could_not = sum(1 for outcome in outcome_list if outcome == "skipped")
    counts = f"{_plural(looked, 'signature')} looked, {could_not:,} could not"
    if elsewhere:
        counts += (
            f" ({elsewhere:,} of them read {'logs' if elsewhere != 1 else 'a log'} of other "
            "products, not uploaded)"
        )
    lines = None if examined is None else sum(e.lines for e in examined if e.expressway)
    where = "" if examined is None else _lines_text(examined)
    in_lines = f" in {where}" if where else ""
    shown = list(examined or [])
    cut = list(read_in_part)
    damage = f" Read only in part: {'; '.join(cut)}." if cut else ""
    unread = _unread(examined) if lines else []
    not_read = f" No Expressway log line was read from {'; '.join(unread)}." if unread else ""
    if problems:
        summary = f"{_plural(problems, 'problem')} found{in_lines}; {counts}.{damage}{not_read}"
        return Verdict(
            PROBLEMS, summary, None, looked, could_not, problems, lines, shown, cut, unread
        )
    reason: str | None = None
    if examined is not None and not lines:
        other = sum(e.lines for e in examined if not e.expressway)
        if any(e.expressway for e in examined):
            reason = "the loggingsnapshot and Expressway log files of the upload are empty"
        else:
            reason = "the upload holds no loggingsnapshot and no log in the Expressway format"
        if other:
            reason += f" ({_plural(other, 'line')} of other text were read)"
    elif not looked:
        reason = "no signature could look: every one lacked its input"
    if reason is not None:
        summary = f"Inconclusive: {reason}; {counts}.{damage}{not_read}"
        return Verdict(
            INCONCLUSIVE, summary, reason, looked, could_not, 0, lines, shown, cut, unread
        )
    recorded = "" if examined is not None else " (lines examined were not recorded for this run)"
    caveats = [
        *(["the upload was read only in part, up to its damage"] if cut else []),
        *([f"no Expressway log line was read from {'; '.join(unread)}"] if unread else []),
    ]
    if caveats:
        reason = "; ".join(caveats)
        after = ", but what came after the damage was not looked at" if cut else ""
        summary = (
            f"Inconclusive: {reason}; no known problem found{in_lines}{recorded}{after}; "
            f"{counts}.{damage}"
        )
        return Verdict(
            INCONCLUSIVE, summary, reason, looked, could_not, 0, lines, shown, cut, unread
        )
    summary = f"No known problem found{in_lines}{recorded}; {counts}."
    return Verdict(CLEAR, summary, None, looked, could_not, 0, lines, shown)


DAMAGED, UNREAD, NOTHING = "damaged", "unread", "nothing"


def inconclusive_case(read_in_part: Sequence[str], lines: int | None, unread: Sequence[str]) -> str:
    """What an inconclusive verdict's headline says, from its detail (the page and the CLI):
    DAMAGED, lines were read but only up to the upload's damage; UNREAD, some node's logs gave
    no Expressway line; NOTHING, nothing could be checked."""
    if read_in_part and lines:
        return DAMAGED
    return UNREAD if unread else NOTHING


def _unread(examined: Sequence[Examined] | None) -> list[str]:
    """The nodes whose log files gave no Expressway line (empty, or other text), each with
    what was there: an upload of several nodes is not all-clear when one of them was not read.
    A node without log files (a capture or a PEM uploaded alone), and one holding another
    product's log (a Jabber or endpoint log uploaded next to the bundles), are not among them."""
    lines: dict[str, int] = {}
    other: dict[str, int] = {}
    names: dict[str, str] = {}
    products = {item.bundle for item in examined or () if item.product_log}
    for item in examined or ():
        if item.bundle in products:
            continue
        names.setdefault(item.bundle, item.node or item.bundle)
        if item.expressway:
            lines[item.bundle] = lines.get(item.bundle, 0) + item.lines
        else:
            other[item.bundle] = other.get(item.bundle, 0) + item.lines
    unread = []
    for bundle, name in names.items():
        if lines.get(bundle, 0):
            continue
        text = other.get(bundle, 0)
        said = f"{_plural(text, 'line')} of other text" if text else "its log files are empty"
        unread.append(f"{name} ({said})")
    return unread
