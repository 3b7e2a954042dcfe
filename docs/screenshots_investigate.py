"""The README's screenshots of the timeline and search pages: docs/img/timeline.png, search.png.

    .venv/bin/python docs/screenshots_investigate.py [--out docs/img]

Starts the app (embedded worker) on a temporary data dir and a free loopback port, analyses two
nodes, and photographs their pages with Debian's Chromium (/usr/bin/chromium) through
Playwright. Nothing is fetched from the network.

The nodes: the real public Expressway-E log (../shared/data/real/expressway-e_mra_call.txt, a
few seconds of an MRA call) spread over 20 minutes, and the test corpus' Expressway-C log
(tests/corpus.py: line shapes from public sources) with the seed TAC note's certificate
failure, both given the same 20 minutes, an alarm raised and lowered and a DEBUG_MARKER each.
Only the times are rewritten, so the pages show several minutes, two lanes and a finding.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from app.config import Settings  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from tests.corpus import (  # noqa: E402
    alarm_line,
    healthy_expressway_c_loggingsnapshot,
    seed_scenario_lines,
    xstat_dump,
)
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, serving  # noqa: E402

REAL_LOG = ROOT.parent / "shared/data/real/expressway-e_mra_call.txt"
START = datetime(2018, 1, 1, 17, 40, tzinfo=UTC)
SPAN = timedelta(minutes=20)
LOCAL = timedelta(hours=-5)  # the real log's offset
STAMP = "2018-01-01_18_00_00"

_PREFIX = re.compile(r"^(<\d+>)?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d ")
_UTCTIME = re.compile(r'UTCTime="[^"]*"')


def _retimed(lines: list[str], host: str) -> list[str]:
    """The lines with their records spread evenly over SPAN from START, on `host`."""
    records = sum(1 for line in lines if _PREFIX.match(line))
    step = SPAN / max(1, records)
    out = []
    index = 0
    for line in lines:
        match = _PREFIX.match(line)
        if match is None:
            out.append(line)
            continue
        when = START + step * index
        index += 1
        local = (when + LOCAL).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}"
        rest = line[match.end() :].split(" ", 1)[1]  # drop the host
        rest = _UTCTIME.sub(
            f'UTCTime="{when:%Y-%m-%d %H:%M:%S},{when.microsecond // 1000:03d}"', rest
        )
        out.append(f"{match.group(1) or ''}{local}-05:00 {host} {rest}")
    return out


def _with_events(lines: list[str], host: str, alarm: tuple[str, str], marker: str) -> list[str]:
    """Lines with an alarm raised at 1/5, a marker at 2/5 and the alarm lowered at 3/5."""
    alarm_id, detail = alarm
    count = len(lines)
    stamp = "2018-01-01T00:00:00.000-05:00"  # _retimed gives every record its time
    raised = alarm_line(host, alarm_id, "Raised", detail=detail)
    lowered = alarm_line(host, alarm_id, "Lowered", detail=detail)
    mark = (
        f'{stamp} {host} tvcs: Event="DEBUG_MARKER" Detail="{marker}" Level="1" '
        'UTCTime="2018-01-01 00:00:00,000"'
    )
    placed = {count // 5: raised, 2 * count // 5: mark, 3 * count // 5: lowered}
    out = []
    for position, line in enumerate(lines):
        if position in placed and _PREFIX.match(line):
            out.append(placed.pop(position))
        elif position in placed:
            placed[position + 1] = placed.pop(position)  # not inside a SIPMSG block
        out.append(line)
    return out


def _bundle(host: str, product: str, log: list[str]) -> bytes:
    members = {
        f"loggingsnapshot_{host}_{STAMP}.txt": "\n".join(log) + "\n",
        f"xstat_dump_{host}_{STAMP}.txt": xstat_dump(host, product, "X14.2.1"),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(START.timestamp())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def bundles() -> list[tuple[str, bytes]]:
    edge = REAL_LOG.read_text("utf-8").splitlines()
    edge = _with_events(
        edge, "vm-bluck-fed-vcse1", ("35013", "Unified Communications SSH tunnel failure"), "call"
    )
    core = healthy_expressway_c_loggingsnapshot("expc1", n_lines=2400).splitlines()
    seed = seed_scenario_lines("self_signed")
    core = core[:1500] + [re.sub(r"^(\S+) \S+ ", r"\1 expc1 ", s) for s in seed] + core[1500:]
    core = _with_events(core, "expc1", ("25021", "NTP server not available"), "call")
    return [
        (
            f"diagnostic_log_expc1_{STAMP}.tar.gz",
            _bundle("expc1", "Expressway-C", _retimed(core, "expc1")),
        ),
        (
            f"diagnostic_log_vm-bluck-fed-vcse1_{STAMP}.tar.gz",
            _bundle("vm-bluck-fed-vcse1", "Expressway-E", _retimed(edge, "vm-bluck-fed-vcse1")),
        ),
    ]


def analyse(base: str) -> str:
    with httpx.Client(base_url=base, timeout=60) as client:
        created = client.post(
            "/api/v1/analyses",
            files=[("files", item) for item in bundles()],
            data={"title": "MRA call through expc1 and vm-bluck-fed-vcse1"},
        )
        created.raise_for_status()
        analysis_id: str = created.json()["id"]
        deadline = time.monotonic() + 120
        while (status := client.get(f"/api/v1/analyses/{analysis_id}").json()["status"]) not in (
            "done",
            "failed",
        ):
            if time.monotonic() > deadline:
                raise SystemExit("the analysis did not finish in 2 minutes")
            time.sleep(0.2)
        if status != "done":
            raise SystemExit(f"the analysis {status}")
    return analysis_id


def photograph(base: str, analysis_id: str, out: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                base_url=base, viewport={"width": 1200, "height": 760}, device_scale_factor=1
            )
            outside: list[str] = []

            def refuse(route: Route) -> None:  # the pages must need nothing from elsewhere
                outside.append(route.request.url)
                route.abort()

            context.route(re.compile(r"^(?!" + re.escape(base) + r")"), refuse)
            page = context.new_page()
            page.goto(f"/a/{analysis_id}/timeline")
            page.screenshot(path=str(out / "timeline.png"), full_page=False)
            page.goto(f"/a/{analysis_id}/search?q=INVITE+sip%3A1004")
            page.screenshot(path=str(out / "search.png"), full_page=False)
            if outside:
                raise SystemExit(f"the pages fetched from another origin: {outside}")
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="loupe-shots-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", worker_threads=1)
        settings.resolved_data_dir.mkdir(parents=True)
        upgrade(settings.sqlalchemy_url)
        with serving(settings) as base:
            analysis_id = analyse(base)
            photograph(base, analysis_id, args.out)
    for name in ("timeline.png", "search.png"):
        path = args.out / name
        sys.stdout.write(f"{path}: {path.stat().st_size // 1024} KB\n")


if __name__ == "__main__":
    main()
