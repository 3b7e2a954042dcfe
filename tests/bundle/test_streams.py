"""The forward-only streams under the unpacker: inflate-ahead thread and copy-free tar reading."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
import threading
from pathlib import Path

import pytest

from app.bundle.streams import (
    ForwardReader,
    InflateAhead,
    MemberReader,
    exact_inflate,
    open_tar,
)


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
