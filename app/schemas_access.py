"""The REST contract of access: the analyses list, share links, retention and the audit log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.auth.shares import MAX_DAYS as MAX_SHARE_DAYS
from app.services.retention import MAX_EXTEND_DAYS


class AnalysisListItem(BaseModel):
    id: str
    title: str | None
    status: str
    created_at: datetime | None
    owner: str | None
    expires_at: datetime | None


class AnalysisList(BaseModel):
    total: int
    analyses: list[AnalysisListItem]


class ShareRequest(BaseModel):
    expires_in_days: int = Field(default=7, ge=1, le=MAX_SHARE_DAYS)


class ShareCreated(BaseModel):
    id: str
    url: str = Field(description="opens the analysis read-only without login; shown only now")
    expires_at: datetime


class ShareOut(BaseModel):
    id: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool


class ExtendRequest(BaseModel):
    days: int = Field(default=30, ge=1, le=MAX_EXTEND_DAYS)


class Retention(BaseModel):
    expires_at: datetime | None = Field(description="null: kept until deleted")


class AuditEventOut(BaseModel):
    at: datetime
    actor: str | None
    action: str
    analysis_id: str | None
    address: str | None
    detail: str


class AuditPage(BaseModel):
    total: int
    events: list[AuditEventOut]
