"""Settings from the environment (`LOUPE_*`), one object for the whole process."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob an operator can turn; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="LOUPE_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in the data dir"
    )
    broker_url: str | None = Field(
        default=None, description="redis://... switches dispatch from the embedded runner to Celery"
    )
    max_upload_bytes: int = 2 * 2**30
    max_files_per_request: int = Field(
        default=32,
        ge=1,
        validation_alias=AliasChoices(
            "LOUPE_MAX_FILES_PER_REQUEST", "LOUPE_MAX_FILES_PER_UPLOAD", "max_files_per_request"
        ),
        description="files one upload request may carry (more: 413)",
    )
    max_form_field_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="largest non-file part of an upload (title, product, any other field): 413",
    )
    upload_idle_seconds: float = Field(
        default=60,
        gt=0,
        description="a request body that sends nothing for this long is answered 408 and "
        "everything staged is removed",
    )
    upload_body_seconds: float = Field(
        default=3600,
        gt=0,
        description="a request body still arriving after this long is answered 408 (2 GiB in an "
        "hour needs about 600 KB/s)",
    )
    max_concurrent_uploads: int = Field(
        default=8,
        ge=1,
        description="uploads received at once by one web process; more are answered 503 with "
        "Retry-After before their body is read",
    )
    public_url: str | None = Field(
        default=None,
        description="the address people use to reach logloupe (https://loupe.example.com): "
        "share links and the cross-site check use it, never the request's Host header",
    )
    secret_key: str | None = Field(
        default=None,
        description="signs the CSRF tokens of the forms; unset: a random key kept in "
        "<data dir>/secret_key (mode 0600)",
    )
    request_header_seconds: float = Field(
        default=30,
        gt=0,
        description="a connection that has not sent complete request headers after this long "
        "is closed (slow clients holding connections)",
    )
    keep_alive_seconds: int = Field(
        default=5, ge=1, description="an idle keep-alive connection is closed after this long"
    )
    max_connections: int = Field(
        default=512,
        ge=16,
        description="open connections one web process serves; more are answered 503",
    )
    embedded_worker: bool = True
    worker_threads: int = 1
    jobs: int | None = Field(
        default=None,
        ge=1,
        description="cores one analysis may use (default: every core the worker may run on)",
    )
    stale_after_seconds: int = Field(
        default=120,
        description="a running analysis whose worker sent no heartbeat (every 5 s) for this long "
        "is put back to queued and sent again",
    )
    sweep_interval_seconds: int = Field(
        default=15, description="how often the sweeper (or the embedded runner) looks at the DB"
    )
    redispatch_after_seconds: int = Field(
        default=60,
        description="a queued analysis sent this long ago is sent again when the broker's queue "
        "is empty (its message was lost, e.g. Redis restarted)",
    )
    visibility_timeout_seconds: int = Field(
        default=6 * 3600,
        description="Redis visibility timeout; longer than the longest analysis. A queued "
        "analysis sent this long ago is sent again even when the queue is not empty",
    )
    queue_name: str = Field(default="analyses", description="the Celery queue of analyses")
    search_max_hits: int = Field(
        default=10_000,
        ge=1,
        description="hits one search counts before it stops and says the list is cut",
    )
    search_seconds: float = Field(
        default=20.0, gt=0, description="time one search (or timeline count) may take"
    )
    timeline_seconds: float = Field(
        default=300.0,
        gt=0,
        description="time the first view of a timeline may spend counting the logs of an analysis "
        "saved before the analysis pass counted them (then cached)",
    )
    analysis_timeout_seconds: int = Field(
        default=900,
        ge=1,
        description="wall-clock time one attempt at an analysis may take; then its process is "
        "killed and the analysis fails with this reason",
    )
    analysis_max_memory_mb: int = Field(
        default=2048,
        ge=1,
        description="memory (resident, not file-backed) the processes analysing one upload may "
        "use together; then they are killed and the analysis fails with this reason",
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        description="attempts at one analysis whose worker died; then it fails instead of "
        "being sent again",
    )
    unpack_max_total_bytes: int = Field(
        default=32 * 2**30,
        description="unpacked bytes of one analysis, all its uploads and nesting levels together",
    )
    unpack_max_members: int = Field(
        default=20_000,
        description="files and folders of one analysis, all uploads and nesting levels together",
    )
    unpack_max_member_bytes: int = Field(
        default=8 * 2**30, description="one unpacked file (a larger one is skipped, with a warning)"
    )
    unpack_max_ratio: float = Field(
        default=200.0,
        description="unpacked bytes of one analysis per uploaded byte (all levels together), "
        "and of one archive per compressed byte: the decompression-bomb guard",
    )
    unpack_ratio_grace_bytes: int = Field(
        default=16 * 2**20,
        description="unpacked bytes allowed on top of the ratio, once per analysis (and once "
        "per archive for the per-archive ratio)",
    )
    unpack_max_header_bytes: int = Field(
        default=2**20,
        description="tar headers of one member (PAX extended header, GNU long name or link); "
        "a larger one ends the reading of that archive there, with a warning",
    )
    unpack_max_depth: int = 3
    max_findings: int = Field(
        default=5_000,
        ge=1,
        description="findings kept per analysis; past it the least severe and most repetitive "
        "are left out, with a warning saying how many",
    )
    max_findings_bytes: int = Field(
        default=32 * 2**20,
        ge=2**20,
        description="bytes of texts, facts and snippets kept per analysis (the findings JSON)",
    )
    call_flows: bool = Field(
        default=True,
        description="extract SIP call flows and MRA sign-ins (/a/{id}/calls, /a/{id}/signins, "
        "ladders) during each analysis; false saves CPU on SIP-heavy logs (about x2.3 CPU with "
        "them on the make bench bundle; `loupe calls` and `loupe ladder` always extract)",
    )
    logview_page_bytes: int = Field(
        default=512 * 1024,
        ge=4096,
        description="raw log text shown on one log viewer page (long lines are cut to fit)",
    )
    log_json: bool = False
    cache_dir: Path | None = Field(
        default_factory=lambda: default_cache_dir(),
        description="where parsed signature files are kept between runs, so that `loupe analyze` "
        "starts fast (default: $XDG_CACHE_HOME/logloupe or ~/.cache/logloupe); empty: no cache",
    )
    unpack_direct_write_mib: int = Field(
        default=32,
        description="unpacked files at least this large (MiB) are written with O_DIRECT, "
        "bypassing the page cache (much less CPU on virtual disks); 0: never",
    )
    unpack_compress_from_kib: int = Field(
        default=1024,
        description="unpacked files at least this large (KiB) are kept compressed in the work "
        "dir (seekable Zstandard, read back by line), once the analysis is saved; 0: keep every "
        "file plain",
        ge=0,
    )
    store_level: int = Field(
        default=6,
        description="zstd level of the compression done once the analysis is saved (off the "
        "analysis' critical path): 6 keeps the bench log at 0.143 of its size (level 1: 0.154) "
        "for about 7 s of one core per GiB; compression while unpacking always uses level 1",
        ge=1,
        le=19,
    )
    compress_while_unpacking: bool = Field(
        default=False,
        description="compress while the bundle is unpacked and scanned instead of after the "
        "analysis is saved (no plain copy ever on disk, but the scan shares the CPU with zstd)",
    )
    keep_uploads: bool = Field(
        default=False,
        description="keep each upload once its analysis is done; by default it is deleted then "
        "(re-runs read the unpacked files kept in the work dir, README Storage)",
    )
    library_dir: Path | None = Field(
        default=None,
        description="signature library directory used by the web app and the workers "
        "(default: the packaged one); restart both after changing it, then re-run analyses",
    )

    auth: Literal["none", "local", "oidc"] = Field(
        default="none",
        description="none: one local user, no login (loopback only unless allow_open); "
        "local: accounts kept by logloupe (`loupe users add`); oidc: single sign-on",
    )
    allow_open: bool = Field(
        default=False,
        description="let `loupe serve` listen on a non-loopback address with LOUPE_AUTH=none "
        "(everyone who reaches it sees every analysis)",
    )
    retention_days: int = Field(
        default=30, ge=0, description="analyses are deleted this many days after upload; 0: never"
    )
    session_hours: int = Field(default=12, ge=1, description="how long a login lasts")
    login_attempts_per_minute: int = Field(
        default=5, ge=1, description="failed logins per user and address before 429"
    )
    oidc_issuer: str | None = Field(
        default=None, description="LOUPE_AUTH=oidc: the provider's issuer URL (its discovery)"
    )
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_team_claim: str | None = Field(
        default=None, description="the ID token or userinfo claim that names the user's team"
    )

    @model_validator(mode="after")
    def _oidc_needs_a_provider(self) -> Settings:
        if self.auth == "oidc" and not (self.oidc_issuer and self.oidc_client_id):
            raise ValueError(
                "LOUPE_AUTH=oidc needs LOUPE_OIDC_ISSUER and LOUPE_OIDC_CLIENT_ID (and usually "
                "LOUPE_OIDC_CLIENT_SECRET)"
            )
        return self

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("public_url", "secret_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("secret_key")
    @classmethod
    def _secret_key_is_long_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError(
                "LOUPE_SECRET_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_an_origin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlsplit(value.strip())
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(
                f"LOUPE_PUBLIC_URL must be an http:// or https:// address, not {value!r}"
            )
        return value.strip().rstrip("/")

    @property
    def max_files_per_upload(self) -> int:
        """The former name of max_files_per_request (LOUPE_MAX_FILES_PER_UPLOAD still works)."""
        return self.max_files_per_request

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'loupe.db'}"


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/logloupe, or ~/.cache/logloupe."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "logloupe"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
