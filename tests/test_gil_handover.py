"""An analysis hands the GIL over sooner (app/worker/handover.py), and only while it runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from app.worker import pipeline
from app.worker.handover import ANALYSIS_SWITCH_SECONDS, gil_handover


def test_the_interval_is_set_inside_and_put_back_after_even_on_error() -> None:
    before = sys.getswitchinterval()
    with pytest.raises(RuntimeError), gil_handover(0.002):
        assert sys.getswitchinterval() == pytest.approx(0.002)
        with gil_handover(0.0005):
            assert sys.getswitchinterval() == pytest.approx(0.0005)
        assert sys.getswitchinterval() == pytest.approx(0.002)
        raise RuntimeError("the analysis failed")
    assert sys.getswitchinterval() == before


def test_an_analysis_scans_with_the_short_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float] = []

    def analysing(*args: Any) -> str:
        seen.append(sys.getswitchinterval())
        return "report"

    monkeypatch.setattr(pipeline, "_analyze", analysing)
    before = sys.getswitchinterval()
    assert before > ANALYSIS_SWITCH_SECONDS  # (the default is 5 ms)
    report = pipeline.analyze([], tmp_path / "work", None, None)  # type: ignore[arg-type]
    assert report == "report"
    assert seen == [pytest.approx(ANALYSIS_SWITCH_SECONDS)]
    assert sys.getswitchinterval() == before
