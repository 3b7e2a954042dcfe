"""One way to show a moment everywhere (pages, CLI, reports): UTC, ISO 8601 to the millisecond,
`2026-01-29 19:01:16.974Z`, and the node's own local time where the log line gave an offset."""

from __future__ import annotations

from datetime import UTC, datetime

UTC_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse(value: datetime | str | None) -> datetime | None:
    """A datetime, or an ISO 8601 string as the logs and the JSON carry them; None otherwise.
    A moment without an offset is taken as UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return f"{moment.strftime(UTC_FORMAT)}.{moment.microsecond // 1000:03d}"


def utc(value: datetime | str | None) -> str:
    """'2026-01-29 19:01:16.974Z'; "" for None; a string that is no time comes back as it is."""
    moment = parse(value)
    if moment is None:
        return value if isinstance(value, str) else ""
    return _stamp(moment.astimezone(UTC)) + "Z"


def local(value: datetime | str | None) -> str | None:
    """The node's local time as the log wrote it ('2026-01-29 20:01:16.974+01:00'), or None when
    the moment carries no offset other than UTC's."""
    moment = parse(value)
    offset = moment.utcoffset() if moment is not None else None
    if moment is None or not offset:
        return None
    sign = "-" if offset.total_seconds() < 0 else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{_stamp(moment)}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def show(value: datetime | str | None) -> str:
    """For text output (CLI, reports): the UTC time, then the node's local time in parentheses
    where the log gave one: '2022-07-11 17:49:01.533Z (local 2022-07-11 19:49:01.533+02:00)'."""
    text = utc(value)
    node_time = local(value)
    return f"{text} (local {node_time})" if node_time else text


def iso(value: datetime | str | None) -> str:
    """Machine-readable (an HTML `datetime` attribute): '2026-01-29T19:01:16.974Z'."""
    return utc(value).replace(" ", "T", 1) if parse(value) is not None else ""
