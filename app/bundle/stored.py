"""How an unpacked file is kept in the work dir, and the one way to read it back.

A file smaller than `PLAIN_BELOW` stays as it was unpacked. A larger one is kept compressed, as
`<name>.loupe.zst` in the seekable Zstandard format (facebook/zstd, contrib/seekable_format):

    frame 1 .. frame n      independent zstd frames of at most FRAME_BYTES unpacked bytes each
                            (a block the unpacker wrote whole, else FRAME_BYTES but the
                            last), with their content size and checksum
    skippable 0x184D2A5D    logloupe's line marks: b"LOUPEIDX", format, unpacked size, line
                            count, then the offset of every LINE_MARK_EVERY-th line start
                            (line 1, 1001, 2001, ...), all little-endian uint64
    skippable 0x184D2A5E    the seek table: per frame (compressed size, unpacked size) as
                            uint32, then number of frames, descriptor 0 and 0x8F92EAB1

`zstd -d` unpacks such a file as it is (skippable frames are ignored), and any reader of the
seekable format can seek in it. Measured on this machine before choosing (bench/
storage_candidates.py, README "Storage"): level 1 compresses the bench log to 0.155 of its size
at about 600 MB/s on one core; a page near the end of the log is one frame to inflate (about
1.5 ms), and the line marks let the log viewer page without ever reading the whole file.

Readers never look at the form: `open_stored(path)` gives a seekable binary stream of the
original bytes for either form (plain files of analyses made before, or small files), and
`original_size(path)` / `disk_size(path)` give the sizes. A compressed file that is damaged
(cut short, a frame that does not inflate, a table that does not add up) raises
`StoredFileDamaged` with a sentence naming the file, never another exception.

Writing: `compress_tree(work_dir)` (the worker, once the analysis is saved; `loupe compact` for
older analyses) turns each large plain file into its store, renamed into place before the plain
file goes, so a reader always finds one whole form (`stored_path`). `StoredWriter` does it while
the unpacker writes (LOUPE_COMPRESS_WHILE_UNPACKING): small files stay plain, large ones never
exist plain. Either way frames of up to 4 MiB (the unpacker's blocks, of whole lines, as they
come) go to COMPRESS_THREADS pool threads (zstd frees the GIL) and one helper thread writes them
in order, counting lines and noting the line marks; at most QUEUED_FRAMES frames wait, so
memory stays bounded whatever the file's size.
"""

from __future__ import annotations

import io
import os
import queue
import struct
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, cast

import zstandard

from app.bundle.writer import FileWriter
from app.errors import StoredFileDamaged

SUFFIX = ".loupe.zst"
PLAIN_BELOW = 1 * 2**20
"""Files smaller than this stay plain: one frame would save little and cost a reader."""
FRAME_BYTES = 4 * 2**20
"""Unpacked bytes per frame: a random read inflates at most this much (about 3-6 ms). Measured on
the bench log at level 6: 1 MiB frames 0.150 of its size, 4 MiB frames 0.143."""
MIN_WHOLE_FRAME_BYTES = FRAME_BYTES // 2
"""A block written whole, from this size up to FRAME_BYTES, is one frame as it is: the
unpacker's blocks of whole lines (streams.InflateAhead) are neither copied to be cut into
frames of FRAME_BYTES, nor cut inside a line, so a re-run's scan takes the frames it inflates
without cutting them at a line end either. Smaller writes are gathered into frames of
FRAME_BYTES."""
MAX_FRAME_BYTES = 16 * 2**20
"""A frame claiming more than this is damage (logloupe writes at most FRAME_BYTES)."""
LINE_MARK_EVERY = 1000
"""Every 1000th line start is noted: the log viewer's pages (app.web.logview.LINES_PER_PAGE)."""
LEVEL = 1
"""The level while unpacking (on the analysis' critical path); after the save the worker uses
LOUPE_STORE_LEVEL (6)."""
QUEUED_FRAMES = 8
"""Frames handed over and not yet written (each holds at most a 4 MiB block of the unpacker)."""
COMPRESS_THREADS = 2
"""Frames compressed at once: with two cores the scan's idle moments are used by either."""

