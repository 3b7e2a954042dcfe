"""Receive a multipart upload straight to disk: streamed, hashed, capped, type-checked.

The request body is parsed as it arrives (python-multipart's push parser), each `files` part is
written to a staging directory under the data dir in 1 MB writes and hashed on the way, so a
2 GiB upload never sits in memory and never touches the system temp dir. Any error (a limit, a
timeout, a client gone, a cancelled task) removes the staging directory: a rejected upload leaves
nothing behind.

Every byte of the body counts against the upload cap, whatever part carries it: the files, the
form fields (`title`, `product`, fields nobody asked for, each also capped at a few KiB), part
headers, and the preamble and epilogue around the parts. A boundary no client would send is
refused before anything is staged.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from python_multipart.multipart import MultipartParser, parse_options_header

from app.bundle.identity.choice import CHOICES, read_choice
from app.bundle.unpack import sniff_upload_type
from app.bundle.writer import FileWriter, open_writer
from app.display import show_bidi
from app.errors import (
    LoupeError,
    UnsupportedType,
    UploadEmpty,
    UploadInvalid,
    UploadMalformed,
    UploadTooLarge,
)

WRITE_BUFFER = 1 << 20
MAX_TITLE = 300
MAX_BOUNDARY = 200  # RFC 2046 allows 70; browsers use about 40; some clients a little more
MAX_PART_HEADER_BYTES = 8 * 1024  # the headers of one part, all together
MAX_FORM_FIELDS = 64  # non-file parts in one upload
MULTIPART_OVERHEAD = 1 << 20  # boundaries and part headers, on top of the upload cap
DEFAULT_MAX_FIELD_BYTES = 64 * 1024
MAX_PRODUCT_FIELD = 64  # bytes of one `product` / `product_default` field
PRODUCT_FIELDS = frozenset({"product", "product_default"})
BOUNDARY_CHARS = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]*[0-9A-Za-z'()+_,\-./:=?]")
SUPPORTED = (
    "a diagnostic bundle (.tar.gz, .tgz, .tar, .zip, .gz), a log (.txt, .log) "
    "or a capture (.pcap, .pcapng)"
)


@dataclass
class IncomingFile:
    name: str
    path: Path
    size: int = 0
    sha256: str = ""


@dataclass
class ReceivedUpload:
    staging: Path
    files: list[IncomingFile] = field(default_factory=list)
    title: str | None = None
    # per file, in order: the product the user chose (None: detect it)
    products: list[str | None] = field(default_factory=list)

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def safe_display_name(raw: str) -> str:
    """The base name a browser sent, without directories or control characters; bidirectional
    controls shown as `<U+202E>` (app.display)."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    if name in {"", ".", ".."}:
        return "upload"
    return show_bidi(name[:200])


def multipart_boundary(content_type: str) -> bytes:
    """The boundary of a multipart/form-data body; UploadInvalid/UploadMalformed otherwise."""
    ctype, options = parse_options_header(content_type or "")
    if ctype != b"multipart/form-data" or b"boundary" not in options:
        raise UploadInvalid(
            "Send the bundle as multipart/form-data with one or more 'files' fields "
            "(curl -F files=@diagnostic_log.tar.gz ...)."
        )
    boundary: bytes = options[b"boundary"]
    if not 1 <= len(boundary) <= MAX_BOUNDARY:
        raise UploadMalformed(
            f"The multipart boundary is {len(boundary)} characters long; it must be 1 to "
            f"{MAX_BOUNDARY} (RFC 2046 says at most 70)."
        )
    if BOUNDARY_CHARS.fullmatch(boundary.decode("latin-1")) is None:
        raise UploadMalformed(
            "The multipart boundary holds characters RFC 2046 does not allow "
            "(letters, digits and '()+_,-./:=? only)."
        )
    return boundary


