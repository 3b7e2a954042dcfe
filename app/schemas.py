"""Pydantic models that ARE the public REST contract (api/v1). Change with care."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["queued", "running", "done", "failed"]
Severity = Literal["critical", "error", "warning", "info"]
Outcome = Literal["matched", "passed", "skipped"]
SignatureStatus = Literal["experimental", "stable", "deprecated"]
VerdictName = Literal["problems", "clear", "inconclusive"]


class Problem(BaseModel):
    detail: str = Field(description="What is wrong and what to do")


class AnalysisCreated(BaseModel):
    id: str
    status: Status
    url: str
    api_url: str


class FileOut(BaseModel):
    name: str
    size: int
    sha256: str
    product: str | None = Field(
        default=None, description="The product chosen for this file at upload; null: detected"
    )


class EvidenceOut(BaseModel):
    source: str = Field(description='The file that showed it, "user" or "logloupe"')
    says: str = Field(description="What it showed")


class NodeOut(BaseModel):
    hostname: str | None
    product: str | None
    version: str | None
    confidence: Literal["high", "medium", "low"] = Field(
        default="low",
        description="How sure the product is: high = a decisive xstat/xconf fact or the "
        "user's choice; medium = log hints only, or facts that disagree; low = a label only "
        "or nothing",
    )
    evidence: list[EvidenceOut] = Field(
        default_factory=list, description="How the node was identified, strongest first"
    )


class SignatureRef(BaseModel):
    id: str
    title: str
    severity: Severity
    bug_ids: list[str]
    status: SignatureStatus | None = Field(
        default=None,
        description="stable, or experimental (the log pattern is inferred, not seen in a public "
        "source); null for findings of runs saved before it was recorded",
    )


class SnippetOut(BaseModel):
    file: str
    line: int
    text: str


class FindingOut(BaseModel):
    signature: SignatureRef
    node: str | None
    description: str
    condition: str
    further_info: str
    action: str
    facts: dict[str, Any]
    snippets: list[SnippetOut]
    count: int
    first_seen: str | None
    last_seen: str | None


class CoverageOut(BaseModel):
    """Whether one signature could look at the upload ("did you upload the right logs?")."""

    signature_id: str
    title: str
    outcome: Outcome
    reason: str | None = Field(
        description="Why it was skipped; for matched/passed, the nodes it could not check"
    )


class RerunIn(BaseModel):
    """Optional body of `POST /api/v1/analyses/{id}/rerun`."""

    products: dict[str, str] = Field(
        default_factory=dict,
        description='Product per uploaded file for this and later runs, e.g. {"diag.tar.gz": '
        '"Expressway-C"}: keys are upload names as in `files` (the second of two files with '
        'one name is "<name> (2)"), values Expressway-C | Expressway-E | VCS | auto ("auto" '
        "clears an earlier choice). Files not named keep their choice.",
        max_length=64,
    )


class ExaminedOut(BaseModel):
    """Log lines the signatures read on one node, for one file kind (counted during the scan)."""

    bundle: str
    node: str | None
    product: str | None
    version: str | None
    kind: str
    files: int
    lines: int
    expressway: bool = Field(description="the files hold Expressway log lines")
    product_log: bool = Field(
        default=False, description="the files hold another product's log (Jabber, endpoint, …)"
    )


class VerdictDetailOut(BaseModel):
    """What the verdict rests on (app/signatures/verdict.py)."""

    summary: str = Field(description="the verdict in one sentence")
    reason: str | None = Field(description="why the verdict is inconclusive")
    problems: int = Field(description="findings of severity warning or worse")
    lines_examined: int | None = Field(
        description="Expressway log lines read; null: not recorded for this run (re-run it)"
    )
    signatures_looked: int = Field(description="signatures whose input was present")
    signatures_could_not: int = Field(description="signatures skipped: their input was absent")
    examined: list[ExaminedOut]
    read_in_part: list[str] = Field(
        default_factory=list,
        description='what was read only up to its damage ("<upload or file>: <what is wrong>"); '
        "when any, the verdict is never clear",
    )
    unread: list[str] = Field(
        default_factory=list,
        description='nodes whose log files gave no Expressway line while others did ("<node> '
        '(<what was there>)"); when any, the verdict is never clear',
    )


class SameUploadOut(BaseModel):
    """An earlier analysis of a file with the same SHA-256 as one uploaded here."""

    id: str
    title: str | None
    created_at: datetime | None


class RunOut(BaseModel):
    """One pass of the signature library over the analysis' files; a re-run adds one."""

    number: int
    ruleset_version: str | None
    created_at: datetime | None
    finished_at: datetime | None


