"""Node detection takes time linear in what it reads, whatever the bytes (issue 11: a 627-byte
upload with a 240 KB xstat XML took 25 s).

Each input is built from the parsers' own literals (`<SystemUnit`, `Product: "`, `*s `,
`Zones Zone`, `ZONETYPE_TRAVERSALSERVER`, SIP headers …) so that a backtracking pattern or a
nested scan would show; it is timed at 256 KiB and 1 MiB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.bundle.detect import detect_kind
from app.bundle.identity.dumps import dump_entries
from app.bundle.nodes import identify_node
from app.bundle.unpack import Limits
from app.report import BundleFile, FileKind
from app.signatures import load_library
from app.worker.pipeline import Input, analyze
from tests.factories import make_tar, write_upload

SMALL = 256 * 1024
LARGE = 1024 * 1024
BUNDLE = "hostile.tar.gz"
LIBRARY = load_library()
IDLE_REFERENCE_SECONDS = 0.01  # slowness()'s loop on an idle core (about 0.007 s measured)
LIMIT_SECONDS = 1.0  # for 1 MiB on an idle core (about 0.1-0.25 s measured)


def fill(unit: str, size: int, head: str = "", tail: str = "") -> str:
    return head + unit * ((size - len(head) - len(tail)) // len(unit) + 1) + tail


ADVERSARIAL: dict[str, tuple[str, Callable[[int], str]]] = {
    # the old `<SystemUnit\b.*?</SystemUnit>` (DOTALL) restarted at each of these
    "xstat xml unclosed units": ("xstat_dump_h_2024.xml", lambda n: fill("<SystemUnit>", n)),
    "xstat xml deep nesting": (
        "xstat_dump_h_2024.xml",
        lambda n: fill('<SystemUnit item="1"><Product>', n, head="<Status>"),
    ),
    "xstat xml many roots": (
        "xstat_dump_h_2024.xml",
        lambda n: fill('<Status product="TANDBERG VCS" version="X14.2.1"></Status>', n),
    ),
    "xstat xml open tag never closed": (
        "xstat_dump_h_2024.xml",
        lambda n: fill(' product="TANDBERG VCS', n, head="<Status"),
    ),
    "xstat text product quotes": (
        "xstat_dump_h_2024.txt",
        lambda n: fill('Product: "', n, head="*s SystemUnit: /\n    "),
    ),
    "xstat text deep indentation": (
        "xstat_dump_h_2024.txt",
        lambda n: (
            "*s SystemUnit: /\n"
            + "".join(" " * (i % 3000 + 1) + "Software:\n" for i in range(n // 1500))
        ),
    ),
    "xstat text many star lines": (
        "xstat_dump_h_2024.txt",
        lambda n: fill('*s SystemUnit Software Version: "X1\n*s SystemUnit: /\n', n),
    ),
    "xconf zones on one line": (
        "xconf_dump_h_2024.txt",
        lambda n: fill(" Zones Zone 1 TraversalServer", n, head="*c xConfiguration", tail=": x"),
    ),
    "xconf zone lines": (
        "xconf_dump_h_2024.txt",
        lambda n: fill('*c xConfiguration Zones Zone 9 Type: "TraversalClient"\n', n),
    ),
    "xconf many distinct zones": (
        "xconf_dump_h_2024.txt",
        lambda n: "".join(
            f'*c xConfiguration Zones Zone {i} Type: "TraversalServer"\n' for i in range(n // 52)
        ),
    ),
    "xconf xml zones": (
        "xconf_dump_h_2024.xml",
        lambda n: fill('<Zone item="2"><Type>TraversalServer</Type></Zone>', n, head="<Zones>"),
    ),
    "log markers on one line": (
        "loggingsnapshot_h_2024.txt",
        lambda n: fill("ZONETYPE_TRAVERSALSERVER traffic_server SNI (", n),
    ),
    "log sip headers": (
        "loggingsnapshot_h_2024.txt",
        lambda n: fill(
            " SIPMSG:\n |SIP/2.0 100 Trying\n Server: TANDBERG/4136 (X8.11" + "(" * 40 + "\n",
            n,
            head='2024-05-02T10:00:00+02:00 h tvcs: Action="Sent"\n',
        ),
    ),
    "log syslog prefixes": (
        "loggingsnapshot_h_2024.txt",
        lambda n: fill("2024-05-02T10:00:00.1+02:00 " + "a" * 300 + " ", n),
    ),
}


def slowness() -> float:
    """How much slower than an idle core this machine runs now (at least 1): the limits below
    hold on an idle core and stretch with the load of a shared test machine."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(200_000):
            total += number
        best = min(best, time.perf_counter() - started)
    return max(1.0, best / IDLE_REFERENCE_SECONDS)


def seconds(tmp_path: Path, name: str, text: str) -> float:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    shown = f"{BUNDLE}/{name}"
    file = BundleFile(path, shown, path.stat().st_size, detect_kind(path, shown), BUNDLE)
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        identify_node([file], BUNDLE)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("case", sorted(ADVERSARIAL))
def test_node_detection_time_grows_linearly(tmp_path: Path, case: str) -> None:
    name, build = ADVERSARIAL[case]
    small = seconds(tmp_path, name, build(SMALL))
    large = seconds(tmp_path, name, build(LARGE))

    limit = LIMIT_SECONDS * slowness()
    assert large < limit, f"{case}: {large:.2f} s for 1 MiB (limit {limit:.1f} s now)"
    # 4 times the bytes: linear is about 4 times the time; quadratic would be 16
    assert large < 8 * small + 0.05, f"{case}: {small:.3f} s → {large:.3f} s"


def test_the_dump_parsers_keep_entries_small() -> None:
    text = fill('*c xConfiguration Zones Zone 1 Name: "' + "x" * 5000 + '"\n', LARGE)
    entries = list(dump_entries(text))

    assert entries and max(len(entry.value) for entry in entries) <= 512
    assert max(len(entry.path) for entry in entries) <= 12


def test_a_tiny_upload_holding_a_hostile_xstat_is_analysed_quickly(tmp_path: Path) -> None:
    """Issue 11's row: a 627-byte upload with a 240 KB xstat XML took 25 s in node detection."""
    xml = fill("<SystemUnit>", 240 * 1024)
    upload = write_upload(tmp_path, "tiny.tar.gz", make_tar({"xstat_dump_h_2024.xml": xml}))
    assert upload.stat().st_size < 2048

    started = time.perf_counter()
    report = analyze([Input(upload, upload.name)], tmp_path / "work", LIBRARY, Limits(), jobs=1)
    elapsed = time.perf_counter() - started

    assert elapsed < LIMIT_SECONDS * slowness(), f"{elapsed:.2f} s"
    assert [file.kind for file in report.files] == [FileKind.XSTAT]  # it was read
    (node,) = report.nodes
    assert (node.product, node.confidence) == (None, "low")
