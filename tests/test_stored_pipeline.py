"""An analysis reads the same from files kept compressed as from plain ones: findings with
their line numbers, calls and the logged text of their messages, the scan run while unpacking
and the one reading the stored files back."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.bundle import stored
from app.bundle.budget import Limits
from app.config import Settings
from app.main import create_app
from app.report import Report
from app.services import storage
from app.services.calls import read_texts
from app.signatures import LIBRARY_DIR, load_library
from app.worker.pipeline import Input, analyze
from tests.calls.scenarios import two_node_logs
from tests.calls.siplog import START
from tests.conftest import wait_for
from tests.corpus import seed_scenario_lines
from tests.factories import make_tar

FILLER_LINES = 25_000  # about 3 MiB before the calls: they lie in later frames


def bundles(tmp_path: Path) -> list[Input]:
    inputs = []
    for node in two_node_logs():
        filler = [
            f"{(START - timedelta(hours=2, seconds=-n // 10)).isoformat()} {node.host} tvcs: "
            f'Module="network.http" Level="INFO": Detail="filler {n} {"z" * (n % 53)}"'
            for n in range(FILLER_LINES)
        ]
        hits = [
            line.replace(" vcsc ", f" {node.host} ") for line in seed_scenario_lines("self_signed")
        ]
        log = "\n".join(filler) + "\n" + node.text() + "\n".join(hits) + "\n"
        path = tmp_path / f"diagnostic_log_{node.host}.tar.gz"
        path.write_bytes(make_tar({f"loggingsnapshot_{node.host}_2018-01-01_17_56_00.txt": log}))
        inputs.append(Input(path=path, name=path.name))
    return inputs


def summary(report: Report) -> dict[str, Any]:
    assert report.calls is not None
    return {
        "files": sorted((f.name, f.size, f.kind) for f in report.files),
        "findings": sorted(
            (f.signature_id, f.count, tuple((s.file, s.line, s.text) for s in f.snippets))
            for f in report.findings
        ),
        "calls": [dataclasses.asdict(call) for call in report.calls],
    }


@pytest.mark.parametrize("scan_while_unpacking", [True, False])
def test_compressed_and_plain_storage_give_the_same_analysis(
    tmp_path: Path, scan_while_unpacking: bool
) -> None:
    library = load_library(LIBRARY_DIR)
    inputs = bundles(tmp_path)
    results = {}
    for compress in (True, False):
        work = tmp_path / f"work-{compress}"
        report = analyze(
            inputs,
            work,
            library,
            Limits(compress_from_bytes=stored.PLAIN_BELOW if compress else 0),
            jobs=2,
            scan_while_unpacking=scan_while_unpacking,
            extract_calls=True,
        )
        packed = [f for f in report.files if f.path.name.endswith(stored.SUFFIX)]
        assert len(packed) == (2 if compress else 0)
        results[compress] = (report, summary(report))
    (packed_report, packed), (plain_report, plain) = results[True], results[False]
    assert packed == plain
    assert packed["findings"] and any(call["failed"] for call in packed["calls"])
    assert max(line for f in packed["findings"] for _, line, _ in f[2]) > FILLER_LINES

    def texts(report: Report) -> list[str | None]:
        assert report.calls is not None
        paths = {f.name: f.path for f in report.files}
        return read_texts(paths, [m for call in report.calls for m in call.messages])

    packed_texts = texts(packed_report)
    assert packed_texts == texts(plain_report)
    assert any(text and "INVITE sip:" in text for text in packed_texts)


def wait_for_store(settings: Settings, analysis_id: str) -> Path:
    """The compressed store of the analysis' loggingsnapshot, once the worker wrote it."""
    work = storage.work_dir(settings.resolved_data_dir, analysis_id)
    deadline = time.monotonic() + 60
    while True:
        found = list(work.rglob("*" + stored.SUFFIX))
        if found and not list(work.rglob("loggingsnapshot_*.txt")):
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no compressed store in {sorted(work.rglob('*'))}")
        time.sleep(0.1)


def test_a_saved_analysis_is_compacted_and_reads_the_same_before_and_after_a_rerun(
    migrated: Settings,
) -> None:
    node = two_node_logs()[1]
    filler = "".join(
        f'2018-01-01T10:00:00.000-05:00 {node.host} tvcs: Module="network.http" '
        f'Level="INFO": Detail="filler {n} {"z" * (n % 53)}"\n'
        for n in range(FILLER_LINES)
    )
    log = (filler + node.text()).encode()
    name = f"loggingsnapshot_{node.host}_2018-01-01_17_56_00.txt"
    settings = migrated.model_copy(update={"call_flows": True})
    with TestClient(create_app(settings)) as client:
        created = client.post(
            "/api/v1/analyses", files=[("files", ("diag.tar.gz", make_tar({name: log})))]
        ).json()
        for _ in range(2):  # the analysis, then a re-run that unpacks it anew
            body = wait_for(client, created["id"])
            assert body["status"] == "done", body["error"]
            packed = wait_for_store(settings, created["id"])
            assert stored.disk_size(packed) < len(log) // 3
            member = f"diag.tar.gz/{name}"
            raw = client.get(f"/a/{created['id']}/raw/{member}")
            assert raw.content == log and raw.headers["content-length"] == str(len(log))
            lines = log.decode().split("\n")
            last = len(lines) - 1
            page = client.get(f"/a/{created['id']}/files/{member}", params={"line": last})
            assert page.status_code == 200 and f'id="L{last}"' in page.text
            hits = client.get(
                f"/api/v1/analyses/{created['id']}/search",
                params={"q": f'Detail="filler {FILLER_LINES - 1} '},
            ).json()["hits"]
            assert [hit["line"] for hit in hits] == [FILLER_LINES]
            call = client.get(f"/a/{created['id']}/calls/1", headers={"accept": "text/html"})
            assert call.status_code == 200 and "Via: SIP/2.0/TLS 10.0.0.2:5061;branch=" in call.text
            rerun = client.post(f"/api/v1/analyses/{created['id']}/rerun")
            assert rerun.status_code == 202


def test_a_worker_killed_while_compacting_leaves_the_analysis_done(migrated: Settings) -> None:
    """The child compacts after the save: a limit that kills it then must not undo the save."""
    from app.db import Database
    from app.services import analyses
    from tests.web.conftest import add_analysis

    done = add_analysis(migrated, status="done")
    running = add_analysis(migrated, status="running")
    db = Database(migrated.sqlalchemy_url)
    try:
        with db.session() as session:
            assert not analyses.fail(session, done, "over the wall-clock limit")
            assert analyses.fail(session, running, "over the wall-clock limit")
            assert analyses.get(session, done).status == "done"
            failed = analyses.get(session, running)
            assert failed.status == "failed" and failed.error == "over the wall-clock limit"
    finally:
        db.dispose()
