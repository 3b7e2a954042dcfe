"""Settings from the environment (`LOUPE_*`), one object for the whole process."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
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

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        return None if value == "" else value

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
