"""Fixtures for the bundle tests: unpack an in-memory upload into a per-test work dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bundle.unpack import Limits, UnpackResult, unpack_upload
from tests.factories import Content, Unpack, write_upload


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def unpack(tmp_path: Path, work_dir: Path) -> Unpack:
    """unpack(name, data, limits=Limits()) -> UnpackResult, into `work_dir`."""

    def run(name: str, data: Content, limits: Limits | None = None) -> UnpackResult:
        src = write_upload(tmp_path, name, data)
        return unpack_upload(src, name, work_dir, limits or Limits())

    return run