class DeltaFinding(BaseModel):
    signature: SignatureRef
    node: str | None
    facts: dict[str, Any]
    count: int


class DeltaOut(BaseModel):
    """The current run's findings against the previous finished run's."""

    run: int
    ruleset_version: str | None
    previous_run: int
    previous_ruleset_version: str | None
    new: list[DeltaFinding]
    resolved: list[DeltaFinding]
    unchanged: list[DeltaFinding]


class FindingsPageOut(BaseModel):
    """Which findings `findings` holds when the request asked for a page of them."""

    page: int = Field(description="1-based; past the last page gives the last page")
    per_page: int
    pages: int = Field(description="how many pages there are (at least 1)")


class AnalysisOut(BaseModel):
    id: str
    status: Status
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    title: str | None
    files: list[FileOut]
    nodes: list[NodeOut]
    findings: list[FindingOut] = Field(
        description="every finding of the shown run, or one page of them with ?page=&per_page="
    )
    findings_total: int = Field(default=0, description="how many findings the shown run has")
    findings_page: FindingsPageOut | None = Field(
        default=None, description="the page `findings` is, when ?page= or ?per_page= was given"
    )
    error: str | None
    warnings: list[str]
    ruleset_version: str | None
    coverage: list[CoverageOut] = Field(default_factory=list)
    runs: list[RunOut] = Field(default_factory=list)
    delta: DeltaOut | None = None
    calls: int | None = Field(
        default=None,
        description="SIP calls found in the logs (/api/v1/analyses/{id}/calls); null when call "
        "flows were not extracted (LOUPE_CALL_FLOWS=false when it ran)",
    )
    owner: str | None = None
    expires_at: datetime | None = Field(
        default=None, description="when the retention sweeper deletes it; null: kept until deleted"
    )
    verdict: VerdictName | None = Field(
        default=None,
        description="problems (a finding of severity warning or worse), clear (signatures "
        "looked at Expressway log lines and found nothing), inconclusive (nothing they could "
        "read); null until the analysis is done",
    )
    verdict_detail: VerdictDetailOut | None = None
    same_upload_as: list[SameUploadOut] = Field(
        default_factory=list,
        description="earlier analyses of an identical upload (same SHA-256), newest first",
    )
    uploads_kept: bool | None = Field(
        default=None,
        description="whether the uploaded files are still stored on the server: true while the "
        "analysis is queued or running, after it failed (kept for a retry) or with "
        "LOUPE_KEEP_UPLOADS; false once a done analysis' upload was deleted (its name, size and "
        "SHA-256 stay, re-runs read the stored logs); null offline (loupe analyze)",
    )


class SignatureOut(BaseModel):
    id: str
    title: str
    severity: Severity
    bug_ids: list[str]
    product: str


class AppliesToOut(BaseModel):
    products: list[str]
    min_version: str | None
    max_version: str | None
    only_on_product: bool = Field(
        default=False, description="not run on a node known to be another product"
    )


class PatternOut(BaseModel):
    regex: str
    facts: dict[str, Any]


class MatchOut(BaseModel):
    """How the signature finds its lines: logical source, literal prefilter, regexes."""

    source: str
    reads: str = Field(
        default="",
        description="the log the source is, in words: Expressway log, or another product's "
        "(TC/CE endpoint log, Jabber log, Unified CM SDL trace, …) uploaded as a plain log",
    )
    upload_hint: str | None = Field(
        default=None, description="for another product's log: what to upload so it is read"
    )
    contains: list[str]
    patterns: list[PatternOut]
    group_by: list[str]


class TextsOut(BaseModel):
    """The four explanatory texts as Jinja templates (rendered with a finding's facts)."""

    description: str
    condition: str
    further_info: str
    action: str


class ExampleOut(BaseModel):
    name: str
    lines: list[str]
    expect: dict[str, Any] | None = Field(description="facts subset, or null: must not match")
    count: int | None


class SignatureSource(BaseModel):
    file: str = Field(description="path of the YAML file inside the library")
    text: str | None = Field(description="the YAML file as written, when readable")


class SignatureDetail(SignatureOut):
    family: str = ""  # catalogue family (tls, mra, sip, cluster, alarm, …); ?family= filters
    status: SignatureStatus
    applies_to: AppliesToOut
    references: list[str]
    match: MatchOut
    texts: TextsOut
    examples: list[ExampleOut]
    source: SignatureSource


class Health(BaseModel):
    status: str


class OfflineAnalysisOut(AnalysisOut):
    """`loupe analyze --json`: the analysis object plus what GET …/{id}/certificates and
    …/{id}/server-certificates list."""

    certificates: list[dict[str, Any]] = Field(default_factory=list)
    server_certificates: list[dict[str, Any]] = Field(default_factory=list)
