"""The warnings of an upload read only in part are told apart from the others (app.bundle.damage):
the verdict rests on them, so each sentence the unpacker writes for damage must be recognised."""

from __future__ import annotations

import tarfile
import zipfile

from app.bundle.damage import (
    corrupt_sentence,
    damaged_zip_member,
    read_in_part,
    salvage_sentence,
)


def test_each_damage_sentence_names_what_was_read_in_part() -> None:
    warnings = [
        salvage_sentence("diag.tar.gz", "gzip", EOFError("Compressed file ended")),
        salvage_sentence("diag; v2.tar", "tar", tarfile.ReadError("unexpected end of data")),
        corrupt_sentence("diag.tar.gz/inner.zip", "zip", zipfile.BadZipFile("bad"), nested=True),
        damaged_zip_member("diag.zip/log.txt", zipfile.BadZipFile("Bad CRC-32"), 4096),
        damaged_zip_member("diag.zip/a; the b.txt", OSError("Error -3"), 0),
    ]
    assert read_in_part(warnings) == [
        "diag.tar.gz: the gzip-compressed file is truncated (it ends in the middle)",
        "diag; v2.tar: the tar archive is truncated (it ends in the middle)",
        "diag.tar.gz/inner.zip: the zip archive is damaged (bad)",
        "diag.zip/log.txt: could not be read (Bad CRC-32)",
        "diag.zip/a; the b.txt: could not be read (Error -3)",
    ]


def test_other_warnings_are_not_damage() -> None:
    assert (
        read_in_part(
            [
                "diag.tar.gz/../x: skipped, its path contains '..'.",
                "diag.tar.gz/tmp/a: skipped, it is a symbolic link to '/etc/passwd' "
                "(never followed).",
                "diag.zip/level4.zip: not unpacked, archives nested more than 3 deep are kept as "
                "they are.",
                corrupt_sentence("diag.tar.gz", "gzip", EOFError("ended")),  # refused, not analysed
            ]
        )
        == []
    )
