"""Pydantic models that ARE the public REST contract (api/v1). Change with care."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["queued", "running", "done", "failed"]
Severity = Literal["critical", "error", "warning", "info"]
Outcome = Literal["matched", "passed", "skipped"]
SignatureStatus = Literal["experimental", "stable", "deprecated"]


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


class NodeOut(BaseModel):
    hostname: str | None
    product: str | None
    version: str | None


class SignatureRef(BaseModel):
    id: str
    title: str
    severity: Severity
    bug_ids: list[str]


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


class AnalysisOut(BaseModel):
    id: str
    status: Status
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    title: str | None
    files: list[FileOut]
    nodes: list[NodeOut]
    findings: list[FindingOut]
    error: str | None
    warnings: list[str]
    ruleset_version: str | None
    coverage: list[CoverageOut] = Field(default_factory=list)
    runs: list[RunOut] = Field(default_factory=list)
    delta: DeltaOut | None = None
    calls: int = 0  # SIP calls found in the logs: /api/v1/analyses/{id}/calls


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


class PatternOut(BaseModel):
    regex: str
    facts: dict[str, Any]


class MatchOut(BaseModel):
    """How the signature finds its lines: logical source, literal prefilter, regexes."""

    source: str
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
