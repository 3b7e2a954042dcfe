"""Build the report of an analysis as a list of blocks, from the same dict the JSON API returns.

Pure: no web framework, no database. Markdown (reporting/markdown.py) and PDF (reporting/pdf.py)
write the same blocks, so both say the same thing. Signature texts are kept as the Markdown
subset they are written in (`Prose`); everything read from the logs is plain text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app import timefmt
from app.signatures.verdict import skip_lines

BUG_URL = "https://bst.cloudapps.cisco.com/bugsearch/bug/"
MAX_REPORT_FINDINGS = 200  # past this the report counts the rest and points to the JSON
MAX_REPORT_CALLS = 50
PROBLEM_SEVERITIES = ("critical", "error", "warning")


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class Text:
    """Plain text (escaped by each writer)."""

    text: str


@dataclass(frozen=True, slots=True)
class Prose:
    """A signature text: the Markdown subset of app.textformat."""

    label: str
    text: str


@dataclass(frozen=True, slots=True)
class Fields:
    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Code:
    """Log lines, verbatim."""

    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Bullets:
    items: tuple[str, ...]


Block = Heading | Text | Prose | Fields | Code | Table | Bullets


@dataclass(slots=True)
class Document:
    title: str
    name: str  # what the analysis is called (its title, else its files)
    blocks: list[Block] = field(default_factory=list)


def report_title(analysis: Mapping[str, Any]) -> str:
    files = ", ".join(str(f.get("name", "")) for f in analysis.get("files") or ())
    return str(analysis.get("title") or files or analysis.get("id") or "Analysis")


def verdict_sentence(analysis: Mapping[str, Any]) -> str:
    """The analysis' own verdict when it has one, else one derived from its findings."""
    status = analysis.get("status")
    if status == "failed":
        return f"The analysis failed: {analysis.get('error') or 'no reason was recorded'}."
    if status != "done":
        return f"The analysis is {status}: the report is complete once it is done."
    detail = analysis.get("verdict_detail")
    verdict = analysis.get("verdict")
    if isinstance(detail, Mapping) and detail.get("summary"):
        return f"{str(verdict or '').capitalize()}: {detail['summary']}".lstrip(": ")
    findings = analysis.get("findings") or ()
    total = int(analysis.get("findings_total") or len(findings))
    problems = sum(1 for f in findings if _severity(f) in PROBLEM_SEVERITIES)
    if verdict:
        return f"{str(verdict).capitalize()}: {_plural(total, 'finding')}."
    if problems:
        return f"Problems: {_plural(problems, 'finding')} of severity warning or worse."
    if total:
        return f"No problems: {_plural(total, 'informational finding')}."
    return "No findings: no signature matched these logs (only known problems are looked for)."


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _severity(finding: Mapping[str, Any]) -> str:
    return str((finding.get("signature") or {}).get("severity", ""))


def _seen(finding: Mapping[str, Any]) -> str:
    count = finding.get("count", 0)
    first, last = finding.get("first_seen"), finding.get("last_seen")
    if not first:
        return f"{count}×"
    if last and last != first:
        return f"{count}×, {timefmt.show(first)} to {timefmt.show(last)}"
    return f"{count}×, {timefmt.show(first)}"


def _fact(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_fact(v) for v in value)
    return "" if value is None else str(value)


def finding_blocks(finding: Mapping[str, Any], number: int) -> list[Block]:
    signature = finding.get("signature") or {}
    items = [("Signature", str(signature.get("id", "")))]
    if finding.get("node"):
        items.append(("Node", str(finding["node"])))
    items.append(("Seen", _seen(finding)))
    bugs = signature.get("bug_ids") or ()
    if bugs:
        items.append(("Bugs", ", ".join(f"{bug} ({BUG_URL}{bug})" for bug in bugs)))
    facts = finding.get("facts") or {}
    if facts:
        items.append(("Facts", "; ".join(f"{k}={_fact(v)}" for k, v in facts.items())))
    blocks: list[Block] = [
        Heading(3, f"{number}. [{_severity(finding).upper()}] {signature.get('title', '')}"),
        Fields(tuple(items)),
    ]
    for label, key in (
        ("Description", "description"),
        ("Condition", "condition"),
        ("Action", "action"),
        ("Further information", "further_info"),
    ):
        if str(finding.get(key) or "").strip():
            blocks.append(Prose(label, str(finding[key])))
    snippets = sorted(
        finding.get("snippets") or (),
        key=lambda s: (str(s.get("file", "")), int(s.get("line") or 0)),
    )
    if snippets:
        blocks.append(Text("Key log lines:"))
        blocks.append(
            Code(tuple(f"{s.get('file')}:{s.get('line')}: {s.get('text', '')}" for s in snippets))
        )
    return blocks


