"""An upload inflated early (while `loupe analyze` starts) unpacks as one opened when asked for."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from app.bundle import unpack as unpack_module
from app.bundle.unpack import (
    UnpackResult,
    discard_early_inflates,
    start_early_inflate,
    unpack_upload,
)
from tests.factories import make_tar, random_bytes, write_upload

LOG = "".join(
    f'2024-05-02T10:00:{n % 60:02d}.123+02:00 expe tvcs: UTCTime="2024-05-02 08:00:00,123" '
    f'Module="network.sip" Level="INFO": Detail="line {n}"\n'
    for n in range(20_000)
)


@pytest.fixture(autouse=True)
def _nothing_left_behind() -> object:
    yield
    discard_early_inflates()


def _contents(result: UnpackResult) -> dict[str, bytes]:
    return {file.name: file.path.read_bytes() for file in result.files}


def _inflaters(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files an inflating helper thread is started for, from now on."""
    started: list[Path] = []
    begin = unpack_module._inflate_ahead

    def counted(compressed: object, path: Path, blocks: int = 6) -> object:
        started.append(path)
        return begin(compressed, path, blocks)  # type: ignore[arg-type]

    monkeypatch.setattr(unpack_module, "_inflate_ahead", counted)
    return started


def _inflate_threads() -> int:
    return sum(thread.name == "inflate-ahead" for thread in threading.enumerate())


def test_an_upload_inflated_early_unpacks_as_the_same_upload_opened_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = {"log/a.txt": LOG, "log/b.bin": random_bytes(200_000), "c.txt": LOG[:5000]}
    src = write_upload(tmp_path, "diag.tar.gz", make_tar(members))
    late = unpack_upload(src, "diag.tar.gz", tmp_path / "late", inflate_threads=1)

    start_early_inflate(src)
    started = _inflaters(monkeypatch)
    early = unpack_upload(src, "diag.tar.gz", tmp_path / "early", inflate_threads=1)

    assert _contents(early) == _contents(late)
    assert len(early.files) == 3 and early.warnings == late.warnings == []
    assert started == []  # the early inflating was taken on, none begun again
    discard_early_inflates()  # nothing left to discard: the unpack closed it
    assert _inflate_threads() == 0


def test_a_damaged_upload_inflated_early_keeps_every_byte_before_the_damage(
    tmp_path: Path,
) -> None:
    whole = make_tar({"first.txt": LOG, "second.bin": random_bytes(300_000)})
    src = write_upload(tmp_path, "diag.tar.gz", whole[: int(len(whole) * 0.7)])
    late = unpack_upload(src, "diag.tar.gz", tmp_path / "late", inflate_threads=1)

    start_early_inflate(src)
    early = unpack_upload(src, "diag.tar.gz", tmp_path / "early", inflate_threads=1)

    assert _contents(early) == _contents(late)
    assert early.warnings == late.warnings
    assert "the gzip-compressed file is truncated" in early.warnings[-1]


def test_an_upload_replaced_after_the_early_start_is_read_as_it_is_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_upload(tmp_path, "diag.tar.gz", make_tar({"old.txt": LOG}))
    start_early_inflate(src)
    replaced = make_tar({"new.txt": LOG[:3000]})
    src.write_bytes(replaced)
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 10**9))  # (mtime changed for sure)
    started = _inflaters(monkeypatch)

    result = unpack_upload(src, "diag.tar.gz", tmp_path / "work", inflate_threads=1)

    assert _contents(result) == {"diag.tar.gz/new.txt": LOG[:3000].encode()}
    assert started == [src]  # opened again
    assert _inflate_threads() == 0  # the stale one was stopped


def test_only_a_gzip_upload_is_inflated_early_and_what_is_not_taken_is_stopped(
    tmp_path: Path,
) -> None:
    plain = write_upload(tmp_path, "diag.tar", make_tar({"a.txt": LOG}, compress=False))
    start_early_inflate(plain)
    start_early_inflate(tmp_path / "missing.tar.gz")
    assert unpack_module._early == {}

    gz = write_upload(tmp_path, "diag.tar.gz", make_tar({"a.txt": LOG}))
    start_early_inflate(gz)
    (early,) = unpack_module._early.values()
    discard_early_inflates()
    assert unpack_module._early == {} and early.raw.closed
    # an unpack without inflate threads (loupe analyze --jobs 1) takes none on
    start_early_inflate(gz)
    result = unpack_upload(gz, "diag.tar.gz", tmp_path / "work", inflate_threads=0)
    assert _contents(result) == {"diag.tar.gz/a.txt": LOG.encode()}
    assert list(unpack_module._early) == [gz.resolve()]
