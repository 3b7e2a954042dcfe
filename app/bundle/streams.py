"""Fast forward-only byte streams for unpacking: inflate ahead in a thread, tar without copies.

`InflateAhead` inflates a gzip stream in a helper thread (isal releases the GIL) into a bounded
queue of large blocks, and hands those blocks on as they are: no BytesIO and no BufferedReader
copy in between. `ForwardReader` gives tarfile the `read/tell/seek` it needs on such a stream
(seeking forward only, as tarfile does while walking the headers), and `MemberReader` reads one
member's bytes straight from it, so member data is never copied by tarfile's own `_Stream`.

tarfile reads a member's headers (the 512-byte header, a PAX extended header, GNU long names
and sparse maps) with `read(size)` into memory, `size` being whatever the archive claims.
`ForwardReader.limit_headers(n)` bounds the bytes tarfile may read that way before the next
member: a larger claim raises `HeaderTooLarge` before anything is allocated.

The fast gzip readers drop the bytes they inflated in a `read` that then fails (a download cut
short, a bad checksum). `SalvagingGzip` keeps the fast reader for the normal case, and only when
it fails inflates the file again with zlib in small steps, skips what was already delivered and
hands on every byte up to the damage before raising the error.
"""

from __future__ import annotations

import queue
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Protocol, cast

from isal import isal_zlib

from app.native import loops


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


INFLATE_BLOCK = 4 * 2**20
INFLATE_QUEUE = 6  # blocks inflated ahead of the reader (bounded memory: ~24 MB)
_EOF = b""


