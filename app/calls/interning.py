"""Share the repeated text of kept messages: one string object per distinct value.

A call's messages repeat its addresses, Call-ID, URIs, tags, method, user agent and Session-ID
UUIDs; sign-in messages repeat their peer, host, path and headers. Interning those fields once
a message is kept makes equal values one object (`sys.intern`: freed again with their last
message), so the memory a kept message costs is mostly its own object, not copies of the same
text.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial

from app.native import loops


def slot_interner(cls: type, names: tuple[str, ...]) -> Callable[[object], None]:
    """A function interning the text of the slots `names` of a `__slots__` class's objects (a
    `str`, or each `str` of a tuple): app._native.intern_slots with their member descriptors,
    looked up here once (in C each slot is read and written at its offset, no attribute lookup
    per field and message), else `intern_fields_in_python`."""
    if loops is not None:
        return partial(loops.intern_slots, slot_descriptors(cls, names))
    return partial(intern_fields_in_python, names=names)


def slot_descriptors(cls: type, names: tuple[str, ...]) -> tuple[object, ...]:
    """The member descriptors of the slots `names` of a `__slots__` class (for app._native)."""
    return tuple(cls.__dict__[name] for name in names)


def intern_fields_in_python(item: object, names: tuple[str, ...]) -> None:
    """Replace each `str` attribute of `item` named in `names` by its interned copy, and each
    tuple attribute by one with its strings interned (the reference of slot_interner)."""
    for name in names:
        value = getattr(item, name)
        if type(value) is str:
            setattr(item, name, sys.intern(value))
        elif type(value) is tuple:
            setattr(item, name, tuple(sys.intern(v) if type(v) is str else v for v in value))
