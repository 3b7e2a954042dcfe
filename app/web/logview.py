"""Page through a log file of any size: a sparse line index on disk, then one seek per page.

A 500 MB log is never read or sent whole. The first view of a file scans it once in 4 MB blocks
(`bytes.count(b"\\n")` at C speed) and records the byte offset of every 1000th line; the index
is a small file of little-endian uint64 values:

    [FORMAT, file size, file mtime_ns, line count, offset of line 1, of line 1001, ...]

A page is then one seek and one bounded read. Only b"\\n" ends a line (as for the snippets' line
numbers); text is decoded as UTF-8 with errors replaced, so any bytes are safe to show.

A page is bounded in bytes as well as in lines: its lines show at most `page_bytes` of raw text
together (LOUPE_LOGVIEW_PAGE_BYTES). Short lines are shown whole; when they do not all fit,
the longest ones are cut to one common length, with a note, so every line of the page still
shows its start. Escaped as HTML a byte becomes at most 5 (`&#34;`), so a page of a log of
quote characters stays a few MB instead of 40.
"""

from __future__ import annotations

import os
import secrets
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

from app.bundle.stored import LINE_MARK_EVERY, open_stored, stored_layout

LINES_PER_PAGE = LINE_MARK_EVERY  # 1000: a compressed store notes where each page starts
BLOCK_SIZE = 4 * 2**20
MAX_PAGE_BYTES = 8 * 2**20  # a page of absurdly long lines is cut here
MAX_LINE_CHARS = 20_000  # longer lines are shown cut, with a note
PAGE_BYTES = 512 * 1024  # raw text shown on one page (LOUPE_LOGVIEW_PAGE_BYTES)
SNIFF_BYTES = 8192
INDEX_FORMAT = 1
_HEADER = 4
_STEP = 4096  # bytes counted at a time while looking for the n-th newline inside a block


