"""Fast forward-only byte streams for unpacking: inflate ahead in a thread, tar without copies.

`InflateAhead` inflates a gzip stream in a helper thread (isal releases the GIL) into a bounded
queue of large blocks, and hands those blocks on as they are: no BytesIO and no BufferedReader
copy in between. `ForwardReader` gives tarfile the `read/tell/seek` it needs on such a stream
(seeking forward only, as tarfile does while walking the headers), and `MemberReader` reads one
member's bytes straight from it, so member data is never copied by tarfile's own `_Stream`.
"""

from __future__ import annotations

import queue
import tarfile
import threading
from typing import Protocol


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


INFLATE_BLOCK = 4 * 2**20
INFLATE_QUEUE = 6  # blocks inflated ahead of the reader (bounded memory: ~24 MB)
_EOF = b""


class InflateAhead:
    """Reads `source` (a decompressing stream) in a helper thread, `queue_blocks` blocks ahead.

    Like a raw stream, `read(n)` may return fewer than n bytes (b"" only at the end); a block
    is returned as it is when the caller asks for all of it. Errors of the helper thread are
    raised by the `read` that reaches them. Always `close()` (it stops and joins the helper thread).
    """

    def __init__(
        self, source: Readable, *, block: int = INFLATE_BLOCK, queue_blocks: int = INFLATE_QUEUE
    ) -> None:
        self._source = source
        self._read1 = getattr(source, "read1", source.read)  # read1: no copy in BufferedReader
        self._block = block
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(queue_blocks)
        self._stop = threading.Event()
        self._current = b""
        self._offset = 0
        self._done = False
        self._thread = threading.Thread(target=self._run, name="inflate-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data: bytes | BaseException = self._read1(self._block)
            except BaseException as exc:  # handed to the reader, which raises it
                data = exc
            while not self._stop.is_set():
                try:
                    self._queue.put(data, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if not isinstance(data, bytes) or not data:
                return

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


class ForwardReader:
    """`read`, `tell` and forward `seek` over a stream: what tarfile needs to walk the headers."""

    def __init__(self, raw: Readable) -> None:
        self.raw = raw
        self.position = 0

    def read(self, size: int = -1, /) -> bytes:
        """Exactly `size` bytes, fewer only at the end of the stream."""
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


def open_tar(stream: Readable) -> tuple[tarfile.TarFile, ForwardReader]:
    """A TarFile over a forward-only stream; read members with `MemberReader`, not extractfile."""
    reader = ForwardReader(stream)
    return tarfile.TarFile(fileobj=reader, mode="r"), reader  # type: ignore[arg-type]
