"""Lone-CR line ends (old Mac, some syslog exports) turned into LF while a file is unpacked.

Every reader of an unpacked file (the signature engine, node detection, the log viewer) cuts
lines at b"\\n" only, and a CRLF line loses its CR when it is read. A file whose lines end
with a lone b"\\r" would be one endless line to all of them, so the unpacker converts it once:
the file on disk then has LF line ends, signatures match it line by line and the line numbers
of snippets are the log viewer's. The uploaded original stays untouched in the upload store.

Only files whose first block shows CR line ends and no LF at all are converted; the work is
two `bytes.replace` calls per block (C speed) for those files, nothing for all others.
"""

from __future__ import annotations

from app.bundle.magic import SNIFF_BYTES, is_text


def has_lone_cr_line_ends(head: bytes) -> bool:
    """True when `head` (a file's first block) is text whose lines end with a lone CR."""
    return b"\r" in head and b"\n" not in head and is_text(head[:SNIFF_BYTES])


class CrToLf:
    """Converts a file's blocks, in order: each CR, and each CR LF, becomes one LF."""

    def __init__(self) -> None:
        self._after_cr = False  # the previous block ended with CR: an LF first belongs to it

    def convert(self, block: bytes) -> bytes:
        if self._after_cr and block.startswith(b"\n"):
            block = block[1:]
        self._after_cr = block.endswith(b"\r")
        return block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def lone_cr_warning(name: str) -> str:
    return (
        f"{name}: its lines end with a lone CR (old Mac style, as some syslog exports write "
        "them); they were read as ordinary line ends, so line numbers count those lines (the "
        "log viewer shows the file the same way)."
    )
