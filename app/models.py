"""ORM tables: analyses with their files, nodes, runs and findings; users, tokens, shares, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from app.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Analysis(Base):
    __tablename__ = "analysis"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    ruleset_version: Mapped[str | None] = mapped_column(String(64))
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent, while running
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when a message for it was last handed to the broker (Celery mode); NULL: send it again
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    worker: Mapped[str | None] = mapped_column(String(200))
    current_run: Mapped[int] = mapped_column(Integer, default=1)
    # who uploaded it and the team that sees it (app/auth/policy.py); NULL: only admins
    owner: Mapped[str | None] = mapped_column(String(100), index=True)
    team: Mapped[str | None] = mapped_column(String(100), index=True)
    # the retention sweeper deletes it after this (LOUPE_RETENTION_DAYS); NULL: kept forever
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # whether a run extracted its SIP calls (LOUPE_CALL_FLOWS, migration 0009): the call tables
    # hold the calls of the last run that did
    calls_extracted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    files: Mapped[list[StoredFile]] = relationship(
        back_populates="analysis", order_by="StoredFile.position", cascade="all, delete-orphan"
    )
    nodes: Mapped[list[Node]] = relationship(
        back_populates="analysis", order_by="Node.position", cascade="all, delete-orphan"
    )
    bundle_files: Mapped[list[BundleFileRow]] = relationship(
        back_populates="analysis", order_by="BundleFileRow.name", cascade="all, delete-orphan"
    )
    runs: Mapped[list[AnalysisRun]] = relationship(
        back_populates="analysis", order_by="AnalysisRun.number", cascade="all, delete-orphan"
    )


class StoredFile(Base):
    """An uploaded file, kept as uploaded under the data dir."""

    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[str] = mapped_column(
        ForeignKey("analysis.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # same_upload_as (0011)
    storage_path: Mapped[str] = mapped_column(String(500))  # relative to the data dir
    # the product the user chose for this upload (Expressway-C | Expressway-E | VCS); NULL: auto
    product: Mapped[str | None] = mapped_column(String(32))

    analysis: Mapped[Analysis] = relationship(back_populates="files")


class BundleFileRow(Base):
    """A file unpacked from an upload, viewable in the log viewer."""

    __tablename__ = "bundle_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[str] = mapped_column(
        ForeignKey("analysis.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    bundle: Mapped[str] = mapped_column(Text)
    storage_path: Mapped[str] = mapped_column(Text)  # relative to the data dir

    analysis: Mapped[Analysis] = relationship(back_populates="bundle_files")


class Node(Base):
    __tablename__ = "node"

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[str] = mapped_column(
        ForeignKey("analysis.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    bundle: Mapped[str] = mapped_column(Text)
    hostname: Mapped[str | None] = mapped_column(Text)
    product: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(Text)
    # how it was identified: [{"source", "says"}]; NULL for nodes saved before migration 0007
    evidence: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    confidence: Mapped[str | None] = mapped_column(String(16))  # high | medium | low

    analysis: Mapped[Analysis] = relationship(back_populates="nodes")


class AnalysisRun(Base):
    """One pass of the signature library over an analysis' files (re-runs add rows)."""

    __tablename__ = "analysis_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[str] = mapped_column(
        ForeignKey("analysis.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    ruleset_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # per signature {"signature_id", "title", "outcome", "reason"}; NULL until the run is saved
    coverage: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # every TLS chain the captures showed (app/analyzers/certificates.py); NULL until saved
    certificates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # each node's own server certificate (server_*.pem); NULL until saved or for older runs
    server_certificates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # the log lines the signatures read, per node and kind (app/signatures/verdict.py); NULL
    # until saved, and for runs saved before 0011
    examined: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    analysis: Mapped[Analysis] = relationship(back_populates="runs")
    findings: Mapped[list[FindingRow]] = relationship(
        back_populates="run",
        order_by="(FindingRow.severity_rank, FindingRow.signature_id, FindingRow.id)",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        Index("ix_analysis_run_analysis_number", "analysis_id", "number", unique=True),
    )


class FindingRow(Base):
    __tablename__ = "finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_run.id", ondelete="CASCADE"))
    signature_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(16))
    severity_rank: Mapped[int] = mapped_column(Integer)
    # stable | experimental at the time of the run; NULL for runs saved before 0011
    signature_status: Mapped[str | None] = mapped_column(String(16))
    bug_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    node: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    condition: Mapped[str] = mapped_column(Text, default="")
    further_info: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(Text, default="")
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[str | None] = mapped_column(Text)
    last_seen: Mapped[str | None] = mapped_column(Text)

    run: Mapped[AnalysisRun] = relationship(back_populates="findings")
    snippets: Mapped[list[SnippetRow]] = relationship(
        back_populates="finding", order_by="SnippetRow.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # a run's findings in display order (services/findings.DISPLAY_ORDER), from the index
        Index("ix_finding_run_order", "run_id", "severity_rank", "signature_id", "node", "id"),
    )