class InflateAhead:
    """Reads `source` (a decompressing stream) in a helper thread, `queue_blocks` blocks ahead.

    With `lines`, a source with `readinto` inflates into blocks that end at line ends where
    it can (app._native.fill_lines: the rest of a block's last line opens the next one; a line
    of half a block or more is not waited for): the scan then cuts no block at a line end,
    which copied every byte of a log once, holding the GIL (0.18 s and 24 MB per GiB).

    Like a raw stream, `read(n)` may return fewer than n bytes (b"" only at the end); a block
    is returned as it is when the caller asks for all of it. Errors of the helper thread are
    raised by the `read` that reaches them. Always `close()` (it stops and joins the helper thread).
    """

    def __init__(
        self,
        source: Readable,
        *,
        block: int = INFLATE_BLOCK,
        queue_blocks: int = INFLATE_QUEUE,
        lines: bool = False,
    ) -> None:
        self._source = source
        self._read1 = getattr(source, "read1", source.read)  # read1: no copy in BufferedReader
        readinto = getattr(source, "readinto", None)
        self._fill = (
            partial(loops.fill_lines, readinto)
            if lines and loops is not None and readinto is not None
            else None
        )  # (blocks of `block` bytes, inflated into in the helper thread)
        self._block = block
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(queue_blocks)
        self._stop = threading.Event()
        self._current = b""
        self._offset = 0
        self._done = False
        self._thread = threading.Thread(target=self._run, name="inflate-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self._fill is not None:
            self._run_lines(self._fill)
            return
        while not self._stop.is_set():
            try:
                data: bytes | BaseException = self._read1(self._block)
            except BaseException as exc:  # handed to the reader, which raises it
                data = exc
            if not self._put(data) or not isinstance(data, bytes) or not data:
                return

    def _run_lines(self, fill: Callable[[bytes, int], tuple[bytes, bytes, object]]) -> None:
        """`_run` in blocks that end at line ends (app._native.fill_lines): the source
        inflates straight into each block, and the scan cuts no block at a line end."""
        head = b""
        while not self._stop.is_set():
            end: object
            try:
                block, head, end = fill(head, self._block)
            except BaseException as exc:  # (no memory, a reader breaking its contract)
                block, end = head, exc  # (the last line begun is handed on first)
            if block and not self._put(block):
                return
            if end is not None:
                self._put(end if isinstance(end, BaseException) else _EOF)
                return

    def _put(self, item: bytes | BaseException) -> bool:
        """Queue `item` for the reader; False when closed meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read(self, size: int = -1, /) -> bytes:
        """Up to `size` bytes (all that is left for -1) from the current block; b"" at the end."""
        if size < 0:
            return b"".join(iter(lambda: self.read(self._block), b""))
        if self._offset == len(self._current):
            if self._done:
                return b""
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._done = True
                raise item
            if not item:
                self._done = True
                return b""
            self._current, self._offset = item, 0
        if self._offset == 0 and size >= len(self._current):
            piece = self._current  # the whole block: no copy
        else:
            piece = self._current[self._offset : self._offset + size]
        self._offset += len(piece)
        return piece

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._source.close()


class HeaderTooLarge(tarfile.ReadError):
    """A member's tar headers claim more bytes than the reader allows (see limit_headers)."""


class ForwardReader:
    """`read`, `tell` and forward `seek` over a stream: what tarfile needs to walk the headers."""

    def __init__(self, raw: Readable) -> None:
        self.raw = raw
        self.position = 0
        self.header_room: int | None = None  # bytes `read` may still return (None: no bound)
        self.header_limit = 0

    def limit_headers(self, max_bytes: int) -> None:
        """From now on until the next call, `read` (tarfile's header reads) returns at most
        `max_bytes` bytes in all; member data goes through `read_some` and is not counted."""
        self.header_room = self.header_limit = max_bytes

    def read(self, size: int = -1, /) -> bytes:
        """Exactly `size` bytes, fewer only at the end of the stream."""
        if self.header_room is not None:
            if size < 0 or size > self.header_room:
                raise HeaderTooLarge(
                    "a member's tar headers (PAX extended header, GNU long name or sparse map) "
                    f"claim {'an unbounded size' if size < 0 else f'{size:,} bytes'}, more than "
                    f"the {self.header_limit:,} bytes allowed"
                )
            self.header_room -= size
        data = self.raw.read(size)
        if 0 <= size != len(data) and data:
            parts = [data]
            got = len(data)
            while got < size and (more := self.raw.read(size - got)):
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        self.position += len(data)
        return data

    def read_some(self, size: int) -> bytes:
        """Up to `size` bytes, as the stream gives them (a member's data: no joining)."""
        data = self.raw.read(size)
        self.position += len(data)
        return data

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0 or offset < self.position:
            raise tarfile.ReadError("seeking backwards in a streamed archive")
        while self.position < offset:
            if not self.read_some(min(offset - self.position, INFLATE_BLOCK)):
                raise tarfile.ReadError("unexpected end of data")
        return self.position

    def close(self) -> None:
        self.raw.close()


class MemberReader:
    """The bytes of one regular tar member, read straight from the archive's ForwardReader."""

    def __init__(self, archive: ForwardReader, member: tarfile.TarInfo) -> None:
        self.archive = archive
        self.start = member.offset_data
        self.remaining = member.size

    def read(self, size: int = -1, /) -> bytes:
        if self.remaining <= 0:
            return b""
        if self.archive.position != self.start:
            self.archive.seek(self.start)
        wanted = self.remaining if size < 0 else min(size, self.remaining)
        data = self.archive.read_some(wanted)
        if not data:
            raise tarfile.ReadError("unexpected end of data")
        self.remaining -= len(data)
        self.start += len(data)
        return data

    def close(self) -> None:
        """Nothing to release: the archive stream belongs to the caller."""


def open_tar(
    stream: Readable, max_header_bytes: int | None = None
) -> tuple[tarfile.TarFile, ForwardReader]:
    """A TarFile over a forward-only stream; read members with `MemberReader`, not extractfile.

    `max_header_bytes` bounds the headers of the first member (opening reads them); call
    `reader.limit_headers()` again before each `next()`.
    """
    reader = ForwardReader(stream)
    if max_header_bytes is not None:
        reader.limit_headers(max_header_bytes)
    return tarfile.TarFile(fileobj=reader, mode="r"), reader  # type: ignore[arg-type]


SALVAGE_STEP = 64 * 2**10
"""Compressed bytes fed, and inflated bytes taken, per step of the exact (salvaging) inflater."""
_INFLATE_ERRORS: tuple[type[BaseException], ...] = (
    zlib.error,
    cast("type[BaseException]", isal_zlib.error),  # the stubs type it as an instance
)


class SalvagingGzip:
    """A gzip stream that delivers every byte before the damage, then raises the damage's error.

    `fast` inflates the file at `path` (isal); it is used alone until it fails. Then the file is
    inflated again from its start by `exact_inflate`, whose first `delivered` bytes are skipped.
    """

    def __init__(self, fast: Readable, path: Path) -> None:
        self._fast = fast
        self._path = path
        self._delivered = 0
        self._error: BaseException | None = None
        self._rest: Iterator[bytes] | None = None
        self._left = b""  # the part of a salvaged piece `readinto` had no room for

    def read(self, size: int = -1, /) -> bytes:
        if self._rest is None:
            try:
                data = self._fast.read(size)
            except (EOFError, OSError, zlib.error, ValueError) as err:  # isal raises these
                self._salvage(err)
            else:
                self._delivered += len(data)
                return data
        piece = self._next_piece()
        self._left = b""
        return piece

    def readinto(self, view: memoryview | bytearray, /) -> int:
        """`read` into `view` (for InflateAhead's blocks of whole lines): the fast reader
        inflates straight into it; the salvaged pieces are copied."""
        if self._rest is None:
            try:
                count: int = self._fast.readinto(view)  # type: ignore[attr-defined]
            except (EOFError, OSError, zlib.error, ValueError) as err:
                self._salvage(err)
            else:
                self._delivered += count
                return count
        piece = self._next_piece()
        count = min(len(view), len(piece))
        view[:count] = piece[:count]
        self._left = piece[count:]
        return count

    def _salvage(self, err: BaseException) -> None:
        self._error = err
        self._rest = exact_inflate(self._path, skip=self._delivered)

    def _next_piece(self) -> bytes:
        """What is left of the salvaged piece being handed on, else the next one; at the end
        the fast reader's error is raised."""
        if self._left:
            return self._left
        assert self._rest is not None
        piece = next(self._rest, None)
        if piece is None:
            assert self._error is not None
            raise self._error
        return piece

    def close(self) -> None:
        self._fast.close()


def exact_inflate(path: Path, *, skip: int = 0) -> Iterator[bytes]:
    """The inflated bytes of the gzip file at `path` (all its members), minus the first `skip`,
    in pieces of at most SALVAGE_STEP; it simply ends where the data is cut off or damaged.

    Raw deflate (isal) with the gzip framing read here: a gzip mode raises on a bad checksum in
    the call that also inflated the member's last bytes, and they would be lost.
    """
    with path.open("rb") as raw:
        source = _ByteSource(raw)
        while source.skip_gzip_header():
            inflater = isal_zlib.decompressobj(-15)  # raw deflate, 2.7 times zlib's speed
            while not inflater.eof:
                data = inflater.unconsumed_tail or source.take_some()
                if not data:
                    return  # cut off here
                try:
                    out = inflater.decompress(data, SALVAGE_STEP)
                except _INFLATE_ERRORS:
                    return
                if skip:
                    dropped = min(skip, len(out))
                    out, skip = out[dropped:], skip - dropped
                if out:
                    yield out
            source.give_back(inflater.unused_data)
            source.take(8)  # CRC-32 and size: the fast reader already judged them


class _ByteSource:
    """Forward reads over a file with a put-back buffer, for walking gzip member framing."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._buffer = b""

    def take_some(self) -> bytes:
        if self._buffer:
            data, self._buffer = self._buffer, b""
            return data
        return self._raw.read(SALVAGE_STEP)

    def give_back(self, data: bytes) -> None:
        self._buffer = data + self._buffer

    def take(self, size: int) -> bytes:
        parts = []
        while size > 0 and (data := self.take_some()):
            parts.append(data[:size])
            self.give_back(data[size:])
            size -= len(parts[-1])
        return b"".join(parts)

    def skip_past_nul(self) -> bool:
        while data := self.take_some():
            end = data.find(b"\0")
            if end != -1:
                self.give_back(data[end + 1 :])
                return True
        return False

    def skip_gzip_header(self) -> bool:
        """Skip one gzip member header (RFC 1952); False at the end or on anything else."""
        fixed = self.take(10)
        if len(fixed) < 10 or not fixed.startswith(b"\x1f\x8b\x08"):
            return False
        flags = fixed[3]
        if flags & 4:  # FEXTRA
            length = self.take(2)
            extra = int.from_bytes(length, "little")
            if len(length) < 2 or len(self.take(extra)) < extra:
                return False
        for flag in (8, 16):  # FNAME, FCOMMENT: NUL-terminated
            if flags & flag and not self.skip_past_nul():
                return False
        return not flags & 2 or len(self.take(2)) == 2  # FHCRC
