"""Recognise file formats from their first bytes (magic numbers), never from names alone."""

from __future__ import annotations

import codecs
import tarfile

SNIFF_BYTES = 4096
"""How many leading bytes the sniffers look at."""

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

_KNOWN_BINARY = (
    b"\x7fELF",  # executables
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",  # JPEG
    b"%PDF",
    b"Rar!",
    b"7z\xbc\xaf\x27\x1c",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",  # zstd
    b"BZh",  # bzip2 (only with its block magic, checked below)
    b"\xd0\xcf\x11\xe0",  # MS Office (OLE)
    b"SQLite format 3",
)
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\v\x1b")


def looks_like_tar(block: bytes) -> bool:
    """True when `block` starts with a valid tar header (POSIX, GNU or old v7)."""
    if len(block) < tarfile.BLOCKSIZE:
        return False
    if not block[: tarfile.BLOCKSIZE].strip(b"\0"):
        # An all-zero start is the end-of-archive marker: an empty tar is 10 KB of zeros.
        marker = block[: 2 * tarfile.BLOCKSIZE]
        return len(marker) == 2 * tarfile.BLOCKSIZE and not marker.strip(b"\0")
    try:
        tarfile.TarInfo.frombuf(block[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except (tarfile.HeaderError, ValueError):
        return False
    return True


def is_known_binary(head: bytes) -> bool:
    """True for well-known binary formats logloupe never reads (images, PDFs, executables...)."""
    for magic in _KNOWN_BINARY:
        if head.startswith(magic):
            return magic != b"BZh" or head[4:10] == b"1AY&SY"
    return False


def is_text(head: bytes) -> bool:
    """True when `head` reads as text: no NUL bytes and (almost) no control characters.

    UTF-8 is tried first (a multi-byte character cut at the end of `head` is fine); other
    8-bit encodings such as Latin-1 pass as long as control characters stay rare.
    """
    if not head or b"\0" in head or is_known_binary(head):
        return False
    controls = sum(1 for byte in head if byte < 0x20 and byte not in _TEXT_CONTROLS)
    if controls * 100 > len(head):
        return False
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        decoder.decode(head, final=False)
    except UnicodeDecodeError:
        high = sum(1 for byte in head if byte >= 0x80)
        return high * 10 < len(head)
    return True


def sniff_format(head: bytes) -> str | None:
    """Name the format of a byte stream from its first bytes.

    Returns "gzip", "zip", "tar", "pcap", "pcapng", "text", or None for anything else
    (binary formats logloupe does not read, and empty input).
    """
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if head.startswith(PCAP_MAGICS):
        return "pcap"
    if head.startswith(PCAPNG_MAGIC):
        return "pcapng"
    if looks_like_tar(head):
        return "tar"
    if is_text(head):
        return "text"
    return None
