"""Unpacked files kept compressed (app.bundle.stored): round trip, reading by line, the plain
files of older analyses, damage, and the unpacker's use of it."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from app.bundle import stored
from app.bundle.budget import Limits
from app.bundle.writer import BufferedWriter
from app.errors import StoredFileDamaged
from app.web import logview
from tests.factories import Unpack, make_gz, make_tar


def varied_log(lines: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    return b"".join(
        b"2026-11-20T10:15:%02d+01:00 expc1 tvcs: line %d %s\n"
        % (n % 60, n, b"x" * rng.randrange(0, 400))
        for n in range(1, lines + 1)
    )


def store(directory: Path, data: bytes, name: str = "a.log", piece: int = 65_536) -> Path:
    path = directory / name
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    writer = stored.StoredWriter(path, BufferedWriter(handle))
    for start in range(0, len(data), piece):
        writer.write(data[start : start + piece])
    writer.close()
    return writer.path


def read_all(path: Path) -> bytes:
    with stored.open_stored(path) as stream:
        return stream.read()


def test_a_large_file_is_kept_compressed_and_reads_back_byte_for_byte(tmp_path: Path) -> None:
    data = varied_log(60_000)
    assert len(data) > 3 * stored.FRAME_BYTES
    path = store(tmp_path, data)
    assert path.name == "a.log" + stored.SUFFIX
    assert not (tmp_path / "a.log").exists()
    assert read_all(path) == data
    assert stored.original_size(path) == len(data)
    assert stored.disk_size(path) < len(data) // 3
    assert b"".join(stored.iter_bytes(path, chunk=100_000)) == data


def test_a_small_file_stays_plain(tmp_path: Path) -> None:
    data = varied_log(100)
    path = store(tmp_path, data)
    assert path == tmp_path / "a.log"
    assert path.read_bytes() == data
    assert not stored.compressed_path(path).exists()
    assert stored.stored_layout(path) is None


def test_seeking_anywhere_reads_the_same_bytes_as_the_plain_file(tmp_path: Path) -> None:
    data = varied_log(20_000)
    path = store(tmp_path, data)
    rng = random.Random(3)
    with stored.open_stored(path) as stream:
        for offset in [
            0,
            stored.FRAME_BYTES - 5,
            len(data) - 10,
            *rng.sample(range(len(data)), 20),
        ]:
            stream.seek(offset)
            assert stream.read(3000) == data[offset : offset + 3000]


@pytest.mark.parametrize("first", [1, 2, 999, 1000, 1001, 9_500, 19_950, 20_000, 20_001])
def test_lines_are_read_by_number_at_the_start_middle_and_end(tmp_path: Path, first: int) -> None:
    data = varied_log(20_000)
    path = store(tmp_path, data)
    lines = data.split(b"\n")[:-1]
    assert stored.read_lines(path, first, 100) == lines[first - 1 : first + 99]


@pytest.mark.parametrize(
    ("lines", "trailing_newline"), [(9_000, True), (9_000, False), (9_001, True), (8_999, False)]
)
def test_line_marks_are_the_log_viewers_page_starts(
    tmp_path: Path, lines: int, trailing_newline: bool
) -> None:
    data = varied_log(lines, seed=lines)
    if not trailing_newline:
        data = data.rstrip(b"\n")
    path = store(tmp_path, data)
    plain = tmp_path / "plain.log"
    plain.write_bytes(data)
    expected = logview.build_index(plain)
    layout = stored.stored_layout(path)
    assert layout is not None
    assert layout.line_marks == expected.page_offsets
    assert layout.line_count == expected.line_count == lines
    index = logview.load_index(path, tmp_path / "index" / "x.u64")
    last = logview.read_page(path, index, index.page_count)
    assert last.lines[-1].number == lines
    assert last.lines[-1].text.startswith(f"2026-11-20T10:15:{lines % 60:02d}+01:00")
    assert not (tmp_path / "index").exists()  # the store's own marks: nothing saved


def test_the_plain_file_of_an_older_analysis_reads_as_before(tmp_path: Path) -> None:
    data = varied_log(30_000)
    plain = tmp_path / "old.log"
    plain.write_bytes(data)
    assert read_all(plain) == data
    assert stored.original_size(plain) == stored.disk_size(plain) == len(data)
    assert stored.read_lines(plain, 29_999, 5) == data.split(b"\n")[29_998:30_000]


def test_the_store_is_standard_seekable_zstd(tmp_path: Path) -> None:
    zstd = shutil.which("zstd")
    if zstd is None:
        pytest.skip("no zstd command here")
    data = varied_log(10_000)
    path = store(tmp_path, data)
    assert subprocess.run([zstd, "-dc", str(path)], capture_output=True, check=True).stdout == data


def test_a_corrupted_frame_is_reported_as_damage(tmp_path: Path) -> None:
    data = varied_log(20_000)
    path = store(tmp_path, data)
    layout = stored.stored_layout(path)
    assert layout is not None
    raw = bytearray(path.read_bytes())
    middle = (layout.frame_positions[1] + layout.frame_positions[2]) // 2
    raw[middle] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert stored.read_lines(path, 1, 10) == data.split(b"\n")[:10]  # frame 1 is whole
    with pytest.raises(StoredFileDamaged, match="The stored copy of a.log is damaged"):
        read_all(path)


@pytest.mark.parametrize("keep", [0, 5, 100, -9, -200])
def test_a_store_cut_short_is_reported_as_damage_not_read_as_plain(
    tmp_path: Path, keep: int
) -> None:
    path = store(tmp_path, varied_log(20_000))
    raw = path.read_bytes()
    path.write_bytes(raw[:keep] if keep >= 0 else raw[:keep])
    with pytest.raises(StoredFileDamaged, match="damaged"):
        read_all(path)


def test_compressing_a_work_dir_keeps_large_files_compressed_and_reads_the_same(
    tmp_path: Path,
) -> None:
    big, small = varied_log(20_000), varied_log(50)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "big.log").write_bytes(big)
    (tmp_path / "a" / "small.log").write_bytes(small)
    (tmp_path / "link.log").symlink_to(tmp_path / "a" / "big.log")
    done = stored.compress_tree(tmp_path)
    assert done.files == 1 and done.before == len(big) and done.after < len(big) // 3
    assert not (tmp_path / "a" / "big.log").exists()
    packed = stored.stored_path(tmp_path / "a" / "big.log")
    assert packed.name == "big.log" + stored.SUFFIX and read_all(packed) == big
    assert stored.stored_path(tmp_path / "a" / "small.log").read_bytes() == small
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "a",
        "big.log.loupe.zst",
        "link.log",
        "small.log",
    ]
    assert stored.compress_tree(tmp_path).files == 0  # nothing left to do


def test_a_failed_compression_leaves_the_plain_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = varied_log(20_000)
    (tmp_path / "big.log").write_bytes(big)

    def full_disk(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(stored.os, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        stored.compress_tree(tmp_path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["big.log"]
    assert (tmp_path / "big.log").read_bytes() == big


def test_the_unpacker_keeps_a_large_log_compressed_and_small_files_plain(
    unpack: Unpack, work_dir: Path
) -> None:
    big = varied_log(20_000)
    result = unpack(
        "diag.tar.gz",
        make_tar({"loggingsnapshot_expc1.txt": big, "x.txt": b"hi\n"}),
        Limits(compress_from_bytes=stored.PLAIN_BELOW),
    )
    files = {f.name: f for f in result.files}
    log = files["diag.tar.gz/loggingsnapshot_expc1.txt"]
    assert log.path.name.endswith(stored.SUFFIX)
    assert log.size == len(big) and log.kind.value == "loggingsnapshot"
    assert read_all(log.path) == big
    assert files["diag.tar.gz/x.txt"].path.read_bytes() == b"hi\n"


def test_without_compression_every_file_stays_plain(unpack: Unpack) -> None:
    big = varied_log(20_000)
    result = unpack(
        "diag.tar.gz", make_tar({"loggingsnapshot_expc1.txt": big}), Limits(compress_from_bytes=0)
    )
    (log,) = result.files
    assert log.path.name == "loggingsnapshot_expc1.txt"
    assert log.path.read_bytes() == big


def test_a_member_named_like_a_store_is_skipped_with_a_warning(unpack: Unpack) -> None:
    result = unpack("diag.tar.gz", make_tar({"a.log.loupe.zst": b"hi\n", "b.txt": b"ok\n"}))
    assert [f.name for f in result.files] == ["diag.tar.gz/b.txt"]
    assert any(
        "a.log.loupe.zst" in warning and "own stored" in warning for warning in result.warnings
    )


def test_a_second_member_of_a_compressed_ones_name_is_skipped(unpack: Unpack) -> None:
    big = varied_log(20_000)
    limits = Limits(compress_from_bytes=stored.PLAIN_BELOW)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for data in (big, b"second\n"):
            info = tarfile.TarInfo("log.txt")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    result = unpack("diag.tar.gz", make_gz(buffer.getvalue()), limits)
    assert [f.name for f in result.files] == ["diag.tar.gz/log.txt"]
    assert read_all(result.files[0].path) == big


def test_frames_ahead_gives_the_whole_file_frame_by_frame_and_raises_damage(
    tmp_path: Path,
) -> None:
    data = b"".join(f"line {n}\n".encode() for n in range(1_200_000))  # 12 MB: 3 frames
    path = tmp_path / "log.txt"
    path.write_bytes(data)
    packed = stored.compress_file(path)
    frames = list(stored.frames_ahead(packed))
    assert b"".join(frames) == data
    assert [len(f) for f in frames[:-1]] == [stored.FRAME_BYTES] * (len(frames) - 1)

    before = threading.active_count()
    ahead = stored.frames_ahead(packed, depth=1)
    assert next(ahead) == data[: stored.FRAME_BYTES]
    ahead.close()
    assert threading.active_count() == before

    raw = bytearray(packed.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    packed.write_bytes(bytes(raw))
    with pytest.raises(StoredFileDamaged, match="damaged"):
        for _ in stored.frames_ahead(packed):
            pass


def test_read_ahead_gives_the_pieces_in_order_and_raises_the_readers_error(
    tmp_path: Path,
) -> None:
    data = b"".join(f"line {n}\n".encode() for n in range(400_000))
    path = tmp_path / "log.txt"
    path.write_bytes(data)
    packed = stored.compress_file(path)
    with stored.open_stored(packed) as stream:
        pieces = list(stored.read_ahead(stream, 1_000_003))
    assert b"".join(pieces) == data and len(pieces) == -(-len(data) // 1_000_003)

    # a consumer that stops early stops the reader (no thread left behind)
    before = threading.active_count()
    with stored.open_stored(packed) as stream:
        ahead = stored.read_ahead(stream, 65_536, depth=1)
        assert next(ahead) == data[:65_536]
        ahead.close()
    assert threading.active_count() == before

    # damage found by the reader thread is raised to the consumer, as a sentence
    raw = bytearray(packed.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    packed.write_bytes(bytes(raw))
    with stored.open_stored(packed) as stream, pytest.raises(StoredFileDamaged, match="damaged"):
        for _ in stored.read_ahead(stream, 65_536):
            pass


def test_blocks_written_whole_are_the_frames_and_small_writes_are_gathered(
    tmp_path: Path,
) -> None:
    data = varied_log(60_000)  # ~13 MB
    whole, rest = [b"2026 a first piece\n"], data
    while rest:  # blocks of whole lines of 3-4 MiB, as the unpacker's inflating thread gives
        cut = rest.rfind(b"\n", 0, stored.FRAME_BYTES - 1000 * len(whole)) + 1 or len(rest)
        whole.append(rest[:cut])
        rest = rest[cut:]
    path = tmp_path / "whole.log"
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    writer = stored.StoredWriter(path, BufferedWriter(handle), expected_size=len(data) + 19)
    for block in whole:
        writer.write(block)
    writer.close()
    frames = list(stored.frames_ahead(writer.path))
    assert frames == whole  # a frame per block: the first piece alone, none cut in a line
    lines = data.splitlines()
    assert stored.read_lines(writer.path, 1, 2) == [b"2026 a first piece", lines[0]]
    assert stored.read_lines(writer.path, 60_000, 5) == lines[-2:]
    kept = b"".join(whole)
    ends = [sum(len(block) for block in whole[: n + 1]) for n in range(len(whole))]
    rng = random.Random(4)
    with stored.open_stored(writer.path) as stream:  # across the frames' uneven ends
        for offset in [*(end - 3 for end in ends), *rng.sample(range(len(kept)), 20)]:
            stream.seek(offset)
            assert stream.read(5000) == kept[offset : offset + 5000]
    assert stored.read_range(writer.path, ends[1] - 7, 20) == kept[ends[1] - 7 : ends[1] + 13]

    gathered = store(tmp_path, data, name="pieces.log", piece=65_536)
    sizes = [len(frame) for frame in stored.frames_ahead(gathered)]
    assert sizes[:-1] == [stored.FRAME_BYTES] * (len(sizes) - 1)


def test_a_rerun_reads_the_unpackers_frames_in_whole_lines(unpack: Unpack) -> None:
    big = varied_log(60_000)
    result = unpack(
        "diag.tar.gz",
        make_tar({"x.txt": b"hi\n", "loggingsnapshot_expc1.txt": big}),
        Limits(compress_from_bytes=stored.PLAIN_BELOW),
    )
    (log,) = [f for f in result.files if f.name.endswith("loggingsnapshot_expc1.txt")]
    frames = list(stored.frames_ahead(log.path))
    assert b"".join(frames) == big and len(frames) > 2
    assert all(frame.endswith(b"\n") for frame in frames)