_SKIPPABLE = struct.Struct("<II")
_MARKS_MAGIC = 0x184D2A5D
_SEEK_TABLE_MAGIC = 0x184D2A5E
_SEEKABLE_MAGIC = 0x8F92EAB1
_FOOTER = struct.Struct("<IBI")  # number of frames, descriptor, seekable magic
_ENTRY = struct.Struct("<II")
_MARKS_HEAD = b"LOUPEIDX"
_MARKS_FORMAT = 1
_MARKS_FIELDS = struct.Struct("<QQQQ")  # format, unpacked size, line count, number of marks


def compressed_path(path: Path) -> Path:
    """Where the compressed form of the unpacked file `path` is kept."""
    return path.with_name(path.name + SUFFIX)


def stored_path(path: Path) -> Path:
    """Where the unpacked file `path` is kept: its compressed store if there is one."""
    packed = compressed_path(path)
    return packed if packed.exists() else path


def is_compressed(path: Path) -> bool:
    """Whether `path` (a stored path, as the unpacker returned it) is a compressed store.

    The name alone decides (the unpacker refuses members whose names end in SUFFIX), so a
    store cut short is reported as damaged, never served as if it were the plain file."""
    return path.name.endswith(SUFFIX)


# ---- reading --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Layout:
    """What the trailer of a compressed store says."""

    size: int  # unpacked bytes
    line_count: int  # lines as the log viewer counts them (a last line without \n counts)
    line_marks: tuple[int, ...]  # byte offset of line 1, 1 + LINE_MARK_EVERY, ...
    frame_starts: tuple[int, ...]  # unpacked offset of each frame, then `size`
    frame_positions: tuple[int, ...]  # file offset of each frame, then the end of the last
    disk_size: int


def _damaged(path: Path, what: str) -> StoredFileDamaged:
    return StoredFileDamaged(
        f"The stored copy of {path.name.removesuffix(SUFFIX)} is damaged ({what}); it cannot be "
        "read. Upload the bundle again to analyse it anew."
    )


LAYOUTS_KEPT = 8
_layouts: OrderedDict[tuple[str, int, int, int], Layout] = OrderedDict()
_layouts_lock = threading.Lock()


def read_layout(path: Path, handle: BinaryIO) -> Layout:
    """The checked trailer of the compressed store open as `handle`; the last LAYOUTS_KEPT are
    kept (by file identity, size and mtime), as search asks for one file's lines hit by hit."""
    info = os.fstat(handle.fileno())
    key = (str(path), info.st_ino, info.st_size, info.st_mtime_ns)
    with _layouts_lock:
        if (kept := _layouts.get(key)) is not None:
            _layouts.move_to_end(key)
            return kept
    layout = _read_layout(path, handle)
    with _layouts_lock:
        _layouts[key] = layout
        while len(_layouts) > LAYOUTS_KEPT:
            _layouts.popitem(last=False)
    return layout


