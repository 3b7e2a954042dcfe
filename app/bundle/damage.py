"""Sentences for damaged archives: what is wrong, and what the analysis did about it.

The warnings that say an upload was read only in part (up to its damage, a nested archive cut
short, a zip member that could not be read to its end) end in one of the tails below;
`read_in_part(warnings)` picks them out again, for the verdict (app/signatures/verdict.py):
an analysis of a damaged upload is never an all-clear. The warnings are what an analysis
stores, so analyses saved before this read the same way.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterable

from app.bundle.budget import human_size
from app.bundle.streams import HeaderTooLarge

FORMAT_WORDS = {
    "tar": "tar archive",
    "gzip": "gzip-compressed file",
    "zip": "zip archive",
}


def problem(fmt: str, cause: BaseException) -> str:
    """What is wrong with an archive of format `fmt` that failed with `cause`."""
    if isinstance(cause, HeaderTooLarge):
        return f"the tar archive cannot be read further: {cause}"
    if isinstance(cause, EOFError) or "unexpected end" in str(cause):
        return f"the {FORMAT_WORDS[fmt]} is truncated (it ends in the middle)"
    if fmt == "zip" and "not a zip file" in str(cause):
        return "the zip archive has no table of contents (incomplete download or damaged)"
    if fmt == "zip":
        return f"the zip archive is damaged ({cause})"
    if isinstance(cause, tarfile.TarError):
        return f"the tar archive is damaged ({cause})"
    return f"the {FORMAT_WORDS[fmt]} is damaged ({cause})"


_SALVAGED = (
    ". Everything read before the damage was analysed; what comes after it could not be read, "
    "so findings may be missing. Re-download the bundle from the Expressway and upload it "
    "again for a complete analysis."
)
_NESTED_CUT = "; the files after the damage were skipped."
_MEMBER_KEPT = " read before the error were kept and analysed, so they may hold damaged lines."
_MEMBER_SKIPPED = "; skipped, the zip's other files were still read."


def salvage_sentence(name: str, fmt: str, cause: BaseException) -> str:
    """The warning for an upload read only up to its damage (what was read is analysed)."""
    return f"{name}: {problem(fmt, cause)}{_SALVAGED}"


def damaged_zip_member(label: str, cause: BaseException, kept_bytes: int) -> str:
    """The warning for a zip member that could not be read to its end."""
    sentence = f"{label}: could not be read ({cause})"
    if kept_bytes:
        return f"{sentence}; the {human_size(kept_bytes)}{_MEMBER_KEPT}"
    return f"{sentence}{_MEMBER_SKIPPED}"


def corrupt_sentence(name: str, fmt: str, cause: BaseException, *, nested: bool = False) -> str:
    """The reason an archive could not be read at all, or the warning for a nested one."""
    wrong = problem(fmt, cause)
    if nested:
        return f"{name}: {wrong}{_NESTED_CUT}"
    return (
        f"{name}: {wrong}. The download was probably cut short or the file was altered; "
        "re-download the bundle from the Expressway and upload it again."
    )


def read_in_part(warnings: Iterable[str]) -> list[str]:
    """What each warning of an upload read only in part names ("<name>: <what is wrong>"), in
    order; the other warnings (a file skipped on purpose, a duplicate, ...) are left out."""
    found = []
    for warning in warnings:
        if warning.endswith(_SALVAGED):
            found.append(warning[: -len(_SALVAGED)])
        elif warning.endswith((_NESTED_CUT, _MEMBER_SKIPPED)):
            found.append(warning.rsplit("; ", 1)[0])
        elif warning.endswith(_MEMBER_KEPT) and "; the " in warning:
            found.append(warning.rsplit("; the ", 1)[0])
    return found