class SnippetRow(Base):
    __tablename__ = "snippet"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    file: Mapped[str] = mapped_column(Text)
    line: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)

    finding: Mapped[FindingRow] = relationship(back_populates="snippets")

    __table_args__ = (Index("ix_snippet_finding_position", "finding_id", "position"),)


class User(Base):
    """An account (LOUPE_AUTH=local: with an Argon2id password hash; oidc: created at login)."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    team: Mapped[str | None] = mapped_column(String(100))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginSession(Base):
    """A browser login: the cookie holds a random token, this row only its SHA-256."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A token for scripts (Authorization: Bearer); shown once, kept as its SHA-256."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShareLink(Base):
    """A read-only link to one analysis for people without an account; kept as its SHA-256."""

    __tablename__ = "share_link"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    analysis_id: Mapped[str] = mapped_column(
        ForeignKey("analysis.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Who did what to which analysis; kept after the analysis is deleted."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    analysis_id: Mapped[str | None] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")


class CallRow(Base):
    """One SIP call of an analysis: its summary columns and its messages (compact JSON)."""

    __tablename__ = "call"

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[str] = mapped_column(ForeignKey("analysis.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1-based in time order: the URL's {call}
    method: Mapped[str] = mapped_column(String(32))
    from_uri: Mapped[str] = mapped_column(Text)
    to_uri: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    final_status: Mapped[str] = mapped_column(String(200))
    failed: Mapped[bool] = mapped_column(Boolean)
    end_reason: Mapped[str] = mapped_column(Text)
    nodes: Mapped[list[str]] = mapped_column(JSON)
    call_ids: Mapped[list[str]] = mapped_column(JSON)
    joined_by: Mapped[str | None] = mapped_column(String(64))
    message_count: Mapped[int] = mapped_column(Integer)
    search: Mapped[str] = mapped_column(Text)  # lower-case URIs, Call-IDs, addresses (for ?q=)

    __table_args__ = (
        Index("ix_call_analysis_number", "analysis_id", "number", unique=True),
        Index("ix_call_analysis_failed", "analysis_id", "failed", "number"),
    )


class CallMessagesRow(Base):
    """The messages of one call (compact JSON, app/calls/codec.py), apart so lists stay small."""

    __tablename__ = "call_messages"

    call_id: Mapped[int] = mapped_column(
        ForeignKey("call.id", ondelete="CASCADE"), primary_key=True
    )
    analysis_id: Mapped[str] = mapped_column(
        ForeignKey("analysis.id", ondelete="CASCADE"), index=True
    )
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class CallBackgroundRow(Base):
    """Keep-alive SIP traffic of one node with one peer and method, counted."""

    __tablename__ = "call_background"

    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[str] = mapped_column(
        ForeignKey("analysis.id", ondelete="CASCADE"), index=True
    )
    node: Mapped[str] = mapped_column(Text)
    peer: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    statuses: Mapped[dict[str, int]] = mapped_column(JSON)
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    file: Mapped[str] = mapped_column(Text)
    line: Mapped[int] = mapped_column(Integer)