def _read_layout(path: Path, handle: BinaryIO) -> Layout:
    disk = handle.seek(0, os.SEEK_END)
    if disk < _FOOTER.size + _SKIPPABLE.size:
        raise _damaged(path, "it is cut short")
    handle.seek(disk - _FOOTER.size)
    frames, descriptor, magic = _FOOTER.unpack(handle.read(_FOOTER.size))
    if magic != _SEEKABLE_MAGIC:
        raise _damaged(path, "its end is missing")
    if descriptor & 0x80:
        raise _damaged(path, "its seek table has checksums logloupe does not write")
    table_bytes = frames * _ENTRY.size + _FOOTER.size
    table_start = disk - table_bytes - _SKIPPABLE.size
    if table_start < 0:
        raise _damaged(path, "its seek table is longer than the file")
    handle.seek(table_start)
    head = handle.read(_SKIPPABLE.size + table_bytes - _FOOTER.size)
    magic, length = _SKIPPABLE.unpack_from(head)
    if magic != _SEEK_TABLE_MAGIC or length != table_bytes:
        raise _damaged(path, "its seek table is broken")
    starts = [0]
    positions = [0]
    for offset in range(_SKIPPABLE.size, len(head), _ENTRY.size):
        packed, unpacked = _ENTRY.unpack_from(head, offset)
        if unpacked > MAX_FRAME_BYTES or (packed == 0 and unpacked):
            raise _damaged(path, "its seek table is broken")
        starts.append(starts[-1] + unpacked)
        positions.append(positions[-1] + packed)
    marks = _read_marks(path, handle, positions[-1], table_start)
    size, line_count, line_marks = marks
    if size != starts[-1]:
        raise _damaged(path, "its tables disagree")
    return Layout(size, line_count, line_marks, tuple(starts), tuple(positions), disk)


def _read_marks(
    path: Path, handle: BinaryIO, start: int, end: int
) -> tuple[int, int, tuple[int, ...]]:
    fixed = _SKIPPABLE.size + len(_MARKS_HEAD) + _MARKS_FIELDS.size
    if end - start < fixed:
        raise _damaged(path, "its line marks are missing")
    handle.seek(start)
    raw = handle.read(end - start)
    magic, length = _SKIPPABLE.unpack_from(raw)
    if (
        magic != _MARKS_MAGIC
        or length != len(raw) - _SKIPPABLE.size
        or raw[_SKIPPABLE.size : _SKIPPABLE.size + len(_MARKS_HEAD)] != _MARKS_HEAD
    ):
        raise _damaged(path, "its line marks are broken")
    fmt, size, line_count, count = _MARKS_FIELDS.unpack_from(raw, fixed - _MARKS_FIELDS.size)
    if fmt != _MARKS_FORMAT or len(raw) != fixed + 8 * count:
        raise _damaged(path, "its line marks are broken")
    marks = struct.unpack_from(f"<{count}Q", raw, fixed)
    if any(b <= a for a, b in zip(marks, marks[1:], strict=False)) or (
        marks and (marks[0] != 0 or marks[-1] > size)
    ):
        raise _damaged(path, "its line marks are broken")
    return size, line_count, marks


class CompressedReader(io.RawIOBase):
    """The original bytes of a compressed store: seekable, one inflated frame kept at a time."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._file = path.open("rb")
        try:
            self.layout = read_layout(path, self._file)
        except BaseException:
            self._file.close()
            raise
        self._position = 0
        self._frame = -1
        self._data = b""
        self._inflate = zstandard.ZstdDecompressor()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._position
        elif whence == os.SEEK_END:
            offset += self.layout.size
        if offset < 0:
            raise ValueError("negative seek position")
        self._position = offset
        return offset

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        target = memoryview(buffer).cast("B")
        done = 0
        while done < len(target) and self._position < self.layout.size:
            frame = bisect_right(self.layout.frame_starts, self._position) - 1
            data = self._load(frame)
            inside = self._position - self.layout.frame_starts[frame]
            take = min(len(target) - done, len(data) - inside)
            target[done : done + take] = data[inside : inside + take]
            done += take
            self._position += take
        return done

    def frame(self, frame: int) -> bytes:
        """The inflated bytes of frame number `frame` (0-based), as zstd gave them."""
        return self._load(frame)

    def _load(self, frame: int) -> bytes:
        if frame != self._frame:
            layout = self.layout
            start, end = layout.frame_positions[frame], layout.frame_positions[frame + 1]
            expected = layout.frame_starts[frame + 1] - layout.frame_starts[frame]
            self._file.seek(start)
            raw = self._file.read(end - start)
            try:
                data = self._inflate.decompress(raw, max_output_size=expected)
            except zstandard.ZstdError as err:
                raise _damaged(self.path, f"frame {frame + 1}: {err}") from None
            if len(raw) != end - start or len(data) != expected:
                raise _damaged(self.path, f"frame {frame + 1} is cut short")
            self._frame, self._data = frame, data
        return self._data

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self._data = b""
        super().close()


def open_stored(path: Path, buffering: int = io.DEFAULT_BUFFER_SIZE) -> BinaryIO:
    """The original bytes of the stored file `path`, seekable, whatever its form.

    Raises OSError when the file cannot be opened, StoredFileDamaged when it is damaged."""
    if is_compressed(path):
        raw = CompressedReader(path)
        return cast("BinaryIO", io.BufferedReader(raw, max(buffering, io.DEFAULT_BUFFER_SIZE)))
    return path.open("rb", buffering=buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE)


def open_raw(path: Path) -> io.RawIOBase:
    """`open_stored` unbuffered: `readinto` fills the caller's buffer straight (block readers)."""
    if is_compressed(path):
        return CompressedReader(path)
    return cast("io.RawIOBase", path.open("rb", buffering=0))


