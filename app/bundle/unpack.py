"""Unpack one upload into a work dir safely and in a streaming way, and classify its files.

Supported uploads, recognised by magic bytes (the file name only decides what a broken file
was meant to be): tar, gzip (a tar.gz/tgz or a single compressed file), zip, pcap/pcapng and
text (logs, xconf/xstat dumps, PEM). Archives inside archives are unpacked recursively; a
`.gz` inside an archive (rotated logs) is decompressed in place of the compressed file.

Layout and names
    An archive upload `diag.tar.gz` with member `logs/a.txt` becomes the file
    `<dest>/diag.tar.gz/logs/a.txt`, named `diag.tar.gz/logs/a.txt`. A nested archive is a
    path segment (`diag.tar.gz/logs.zip/x.txt`); a compressed single file loses its `.gz`
    (`diag.tar.gz/messages.1.gz` -> `diag.tar.gz/messages.1`). A top-level `.gz` of a single
    file is treated like a one-member archive (`x.log.gz/x.log`). A plain upload is stored as
    `<dest>/<upload name>` and named after the upload. A text file whose lines end with a
    lone CR is written with LF line ends, with a warning (app.bundle.lineends).

Safety rules (each skipped member gets a warning naming it and the reason)
    * Absolute paths, `..` segments, NUL or other unusable names, symbolic and hard links,
      devices, FIFOs, sparse files and encrypted zip members are skipped, never followed.
    * Every output path is resolved and must stay inside `dest`; files are created with
      O_EXCL | O_NOFOLLOW and mode 0o644, so nothing existing is overwritten or followed.
    * A member that appears twice keeps its first copy.
    * The same content twice in one upload (same size and XXH3 digest, taken while the bytes
      are written, and the same part in the analysis) is kept once, with a warning naming
      both copies (app.bundle.duplicates).

Limits (see `Limits` and app.bundle.budget)
    * Skipped with a warning, the rest of the bundle goes on: a single file larger than
      `max_member_bytes`; an archive nested deeper than `max_depth` (kept as an unknown file).
    * Whole bundle refused with `LimitExceeded` (it is a bomb, or too big to be worth a
      partial analysis): the `UnpackBudget` of the analysis is spent (more than `max_members`
      files and folders, or more unpacked bytes than `max_ratio` times the uploaded bytes
      plus `ratio_grace_bytes`, or than `max_total_bytes`: all uploads of the analysis and
      all nesting levels together), or one archive inflates more than `max_ratio` times its
      compressed size (zip declared sizes up front, the bytes actually produced while copying).
    * A member whose tar headers (PAX extended header, GNU long name) claim more than
      `max_header_bytes` ends the reading of that archive there, as damage does.

Damage (salvage)
    A truncated or corrupt archive keeps everything read before the damage: a member cut off
    in the middle is kept as far as it was read (a warning says "truncated at byte N": its
    lines up to there are real log lines, and a TAC engineer wants them); a zip member that
    cannot be read is skipped or kept as far as it was read, and the zip's other members are
    still read (its table of contents says where they are); a zip whose table of contents is
    lost is read member by member from its local headers (app.bundle.zipwalk); a gzip stream
    that fails is inflated again exactly up to the damage (streams.SalvagingGzip). A warning
    names what could not be read. Only when nothing at all could be read from the upload itself
    is it refused with `CorruptArchive`. When the whole bundle is refused, every file this call
    wrote is removed.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol, cast

from isal import igzip, isal_zlib

from app.bundle import zipwalk
from app.bundle.budget import Limits, UnpackBudget, human_size
from app.bundle.damage import FORMAT_WORDS, corrupt_sentence, damaged_zip_member, salvage_sentence
from app.bundle.detect import detect_kind
from app.bundle.duplicates import ContentIndex, duplicate_warning, hash_into, new_hasher
from app.bundle.lineends import CrToLf, has_lone_cr_line_ends, lone_cr_warning
from app.bundle.magic import SNIFF_BYTES, is_known_binary, looks_like_tar, sniff_format
from app.bundle.members import (
    MemberSkipped,
    claimed_format,
    display_name,
    safe_member_path,
    safe_segment,
    strip_gz,
)
from app.bundle.stored import SUFFIX as STORED_SUFFIX
from app.bundle.stored import StoredWriter, compressed_path, original_size, stored_path
from app.bundle.streams import (
    InflateAhead,
    MemberReader,
    Readable,
    SalvagingGzip,
    open_tar,
)
from app.bundle.writer import BufferedWriter, FileWriter, open_writer
from app.errors import BundleError, CorruptArchive, LimitExceeded
from app.report import BundleFile, FileKind

BLOCK_BYTES = 4 * 2**20
"""Copy unit: no member is ever read into memory in larger pieces."""
MAX_MEMBER_WARNINGS = 100
"""Warnings listed about single members of one upload (skipped, cut, duplicate...); the rest
are counted in one last sentence, so a hostile archive cannot flood the report."""
INFLATE_INPUT_BYTES = 8 * 2**20
"""Compressed bytes read at a time by the inflating helper thread."""

_DEFAULT_LIMITS = Limits()
_ARCHIVE_FORMATS = frozenset({"tar", "gzip", "zip"})
_READ_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    cast("type[BaseException]", isal_zlib.error),  # the stubs type it as an instance
    EOFError,
    OSError,
    ValueError,
    RuntimeError,  # includes zipfile's "not implemented" errors
    struct.error,
)
_WALK_ERRORS: tuple[type[BaseException], ...] = (zipwalk.WalkStopped, *_READ_ERRORS)
_ZIP_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)


@dataclass
class UnpackResult:
    files: list[BundleFile]  # from app.report, kind already detected
    warnings: list[str]  # human sentences naming what was skipped and why


def sniff_upload_type(head: bytes, filename: str) -> str | None:
    """Say what an upload is from its first bytes (the web layer passes the first 4 KB).

    Returns "tar", "gzip", "zip", "pcap", "pcapng", "text", or None when logloupe cannot
    read it (binary formats such as ELF, PNG or PDF, and empty input: check emptiness first).
    A gzip upload is "gzip" whatever it holds. `filename` only rescues short text whose
    name says it is a log or dump (for example Latin-1 text with many accented bytes).
    """
    kind = sniff_format(head[:SNIFF_BYTES])
    readable = head and b"\0" not in head and not is_known_binary(head)
    if kind is None and readable and filename.lower().endswith((".txt", ".log", ".xml", ".pem")):
        return "text"
    return kind


class BlockSink(Protocol):
    """Receives the bytes of one unpacked file while it is written (see `Tee`).

    `reads_whole` (after the first `write`): the sink reads every byte of a file that no later
    step reads beyond its head (a log scanned while unpacked); with `Limits.scanned_head_bytes`
    set, only that head of such a file is written to disk.
    """

    @property
    def reads_whole(self) -> bool: ...

    def write(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...

    def discard(self) -> None: ...


class Tee(Protocol):
    """Optional observer of the unpacked files: `open(name)` returns a sink or None (not wanted).

    The sink gets every chunk written to the file named `name` (as in BundleFile.name), then
    `close()` when the file is complete, or `discard()` when it is skipped or unpacking fails.
    It lets a caller scan a large file in the same pass instead of reading it back.
    """

    def open(self, name: str) -> BlockSink | None: ...


def unpack_upload(
    src: Path,
    upload_name: str,
    dest: Path,
    limits: Limits = _DEFAULT_LIMITS,
    *,
    inflate_threads: int = 1,
    tee: Tee | None = None,
    budget: UnpackBudget | None = None,
) -> UnpackResult:
    """Unpack the upload at `src` (shown as `upload_name`) into the directory `dest`.

    `inflate_threads=1` inflates gzip streams in a helper thread (isal releases the GIL, so it
    overlaps with tar parsing and writing); 0 inflates in the calling thread (one core).
    `tee` sees the bytes of each unpacked file as they are written. `budget` is shared by all
    uploads of one analysis (default: one for this upload alone, from its size).

    Raises CorruptArchive, LimitExceeded or BundleError (never a tarfile, zipfile, zlib or OS
    error) with a sentence a TAC engineer can act on. See the module docstring for the rules.
    """
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BundleError(f"{upload_name}: cannot create the work directory ({err}).") from err
    if budget is None:
        try:
            budget = UnpackBudget(limits, src.stat().st_size)
        except OSError as err:
            raise BundleError(f"{upload_name}: cannot read the upload ({err.strerror}).") from err
    unpacker = _Unpacker(
        dest.resolve(), upload_name, limits, budget, inflate_threads=inflate_threads, tee=tee
    )
    try:
        unpacker.unpack_top(src)
    except OSError as err:
        unpacker.remove_everything()
        raise BundleError(f"{upload_name}: cannot unpack the upload ({err}).") from err
    except BaseException:
        unpacker.remove_everything()
        raise
    finally:
        unpacker.remove_spools()
    left_out = unpacker.member_warnings - MAX_MEMBER_WARNINGS
    if left_out > 0:
        unpacker.warnings.append(
            f"{upload_name}: {left_out:,} more warnings about single files are not listed "
            f"(the first {MAX_MEMBER_WARNINGS} are)."
        )
    return UnpackResult(files=unpacker.files, warnings=unpacker.warnings)


class _ReadFailed(Exception):
    """Reading an archive failed; wraps the low-level error so writes are not mistaken for it.

    `kept_bytes` > 0: the member being copied was kept as far as it was read (copy_to).
    """

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.kept_bytes = 0


class _CountingReader:
    """A read-only stream that counts the bytes passing through and reports read errors."""

    def __init__(self, raw: Readable, on_bytes: Callable[[int], None] | None = None) -> None:
        self.raw = raw
        self.count = 0
        self.on_bytes = on_bytes
        self.pending: _ReadFailed | None = None  # an error to raise on the next read

    def read(self, size: int = -1) -> bytes:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            raise pending
        try:
            data = self.raw.read(size)
        except _READ_ERRORS as err:
            raise _ReadFailed(err) from err
        self._counted(len(data))
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """`read` into `buffer`: straight from a raw stream that can (the upload's file, read
        by isal's gzip reader), not read into new bytes and copied holding the GIL (190 MB
        per GiB of the bench bundle, in the inflating thread)."""
        readinto = getattr(self.raw, "readinto", None)
        if readinto is None or self.pending is not None:
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        try:
            count = readinto(buffer)
            if count is None:  # a non-blocking stream with nothing yet: never taken for the end
                raise BlockingIOError("the upload's stream had no bytes ready")
        except _READ_ERRORS as err:
            raise _ReadFailed(err) from err
        self._counted(count)
        return int(count)

    def _counted(self, count: int) -> None:
        self.count += count
        if self.on_bytes is not None:
            self.on_bytes(count)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.raw.close()


class _RatioGuard:
    """Refuses an archive that inflates more than `max_ratio` times its compressed size."""

    def __init__(self, label: str, compressed: Callable[[], int], limits: Limits) -> None:
        self.label = label
        self.compressed = compressed
        self.limits = limits
        self.unpacked = 0

    def add(self, size: int) -> None:
        self.unpacked += size
        if self.unpacked <= self.limits.ratio_grace_bytes:
            return
        compressed = max(self.compressed(), 1)
        if self.unpacked > self.limits.max_ratio * compressed:
            raise LimitExceeded(
                f"{self.label}: refused as a decompression bomb: it inflates to more than "
                f"{self.limits.max_ratio:g} times its compressed size "
                f"({human_size(self.unpacked)} from {human_size(compressed)}). "
                "Check the bundle; a genuine diagnostic log never compresses that well."
            )


@dataclass
class _Target:
    """Where one member goes: its display name and its relative path under dest."""

    name: str
    rel: PurePosixPath


@dataclass
class _Unpacker:
    dest: Path
    upload_name: str
    limits: Limits
    budget: UnpackBudget
    files: list[BundleFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    spools: list[Path] = field(default_factory=list)
    head_only: dict[Path, int] = field(default_factory=dict)  # path -> size of the whole file
    created_root: Path | None = None
    inflate_threads: int = 1
    tee: Tee | None = None
    contents: ContentIndex = field(default_factory=ContentIndex)
    member_warnings: int = 0

    def warn(self, sentence: str) -> None:
        """A warning about one member; past MAX_MEMBER_WARNINGS they are only counted."""
        if self.member_warnings < MAX_MEMBER_WARNINGS:
            self.warnings.append(sentence)
        self.member_warnings += 1

    # ---- top level -------------------------------------------------------------------

    def unpack_top(self, src: Path) -> None:
        try:
            self.unpack_upload_file(src)
        except MemberSkipped as skip:
            self.warnings.append(f"{self.upload_name}: skipped, {skip}.")

    def unpack_upload_file(self, src: Path) -> None:
        head = _read_head(src)
        fmt = sniff_upload_type(head, self.upload_name)
        claimed = claimed_format(self.upload_name)
        root = _Target(self.upload_name, PurePosixPath(safe_segment(self.upload_name)))
        if not head:
            self.warnings.append(f"{self.upload_name}: the upload is empty; nothing to analyse.")
            return
        if fmt not in _ARCHIVE_FORMATS and claimed is not None:
            raise CorruptArchive(
                f"{self.upload_name}: the name says {FORMAT_WORDS[claimed]} but the content "
                "is not one (wrong file, or damaged in transfer); re-download the bundle "
                "and upload it again."
            )
        if fmt in _ARCHIVE_FORMATS:
            assert fmt is not None
            self.make_root(root.rel)
            try:
                self.unpack_archive(src, fmt, root, depth=0)
            except _ReadFailed as err:
                if not self.files:
                    raise CorruptArchive(
                        corrupt_sentence(self.upload_name, fmt, err.cause)
                    ) from err
                self.warnings.append(salvage_sentence(self.upload_name, fmt, err.cause))
            if not self.files and not self.warnings:
                self.warnings.append(f"{self.upload_name}: the archive holds no files.")
            return
        self.count_members(1)
        if fmt is None:
            self.warnings.append(
                f"{self.upload_name}: not a format logloupe reads (expected a tar, tar.gz, zip, "
                "gz, pcap or text file); kept as an unknown file."
            )
        with src.open("rb") as file:
            try:
                self.store_stream(
                    _CountingReader(file),
                    root,
                    depth=0,
                    may_recurse=False,
                    declared_size=os.fstat(file.fileno()).st_size,
                )
            except _ReadFailed as err:
                raise BundleError(f"{self.upload_name}: cannot read the upload ({err}).") from err

    def make_root(self, rel: PurePosixPath) -> None:
        root = self.dest / rel
        if not root.exists():
            self.created_root = root
        try:
            root.mkdir(mode=0o755, exist_ok=True)
        except OSError as err:
            raise BundleError(
                f"{self.upload_name}: cannot create the work directory ({err.strerror})."
            ) from err

    # ---- archives --------------------------------------------------------------------

    def unpack_archive(self, path: Path, fmt: str, where: _Target, depth: int) -> None:
        """Unpack the archive file `path`; errors while reading it raise _ReadFailed."""
        if fmt == "zip":
            self.unpack_zip(path, where, depth)
        elif fmt == "tar":
            with path.open("rb") as raw:
                self.unpack_tar_stream(_CountingReader(raw), where, depth)
        else:
            self.unpack_gzip(path, where, depth)

    def unpack_gzip(self, path: Path, where: _Target, depth: int) -> None:
        with self.open_gzip(path, where.name) as stream:
            first = stream.read(2 * tarfile.BLOCKSIZE)
        with self.open_gzip(path, where.name, threads=self.inflate_threads) as stream:
            if looks_like_tar(first):
                self.unpack_tar_stream(stream, where, depth)
                while rest := stream.read(BLOCK_BYTES):  # reach the gzip trailer: a truncated
                    self.budget.add_bytes(len(rest), where.name)  # stream must not pass silently
                return
            inner = _Target(
                strip_gz(where.name) if depth else f"{where.name}/{strip_gz(where.rel.name)}",
                where.rel.with_name(strip_gz(where.rel.name))
                if depth
                else where.rel / strip_gz(where.rel.name),
            )
            self.store_stream(stream, inner, depth, may_recurse=True)

    @contextmanager
    def open_gzip(self, path: Path, label: str, threads: int = 0) -> Iterator[_CountingReader]:
        with path.open("rb") as raw:
            compressed = _CountingReader(raw)
            guard = _RatioGuard(label, lambda: compressed.count, self.limits)
            gz: Readable
            if threads > 0:  # read errors come back from the helper thread on the next read
                fast = _gzip_reader(compressed, INFLATE_INPUT_BYTES)
                gz = InflateAhead(SalvagingGzip(fast, path), lines=True)
            else:
                fast = igzip.IGzipFile(fileobj=compressed, mode="rb")  # type: ignore[no-untyped-call]
                gz = SalvagingGzip(fast, path)
            try:
                yield _CountingReader(gz, guard.add)
            finally:
                gz.close()

    def unpack_tar_stream(self, stream: _CountingReader, where: _Target, depth: int) -> None:
        try:
            archive, reader = open_tar(stream, self.limits.max_header_bytes)
        except _READ_ERRORS as err:
            raise _ReadFailed(err) from err
        with archive:
            while True:
                reader.limit_headers(self.limits.max_header_bytes)
                try:
                    member = archive.next()
                except _READ_ERRORS as err:
                    raise _ReadFailed(err) from err
                if member is None:
                    break
                self.count_members(1)
                if member.isdir():
                    continue
                label = f"{where.name}/{display_name(member.name)}"
                try:
                    target = self.tar_member_target(member, where)
                    self.store_stream(
                        _CountingReader(MemberReader(reader, member)),
                        target,
                        depth,
                        may_recurse=True,
                        declared_size=member.size,
                    )
                except MemberSkipped as skip:
                    self.warn(f"{label}: skipped, {skip}.")

    def tar_member_target(self, member: tarfile.TarInfo, where: _Target) -> _Target:
        if member.issym():
            raise MemberSkipped(f"it is a symbolic link to {member.linkname!r} (never followed)")
        if member.islnk():
            raise MemberSkipped(f"it is a hard link to {member.linkname!r} (never followed)")
        if member.ischr() or member.isblk():
            raise MemberSkipped("it is a device file")
        if member.isfifo():
            raise MemberSkipped("it is a FIFO (named pipe)")
        if member.issparse():
            raise MemberSkipped("it is a sparse file, which logloupe does not unpack")
        if not member.isreg():
            raise MemberSkipped("it is not a regular file")
        if member.size > self.limits.max_member_bytes:
            raise MemberSkipped(self.too_big_reason(member.size))
        return self.member_target(member.name, where)

    def unpack_zip(self, path: Path, where: _Target, depth: int) -> None:
        archive_size = path.stat().st_size
        guard = _RatioGuard(where.name, lambda: archive_size, self.limits)
        try:
            archive = zipfile.ZipFile(path)
        except _READ_ERRORS as err:
            if _read_head(path).startswith(zipwalk.LOCAL_HEADER):
                self.unpack_zip_by_local_headers(path, where, depth, guard)
            raise _ReadFailed(err) from err
        with archive:
            infos = archive.infolist()
            self.count_members(len(infos))
            for info in infos:
                if info.is_dir():
                    continue
                label = f"{where.name}/{display_name(info.filename)}"
                try:
                    target = self.zip_member_target(info, where)
                    try:
                        data = archive.open(info)
                    except _READ_ERRORS as err:
                        raise _ReadFailed(err) from err
                    with data:
                        reader = _CountingReader(data, guard.add)
                        self.store_stream(
                            reader, target, depth, may_recurse=True, declared_size=info.file_size
                        )
                except MemberSkipped as skip:
                    self.warn(f"{label}: skipped, {skip}.")
                except _ReadFailed as err:  # the table of contents still finds the next member
                    self.warn(damaged_zip_member(label, err.cause, err.kept_bytes))

    def unpack_zip_by_local_headers(
        self, path: Path, where: _Target, depth: int, guard: _RatioGuard
    ) -> None:
        """Salvage a zip without its table of contents: its members in order (zipwalk)."""
        with path.open("rb") as raw:
            members = zipwalk.walk(raw)
            while True:
                try:
                    item = next(members, None)
                except _WALK_ERRORS as err:
                    raise _ReadFailed(err) from err
                if item is None:
                    return
                member, data = item
                self.count_members(1)
                if member.name.endswith(("/", "\\")):
                    continue
                label = f"{where.name}/{display_name(member.name)}"
                try:
                    if member.encrypted:
                        raise MemberSkipped("it is encrypted")
                    if not member.readable:
                        raise MemberSkipped(
                            f"it uses a compression logloupe cannot read (zip method "
                            f"{member.method})"
                        )
                    if member.size is not None and member.size > self.limits.max_member_bytes:
                        raise MemberSkipped(self.too_big_reason(member.size))
                    target = self.member_target(member.name.replace("\\", "/"), where)
                    reader = _CountingReader(data, guard.add)
                    self.store_stream(
                        reader, target, depth, may_recurse=True, declared_size=member.size
                    )
                except MemberSkipped as skip:
                    self.warn(f"{label}: skipped, {skip}.")

    def zip_member_target(self, info: zipfile.ZipInfo, where: _Target) -> _Target:
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise MemberSkipped("it is a symbolic link (never followed)")
        if mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
            raise MemberSkipped("it is not a regular file")
        if info.flag_bits & 0x1:
            raise MemberSkipped("it is encrypted")
        if info.compress_type not in _ZIP_METHODS:
            raise MemberSkipped(
                f"it uses a compression logloupe cannot read (zip method {info.compress_type})"
            )
        if info.file_size > self.limits.max_member_bytes:
            raise MemberSkipped(self.too_big_reason(info.file_size))
        if (
            info.file_size > self.limits.ratio_grace_bytes
            and info.file_size > self.limits.max_ratio * max(info.compress_size, 1)
        ):
            raise LimitExceeded(
                f"{where.name}/{display_name(info.filename)}: refused as a decompression bomb: "
                f"it declares {human_size(info.file_size)} from {human_size(info.compress_size)} "
                f"compressed, more than {self.limits.max_ratio:g} times. Check the bundle."
            )
        return self.member_target(info.filename.replace("\\", "/"), where)

    # ---- one member ------------------------------------------------------------------

    def member_target(self, member_name: str, where: _Target) -> _Target:
        rel = safe_member_path(member_name)
        return _Target(f"{where.name}/{rel.as_posix()}", where.rel / rel)

    def store_stream(
        self,
        stream: _CountingReader,
        target: _Target,
        depth: int,
        *,
        may_recurse: bool,
        declared_size: int | None = None,
    ) -> None:
        """Copy one member to disk, or unpack it when it is itself an archive.

        `declared_size` is what the archive says the member holds (None: unknown).
        """
        head = _read_head_of(stream)
        fmt = sniff_format(head[:SNIFF_BYTES]) if may_recurse else None
        if fmt in _ARCHIVE_FORMATS and depth >= self.limits.max_depth:
            self.warn(
                f"{target.name}: not unpacked, archives nested more than "
                f"{self.limits.max_depth} deep are kept as they are."
            )
            fmt = None
        if fmt in _ARCHIVE_FORMATS:
            assert fmt is not None
            self.unpack_nested(stream, head, fmt, target, depth + 1, declared_size)
            return
        path = self.dest / target.rel
        self.ensure_inside(path, target.name)
        try:
            digest = self.copy_to(
                stream, head, path, target.name, final=True, expected_size=declared_size
            )
        except _ReadFailed as err:
            if err.kept_bytes:
                self.keep(path, target)
                self.warn(
                    f"{target.name}: truncated at byte {err.kept_bytes:,}: the archive breaks "
                    f"off inside this file; the {human_size(err.kept_bytes)} before the break "
                    "were kept and analysed."
                )
            raise
        self.keep(path, target, digest)

    def keep(self, path: Path, target: _Target, digest: bytes | None = None) -> None:
        """List the file just written at `path` among the unpacked files, unless `digest`
        shows it is a copy of one kept before (then it is removed again, with a warning)."""
        stored = stored_path(path)  # the compressed store when the file was kept compressed
        kind = detect_kind(stored, target.name)
        size = self.head_only.pop(path, None) or original_size(stored)
        if digest is not None:
            first = self.contents.first_copy(target.name, size, digest, kind)
            if first is not None:
                self.forget(path, final=True)
                self.warn(duplicate_warning(target.name, first))
                return
        self.files.append(BundleFile(stored, target.name, size, kind, self.upload_name))

    def unpack_nested(
        self,
        stream: _CountingReader,
        head: bytes,
        fmt: str,
        target: _Target,
        depth: int,
        declared_size: int | None,
    ) -> None:
        handle, spool_name = tempfile.mkstemp(prefix=".loupe-spool-", dir=self.dest)
        os.close(handle)
        spool = Path(spool_name)
        self.spools.append(spool)
        spool.unlink()
        try:
            try:
                self.copy_to(
                    stream, head, spool, target.name, final=False, expected_size=declared_size
                )
            except _ReadFailed:
                self.unpack_spool(spool, fmt, target, depth)  # what the cut archive still holds
                raise
            self.unpack_spool(spool, fmt, target, depth)
        finally:
            with suppress(OSError):
                spool.unlink()

    def unpack_spool(self, spool: Path, fmt: str, target: _Target, depth: int) -> None:
        """Unpack a nested archive from its spool file; damage inside it is a warning."""
        if not spool.exists():
            return
        try:
            self.unpack_archive(spool, fmt, target, depth)
        except _ReadFailed as err:
            self.warn(corrupt_sentence(target.name, fmt, err.cause, nested=True))

    def copy_to(
        self,
        stream: _CountingReader,
        head: bytes,
        path: Path,
        name: str,
        *,
        final: bool,
        expected_size: int | None = None,
    ) -> bytes | None:
        """Stream `head` + the rest of `stream` into a new file; enforce the size limits.

        Returns the content digest of a `final` file (app.bundle.duplicates), else None.
        `expected_size` (an archive's declared size) lets a large file bypass the page cache.
        When reading breaks off, the bytes read so far stay in the file (a spool, or a member
        then marked with `_ReadFailed.kept_bytes`) and the _ReadFailed goes on.
        """
        self.make_dirs(path.parent, name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        if final and path.name.endswith(STORED_SUFFIX):
            raise MemberSkipped(f"names ending in {STORED_SUFFIX} are logloupe's own stored files")
        try:
            if final and compressed_path(path).exists():
                raise FileExistsError(path)
            handle = os.open(path, flags, 0o644)
        except FileExistsError as err:
            raise MemberSkipped("a file with that name was already unpacked") from err
        except OSError as err:
            raise MemberSkipped(f"it cannot be created ({err.strerror})") from err
        if final:
            self.written.append(path)
        sink = self.tee.open(name) if final and self.tee is not None else None
        line_ends = CrToLf() if final and has_lone_cr_line_ends(head) else None
        hasher = new_hasher() if final else None
        size = 0
        converted = 0  # the file's bytes (line ends converted)
        written = 0  # of those, on disk: all unless only a scanned log's head is kept
        complete = False
        broken: _ReadFailed | None = None
        out: FileWriter | None = None
        try:
            os.fchmod(handle, 0o644)
            compress_from = self.limits.compress_from_bytes if final else 0
            if compress_from:  # only a file that stays small is written plain (buffered)
                out = StoredWriter(
                    path,
                    BufferedWriter(handle),
                    plain_below=compress_from,
                    expected_size=expected_size,
                )
            else:
                out = open_writer(handle, expected_size, direct_from=self.limits.direct_write_bytes)
            block = head
            head_only = self.limits.scanned_head_bytes if sink is not None else None
            while block:
                size += len(block)
                if size > self.limits.max_member_bytes:
                    raise MemberSkipped(self.too_big_reason(size))
                self.budget.add_bytes(len(block), name)
                if line_ends is not None:
                    block = line_ends.convert(block)
                if hasher is not None:
                    hash_into(hasher, block)
                if sink is not None:
                    sink.write(block)
                    if head_only is not None and not sink.reads_whole:
                        head_only = None  # read back later: the whole file goes to disk
                converted += len(block)
                if head_only is None or written < head_only:
                    out.write(block)
                    written += len(block)
                try:
                    block = stream.read(BLOCK_BYTES)
                except _ReadFailed as err:
                    broken = err
                    break
            out.close()
            complete = True
            if written < converted:
                self.head_only[path] = converted
        except MemberSkipped:
            self.forget(path, final)
            raise
        except OSError as err:
            self.forget(path, final)
            raise BundleError(
                f"{name}: cannot write to the work directory ({err.strerror})."
            ) from err
        finally:
            if not complete:
                _abort(out, handle)
            if sink is not None:
                if complete:
                    sink.close()
                else:
                    sink.discard()
        if line_ends is not None:
            self.warn(lone_cr_warning(name))
        if broken is not None:
            if final and not size:
                self.forget(path, final)
            broken.kept_bytes = size if final else 0
            raise broken
        return hasher.digest() if hasher is not None else None

    def forget(self, path: Path, final: bool) -> None:
        for stored in (path, compressed_path(path)):
            with suppress(OSError):
                stored.unlink()
        if final and path in self.written:
            self.written.remove(path)

    def make_dirs(self, path: Path, name: str) -> None:
        self.ensure_inside(path, name)
        try:
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as err:
            raise MemberSkipped("its folder clashes with a file of the same name") from err
        except OSError as err:
            raise BundleError(f"{name}: cannot create a folder ({err.strerror}).") from err

    def ensure_inside(self, path: Path, name: str) -> None:
        resolved = path.resolve()
        if resolved != self.dest and self.dest not in resolved.parents:
            raise MemberSkipped("its path would leave the work directory")

    # ---- limits ----------------------------------------------------------------------

    def count_members(self, count: int) -> None:
        self.budget.add_members(count, self.upload_name)

    def too_big_reason(self, size: int) -> str:
        return (
            f"it is larger than the {human_size(self.limits.max_member_bytes)} allowed for one "
            f"file ({human_size(size)} or more)"
        )

    # ---- clean-up --------------------------------------------------------------------

    def remove_everything(self) -> None:
        for path in self.written:
            for stored in (path, compressed_path(path)):
                with suppress(OSError):
                    stored.unlink()
        self.written.clear()
        self.files.clear()
        if self.created_root is not None:
            shutil.rmtree(self.created_root, ignore_errors=True)

    def remove_spools(self) -> None:
        for spool in self.spools:
            with suppress(OSError):
                spool.unlink()


def _read_head_of(stream: _CountingReader) -> bytes:
    """The first block of a member, at least SNIFF_BYTES long unless the member is shorter.

    Streams may return short reads (an inflated block ends anywhere): what sniffing and kind
    detection look at must not depend on where it ended.
    """
    head = stream.read(BLOCK_BYTES)
    while 0 < len(head) < SNIFF_BYTES:
        try:
            more = stream.read(BLOCK_BYTES)
        except _ReadFailed as err:  # a short member cut off: keep its head, fail on next read
            stream.pending = err
            break
        if not more:
            break
        head += more
    return head


def _gzip_reader(compressed: _CountingReader, buffer_bytes: int) -> Readable:
    """isal's raw gzip reader with a large input buffer, else its buffered IGzipFile.

    The raw reader asks for compressed input (Python code, so the GIL) once per `buffer_bytes`
    instead of every 512 KB: a helper thread inflating while other threads run Python waits
    for the GIL far less often (measured: it was stalled more than half of the time).
    """
    raw_reader = getattr(isal_zlib, "_GzipReader", None)
    if raw_reader is not None:
        return cast("Readable", raw_reader(compressed, buffer_bytes))
    return cast("Readable", igzip.IGzipFile(fileobj=compressed, mode="rb"))  # type: ignore[no-untyped-call]


def _abort(out: FileWriter | None, handle: int) -> None:
    """Close a file being written after a failure (the writer owns the handle once it exists)."""
    if out is not None:
        out.abort()
    else:
        with suppress(OSError):
            os.close(handle)


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(SNIFF_BYTES)
    except OSError as err:
        raise BundleError(f"{path.name}: cannot read the upload ({err.strerror}).") from err


__all__ = ["Limits", "UnpackResult", "unpack_upload", "sniff_upload_type", "FileKind"]
