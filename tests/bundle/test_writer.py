"""Large unpacked files skip the page cache (O_DIRECT) and still hold exactly their bytes."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from app.bundle import writer
from app.bundle.unpack import Limits
from app.errors import BundleError
from tests.factories import Unpack, make_tar

needs_o_direct = pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="no O_DIRECT here")


def _data(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def _write(path: Path, data: bytes, piece: int, **options: int) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    out = writer.DirectWriter(handle, **options)
    for start in range(0, len(data), piece):
        out.write(data[start : start + piece])
    out.close()


@needs_o_direct
@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 65536, 3 * 65536 + 123])
@pytest.mark.parametrize("piece", [1000, 65536, 1 << 20])
def test_direct_writes_keep_every_byte(tmp_path: Path, size: int, piece: int) -> None:
    data = _data(size)
    target = tmp_path / "out.bin"
    _write(target, data, piece, buffer_bytes=65536)
    assert target.read_bytes() == data


@needs_o_direct
def test_a_file_system_that_refuses_o_direct_gets_ordinary_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    refused = []

    def picky_write(fd: int, data: memoryview) -> int:
        if writer.fcntl.fcntl(fd, writer.fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(writer.os, "write", picky_write)
    data = _data(5 * 65536 + 7)
    target = tmp_path / "out.bin"
    _write(target, data, 10_000, buffer_bytes=65536)
    assert refused  # O_DIRECT was tried, refused once, then never again
    assert len(refused) == 1
    assert target.read_bytes() == data


@needs_o_direct
def test_a_write_error_reaches_the_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(fd: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer.os, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _write(tmp_path / "out.bin", _data(4 * 65536), 65536, buffer_bytes=65536)


@needs_o_direct
def test_unpacking_a_large_member_writes_it_directly_and_whole(
    unpack: Unpack, work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real = writer.DirectWriter.__init__

    def spy(self: writer.DirectWriter, handle: int, **options: int) -> None:
        opened.append(os.readlink(f"/proc/self/fd/{handle}"))
        real(self, handle, **options)

    monkeypatch.setattr(writer.DirectWriter, "__init__", spy)
    big = b"".join(b"2026-11-20T10:15:33+01:00 expc1 tvcs: line %d\n" % i for i in range(60_000))
    result = unpack(
        "diag.tar.gz",
        make_tar({"loggingsnapshot_expc1.txt": big, "small.txt": "hello\n"}),
        Limits(direct_write_bytes=2**20, compress_from_bytes=0),  # O_DIRECT: kept plain
    )
    files = {f.name: f for f in result.files}
    assert files["diag.tar.gz/loggingsnapshot_expc1.txt"].path.read_bytes() == big
    assert files["diag.tar.gz/small.txt"].path.read_bytes() == b"hello\n"
    assert [Path(p).name for p in opened] == ["loggingsnapshot_expc1.txt"]  # small: buffered


@needs_o_direct
def test_a_full_disk_during_a_direct_write_fails_the_upload_and_leaves_nothing(
    unpack: Unpack, work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(fd: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer.os, "write", full_disk)
    big = b"x" * (3 * 2**20) + b"\n"
    with pytest.raises(BundleError, match="cannot write to the work directory"):
        unpack(
            "diag.tar.gz",
            make_tar({"loggingsnapshot_expc1.txt": big}),
            Limits(direct_write_bytes=2**20, compress_from_bytes=0),  # O_DIRECT: kept plain
        )
    assert not [p for p in work_dir.rglob("*") if p.is_file()]


@needs_o_direct
@pytest.mark.parametrize("piece", [1, 1000, 4096, 70_000])
def test_a_file_of_unknown_size_turns_direct_once_large_and_keeps_every_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    started: list[int] = []
    real = writer.DirectWriter.__init__

    def spy(self: writer.DirectWriter, handle: int, **options: int) -> None:
        started.append(os.lseek(handle, 0, os.SEEK_CUR))  # the file offset it starts at
        real(self, handle, **options)

    monkeypatch.setattr(writer.DirectWriter, "__init__", spy)
    data = _data(300_000 + 17)
    target = tmp_path / "out.bin"
    out = writer.open_writer(
        os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL), None, direct_from=100_000
    )
    for start in range(0, len(data), piece):
        out.write(data[start : start + piece])
    out.close()
    assert target.read_bytes() == data
    assert len(started) == 1
    assert started[0] % writer.ALIGN == 0
    assert 100_000 - piece - writer.ALIGN <= started[0] < 100_000 + writer.ALIGN


def test_a_small_file_of_unknown_size_never_turns_direct(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "DirectWriter", None)  # would fail if it were used
    target = tmp_path / "small.txt"
    out = writer.open_writer(
        os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL), None, direct_from=1 << 20
    )
    out.write(b"a small log\n")
    out.close()
    assert target.read_bytes() == b"a small log\n"