def stored_layout(path: Path) -> Layout | None:
    """The trailer of a compressed store; None for a plain file."""
    if not is_compressed(path):
        return None
    with path.open("rb") as handle:
        return read_layout(path, handle)


def original_size(path: Path) -> int:
    """The size of the file as it was unpacked (what a download gives)."""
    layout = stored_layout(path)
    return path.stat().st_size if layout is None else layout.size


def disk_size(path: Path) -> int:
    """Bytes the stored file takes in the data dir."""
    return path.stat().st_size


def iter_bytes(path: Path, chunk: int = 1 * 2**20) -> Iterator[bytes]:
    """The original bytes in pieces of at most `chunk` (a download streamed as it is read)."""
    with open_raw(path) as handle:
        while data := handle.read(chunk):
            yield data


def read_ahead(stream: BinaryIO, block: int, depth: int = 2) -> Generator[bytes]:
    """The pieces of `stream.read(block)`, read (inflated) by a helper thread up to `depth`
    pieces ahead of the consumer: a sequential scan of a compressed store inflates its next
    frames while the current piece is matched (zstd frees the GIL). At most `depth` + 1 pieces
    are held; an error of the reader is raised here; stopping early stops the reader."""
    return pieces_ahead(iter(partial(stream.read, block), b""), depth)


def frames_ahead(path: Path, depth: int = 2) -> Generator[bytes]:
    """`read_ahead` of a whole compressed store, frame by frame: each frame's inflated bytes
    are handed on as zstd gave them (at most FRAME_BYTES each; the unpacker's frames end at
    line ends), not copied into a reader's buffer."""
    return pieces_ahead(_frames(path), depth)


def _frames(path: Path) -> Iterator[bytes]:
    with closing(CompressedReader(path)) as reader:
        for frame in range(len(reader.layout.frame_starts) - 1):
            if data := reader.frame(frame):
                yield data


