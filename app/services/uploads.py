"""Receive a multipart upload straight to disk: streamed, hashed, capped, type-checked.

The request body is parsed as it arrives (python-multipart's push parser), each `files` part is
written to a staging directory under the data dir in 1 MB writes and hashed on the way, so a
2 GiB upload never sits in memory and never touches the system temp dir. Any error removes the
staging directory: a rejected upload leaves nothing behind.
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
from app.errors import UnsupportedType, UploadEmpty, UploadInvalid, UploadTooLarge

WRITE_BUFFER = 1 << 20
MAX_TITLE = 300
MAX_PRODUCT_FIELD = 64  # bytes of one `product` / `product_default` field
PRODUCT_FIELDS = frozenset({"product", "product_default"})
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
    """The base name a browser sent, without directories or control characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    if name in {"", ".", ".."}:
        return "upload"
    return name[:200]


class _PartWriter:
    """Collects one multipart part: a file written to disk, or a small text field."""

    def __init__(
        self, upload: ReceivedUpload, max_total: int, max_files: int, direct_from: int = 0
    ) -> None:
        self.upload = upload
        self.max_total = max_total
        self.max_files = max_files
        self.direct_from = direct_from
        self.total = 0
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

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
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
                    f"Too many files in one upload (more than {self.max_files}): "
                    "upload one bundle per cluster peer, at most that many at a time."
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
        elif filename is None and name in PRODUCT_FIELDS and len(self.products) > self.max_files:
            raise UploadInvalid(
                f"More than {self.max_files} 'product' fields: send at most one per file."
            )
        elif filename is None and (name == "title" or name in PRODUCT_FIELDS):
            self.kind = "field"
            self.field = name
            self.field_value = bytearray()
        else:
            self.kind = "ignore"

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.kind == "file":
            assert self.current is not None
            self.total += len(chunk)
            if self.total > self.max_total:
                raise UploadTooLarge(
                    f"The upload is larger than the limit of {_human(self.max_total)}. "
                    "Split it per cluster peer, or ask the operator to raise "
                    "LOUPE_MAX_UPLOAD_BYTES."
                )
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
) -> ReceivedUpload:
    """Parse a multipart body into staged files; raises an UploadRejected error on bad input.

    Files growing past `direct_write_bytes` (0: never) are written with O_DIRECT
    (app.bundle.writer): a GiB through the page cache costs seconds of CPU on a virtual disk.
    """
    ctype, options = parse_options_header(content_type or "")
    if ctype != b"multipart/form-data" or b"boundary" not in options:
        raise UploadInvalid(
            "Send the bundle as multipart/form-data with one or more 'files' fields "
            "(curl -F files=@diagnostic_log.tar.gz ...)."
        )
    staging_root.mkdir(parents=True, exist_ok=True)
    upload = ReceivedUpload(staging=staging_root / f"upload-{secrets.token_hex(8)}")
    upload.staging.mkdir()
    writer = _PartWriter(upload, max_total, max_files, direct_write_bytes)
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
    parser = MultipartParser(options[b"boundary"], callbacks)
    try:
        pending = bytearray()
        async for chunk in body:
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
    except BaseException as exc:
        writer.close()
        upload.discard()
        if isinstance(exc, (UploadInvalid, UploadEmpty, UploadTooLarge, UnsupportedType)):
            raise
        if isinstance(exc, Exception) and not isinstance(exc, anyio.get_cancelled_exc_class()):
            raise UploadInvalid(f"The multipart body could not be read ({exc}).") from exc
        raise
    if not upload.files:
        upload.discard()
        raise UploadInvalid(
            "No file in the upload: send one or more 'files' fields "
            "(curl -F files=@diagnostic_log.tar.gz ...)."
        )
    title = writer.fields.get("title", "").strip()
    if len(title) > MAX_TITLE:
        upload.discard()
        raise UploadInvalid(f"The title is longer than {MAX_TITLE} characters.")
    upload.title = title or None
    try:
        upload.products = chosen_products(
            writer.products, writer.fields.get("product_default"), len(upload.files)
        )
    except UploadInvalid:
        upload.discard()
        raise
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
