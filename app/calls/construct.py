"""Makers: what app._native's readers need to make a message without running its `__init__`.

A reader of app._native (signin_run) makes thousands of messages per call. Calling the
message class ran its dataclass `__init__` for each, and the interpreter hands the GIL to a
waiting thread at the start of any Python function: the thread feeding the scan gave it away
once per message and waited to get it back (0.55 s of waiting against 0.15 s of work in the
sign-in reader on the 1 GiB bench bundle, with the scan's other threads waiting for its
blocks). With a maker the reader sets the new object's slots itself and keeps the GIL for the
whole call.

A maker is `(cls, slots, defaults)`: the member descriptors of every field, in order, and the
defaults of the fields after the first `given`. `slot_maker` makes one only for a class whose
`__init__` does nothing else: a `dataclass(slots=True)` without `__post_init__`, every field
past `given` with a plain default (a dataclass shares that object between its instances too).
"""

from __future__ import annotations

import dataclasses

from app.calls.interning import slot_descriptors

Maker = tuple[type, tuple[object, ...], tuple[object, ...]]


def slot_maker(cls: type, given: int) -> Maker:
    """The maker of `cls` for calls giving its first `given` fields; ValueError when its
    `__init__` would do more than set the fields (see the module docstring)."""
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise ValueError(f"{cls.__name__}: not a dataclass with slots")
    if hasattr(cls, "__post_init__"):
        raise ValueError(f"{cls.__name__}: has __post_init__")
    fields = dataclasses.fields(cls)
    if not 0 <= given <= len(fields):
        raise ValueError(f"{cls.__name__}: {given} fields given of {len(fields)}")
    rest = fields[given:]
    missing = [f.name for f in rest if f.default is dataclasses.MISSING]
    if missing:
        raise ValueError(f"{cls.__name__}: no plain default for {', '.join(missing)}")
    names = tuple(f.name for f in fields)
    return cls, slot_descriptors(cls, names), tuple(f.default for f in rest)