def pieces_ahead(pieces: Iterator[bytes], depth: int = 2) -> Generator[bytes]:
    """The items of `pieces`, taken by a helper thread up to `depth` items ahead of the
    consumer (see read_ahead)."""
    queued: queue.Queue[bytes | BaseException | None] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: bytes | BaseException | None) -> bool:
        while not stop.is_set():
            with suppress(queue.Full):
                queued.put(item, timeout=0.1)
                return True
        return False

    def reader() -> None:
        try:
            for data in pieces:
                if stop.is_set() or not put(data):
                    return
            put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # a generator's own clean-up runs in this thread

    helper = threading.Thread(target=reader, name="read-ahead", daemon=True)
    helper.start()
    try:
        while (item := queued.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        helper.join()


def read_range(path: Path, start: int, length: int) -> bytes:
    """At most `length` original bytes from offset `start`."""
    with open_stored(path) as handle:
        handle.seek(start)
        return handle.read(length)


def read_lines(path: Path, first: int, count: int, *, max_bytes: int = 8 * 2**20) -> list[bytes]:
    """Lines first..first+count-1 (1-based, without their \\n), at most `max_bytes` read.

    Uses the line marks of a compressed store (one or two frames inflated); a plain file is
    read from its start up to the lines."""
    layout = stored_layout(path)
    start_line = 1
    offset = 0
    if layout is not None and layout.line_marks:
        mark = min((first - 1) // LINE_MARK_EVERY, len(layout.line_marks) - 1)
        start_line = mark * LINE_MARK_EVERY + 1
        offset = layout.line_marks[mark]
    out: list[bytes] = []
    budget = max_bytes  # only the wanted lines count
    with open_stored(path) as handle:
        handle.seek(offset)
        line = start_line
        while len(out) < count:
            raw = handle.readline(max_bytes + 1)
            if not raw:
                break
            if line >= first:
                text = raw.removesuffix(b"\n")
                budget -= len(text)
                if budget < 0:
                    break
                out.append(text)
            if raw.endswith(b"\n"):
                line += 1
    return out


# ---- writing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compacted:
    """What `compress_tree` did: files compressed, their bytes before and after."""

    files: int = 0
    before: int = 0
    after: int = 0


def compress_file(path: Path, *, level: int = LEVEL) -> Path:
    """Keep the plain file `path` compressed instead; returns the compressed store.

    The store is written under a temporary name and renamed into place before the plain file
    is removed, so a reader finds one whole form or the other at every moment (one that opened
    the plain file goes on reading it). On any error the plain file stays and the partial store
    is removed."""
    target = compressed_path(path)
    partial = path.with_name(f"{target.name}.partial-{os.getpid()}-{threading.get_native_id()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    handle = os.open(partial, flags, 0o644)
    packer = _Packer(handle, level)
    try:
        with path.open("rb", buffering=0) as source:
            while block := source.read(4 * FRAME_BYTES):
                packer.write(block)
        packer.close()
        os.replace(partial, target)
    except BaseException:
        packer.abort()
        with suppress(OSError):
            partial.unlink()
        raise
    path.unlink()
    return target


def compress_tree(root: Path, *, plain_below: int = PLAIN_BELOW, level: int = LEVEL) -> Compacted:
    """Compress every plain file of `root` (a work dir) of `plain_below` bytes or more.

    Used after an analysis is saved (off its critical path) and for the work dirs of analyses
    made before (`loupe compact`). Links are not followed; stores, and partial ones left by a
    process that died (`<name>.loupe.zst.partial-*`: a re-run's unpack removes them), are
    skipped."""
    files = before = after = 0
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue
        if SUFFIX + ".partial-" in path.name:
            continue
        size = path.stat().st_size
        if is_compressed(path) or size < plain_below or compressed_path(path).exists():
            continue
        packed = compress_file(path, level=level)
        files += 1
        before += size
        after += packed.stat().st_size
    return Compacted(files, before, after)


class StoredWriter:
    """Writes one unpacked file: plain when it stays under `plain_below`, else compressed.

    `plain_handle` is the new, empty file at the file's own path (created by the caller with
    O_EXCL: it reserves the name); `plain` is how to write there (the unpacker's own writer,
    O_DIRECT or buffered). Once more than `plain_below` bytes arrived, the compressed store is
    created beside it (`compressed_path`) and the plain file is removed at close. After
    `close()`, `path` is where the file is stored.
    """

    def __init__(
        self,
        path: Path,
        plain: FileWriter,
        *,
        plain_below: int = PLAIN_BELOW,
        expected_size: int | None = None,
        level: int = LEVEL,
    ) -> None:
        self.path = path
        self._plain_path = path
        self._plain: FileWriter | None = plain
        self._plain_below = plain_below
        self._level = level
        self._held = bytearray()
        self._packer: _Packer | None = None
        if expected_size is not None and expected_size >= plain_below:
            self._start_packing()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._packer is not None:
            self._packer.write(data)
            return
        self._held += data
        if len(self._held) >= self._plain_below:
            self._start_packing()

    def _start_packing(self) -> None:
        target = compressed_path(self._plain_path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        handle = os.open(target, flags, 0o644)
        self._packer = _Packer(handle, self._level)
        self.path = target
        if self._held:
            held, self._held = self._held, bytearray()
            self._packer.write(held)

    def close(self) -> None:
        if self._packer is not None:
            try:
                self._packer.close()
            except BaseException:
                self._remove_packed()
                raise
            plain, self._plain = self._plain, None
            if plain is not None:
                plain.abort()
            with suppress(OSError):
                self._plain_path.unlink()
            return
        plain, self._plain = self._plain, None
        assert plain is not None
        if self._held:
            plain.write(self._held)
            self._held = bytearray()
        plain.close()

    def abort(self) -> None:
        if self._packer is not None:
            self._packer.abort()
        if self._plain is not None:
            self._plain.abort()
            self._plain = None
        self._held = bytearray()

    def _remove_packed(self) -> None:
        with suppress(OSError):
            compressed_path(self._plain_path).unlink()


_Frame = tuple[bytes, int, int]
"""A frame to compress: data[start:end] (bytes are immutable: no copy is needed)."""


_local = threading.local()
_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _compress_pool() -> ThreadPoolExecutor:
    """The process' compressing threads (COMPRESS_THREADS), made anew after a fork."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            threads = max(1, min(COMPRESS_THREADS, len(os.sched_getaffinity(0))))
            _pool = (os.getpid(), ThreadPoolExecutor(threads, thread_name_prefix="store-zstd"))
        return _pool[1]


def _compress(frame: _Frame, level: int) -> bytes:
    """One zstd frame of data[start:end] (zstd frees the GIL while it works)."""
    compressors: dict[int, zstandard.ZstdCompressor] = _local.__dict__.setdefault("by_level", {})
    compressor = compressors.get(level)
    if compressor is None:
        compressor = zstandard.ZstdCompressor(
            level=level, write_checksum=True, write_content_size=True
        )
        compressors[level] = compressor
    data, start, end = frame
    with memoryview(data)[start:end] as view:
        return compressor.compress(view)


class _Packer:
    """Cuts the bytes into frames, compressed by the pool's threads as they come; one helper
    thread takes them in order, counts and marks lines, and writes them."""

    def __init__(self, handle: int, level: int) -> None:
        self._fd = handle
        self._level = level
        self._pending = bytearray()
        self._queue: queue.Queue[tuple[_Frame, Future[bytes]] | None] = queue.Queue(QUEUED_FRAMES)
        self._error: BaseException | None = None
        self._closed = False
        self._entries: list[tuple[int, int]] = []
        self._size = 0
        self._newlines = 0
        self._last_byte = b""
        self._marks: list[int] = [0]
        self._thread = threading.Thread(target=self._run, name="store-compress", daemon=True)
        self._thread.start()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._error is not None:
            raise OSError(f"compressing the stored file failed: {self._error}")
        if not isinstance(data, bytes):  # the caller may reuse its buffer: keep a copy
            data = bytes(data)
        start, end = 0, len(data)
        if MIN_WHOLE_FRAME_BYTES <= end <= FRAME_BYTES:  # a block of the unpacker: one frame
            if self._pending:  # (what came before it, as a frame of its own)
                whole = bytes(self._pending)
                self._pending = bytearray()
                self._put((whole, 0, len(whole)))
            self._put((data, 0, end))
            return
        if self._pending:  # first complete the frame begun before
            take = min(FRAME_BYTES - len(self._pending), end)
            self._pending += data[:take]
            start = take
            if len(self._pending) < FRAME_BYTES:
                return
            whole = bytes(self._pending)
            self._pending = bytearray()
            self._put((whole, 0, len(whole)))
        while end - start >= FRAME_BYTES:  # whole frames of `data` itself: no copy
            self._put((data, start, start + FRAME_BYTES))
            start += FRAME_BYTES
        if start < end:
            self._pending += data[start:]

    def _put(self, frame: _Frame | None) -> None:
        item = (
            None
            if frame is None
            else (frame, _compress_pool().submit(_compress, frame, self._level))
        )
        while True:
            try:
                self._queue.put(item, timeout=1.0)
                return
            except queue.Full:
                if self._error is not None or not self._thread.is_alive():
                    raise OSError(f"compressing the stored file failed: {self._error}") from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._pending:
                whole = bytes(self._pending)
                self._pending = bytearray()
                self._put((whole, 0, len(whole)))
            self._put(None)
            self._thread.join()
            if self._error is not None:
                raise OSError(f"compressing the stored file failed: {self._error}")
            self._write_all(self._trailer())
        finally:
            os.close(self._fd)

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._error = self._error or OSError("aborted")
        with suppress(queue.Full):
            while True:  # make room for the end mark: the thread drops what is left
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[1].cancel()
            self._queue.put_nowait(None)
        self._thread.join()
        with suppress(OSError):
            os.close(self._fd)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            frame, future = item
            if self._error is not None:
                future.cancel()
                continue
            data, start, end = frame
            try:
                self._note_lines(data, start, end)
                packed = future.result()
                self._write_all(packed)
                self._entries.append((len(packed), end - start))
            except BaseException as err:  # reported by the next write() or close()
                self._error = err

    def _note_lines(self, data: bytes, start: int, end: int) -> None:
        """Count the frame's lines and note where each LINE_MARK_EVERY-th line starts."""
        need = len(self._marks) * LINE_MARK_EVERY - self._newlines  # newlines to the next mark
        found, marks = _count_and_mark(data, start, end, need)
        self._marks.extend(self._size + position - start for position in marks)
        self._newlines += found
        self._size += end - start
        self._last_byte = data[end - 1 : end]

    def _trailer(self) -> bytes:
        marks = list(self._marks)
        if self._size == 0:
            marks = []
        elif marks[-1] >= self._size and len(marks) > 1:
            marks.pop()  # the file ends exactly at a mark: no empty last page
        line_count = self._newlines + (1 if self._size and self._last_byte != b"\n" else 0)
        body = (
            _MARKS_HEAD
            + _MARKS_FIELDS.pack(_MARKS_FORMAT, self._size, line_count, len(marks))
            + struct.pack(f"<{len(marks)}Q", *marks)
        )
        table = b"".join(_ENTRY.pack(*entry) for entry in self._entries)
        table += _FOOTER.pack(len(self._entries), 0, _SEEKABLE_MAGIC)
        return (
            _SKIPPABLE.pack(_MARKS_MAGIC, len(body))
            + body
            + _SKIPPABLE.pack(_SEEK_TABLE_MAGIC, len(table))
            + table
        )

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]


def _count_and_mark(frame: bytes, start: int, size: int, need: int) -> tuple[int, list[int]]:
    """The newlines of frame[start:size], and the positions just after its `need`-th newline,
    then after every LINE_MARK_EVERY-th one: one pass at C speed (counts over 64 KiB, then
    4 KiB, then at most one short run of index() to the mark)."""
    marks: list[int] = []
    counted = 0  # newlines before `position`
    position = start
    while position < size:
        end = min(position + 65_536, size)
        found = frame.count(b"\n", position, end)
        if found < need:
            counted += found
            need -= found
            position = end
            continue
        while True:  # the mark lies in [position, end): close in on it
            step_end = min(position + 4096, end)
            found = frame.count(b"\n", position, step_end)
            if found >= need:
                break
            counted += found
            need -= found
            position = step_end
        for _ in range(need):
            position = frame.index(b"\n", position) + 1
        counted += need
        marks.append(position)
        need = LINE_MARK_EVERY
    return counted, marks
