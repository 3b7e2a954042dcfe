"""The certificate step's module is imported ahead, in a thread, for large analyses."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from app.bundle.unpack import Limits
from app.signatures import load_library
from app.worker import pipeline


def test_a_large_analysis_imports_the_certificate_step_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From IMPORT_AHEAD_FROM_BYTES of input on, the certificate step's module is imported in
    a background thread as the analysis starts (its ~40 ms of import then run in the gaps of
    the scan, not after it); a small input does not start it."""
    started: list[str] = []
    monkeypatch.setattr(pipeline, "import_ahead", started.append)
    monkeypatch.delitem(sys.modules, pipeline.CERTIFICATE_STEP, raising=False)
    log = tmp_path / "loggingsnapshot_expe1_2026-11-20_10_15_33.txt"
    log.write_text('2026-11-20T10:15:33+00:00 expe1 tvcs: UTCTime="2026-11-20 10:15:33,1"\n')
    inputs = [pipeline.Input(path=log, name=log.name)]
    pipeline.analyze(inputs, tmp_path / "small", load_library(), Limits())
    assert started == []
    monkeypatch.setattr(pipeline, "IMPORT_AHEAD_FROM_BYTES", log.stat().st_size)
    pipeline.analyze(inputs, tmp_path / "large", load_library(), Limits())
    assert started == [pipeline.CERTIFICATE_STEP]


def test_import_ahead_imports_in_a_thread_and_leaves_failures_to_the_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "loupe_ahead_ok.py").write_text("VALUE = 1\n")
    (tmp_path / "loupe_ahead_broken.py").write_text("raise ImportError('no such library')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("loupe_ahead_ok", "loupe_ahead_broken"):
        monkeypatch.delitem(sys.modules, name, raising=False)
        thread = pipeline.import_ahead(name)
        assert thread.name == "import-ahead" and thread.daemon
        thread.join(10)
    assert sys.modules["loupe_ahead_ok"].VALUE == 1
    assert "loupe_ahead_broken" not in sys.modules
    with pytest.raises(ImportError, match="no such library"):  # the step's own import says it
        importlib.import_module("loupe_ahead_broken")
