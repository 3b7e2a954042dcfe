"""Read a zip front to back by its local headers, for a zip whose table of contents is missing.

A zip's table of contents (central directory) is at its very end, so a download cut short loses
it, and `zipfile` then reads nothing at all. Every member also starts with a local header
(`PK\\x03\\x04`, name, method, sizes), so the members before the cut can still be read in order.
Stored and deflated members are read; a member whose sizes are only given after its data (a
"data descriptor") is read when deflated (deflate marks its own end) and ends the walk when
stored. The walk ends at the table of contents, at anything that is not a local header, or at
the cut; a member cut off raises EOFError from its reader after its last bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

LOCAL_HEADER = b"PK\x03\x04"
_FIXED = struct.Struct("<4sHHHHHIIIHH")
_STEP = 64 * 2**10
_STORED, _DEFLATED = 0, 8
_ZIP64_EXTRA = 0x0001
_DATA_DESCRIPTOR = b"PK\x07\x08"


class WalkStopped(Exception):
    """The walk cannot go on past a member (the message says why)."""


@dataclass(frozen=True)
class LocalMember:
    name: str
    method: int
    encrypted: bool
    compressed_size: int | None  # None: given after the data only
    size: int | None
    has_descriptor: bool = False  # crc and sizes repeated after the data

    @property
    def readable(self) -> bool:
        return self.method in (_STORED, _DEFLATED) and not self.encrypted


class _Source:
    """Forward reads with a put-back buffer."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.buffer = b""

    def read(self, size: int) -> bytes:
        if self.buffer:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
            return data
        return self.raw.read(size)

    def read_exactly(self, size: int) -> bytes:
        parts = []
        while size > 0 and (data := self.read(min(size, _STEP))):
            parts.append(data)
            size -= len(data)
        return b"".join(parts)

    def skip(self, size: int) -> None:
        """Pass over `size` bytes without keeping them."""
        while size > 0 and (data := self.read(min(size, _STEP))):
            size -= len(data)

    def give_back(self, data: bytes) -> None:
        self.buffer = data + self.buffer


class MemberData:
    """The uncompressed bytes of one member, read from the walk's source in order."""

    def __init__(self, source: _Source, member: LocalMember) -> None:
        self.source = source
        self.member = member
        self.left = member.compressed_size  # compressed bytes still to read (None: unknown)
        self.inflater = zlib.decompressobj(-15) if member.method == _DEFLATED else None
        self.done = False

    def read(self, size: int = -1, /) -> bytes:
        while not self.done:
            if self.inflater is None:
                return self._read_stored(size)
            if self.inflater.unconsumed_tail:
                data = self.inflater.unconsumed_tail
            else:
                data = self._take(_STEP)
                if not data:
                    raise EOFError("the zip archive ends inside this member")
            out = self.inflater.decompress(data, size if size > 0 else _STEP)
            if self.inflater.eof:
                self.done = True
                if self.left is None:  # the next header follows right after deflate's end
                    self.source.give_back(self.inflater.unused_data)
                elif self.left:  # declared sizes: skip what deflate did not need
                    self.source.skip(self.left)
                    self.left = 0
            if out:
                return out
        return b""

    def _read_stored(self, size: int) -> bytes:
        assert self.left is not None
        data = self.source.read(min(self.left, size if size > 0 else _STEP))
        if not data and self.left:
            raise EOFError("the zip archive ends inside this member")
        self.left -= len(data)
        self.done = self.left == 0
        return data

    def _take(self, size: int) -> bytes:
        if self.left is None:
            return self.source.read(size)
        data = self.source.read(min(size, self.left))
        self.left -= len(data)
        return data

    def finish(self) -> None:
        """Read to the end of the member (and its data descriptor): the next header follows."""
        if self.left is not None:  # a declared size: pass over the rest unread
            self.source.skip(self.left)
            self.left, self.done = 0, True
        while self.read(_STEP):
            pass
        if self.member.has_descriptor:
            head = self.source.read_exactly(4)
            rest = 12 if head == _DATA_DESCRIPTOR else 8  # crc, sizes (zip64: longer)
            tail = self.source.read_exactly(rest + 8)
            found = (head + tail).find(LOCAL_HEADER, 4 if head == _DATA_DESCRIPTOR else 0)
            self.source.give_back((head + tail)[found:] if found != -1 else b"")

    def close(self) -> None:
        """Nothing to release: the walk owns the file."""


def walk(raw: BinaryIO) -> Iterator[tuple[LocalMember, MemberData]]:
    """The members of the zip read from `raw`, in order; read each one's data before the next.

    Raises WalkStopped for a member the walk cannot get past, EOFError when the zip is cut off.
    """
    source = _Source(raw)
    while True:
        fixed = source.read_exactly(_FIXED.size)
        if len(fixed) < 4 or not fixed.startswith(LOCAL_HEADER):
            return  # the table of contents, or nothing more
        if len(fixed) < _FIXED.size:
            raise EOFError("the zip archive ends inside a member's header")
        _, _, flags, method, _, _, _, csize, usize, name_length, extra_length = _FIXED.unpack(fixed)
        raw_name = source.read_exactly(name_length)
        extra = source.read_exactly(extra_length)
        if len(raw_name) < name_length or len(extra) < extra_length:
            raise EOFError("the zip archive ends inside a member's header")
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        sizes_after = bool(flags & 0x08) and csize == 0
        if 0xFFFFFFFF in (csize, usize):
            usize, csize = _zip64_sizes(extra, usize, csize)
        member = LocalMember(
            name=name,
            method=method,
            encrypted=bool(flags & 0x01),
            compressed_size=None if sizes_after else csize,
            size=None if sizes_after else usize,
            has_descriptor=bool(flags & 0x08),
        )
        if member.compressed_size is None and method != _DEFLATED:
            raise WalkStopped(
                f"{name}: its size is only given after its data, and it is not deflated"
            )
        data = MemberData(source, member)
        if not member.readable:  # the caller skips it; its bytes are passed over here
            if member.compressed_size is None:
                raise WalkStopped(f"{name}: it cannot be read and its size is not known")
            source.skip(member.compressed_size)
            data.left, data.done = 0, True
        yield member, data
        data.finish()


def _zip64_sizes(extra: bytes, size: int, compressed: int) -> tuple[int, int]:
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4 : position + 4 + length]
        if kind == _ZIP64_EXTRA:
            values = [struct.unpack_from("<Q", body, at)[0] for at in range(0, len(body) - 7, 8)]
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if compressed == 0xFFFFFFFF and values:
                compressed = values.pop(0)
            break
        position += 4 + length
    return size, compressed
