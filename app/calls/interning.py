"""Share the repeated text of kept messages: one string object per distinct value.

A call's messages repeat its addresses, Call-ID, URIs, tags, method and user agent; sign-in
messages repeat their peer, host, path and headers. Interning those fields once a message is
kept makes equal values one object (`sys.intern`: freed again with their last message), so the
memory a kept message costs is mostly its own object, not copies of the same text.
"""

from __future__ import annotations

import sys
from typing import Any

from app.native import loops


class SlotInterner:
    """Interns the `str` values of the slots named `names` of a `__slots__` class's objects:
    in C at the slots' offsets when app._native is built (its member descriptors, looked up
    here once, not an attribute per field and message), else `intern_fields_in_python`."""

    __slots__ = ("names", "slots")

    def __init__(self, cls: type, names: tuple[str, ...]) -> None:
        self.names = names
        self.slots: tuple[Any, ...] = tuple(cls.__dict__[name] for name in names)

    def __call__(self, item: object) -> None:
        if loops is not None:
            loops.intern_slots(item, self.slots)
            return
        intern_fields_in_python(item, self.names)


def intern_fields_in_python(item: object, names: tuple[str, ...]) -> None:
    """Replace each `str` attribute of `item` named in `names` by its interned copy (the
    reference of SlotInterner)."""
    for name in names:
        value = getattr(item, name)
        if type(value) is str:
            setattr(item, name, sys.intern(value))


def interned(values: tuple[str, ...]) -> tuple[str, ...]:
    """`values` with each string interned (a message's Session-ID UUIDs)."""
    return tuple(sys.intern(value) for value in values)
