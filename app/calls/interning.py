"""Share the repeated text of kept messages: one string object per distinct value.

A call's messages repeat its addresses, Call-ID, URIs, tags, method and user agent; sign-in
messages repeat their peer, host, path and headers. Interning those fields once a message is
kept makes equal values one object (`sys.intern`: freed again with their last message), so the
memory a kept message costs is mostly its own object, not copies of the same text.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable


def intern_fields(item: object, names: Iterable[str]) -> None:
    """Replace each `str` attribute of `item` named in `names` by its interned copy."""
    for name in names:
        value = getattr(item, name)
        if type(value) is str:
            setattr(item, name, sys.intern(value))


def interned(values: tuple[str, ...]) -> tuple[str, ...]:
    """`values` with each string interned (a message's Session-ID UUIDs)."""
    return tuple(sys.intern(value) for value in values)
