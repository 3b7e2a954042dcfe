"""Pydantic models that ARE the public REST contract (api/v1). Change with care."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["queued", "running", "done", "failed"]
Severity = Literal["critical", "error", "warning", "info"]


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


class SignatureOut(BaseModel):
    id: str
    title: str
    severity: Severity
    bug_ids: list[str]
    product: str


class Health(BaseModel):
    status: str
