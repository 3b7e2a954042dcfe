"""Settings from the environment (`LOUPE_*`), one object for the whole process."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob an operator can turn; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="LOUPE_", extra="ignore")

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
    max_files_per_upload: int = 32
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
    unpack_max_total_bytes: int = 16 * 2**30
    unpack_max_members: int = 20_000
    unpack_max_member_bytes: int = 8 * 2**30
    unpack_max_ratio: float = 200.0
    unpack_max_depth: int = 3
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
    public_url: str | None = Field(
        default=None,
        description="the address people use to reach the server (https://loupe.example.com); "
        "share links are built from it (default: http://HOST:PORT)",
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

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def base_url(self) -> str:
        """Where people reach the server: LOUPE_PUBLIC_URL, else http://HOST:PORT."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

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