class _PartWriter:
    """Collects one multipart part: a file written to disk, or a small text field."""

    def __init__(
        self,
        upload: ReceivedUpload,
        max_total: int,
        max_files: int,
        direct_from: int = 0,
        max_field: int = DEFAULT_MAX_FIELD_BYTES,
    ) -> None:
        self.upload = upload
        self.max_total = max_total
        self.max_files = max_files
        self.max_field = max_field
        self.direct_from = direct_from
        self.total = 0  # part data of every kind: files, fields, ignored parts
        self.field_count = 0
        self.part_bytes = 0  # data of the current non-file part
        self.header_bytes = 0  # headers of the current part
        self.headers: dict[bytes, bytes] = {}
        self._field_name = b""
        self._value = b""
        self.kind: str = ""  # "file" | "field" | "ignore"
        self.field: str = ""
        self.field_value = bytearray()
        self.fields: dict[str, str] = {}
        self.products: list[str] = []  # the `product` fields, in the order they came
        self.current: IncomingFile | None = None
        self.handle: FileWriter | None = None
        self.buffer = bytearray()
        self.hasher: Any = None
        self.head = bytearray()

    # python-multipart callbacks ------------------------------------------------------------
    def on_part_begin(self) -> None:
        self.headers = {}
        self.header_bytes = 0
        self.part_bytes = 0

    def _count_header(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > MAX_PART_HEADER_BYTES:
            raise UploadMalformed(
                f"A part of the upload has more than {MAX_PART_HEADER_BYTES // 1024} KiB of "
                "headers: send the files as a plain multipart/form-data body."
            )

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._field_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self._field_name.lower()] = self._value
        self._field_name = b""
        self._value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if name == "files" and filename == b"":
            self.kind = "ignore"  # a browser form submitted with no file chosen
        elif name == "files" and filename is not None:
            if len(self.upload.files) >= self.max_files:
                raise UploadInvalid(
                    f"Too many files in one upload (more than {self.max_files}, the limit "
                    "LOUPE_MAX_FILES_PER_REQUEST): upload one bundle per cluster peer, at most "
                    "that many at a time."
                )
            display = safe_display_name(filename.decode("utf-8", "replace"))
            path = self.upload.staging / f"{len(self.upload.files):03d}"
            self.current = IncomingFile(name=display, path=path)
            self.upload.files.append(self.current)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            self.handle = open_writer(
                os.open(path, flags, 0o644), None, direct_from=self.direct_from
            )
            self.hasher = hashlib.sha256()
            self.head = bytearray()
            self.kind = "file"
        elif filename is None and (name == "title" or name in PRODUCT_FIELDS):
            self.kind = "field"
            self.field = name
            self.field_value = bytearray()
        else:
            self.kind = "ignore"
        if self.kind != "file":
            self.field_count += 1
            if self.field_count > MAX_FORM_FIELDS:
                raise UploadTooLarge(
                    f"The upload carries more than {MAX_FORM_FIELDS} form fields besides its "
                    "files: send the files, and a title if you like, nothing else."
                )
            self.field = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        self.total += len(chunk)
        if self.total > self.max_total:
            raise UploadTooLarge(
                f"The upload is larger than the limit of {_human(self.max_total)}. "
                "Split it per cluster peer, or ask the operator to raise "
                "LOUPE_MAX_UPLOAD_BYTES."
            )
        if self.kind != "file":
            self.part_bytes += len(chunk)
            if self.part_bytes > self.max_field:
                shown = show_bidi(self.field[:60])
                raise UploadTooLarge(
                    f"The form field '{shown}' is larger than {_human(self.max_field)}: only "
                    "files may be large (send them in the 'files' field)."
                )
        if self.kind == "file":
            assert self.current is not None
            self.current.size += len(chunk)
            if len(self.head) < 4096:
                self.head += chunk[: 4096 - len(self.head)]
            self.hasher.update(chunk)
            self.buffer += chunk
            if len(self.buffer) >= WRITE_BUFFER:
                self.flush()
        elif self.kind == "field":
            self.field_value += chunk
            if self.field in PRODUCT_FIELDS and len(self.field_value) > MAX_PRODUCT_FIELD:
                raise UploadInvalid(
                    f"The '{self.field}' field is too long: use one of {', '.join(CHOICES)}."
                )
            if len(self.field_value) > 4 * MAX_TITLE:
                raise UploadInvalid(f"The title is longer than {MAX_TITLE} characters.")
        # "ignore": counted above, then dropped

    def flush(self) -> None:
        if self.handle is not None and self.buffer:
            self.handle.write(self.buffer)
            self.buffer = bytearray()

    def on_part_end(self) -> None:
        if self.kind == "file":
            assert self.current is not None and self.handle is not None
            self.flush()
            self.handle.close()
            self.handle = None
            self.current.sha256 = self.hasher.hexdigest()
            _check_file(self.current, bytes(self.head))
        elif self.kind == "field" and self.field == "product":
            self.products.append(self.field_value.decode("utf-8", "replace"))
        elif self.kind == "field":
            self.fields[self.field] = self.field_value.decode("utf-8", "replace")
        self.kind = ""
        self.field = ""

    def close(self) -> None:
        """Give up the file being written (the upload is being discarded)."""
        if self.handle is not None:
            self.handle.abort()
            self.handle = None


