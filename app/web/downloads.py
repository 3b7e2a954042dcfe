"""An unpacked file as a download, byte for byte: the whole file or the one range asked for.

Either stored form (app.bundle.stored) is served the same way: a plain file is read as it is,
a compressed store is inflated as it is sent, and a range of it inflates only the frames that
hold the range (its seek table says where they are), so the last MiB of a 1 GiB log costs one
4 MiB frame, not the whole file. The headers say the original length, `Accept-Ranges: bytes`, a
strong ETag and Last-Modified of the stored file (If-Range, app.web.byte_ranges); HEAD answers
them without reading a byte. A damaged store answers with the reason (422) before any byte:
its trailer and the first piece sent are read before the response starts (a frame found
damaged later cuts the download short of its Content-Length).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from app.bundle.stored import open_raw, original_size
from app.errors import RangeNotSatisfiable
from app.web import head
from app.web.byte_ranges import Span, Unsatisfiable, if_range_holds, last_modified, requested

PIECE_BYTES = 1 * 2**20
"""Bytes read (inflated) and sent at a time."""
MEDIA_TYPE = "application/octet-stream"


def download(request: Request, path: Path, filename: str) -> Response:
    """The stored file `path` (plain or compressed) as the download `filename`: 200 with the
    whole file, 206 with the range asked for, 416 for a range past its end."""
    size = original_size(path)  # a store whose trailer is damaged: StoredFileDamaged (422)
    info = path.stat()
    etag = f'"{info.st_mtime_ns:x}-{info.st_size:x}-{size:x}"'
    headers = {
        "accept-ranges": "bytes",
        "content-disposition": attachment_header(filename),
        "etag": etag,
        "last-modified": last_modified(info.st_mtime),
    }
    is_head = bool(request.scope.get(head.HEAD_KEY))
    wanted = None
    # RFC 9110 §14.2: Range is defined for GET only, so a HEAD says what a plain GET gives
    if not is_head and if_range_holds(
        request.headers.get("if-range"), etag, info.st_mtime, time.time()
    ):
        wanted = requested(request.headers.get("range"), size)
    if isinstance(wanted, Unsatisfiable):
        raise RangeNotSatisfiable(
            f"The range asked for ({request.headers.get('range')}) is past the end of "
            f"{filename}, which has {size} bytes.",
            size,
        )
    span = wanted or Span(0, size, size)
    status = 206 if wanted is not None else 200
    if wanted is not None:
        headers["content-range"] = wanted.content_range()
    headers["content-length"] = str(span.length)
    if is_head:
        return Response(b"", status_code=status, media_type=MEDIA_TYPE, headers=headers)
    pieces = read_span(path, span)
    first = next(pieces, b"")  # damage in the first frame: raised here, before any byte
    return StreamingResponse(
        chain([first], pieces), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def read_span(path: Path, span: Span) -> Iterator[bytes]:
    """The original bytes of `span` in pieces of at most PIECE_BYTES (a compressed store
    inflates the frames that hold them, each once); ends early if the file is shorter."""
    with open_raw(path) as handle:
        handle.seek(span.start, os.SEEK_SET)
        left = span.length
        while left > 0 and (data := handle.read(min(PIECE_BYTES, left))):
            left -= len(data)
            yield data


def attachment_header(filename: str) -> str:
    """Content-Disposition for a download named `filename` (as Starlette's FileResponse says)."""
    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{filename}"'