@dataclass(frozen=True, slots=True)
class LineIndex:
    """Where every LINES_PER_PAGE-th line of a file starts, and how many lines it has."""

    size: int
    mtime_ns: int
    line_count: int
    page_offsets: tuple[int, ...]  # byte offset of the first line of each page

    @property
    def page_count(self) -> int:
        return max(1, -(-self.line_count // LINES_PER_PAGE))


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    text: str
    cut: bool = False  # too long for the page: only the start is shown


@dataclass(frozen=True, slots=True)
class Page:
    number: int  # 1-based
    page_count: int
    line_count: int
    lines: tuple[Line, ...]
    truncated: bool  # the page held more than MAX_PAGE_BYTES; the rest is not shown

    @property
    def first_line(self) -> int:
        return (self.number - 1) * LINES_PER_PAGE + 1

    @property
    def last_line(self) -> int:
        return self.first_line + len(self.lines) - 1


def page_of_line(line: int) -> int:
    """The 1-based page that holds 1-based `line`."""
    return (max(1, line) - 1) // LINES_PER_PAGE + 1


def looks_binary(path: Path) -> bool:
    """True if the file's start holds a NUL byte: a capture, an archive, not a log."""
    with open_stored(path) as handle:
        return b"\x00" in handle.read(SNIFF_BYTES)


def _after_nth_newline(buffer: bytes, start: int, n: int) -> int:
    """The index just after the n-th newline (n >= 1) at or after `start`; it must exist."""
    position = start
    while True:
        end = min(position + _STEP, len(buffer))
        found = buffer.count(b"\n", position, end)
        if found >= n:
            break
        n -= found
        position = end
    for _ in range(n):
        position = buffer.index(b"\n", position) + 1
    return position


def build_index(path: Path) -> LineIndex:
    """Scan the file once, in BLOCK_SIZE reads, and note where each page starts."""
    stat = path.stat()
    offsets = [0]
    newlines = 0  # newlines seen before the current block
    base = 0  # file offset of the current block
    last_byte = b""
    with open_stored(path) as handle:
        while block := handle.read(BLOCK_SIZE):
            in_block = block.count(b"\n")
            target = len(offsets) * LINES_PER_PAGE  # the newline that ends the previous page
            position = 0
            seen = newlines  # newlines in the file before `position`
            remaining = in_block  # newlines in the block from `position` on
            while seen + remaining >= target:
                step = target - seen
                position = _after_nth_newline(block, position, step)
                seen, remaining = target, remaining - step
                offsets.append(base + position)
                target += LINES_PER_PAGE
            newlines += in_block
            base += len(block)
            last_byte = block[-1:]
    line_count = newlines + (1 if base and last_byte != b"\n" else 0)
    if offsets and offsets[-1] >= base and len(offsets) > 1:
        offsets.pop()  # the file ends exactly at a page boundary: no empty last page
    return LineIndex(stat.st_size, stat.st_mtime_ns, line_count, tuple(offsets))


def _encode(index: LineIndex) -> bytes:
    values = array("Q", [INDEX_FORMAT, index.size, index.mtime_ns, index.line_count])
    values.extend(index.page_offsets)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()


def _decode(raw: bytes) -> LineIndex | None:
    if len(raw) % 8 or len(raw) < 8 * (_HEADER + 1):
        return None
    values = array("Q")
    values.frombytes(raw)
    if sys.byteorder == "big":
        values.byteswap()
    if values[0] != INDEX_FORMAT:
        return None
    return LineIndex(values[1], values[2], values[3], tuple(values[_HEADER:]))


def load_index(path: Path, index_path: Path) -> LineIndex:
    """The line index: read from `index_path`, or built and saved there if missing or stale.

    A compressed store carries its own (app.bundle.stored line marks): nothing is read but its
    trailer, and nothing is saved."""
    stat = path.stat()
    layout = stored_layout(path)
    if layout is not None:
        return LineIndex(layout.size, stat.st_mtime_ns, layout.line_count, layout.line_marks)
    try:
        cached = _decode(index_path.read_bytes())
    except OSError:
        cached = None
    if cached and cached.size == stat.st_size and cached.mtime_ns == stat.st_mtime_ns:
        return cached
    index = build_index(path)
    index_path.parent.mkdir(parents=True, exist_ok=True)
    partial = index_path.with_name(f".{index_path.name}.{secrets.token_hex(4)}")
    partial.write_bytes(_encode(index))
    os.replace(partial, index_path)  # atomic: a concurrent reader sees the old file or the new
    return index


def line_budget(sizes: list[int], page_bytes: int) -> int | None:
    """The common length the longest lines are cut to so that all fit in `page_bytes` together;
    None when every line fits whole (water-filling: short lines keep all their bytes)."""
    if sum(sizes) <= page_bytes:
        return None
    budget, left = page_bytes, len(sizes)
    for size in sorted(sizes):
        if size * left > budget:
            return max(1, budget // left)
        budget -= size
        left -= 1
    return None


def _show(raw: bytes, limit: int | None) -> tuple[str, bool]:
    raw = raw.removesuffix(b"\r")
    cut = limit is not None and len(raw) > limit
    if cut:
        end = limit or 0
        while end > 0 and raw[end] & 0xC0 == 0x80:  # not inside a UTF-8 character
            end -= 1
        raw = raw[:end]
    text = raw.decode("utf-8", errors="replace")
    if len(text) > MAX_LINE_CHARS:
        return text[:MAX_LINE_CHARS], True
    return text, cut


def read_page(path: Path, index: LineIndex, page: int, *, page_bytes: int = PAGE_BYTES) -> Page:
    """Page `page` (clamped to the file's pages) of the file: at most LINES_PER_PAGE lines, and
    at most `page_bytes` of their text (see the module docstring)."""
    number = min(max(1, page), index.page_count)
    if index.line_count == 0:
        return Page(number, index.page_count, 0, (), False)
    start = index.page_offsets[number - 1]
    end = index.page_offsets[number] if number < len(index.page_offsets) else index.size
    wanted = end - start
    with open_stored(path) as handle:
        handle.seek(start)
        data = handle.read(min(wanted, MAX_PAGE_BYTES))
    truncated = wanted > MAX_PAGE_BYTES
    pieces = data.split(b"\n")
    if data.endswith(b"\n"):
        pieces.pop()
    if truncated and len(pieces) > 1:
        pieces.pop()  # cut in the middle of a line: show only the whole ones
    pieces = pieces[:LINES_PER_PAGE]
    limit = line_budget([len(raw) for raw in pieces], page_bytes)
    first = (number - 1) * LINES_PER_PAGE + 1
    lines = []
    for offset, raw in enumerate(pieces):
        text, cut = _show(raw, limit)
        cut = cut or (truncated and len(pieces) == 1)
        lines.append(Line(first + offset, text, cut))
    return Page(number, index.page_count, index.line_count, tuple(lines), truncated)
