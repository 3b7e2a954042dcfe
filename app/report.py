"""Plain data that flows from the analysis engine to storage, the API and the CLI.

Nothing here imports FastAPI or SQLAlchemy: `loupe analyze` builds these objects offline and
the worker stores them. The JSON shape of each object is the REST contract (see schemas.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.calls.model import BackgroundRow, Call
from app.calls.signin_model import SigninResult


class FileKind(StrEnum):
    """What a file inside a bundle is, detected from its name and contents."""

    LOGGINGSNAPSHOT = "loggingsnapshot"
    XCONF = "xconf"
    XSTAT = "xstat"
    PCAP = "pcap"
    PEM = "pem"
    LOG = "log"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class BundleFile:
    """One regular file unpacked into an analysis' work dir."""

    path: Path  # absolute path on disk, always inside the work dir
    name: str  # shown to people and used in URLs: "<upload name>/<member path>", posix
    size: int
    kind: FileKind
    bundle: str  # its node's key: the upload's name, or "<upload> (<host>)" (app.bundle.hosts)


@dataclass(frozen=True, slots=True)
class UploadUnpacked:
    """What unpacking one upload gave: a re-run reads these files instead of the upload."""

    position: int  # the upload's position among the analysis' uploads
    name: str  # its unique name, the key of its node ("diag.tar.gz (2)" for a second one)
    files: list[BundleFile]
    warnings: list[str]  # what was skipped or salvaged, as the unpack said it


@dataclass(frozen=True, slots=True)
class Unpacked:
    """How an analysis' uploads were unpacked (app/bundle/manifest.py keeps it on disk)."""

    uploads: list[UploadUnpacked]  # the uploads unpacked, in order (repeats left out)
    warnings: list[str]  # the repeated-upload warnings, which come first


@dataclass(slots=True)
class NodeInfo:
    """Identity of one Expressway peer, detected from a bundle's contents."""

    bundle: str  # its key (BundleFile.bundle): the upload's name, or "<upload> (<host>)"
    hostname: str | None = None
    product: str | None = None  # "Expressway-C" | "Expressway-E" | "VCS" | None
    version: str | None = None  # e.g. "X14.2.1"
    # how it was identified: [{"source": "<file name>" | "user" | "logloupe", "says": "..."}]
    evidence: list[dict[str, str]] = field(default_factory=list)
    confidence: str = "low"  # high | medium | low: how sure the product is


@dataclass(frozen=True, slots=True)
class Snippet:
    file: str  # BundleFile.name
    line: int  # 1-based line number in that file
    text: str


@dataclass(slots=True)
class Finding:
    signature_id: str
    title: str
    severity: str  # critical | error | warning | info
    bug_ids: list[str]
    node: str | None
    description: str
    condition: str
    further_info: str
    action: str
    facts: dict[str, Any]
    snippets: list[Snippet]
    count: int
    first_seen: str | None  # ISO 8601
    last_seen: str | None
    signature_status: str = "stable"  # stable | experimental (| deprecated, when loaded)


@dataclass(frozen=True, slots=True)
class Coverage:
    """Whether one signature could look at this upload: matched, passed, or skipped and why."""

    signature_id: str
    title: str
    outcome: str  # matched | passed | skipped
    reason: str | None = None  # why skipped; for matched/passed, the nodes it could not check


@dataclass(frozen=True, slots=True)
class Examined:
    """The log lines the signatures read on one node, by file kind (counted during the scan)."""

    bundle: str  # the node key (BundleFile.bundle) of the files
    node: str | None  # its hostname, when detected
    product: str | None
    version: str | None
    kind: str  # FileKind value: loggingsnapshot | log
    files: int
    lines: int
    expressway: bool  # the files hold Expressway log lines (not unrelated text)
    product_log: bool = False  # not Expressway lines: another product's log (sources.PRODUCT_LOGS)


@dataclass(slots=True)
class Report:
    """Everything one analysis produced."""

    ruleset_version: str
    files: list[BundleFile] = field(default_factory=list)
    nodes: list[NodeInfo] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)
    # every TLS chain the captures showed, per node/server/port (app/analyzers/certificates.py)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    # each node's own server certificate (server_*.pem), with its trust verdict
    server_certificates: list[dict[str, Any]] = field(default_factory=list)
    # the log lines the signatures read, per node and file kind (app/signatures/verdict.py)
    examined: list[Examined] = field(default_factory=list)
    # SIP calls the logs show (app/calls), and keep-alive traffic folded per node, peer, method;
    # None: call flows were not extracted (LOUPE_CALL_FLOWS off, pipeline.analyze(extract_calls=))
    calls: list[Call] | None = None
    call_background: list[BackgroundRow] = field(default_factory=list)
    # MRA sign-in attempts (app/calls/signin*), read with the calls; None: not extracted
    signins: SigninResult | None = None
    # the extraction key (app/calls/reuse.py) of the calls and sign-ins of the run: those kept
    # from an earlier run (calls_kept: calls and signins stay None), or those extracted once the
    # worker keys them to store them (pipeline.calls_key); else None. call_warnings: what their
    # extraction warned of (also in `warnings`)
    calls_key: str | None = None
    calls_kept: bool = False
    call_warnings: list[str] = field(default_factory=list)
    # per log file (by name): its timeline counts (app.search.timeline.counts_to_json), None for
    # a file that is not a log; None here: not counted (pipeline.analyze(count_timeline=))
    timeline: dict[str, Any] | None = None
    # what the unpack gave (or what a re-run read back): the worker keeps it for re-runs
    unpacked: Unpacked | None = None


SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def sort_findings(report: Report) -> None:
    """Findings in display order: severity, then signature, then node."""
    report.findings.sort(
        key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.signature_id, f.node or "")
    )