def _certificate_blocks(
    certificates: Sequence[Mapping[str, Any]], server_certificates: Sequence[Mapping[str, Any]]
) -> list[Block]:
    if not certificates and not server_certificates:
        return []
    blocks: list[Block] = [Heading(2, "Certificates")]

    def trust(entry: Mapping[str, Any]) -> str:
        if entry.get("trusted") is True:
            return "trusted"
        if entry.get("trusted") is False:
            reason = entry.get("trust_reason")
            return f"not trusted ({reason})" if reason else "not trusted"
        return "no trust store"

    if server_certificates:
        blocks.append(Text("The nodes' own server certificates (server_*.pem):"))
        rows = tuple(
            (
                str(c.get("node", "")),
                str(c.get("subject", "")),
                str(c.get("not_after", ""))[:10],
                trust(c),
                str(c.get("sha256", "")),
            )
            for c in server_certificates
        )
        blocks.append(Table(("Node", "Subject", "Valid until", "Trust", "SHA-256"), rows))
    if certificates:
        blocks.append(Text("TLS chains seen in the captures:"))
        chains: list[tuple[str, ...]] = []
        for entry in certificates:
            chain = entry.get("chain") or ()
            leaf = chain[0] if chain else {}
            chains.append(
                (
                    str(entry.get("node", "")),
                    f"{entry.get('server_ip')}:{entry.get('port')}",
                    str(leaf.get("subject", "")),
                    str(leaf.get("not_after", ""))[:10],
                    trust(entry),
                )
            )
        blocks.append(
            Table(("Node", "Server", "Leaf subject", "Valid until", "Trust"), tuple(chains))
        )
    return blocks


def _calls_blocks(
    calls: Sequence[Mapping[str, Any]] | None, failed_total: int | None
) -> list[Block]:
    failed = [c for c in calls or () if c.get("failed")]
    if not failed:
        return []
    rows = tuple(
        (
            str(c.get("number", "")),
            timefmt.utc(c.get("started_at")),
            str(c.get("from_uri", "")),
            str(c.get("to_uri", "")),
            str(c.get("final_status") or "no final response"),
            str(c.get("end_reason", "")),
        )
        for c in failed[:MAX_REPORT_CALLS]
    )
    blocks: list[Block] = [
        Heading(2, "Failed calls"),
        Table(("#", "Started (UTC)", "From", "To", "Final status", "Reason"), rows),
    ]
    total = max(len(failed), failed_total or 0)
    if total > MAX_REPORT_CALLS:
        blocks.append(Text(f"… and {total - MAX_REPORT_CALLS} more failed calls."))
    return blocks


def build(
    analysis: Mapping[str, Any],
    *,
    certificates: Sequence[Mapping[str, Any]] = (),
    server_certificates: Sequence[Mapping[str, Any]] = (),
    calls: Sequence[Mapping[str, Any]] | None = None,
    failed_calls: int | None = None,
    link: str | None = None,
) -> Document:
    """The report of `analysis` (the JSON object of `GET /api/v1/analyses/{id}`).

    `calls` are the analysis' calls when the deployment has call flows (their failed ones are
    listed, at most MAX_REPORT_CALLS of them); `failed_calls` counts all the failed ones when
    `calls` holds only the first; `link` is the analysis' address, when it has one.
    """
    name = report_title(analysis)
    doc = Document(title=f"logloupe report: {name}", name=name)
    add = doc.blocks.append
    add(Heading(1, doc.title))
    items = [("Analysis", str(analysis.get("id", "")))]
    if link:
        items.append(("Link", link))
    items.append(("Status", str(analysis.get("status", ""))))
    for label, key in (("Uploaded", "created_at"), ("Finished", "finished_at")):
        if analysis.get(key):
            items.append((label, timefmt.utc(analysis[key])))
    if analysis.get("ruleset_version"):
        items.append(("Ruleset", str(analysis["ruleset_version"])))
    files = analysis.get("files") or ()
    if files:
        items.append(("Files", ", ".join(str(f.get("name", "")) for f in files)))
    add(Fields(tuple(items)))
    add(Heading(2, "Verdict"))
    add(Text(verdict_sentence(analysis)))

    add(Heading(2, "Nodes"))
    nodes = analysis.get("nodes") or ()
    if nodes:
        rows = tuple(
            (
                str(n.get("hostname") or "unknown"),
                str(n.get("product") or "unknown"),
                str(n.get("version") or "unknown"),
            )
            + ((str(n.get("confidence") or "unknown"),) if "confidence" in n else ())
            for n in nodes
        )
        confidence = ("Identified with",) if any("confidence" in n for n in nodes) else ()
        add(Table(("Hostname", "Product", "Version", *confidence), rows))
    else:
        add(Text("No node could be identified."))
    warnings = analysis.get("warnings") or ()
    if warnings:
        add(Heading(2, "Warnings"))
        add(Bullets(tuple(str(w) for w in warnings)))

    findings = list(analysis.get("findings") or ())
    total = int(analysis.get("findings_total") or len(findings))
    if analysis.get("status") == "done":
        add(Heading(2, f"Findings ({total})"))
        if not findings:
            add(Text("None of the signatures matched these logs."))
        for number, finding in enumerate(findings[:MAX_REPORT_FINDINGS], start=1):
            doc.blocks.extend(finding_blocks(finding, number))
        left = total - min(len(findings), MAX_REPORT_FINDINGS)
        if left > 0:
            add(Text(f"… and {left} more findings: every one is in the analysis JSON."))
    doc.blocks.extend(_certificate_blocks(certificates, server_certificates))
    doc.blocks.extend(_calls_blocks(calls, failed_calls))
    coverage = analysis.get("coverage") or ()
    if coverage:
        skipped = [c for c in coverage if c.get("outcome") == "skipped"]
        add(Heading(2, "Coverage"))
        add(
            Text(
                f"{_plural(len(coverage) - len(skipped), 'signature')} looked at these logs, "
                f"{len(skipped)} could not" + (", each for the reason given:" if skipped else ".")
            )
        )
        if skipped:
            pairs = [(str(c.get("signature_id")), c.get("reason")) for c in skipped]
            add(Bullets(tuple(skip_lines(pairs))))
    return doc
