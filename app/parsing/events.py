"""The Event dataclass: one parsed log record, whatever the product that wrote it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Event:
    """One header line of a log, split into its parts.

    `timestamp` is the syslog prefix time (local with offset), `utc_time` the `UTCTime="…"` field
    (both timezone-aware). `fields` holds every `key="value"` pair (values trimmed); `module`,
    `level` and `event` repeat the well-known ones. For Traffic Server bracket lines
    (`[ET_NET 0] WARNING: …`) `thread` is `ET_NET 0`, `level` is `WARNING` and `message` the text.
    """

    raw: str
    timestamp: datetime | None
    host: str | None
    process: str | None
    pid: int | None
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    module: str | None = None
    level: str | None = None
    event: str | None = None
    utc_time: datetime | None = None
    thread: str | None = None
    priority: int | None = None
