"""Names from uploads shown safely: Unicode bidirectional controls made visible or removed.

A file name, title or hostname carrying U+202E (RIGHT-TO-LEFT OVERRIDE) and its kin is displayed
reordered: `report\u202etxt.exe` reads as `reportexe.txt`. Every place that shows such text to a
person (the HTML pages through the Jinja `finalize` hook, the CLI report, the names stored for
uploads) goes through `show_bidi`, which replaces each control by a visible `<U+202E>`; names
offered as a download file name go through `strip_bidi`, which removes them. The raw text stays
in the JSON API and in the stored files.
"""

from __future__ import annotations

import re

BIDI_CONTROLS = frozenset(
    "\u061c"  # ARABIC LETTER MARK
    "\u200e\u200f"  # LEFT-TO-RIGHT MARK, RIGHT-TO-LEFT MARK
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings, POP DIRECTIONAL FORMATTING, overrides
    "\u2066\u2067\u2068\u2069"  # isolates and POP DIRECTIONAL ISOLATE
)
_BIDI = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")


def has_bidi(text: str) -> bool:
    return _BIDI.search(text) is not None


def show_bidi(text: str) -> str:
    """`text` with each bidirectional control replaced by a visible `<U+202E>` (its code point)."""
    if not has_bidi(text):
        return text
    return _BIDI.sub(lambda match: f"<U+{ord(match.group()):04X}>", text)


def strip_bidi(text: str) -> str:
    """`text` without its bidirectional controls (for file names offered to save)."""
    return _BIDI.sub("", text)