def _human(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def _check_file(incoming: IncomingFile, head: bytes) -> None:
    if incoming.size == 0:
        raise UploadEmpty(
            f"'{incoming.name}' is empty (0 bytes): check that the download finished."
        )
    if sniff_upload_type(head, incoming.name) is None:
        raise UnsupportedType(
            f"'{incoming.name}' is not a file logloupe can read. Upload {SUPPORTED}."
        )


async def receive_upload(
    content_type: str,
    body: AsyncIterator[bytes],
    *,
    staging_root: Path,
    max_total: int,
    max_files: int,
    direct_write_bytes: int = 0,
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
) -> ReceivedUpload:
    """Parse a multipart body into staged files; raises an UploadRejected error on bad input.

    Files growing past `direct_write_bytes` (0: never) are written with O_DIRECT
    (app.bundle.writer): a GiB through the page cache costs seconds of CPU on a virtual disk.
    Any LoupeError raised by `body` (a timeout of app.web.request_limits) passes through, after
    the staging directory is removed.
    """
    boundary = multipart_boundary(content_type)
    staging_root.mkdir(parents=True, exist_ok=True)
    upload = ReceivedUpload(staging=staging_root / f"upload-{secrets.token_hex(8)}")
    upload.staging.mkdir()
    writer = _PartWriter(upload, max_total, max_files, direct_write_bytes, max_field_bytes)
    callbacks: Any = {
        name: getattr(writer, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)
    max_body = max_total + MULTIPART_OVERHEAD
    try:
        received = 0
        pending = bytearray()
        async for chunk in body:
            received += len(chunk)
            if received > max_body:  # preamble, epilogue, headers: every byte counts
                raise UploadTooLarge(
                    f"The upload is larger than the limit of {_human(max_total)}. Split it per "
                    "cluster peer, or ask the operator to raise LOUPE_MAX_UPLOAD_BYTES."
                )
            pending += chunk
            if len(pending) >= WRITE_BUFFER:
                data = bytes(pending)
                pending = bytearray()
                await anyio.to_thread.run_sync(parser.write, data)
        if pending:
            await anyio.to_thread.run_sync(parser.write, bytes(pending))
        parser.finalize()
        if writer.kind == "file":
            raise UploadInvalid("The upload ended in the middle of a file: send it again.")
        if not upload.files:
            raise UploadInvalid(
                "No file in the upload: send one or more 'files' fields "
                "(curl -F files=@diagnostic_log.tar.gz ...)."
            )
        title = writer.fields.get("title", "").strip()
        if len(title) > MAX_TITLE:
            raise UploadInvalid(f"The title is longer than {MAX_TITLE} characters.")
        products = chosen_products(
            writer.products, writer.fields.get("product_default"), len(upload.files)
        )
    except BaseException as exc:
        writer.close()
        upload.discard()
        if isinstance(exc, LoupeError):
            raise
        if isinstance(exc, Exception) and not isinstance(exc, anyio.get_cancelled_exc_class()):
            raise UploadMalformed(f"The multipart body could not be read ({exc}).") from exc
        raise
    upload.title = title or None
    upload.products = products
    return upload


def chosen_products(products: list[str], default: str | None, file_count: int) -> list[str | None]:
    """The product chosen for each file: the n-th `product` field for the n-th file, else
    `product_default` (the form's one select without JavaScript), else None (detect it).

    Raises UploadInvalid for an unknown value or more `product` fields than files.
    """
    if len(products) > file_count:
        raise UploadInvalid(
            f"{len(products)} 'product' fields for {file_count} file(s): send at most one "
            "'product' per 'files' field, in the same order."
        )
    try:
        fallback = read_choice(default) if default is not None else None
        chosen = [read_choice(value) for value in products]
    except ValueError as exc:
        raise UploadInvalid(f"Unknown product: {exc}") from exc
    return chosen + [fallback] * (file_count - len(chosen))
