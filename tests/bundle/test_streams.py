"""The forward-only streams under the unpacker: inflate-ahead thread and copy-free tar reading."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
import threading
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from app.bundle import streams
from app.bundle.streams import (
    ForwardReader,
    InflateAhead,
    MemberReader,
    SalvagingGzip,
    exact_inflate,
    open_tar,
)
from app.bundle.unpack import _CountingReader, _gzip_reader, _ReadFailed, unpack_upload
from app.native import loops
from app.signatures.engine import BlockFeeder, FileScan


class Pieces:
    """A source that yields the given pieces (never more than asked), then raises `error`."""

    def __init__(self, pieces: list[bytes], error: BaseException | None = None) -> None:
        self.pieces = list(pieces)
        self.error = error
        self.closed = False

    def read(self, size: int = -1, /) -> bytes:
        if self.pieces:
            piece = self.pieces.pop(0)
            if 0 <= size < len(piece):
                self.pieces.insert(0, piece[size:])
                return piece[:size]
            return piece
        if self.error is not None:
            raise self.error
        return b""

    def close(self) -> None:
        self.closed = True


def _drain(stream: InflateAhead, size: int) -> list[bytes]:
    out = []
    while chunk := stream.read(size):
        assert len(chunk) <= size
        out.append(chunk)
    return out


def test_inflate_ahead_hands_on_every_byte_in_order() -> None:
    data = random.Random(3).randbytes(3_000_000)
    gz = gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(data)))
    stream = InflateAhead(gz, block=100_000, queue_blocks=2)
    try:
        assert b"".join(_drain(stream, 70_000)) == data
        assert stream.read(10) == b""
    finally:
        stream.close()


def test_a_whole_block_is_handed_on_without_a_copy() -> None:
    block = b"x" * 1000
    stream = InflateAhead(Pieces([block]), block=1000)
    try:
        assert stream.read(5000) is block
    finally:
        stream.close()


def test_an_error_while_inflating_comes_after_the_good_bytes() -> None:
    stream = InflateAhead(Pieces([b"good ", b"bytes"], EOFError("truncated")), block=10)
    try:
        assert stream.read(100) == b"good "
        assert stream.read(100) == b"bytes"
        with pytest.raises(EOFError, match="truncated"):
            stream.read(100)
    finally:
        stream.close()


def test_closing_early_stops_the_helper_thread() -> None:
    source = Pieces([b"x" * 10] * 1000)
    stream = InflateAhead(source, block=10, queue_blocks=1)
    assert stream.read(10) == b"x" * 10
    stream.close()
    assert source.closed
    assert not [t for t in threading.enumerate() if t.name == "inflate-ahead"]


def test_forward_reader_reads_exact_sizes_and_refuses_to_go_back() -> None:
    reader = ForwardReader(Pieces([b"ab", b"cde", b"fgh"]))
    assert reader.read(4) == b"abcd"
    assert reader.tell() == 4
    reader.seek(6)
    assert reader.read(10) == b"gh"
    with pytest.raises(tarfile.ReadError, match="backwards"):
        reader.seek(1)


def _tar(members: dict[str, bytes], fmt: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_members_are_read_straight_from_the_stream_and_unread_ones_skipped(fmt: int) -> None:
    long_name = "logs/" + "n" * (90 if fmt == tarfile.USTAR_FORMAT else 180) + ".txt"
    members = {
        long_name: b"first\n" * 1000,
        "skipped.bin": random.Random(1).randbytes(5000),
        "last.txt": b"last line\n",
    }
    data = _tar(members, fmt)
    archive, reader = open_tar(Pieces([data[i : i + 777] for i in range(0, len(data), 777)]))
    seen = {}
    while (member := archive.next()) is not None:
        if member.name == "skipped.bin":
            continue  # never read: the next header is found by seeking forward
        content = MemberReader(reader, member)
        seen[member.name] = b"".join(iter(lambda: content.read(1000), b""))  # noqa: B023
    assert seen == {long_name: members[long_name], "last.txt": b"last line\n"}


def test_a_member_cut_short_is_reported_as_the_end_of_data() -> None:
    data = _tar({"log.txt": b"y" * 10_000}, tarfile.PAX_FORMAT)
    archive, reader = open_tar(Pieces([data[:3000]]))
    member = archive.next()
    assert member is not None
    content = MemberReader(reader, member)
    with pytest.raises(tarfile.ReadError, match="unexpected end of data"):
        while content.read(1000):
            pass


def test_exact_inflate_reads_every_member_up_to_the_cut(tmp_path: Path) -> None:
    parts = [bytes([65 + n]) * 200_000 + os.urandom(50_000) for n in range(3)]
    members = [gzip.compress(part) for part in parts[:2]]
    named = io.BytesIO()
    with gzip.GzipFile("third.log", "wb", fileobj=named, mtime=0) as third:  # FNAME header
        third.write(parts[2])
    data = b"".join(members) + named.getvalue()
    path = tmp_path / "x.gz"
    path.write_bytes(data[: len(data) - 20_000])  # cut inside the third member's data

    whole = b"".join(exact_inflate(path))
    skipped = b"".join(exact_inflate(path, skip=123_456))

    assert whole.startswith(parts[0] + parts[1]) and len(whole) > len(parts[0] + parts[1])
    assert (parts[0] + parts[1] + parts[2]).startswith(whole)
    assert skipped == whole[123_456:]


# --- blocks of whole lines (InflateAhead(lines=True), app._native.fill_lines) ---------------

needs_native = pytest.mark.skipif(loops is None, reason="app._native is not built")


class PiecesInto(Pieces):
    """Pieces with `readinto`: each call writes at most one piece (the room allowing)."""

    def readinto(self, view: memoryview) -> int:
        piece = self.read(len(view))
        view[: len(piece)] = piece
        return len(piece)


def _text(seed: int, lines: int, longest: int) -> bytes:
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        size = rng.choice([0, 1, 5, 40, 120, rng.randrange(longest)])
        end = rng.choice([b"\n", b"\r\n"])
        out.append(bytes(rng.choice(b'abcxyz \t="') for _ in range(size)) + end)
    return b"".join(out) + b"no newline at the end"


def _line_length_at(data: bytes, offset: int) -> int:
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    return (len(data) if end == -1 else end) - start


@needs_native
@pytest.mark.parametrize(("seed", "longest"), [(seed, 300) for seed in range(4)] + [(9, 3000)])
def test_lines_blocks_end_at_line_ends_unless_a_line_is_half_a_block_long(
    seed: int, longest: int
) -> None:
    data = _text(seed, 3000, longest)
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), 400))
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    stream = InflateAhead(PiecesInto(pieces), block=1000, queue_blocks=2, lines=True)
    try:
        blocks = _drain(stream, 1000)
    finally:
        stream.close()
    assert b"".join(blocks) == data
    offset = 0
    for block in blocks[:-1]:
        offset += len(block)
        assert block.endswith(b"\n") or _line_length_at(data, offset) >= 500
    if longest < 500:
        assert all(block.endswith(b"\n") for block in blocks[:-1])


@needs_native
def test_a_line_longer_than_a_block_moves_on_half_a_block_at_least() -> None:
    data = b"short\n" + b"y" * 100_000 + b"\nend\n"
    source = PiecesInto([data])
    stream = InflateAhead(source, block=1000, lines=True)
    try:
        blocks = _drain(stream, 1000)
    finally:
        stream.close()
    assert b"".join(blocks) == data
    assert len(blocks) <= 2 * len(data) // 1000 + 2  # not a byte or a line at a time


@needs_native
def test_lines_hand_on_every_byte_before_the_error_then_raise_it() -> None:
    source = PiecesInto([b"one\ntw", b"o\nthr", b"ee"], OSError("cut short"))
    stream = InflateAhead(source, block=64, lines=True)
    try:
        got = b""
        with pytest.raises(OSError, match="cut short"):
            while piece := stream.read(64):
                got += piece
        assert got == b"one\ntwo\nthree"
    finally:
        stream.close()


class KeepsTheView(PiecesInto):
    """Keeps the view it was given (not an export: `release` after the call cuts it off)."""

    def readinto(self, view: memoryview) -> int:
        self.kept = view
        return super().readinto(view)


class WritesTooMuch(PiecesInto):
    def readinto(self, view: memoryview) -> int:
        return len(view) + 1


@needs_native
def test_a_reader_writing_past_its_view_fails_the_stream() -> None:
    stream = InflateAhead(WritesTooMuch([]), block=64, lines=True)
    try:
        with pytest.raises(ValueError, match="outside the view"):
            stream.read(64)
    finally:
        stream.close()


@needs_native
def test_a_view_kept_by_the_reader_is_released_after_its_call() -> None:
    source = KeepsTheView([b"a\nb"])
    stream = InflateAhead(source, block=64, lines=True)
    try:
        assert b"".join(_drain(stream, 64)) == b"a\nb"
    finally:
        stream.close()
    with pytest.raises(ValueError, match="released"):
        source.kept[0] = 1


class KeepsAnExport(PiecesInto):
    """Keeps a view of the view it was given: an export, which `release` cannot cut off."""

    def readinto(self, view: memoryview) -> int:
        self.kept = view[:4]
        return super().readinto(view)


@needs_native
def test_a_block_a_reader_still_holds_a_view_of_is_never_freed_under_it() -> None:
    source = KeepsAnExport([b"a\nb"])
    stream = InflateAhead(source, block=64, lines=True)
    try:
        with pytest.raises(BufferError):
            stream.read(64)
    finally:
        stream.close()
    source.kept[:2] = b"zz"  # (the block's memory is still the view's: no crash, no reuse)
    assert bytes(source.kept[:2]) == b"zz"


@needs_native
def test_fill_lines_refuses_a_head_of_half_the_block() -> None:
    assert loops is not None
    with pytest.raises(ValueError, match="half"):
        loops.fill_lines(io.BytesIO(b"x").readinto, b"12345", 10)
    with pytest.raises(TypeError):
        loops.fill_lines(io.BytesIO(b"x").readinto, b"", b"not a size")
    assert loops.fill_lines(io.BytesIO(b"ab\ncd").readinto, b"1234", 10) == (
        b"1234ab\ncd",
        b"",
        True,
    )
    block, rest, end = loops.fill_lines(io.BytesIO(b"ab\ncd\nef").readinto, b"", 7)
    assert (block, rest, end) == (b"ab\ncd\n", b"e", None)
    # a block cut at its last line end is plain bytes of that length
    assert len(block) == 6 and hash(block) == hash(b"ab\ncd\n") and block[-1:] == b"\n"
    assert block.split(b"\n") == [b"ab", b"cd", b""] and block + b"x" == b"ab\ncd\nx"


def test_without_the_c_loops_lines_are_plain_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "loops", None)
    stream = InflateAhead(PiecesInto([b"ab\ncd\nef"]), block=4, lines=True)
    try:
        assert _drain(stream, 4) == [b"ab\nc", b"d\nef"]
    finally:
        stream.close()


@pytest.mark.parametrize("room", [1, 7, 100_000])
def test_salvaging_readinto_hands_on_every_byte_before_the_damage(
    tmp_path: Path, room: int
) -> None:
    data = b"".join(b"line %d of the log\n" % n for n in range(60_000))
    packed = gzip.compress(data)
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    with path.open("rb") as raw:
        stream = SalvagingGzip(_gzip_reader(_CountingReader(raw), 4096), path)
        got = bytearray()
        buffer = bytearray(room)
        with pytest.raises((EOFError, OSError, zlib.error)):
            while count := stream.readinto(memoryview(buffer)):
                got += buffer[:count]
    assert len(got) > len(data) // 2
    assert data.startswith(bytes(got))  # the fast reader's bytes, then the salvaged ones
    assert len(got) >= len(b"".join(exact_inflate(path)))


class _Recording:
    """A Tee whose sinks keep every chunk of every file (BlockSink)."""

    def __init__(self) -> None:
        self.chunks: dict[str, list[bytes]] = {}

    def open(self, name: str) -> _Recording.Sink:
        return _Recording.Sink(self.chunks.setdefault(name, []))

    class Sink:
        def __init__(self, into: list[bytes]) -> None:
            self.into = into
            self.reads_whole = False

        def write(self, chunk: bytes) -> None:
            self.into.append(chunk)

        def close(self) -> None:
            pass

        def discard(self) -> None:
            pass


@needs_native
def test_an_unpacked_log_reaches_the_scan_in_whole_lines_taken_without_a_copy(
    tmp_path: Path,
) -> None:
    rng = random.Random(5)
    log = b"".join(
        b'2026-11-20T11:15:33.%03d+01:00 expc1 tvcs: Detail="%s"\n'
        % (n % 1000, b"x" * rng.randrange(300))
        for n in range(120_000)
    )  # ~21 MB: five blocks and more
    upload = tmp_path / "diagnostic_log_expc1.tar.gz"
    upload.write_bytes(
        gzip.compress(_tar({"notes.txt": b"a\nb", "log.txt": log}, tarfile.PAX_FORMAT))
    )
    tee = _Recording()
    unpack_upload(upload, upload.name, tmp_path / "out", inflate_threads=1, tee=tee)
    chunks = tee.chunks["diagnostic_log_expc1.tar.gz/log.txt"]
    assert b"".join(chunks) == log and len(chunks) > 4
    assert all(chunk.endswith(b"\n") for chunk in chunks)

    pushed: list[bytes] = []
    scan = SimpleNamespace(feed=lambda block, located=None: pushed.append(block))
    feeder = BlockFeeder(cast(FileScan, scan), None)  # blocks fed in this thread, in order
    for chunk in chunks:
        feeder.write(chunk)
    assert len(pushed) == len(chunks)
    assert all(block is chunk for block, chunk in zip(pushed, chunks, strict=True))


class _NoRead(io.BytesIO):
    """A raw stream that must be read with `readinto` (its `read` is a failure)."""

    def read(self, size: int | None = -1, /) -> bytes:
        raise AssertionError("read into new bytes, then copied")


class _FailingInto(io.BytesIO):
    def readinto(self, buffer: Any, /) -> int:
        raise OSError(5, "Input/output error")


class _NothingReady(io.BytesIO):
    def readinto(self, buffer: Any, /) -> int | None:  # type: ignore[override]
        return None  # a non-blocking stream's "nothing yet"


def test_the_counting_reader_reads_straight_into_the_callers_buffer() -> None:
    # isal's gzip reader asks the upload's file for compressed input with `readinto`: the
    # counting reader passes it on (no bytes object per read, no copy holding the GIL)
    seen: list[int] = []
    reader = _CountingReader(_NoRead(b"x" * 10_000), seen.append)
    buffer = bytearray(4096)
    counts = [reader.readinto(memoryview(buffer)) for _ in range(4)]
    assert counts == [4096, 4096, 1808, 0]
    assert reader.count == 10_000 and seen == [4096, 4096, 1808, 0]
    assert buffer[:1808] == b"x" * 1808


def test_the_counting_reader_reports_a_failing_readinto_as_a_read_error() -> None:
    reader = _CountingReader(_FailingInto(b"data"))
    with pytest.raises(_ReadFailed) as failed:
        reader.readinto(bytearray(16))
    assert isinstance(failed.value.cause, OSError) and reader.count == 0
    idle = _CountingReader(_NothingReady(b"data"))  # never read as the end of the upload
    with pytest.raises(_ReadFailed):
        idle.readinto(bytearray(16))


def test_the_counting_reader_raises_a_pending_error_before_reading_into() -> None:
    reader = _CountingReader(io.BytesIO(b"data"))
    reader.pending = _ReadFailed(EOFError("cut short"))
    with pytest.raises(_ReadFailed):
        reader.readinto(bytearray(16))
    assert reader.readinto(bytearray(16)) == 4  # raised once, then reading goes on
