"""The cyclic garbage collector is paused while an analysis runs, and on again after it."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from app.bundle.unpack import Limits
from app.errors import BundleError
from app.signatures import load_library
from app.worker import pipeline
from app.worker.collection import collection_paused


def test_paused_inside_restored_after_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collection_paused():
        assert not gc.isenabled()
        with collection_paused():  # nested: the outer pause ends it
            pass
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()


def test_an_analysis_runs_without_the_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = pipeline._analyze

    def watched(*args: object) -> object:
        seen.append(gc.isenabled())
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "_analyze", watched)
    log = tmp_path / "loggingsnapshot_expe1_2026-11-20_10_15_33.txt"
    log.write_text('2026-11-20T10:15:33+00:00 expe1 tvcs: UTCTime="2026-11-20 10:15:33,1"\n')
    report = pipeline.analyze(
        [pipeline.Input(path=log, name=log.name)], tmp_path / "work", load_library(), Limits()
    )
    assert seen == [False]
    assert gc.isenabled()
    assert [f.name for f in report.files] == [log.name]
    junk = tmp_path / "diagnostic_log_expe1.tar.gz"
    junk.write_bytes(b"\x1f\x8b" + b"not gzip" * 100)
    with pytest.raises(BundleError):  # a refused input: the collector is on again all the same
        pipeline.analyze(
            [pipeline.Input(path=junk, name=junk.name)],
            tmp_path / "work2",
            load_library(),
            Limits(),
        )
    assert gc.isenabled()
