"""Share the repeated text of kept messages: one string object per distinct value.

A call's messages repeat its addresses, Call-ID, URIs, tags, method and user agent; sign-in
messages repeat their peer, host, path and headers. Interning those fields once a message is
kept makes equal values one object (`sys.intern`: freed again with their last message), so the
memory a kept message costs is mostly its own object, not copies of the same text.
"""

from __future__ import annotations

import sys

from app.native import loops


def intern_fields(item: object, names: tuple[str, ...]) -> None:
    """Replace each `str` attribute of `item` named in `names` by its interned copy (the loop
    of app._native when built)."""
    if loops is not None:
        loops.intern_fields(item, names)
        return
    intern_fields_in_python(item, names)


def intern_fields_in_python(item: object, names: tuple[str, ...]) -> None:
    """The reference of intern_fields."""
    for name in names:
        value = getattr(item, name)
        if type(value) is str:
            setattr(item, name, sys.intern(value))


def interned(values: tuple[str, ...]) -> tuple[str, ...]:
    """`values` with each string interned (a message's Session-ID UUIDs)."""
    return tuple(sys.intern(value) for value in values)
