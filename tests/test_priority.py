"""The threads helping an analysis yield a core to the thread feeding it (app/priority.py)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from app import priority
from app.bundle.budget import Limits
from app.signatures import LIBRARY_DIR, load_library
from app.worker import pipeline
from app.worker.pipeline import Input, analyze
from tests.calls.scenarios import two_node_logs
from tests.factories import make_tar

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's"
)


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@linux_only
def test_lower_priority_lowers_the_calling_thread_alone() -> None:
    before, seen = _niceness(), []

    def helper() -> None:
        seen.append((priority.lower_priority(), _niceness()))

    thread = threading.Thread(target=helper)
    thread.start()
    thread.join()
    assert seen == [(True, min(19, before + priority.HELPER_NICENESS))]
    assert _niceness() == before  # the thread that started it keeps its priority


@linux_only
def test_the_matchers_and_the_sip_reader_of_an_analysis_run_below_its_feeding_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lowered: list[tuple[str, int]] = []
    real = priority.lower_priority

    def recorded(niceness: int = priority.HELPER_NICENESS) -> bool:
        done = real(niceness)
        lowered.append((threading.current_thread().name, _niceness()))
        return done

    import app.calls.extract

    monkeypatch.setattr(pipeline, "lower_priority", recorded)
    monkeypatch.setattr(app.calls.extract, "lower_priority", recorded)
    expe, _expc = two_node_logs()
    upload = tmp_path / "diagnostic_log_expe1.tar.gz"
    upload.write_bytes(make_tar({"loggingsnapshot_expe1_2018.txt": expe.text()}))
    feeding = _niceness()
    report = analyze(
        [Input(upload, upload.name)], tmp_path / "work", load_library(LIBRARY_DIR), Limits(),
        jobs=2, extract_calls=True,
    )  # fmt: skip
    assert report.calls  # (the SIP reader ran)
    names = sorted({name.split("_")[0] for name, _ in lowered})
    assert names == ["prescan", "sip-extract"]
    assert {level for _, level in lowered} == {min(19, feeding + priority.HELPER_NICENESS)}
    assert _niceness() == feeding
