"""Share the repeated text of kept messages: one string object per distinct value.

A call's messages repeat its addresses, Call-ID, URIs, tags, method, user agent and Session-ID
UUIDs; sign-in messages repeat their peer, host, path and headers. Sharing those fields once a
message is kept makes equal values one object, so the memory a kept message costs is mostly its
own object, not copies of the same text.

Each collector shares through a table of its own (`shared_text()`: app._native.SharedText,
freed with the collector), not `sys.intern`: the interpreter's table, grown by every Txn-id and
Call-ID of an analysis, made each lookup a cache miss with the GIL held (0.2 s of a 2.2 s
analysis of the 1 GiB bench bundle). Without app._native, and where no table is given, the
text is interned with `sys.intern`.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Protocol, TypeAlias

from app.native import loops

SharedText: TypeAlias = object
"""A collector's table of shared text (app._native.SharedText, opaque here)."""


def shared_text() -> SharedText | None:
    """A new table of shared text for one collector's messages; None without app._native."""
    return loops.SharedText() if loops is not None else None


class Sharer(Protocol):
    """Shares the text of an object's slots: `sharer(item, shared=None)`."""

    def __call__(self, item: object, shared: SharedText | None = None, /) -> None: ...


def slot_interner(cls: type, names: tuple[str, ...]) -> Sharer:
    """A function sharing the text of the slots `names` of a `__slots__` class's objects (a
    `str`, or each `str` of a tuple) through a collector's table (None: `sys.intern`):
    app._native.intern_slots with their member descriptors, looked up here once (in C each
    slot is read and written at its offset, no attribute lookup per field and message), else
    `intern_fields_in_python`."""
    if loops is not None:
        return partial(loops.intern_slots, slot_descriptors(cls, names))
    return partial(_interned_in_python, names=names)


def _interned_in_python(
    item: object, shared: SharedText | None = None, *, names: tuple[str, ...]
) -> None:
    intern_fields_in_python(item, names)  # (no table without app._native)


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
