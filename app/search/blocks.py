"""Read a file as line-aligned blocks into one reused buffer: bounded memory, no copies.

Each block ends at a line end (or at the end of the file); a line longer than the buffer is
passed on in buffer-sized pieces. The buffer is overwritten by the next block, so a consumer
copies what it keeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

BLOCK_SIZE = 4 * 2**20


class ReadsInto(Protocol):
    """A binary file opened for reading (`open(path, "rb", buffering=0)`)."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


def line_blocks(
    handle: ReadsInto, block_size: int = BLOCK_SIZE
) -> Iterator[tuple[int, bytearray, int]]:
    """(file offset of the block, buffer, length of the block in the buffer) for each block."""
    buffer = bytearray(block_size)
    view = memoryview(buffer)
    base = 0  # file offset of buffer[0]
    held = 0  # bytes of a partial last line kept at the start of the buffer
    try:
        while True:
            read = handle.readinto(view[held:])
            if not read:
                if held:
                    yield base, buffer, held
                return
            end = held + read
            cut = buffer.rfind(b"\n", 0, end) + 1
            if cut == 0:
                if end < block_size:
                    held = end  # a short read: read on before deciding
                    continue
                cut = end  # one line fills the buffer: pass it on in pieces
            yield base, buffer, cut
            buffer[: end - cut] = view[cut:end]
            base += cut
            held = end - cut
    finally:
        view.release()
