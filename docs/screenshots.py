"""Take the README's ladder screenshot from the real public Expressway-E log.

    .venv/bin/python docs/screenshots.py [--log PATH] [--out docs/img/ladder.png]

Serves the whole app (embedded worker, call flows on, a throw-away SQLite data directory) on a
free loopback port, uploads the log (/work/shared/data/real/expressway-e_mra_call.txt, a public
log: see shared/data/real/README.md) as a bundle with its product chosen as Expressway-E, opens
the first call's page in Debian's Chromium (/usr/bin/chromium, driven by Playwright; no browser
is downloaded) and saves the part of the page from the call's title to the end of the ladder.
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REAL_LOG = Path(__file__).resolve().parents[2] / "shared/data/real/expressway-e_mra_call.txt"
BUNDLE = "diagnostic_log_vm-bluck-fed-vcse1_2018-01-01_17_56_00.tar.gz"


def bundle_of(log: Path) -> bytes:
    """A tar.gz holding the log under an Expressway loggingsnapshot name."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        data = log.read_bytes()
        info = tarfile.TarInfo("loggingsnapshot_vm-bluck-fed-vcse1_2018-01-01_17_56_00.txt")
        info.size, info.mtime = len(data), 1_514_829_408
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, default=REAL_LOG)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/img/ladder.png")
    args = parser.parse_args()

    import httpx
    from playwright.sync_api import sync_playwright

    from app.config import Settings
    from app.migrate import upgrade
    from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, serving

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), call_flows=True)
        settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.sqlalchemy_url)
        with serving(settings) as base:
            created = httpx.post(
                f"{base}/api/v1/analyses",
                files=[("files", (BUNDLE, bundle_of(args.log)))],
                data={"product": ["Expressway-E"]},
            )
            created.raise_for_status()
            analysis = created.json()["id"]
            deadline = time.monotonic() + 120
            while httpx.get(f"{base}/api/v1/analyses/{analysis}").json()["status"] != "done":
                if time.monotonic() > deadline:
                    raise SystemExit("the analysis did not finish")
                time.sleep(0.2)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    page = browser.new_page(base_url=base, viewport={"width": 1100, "height": 900})
                    page.goto(f"/a/{analysis}/calls/1")
                    ladder = page.locator("svg[aria-label='SIP ladder diagram']").first
                    ladder.wait_for()
                    title = page.locator("h1, h2").first.bounding_box()
                    box = ladder.bounding_box()
                    assert title is not None and box is not None
                    top = max(0.0, title["y"] - 30)  # the "Call 1 · INVITE" line above
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(
                        path=str(args.out),
                        full_page=True,
                        clip={
                            "x": 0,
                            "y": top,
                            "width": 1100,
                            "height": box["y"] + box["height"] + 12 - top,
                        },
                    )
                finally:
                    browser.close()
    print(f"{args.out}: {args.out.stat().st_size / 1000:.0f} KB")  # noqa: T201 (a script)


if __name__ == "__main__":
    main()
