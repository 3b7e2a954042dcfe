"""Lay the timeline out as SVG shapes (server-rendered, no JavaScript): one lane per node.

Each lane shows the log volume per column (a column is a nice number of minutes, at most
MAX_COLUMNS across), errors and warnings under it, alarms as triangles and markers as lines.
Every column links to the log viewer of that node at that time; every alarm and marker to its
line. Findings are bars from first to last seen under the lanes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

MAX_COLUMNS = 120
NICE_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 43200)
LEFT = 150
PLOT = 960
LANE = 96
VOLUME = 52
LEVELS = 22
FINDING_ROW = 16
MAX_FINDINGS = 40
AXIS_TICKS = 6


@dataclass(slots=True)
class Shape:
    kind: str  # rect, line, polygon, text
    cls: str
    title: str = ""
    href: str = ""
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0
    x2: float = 0
    y2: float = 0
    points: str = ""
    text: str = ""


@dataclass(slots=True)
class Layout:
    width: int
    height: int
    shapes: list[Shape] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    bucket_minutes: int = 1


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _viewer(analysis_id: str, file: str, **params: str) -> str:
    back = {"from": f"/a/{analysis_id}/timeline"}
    line = params.get("line")
    anchor = f"#L{line}" if line else ""
    return f"/a/{analysis_id}/files/{quote(file, safe='/')}?{urlencode({**params, **back})}{anchor}"


def layout(data: dict[str, Any], analysis_id: str) -> Layout:
    """The shapes of the timeline of `data` (services.timeline.view)."""
    moments = [
        _parse(m["minute"].replace("Z", ":00Z")) for n in data["nodes"] for m in n["minutes"]
    ]
    moments += [_parse(e["time"]) for e in data["events"]]
    known = [m for m in moments if m is not None]
    findings = data["findings"][:MAX_FINDINGS]
    height = 40 + LANE * len(data["nodes"]) + FINDING_ROW * len(findings) + 20
    result = Layout(LEFT + PLOT + 10, height)
    if not known:
        return result
    start = min(known).replace(second=0, microsecond=0)
    end = max(known).replace(second=0, microsecond=0) + timedelta(minutes=1)
    span = max(1, int((end - start).total_seconds() // 60))
    bucket = next((n for n in NICE_MINUTES if span / n <= MAX_COLUMNS), NICE_MINUTES[-1])
    columns = -(-span // bucket)
    result.start, result.end, result.bucket_minutes = start, end, bucket
    width = PLOT / columns

    def x_of(moment: datetime) -> float:
        minutes = (moment - start).total_seconds() / 60
        return LEFT + max(0.0, min(PLOT, minutes / (columns * bucket) * PLOT))

    shapes = result.shapes
    ticks = min(AXIS_TICKS, columns)
    step = -(-columns // ticks)  # whole columns between ticks: labels on column starts
    for column in range(0, columns + 1, step):
        moment = start + timedelta(minutes=column * bucket)
        x = LEFT + PLOT * column / columns
        shapes.append(Shape("line", "axis", x=x, y=24, x2=x, y2=height - 10))
        label = moment.strftime("%Y-%m-%d %H:%M" if column == 0 else "%H:%M")
        last_tick = column + step > columns and column > 0
        shapes.append(Shape("text", "tick-end" if last_tick else "tick",
                            x=x - 2 if last_tick else x + 2,
                            y=16, text=label))  # fmt: skip
    for lane, node in enumerate(data["nodes"]):
        top = 30 + lane * LANE
        shapes.append(Shape("text", "lane", x=4, y=top + 20, text=node["node"]))
        buckets: dict[int, list[int]] = {}
        for entry in node["minutes"]:
            minute = _parse(entry["minute"].replace("Z", ":00Z"))
            if minute is None:
                continue
            column = int((minute - start).total_seconds() // 60) // bucket
            total = buckets.setdefault(column, [0, 0, 0])
            total[0] += entry["lines"]
            total[1] += entry["errors"]
            total[2] += entry["warnings"]
        most_lines = max((v[0] for v in buckets.values()), default=0) or 1
        most_levels = max((v[1] + v[2] for v in buckets.values()), default=0) or 1
        for column, (lines, errors, warnings) in sorted(buckets.items()):
            when = start + timedelta(minutes=column * bucket)
            href = _viewer(analysis_id, node["file"], time=when.strftime("%Y-%m-%dT%H:%M:%SZ"))
            title = (
                f"{when:%Y-%m-%d %H:%M} UTC, {bucket} min: {lines} lines, "
                f"{errors} errors, {warnings} warnings on {node['node']}"
            )
            x = LEFT + column * width
            h = max(1.0, VOLUME * lines / most_lines) if lines else 0
            shapes.append(
                Shape("rect", "volume", title, href, x, top + VOLUME - h, max(1.0, width - 1), h)
            )
            base = top + VOLUME + 4 + LEVELS
            error_h = LEVELS * errors / most_levels
            warn_h = LEVELS * warnings / most_levels
            if errors:
                shapes.append(
                    Shape("rect", "errors", title, href, x, base - error_h, max(1.0, width - 1),
                          error_h)
                )  # fmt: skip
            if warnings:
                shapes.append(
                    Shape("rect", "warnings", title, href, x, base - error_h - warn_h,
                          max(1.0, width - 1), warn_h)
                )  # fmt: skip
        for event in data["events"]:
            seen = _parse(event["time"])
            if event["node"] != node["node"] or seen is None:
                continue
            x = x_of(seen)
            href = _viewer(analysis_id, event["file"], line=str(event["line"]))
            if event["kind"] == "marker":
                title = f"Marker {event['time']}: {event['text']}"
                shapes.append(
                    Shape("line", "marker", title, href, x=x, y=top, x2=x, y2=top + VOLUME + 26)
                )
            else:
                title = f"Alarm {event['id']} {event['kind']} {event['time']}: {event['text']}"
                y = top + 2
                points = f"{x - 5:.1f},{y:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 8:.1f}"
                if event["kind"] == "lowered":
                    points = f"{x - 5:.1f},{y + 8:.1f} {x + 5:.1f},{y + 8:.1f} {x:.1f},{y:.1f}"
                shapes.append(
                    Shape("polygon", f"alarm-{event['kind']}", title, href, points=points)
                )
    row_top = 30 + LANE * len(data["nodes"])
    for row, finding in enumerate(findings):
        first = _parse(finding["first_seen"])
        last = _parse(finding["last_seen"]) or first
        y = row_top + row * FINDING_ROW
        label = f"{finding['severity']}: {finding['title']}"
        shapes.append(Shape("text", "finding-label", x=4, y=y + 11, text=label[:22]))
        if first is None or last is None:
            continue
        x = x_of(first)
        title = f"{label} ({finding['node'] or 'all nodes'}), {finding['count']}× from "
        title += f"{finding['first_seen']} to {finding['last_seen']}"
        shapes.append(
            Shape("rect", "finding", title, f"/a/{analysis_id}#{finding['severity']}", x, y + 2,
                  max(3.0, x_of(last) - x), FINDING_ROW - 5)
        )  # fmt: skip
    return result
