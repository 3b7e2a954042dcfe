"""Messages made in C by a maker (app.calls.construct): the same objects as calling the class,
no Python code run for them, and makers that could make anything else refused."""

from __future__ import annotations

import dataclasses
import random
import sys
from types import FrameType

import pytest

from app.calls import extract, signin
from app.calls.construct import slot_maker
from app.calls.model import SipMessage
from app.calls.signin import SigninCollector, SigninReader
from app.calls.signin_model import HttpMessage
from app.native import loops
from tests.calls.scenarios import two_node_logs
from tests.calls.test_signin_run import sign_in_log

needs_native = pytest.mark.skipif(loops is None, reason="makers are app._native's")


@dataclasses.dataclass(slots=True)
class _Plain:
    a: str
    b: int = 1
    c: tuple[str, ...] = ()


@dataclasses.dataclass(slots=True)
class _Checked:
    a: str
    b: int = 1

    def __post_init__(self) -> None:
        self.b += 1


@dataclasses.dataclass
class _NoSlots:
    a: str = ""


def test_a_maker_is_made_only_for_a_class_whose_init_sets_its_fields() -> None:
    cls, slots, defaults = slot_maker(_Plain, 1)
    assert cls is _Plain and defaults == (1, ()) and len(slots) == 3
    assert slot_maker(_Plain, 3)[2] == ()
    for wrong, given in ((_Checked, 1), (_NoSlots, 0), (_Plain, 0), (_Plain, 4), (dict, 0)):
        with pytest.raises(ValueError):
            slot_maker(wrong, given)
    assert slot_maker(HttpMessage, 12)[0] is HttpMessage
    assert slot_maker(SipMessage, 25)[0] is SipMessage


def _read_signins(data: bytes, maker: object) -> list[HttpMessage]:
    collector = SigninCollector()
    reader = collector.observer("log.txt", signin.FileKind.LOGGINGSNAPSHOT)
    assert reader is not None
    patch = pytest.MonkeyPatch()
    patch.setattr(signin, "_MAKER", maker)
    try:
        for start in range(0, len(data), 300_000):
            end = data.find(b"\n", start + 300_000) + 1 or len(data)
            if start and data.rfind(b"\n", 0, start) + 1 != start:
                continue
            reader.feed(data[start:end], data.count(b"\n", 0, start))
        reader.close()
    finally:
        patch.undo()
    return collector.all_messages()


@needs_native
def test_sign_ins_made_by_the_maker_are_those_the_class_makes() -> None:
    data = (sign_in_log(random.Random(11), 4000)).encode()
    made = _read_signins(data, signin._MAKER)
    called = _read_signins(data, HttpMessage)
    assert len(made) > 500 and made == called
    assert all(type(m) is HttpMessage for m in made)


@needs_native
def test_sip_messages_made_by_the_maker_are_those_the_class_makes() -> None:
    expe, expc = two_node_logs()
    data = (expe.text() + expc.text()).encode()

    def read(maker: object) -> list[SipMessage]:
        patch = pytest.MonkeyPatch()
        patch.setattr(extract, "_MAKER", maker)
        try:
            collector = extract.Collector(threaded=False)
            reader = collector.observer("log.txt", extract.FileKind.LOGGINGSNAPSHOT)
            assert reader is not None
            reader.feed(data, 0)
            reader.close()
        finally:
            patch.undo()
        return collector.messages["log.txt"]

    made, called = read(extract._MAKER), read(SipMessage)
    assert len(made) > 10 and made == called


@needs_native
def test_a_reader_making_its_messages_runs_no_python_code_for_them() -> None:
    """(The interpreter may hand the GIL to another thread at the start of any Python
    function: a reader running none keeps it from its first message to its last.) The
    messages of the slow path (lines with their HTTPMSG blocks) are made in Python."""
    data = (sign_in_log(random.Random(3), 3000)).encode()
    init = HttpMessage.__init__.__code__
    inits = 0

    def count(frame: FrameType, event: str, arg: object) -> None:
        nonlocal inits
        if event == "call" and frame.f_code is init:
            inits += 1

    seen = {}
    for maker in (HttpMessage, signin._MAKER):
        inits = 0
        sys.setprofile(count)
        try:
            messages = _read_signins(data, maker)
        finally:
            sys.setprofile(None)
        seen[maker is HttpMessage] = (inits, len(messages))
    (class_inits, total), (maker_inits, same_total) = seen[True], seen[False]
    assert class_inits == total == same_total
    assert total - maker_inits > 200  # the run's messages: made in C, no __init__ run


@needs_native
def test_a_reader_refuses_a_maker_that_could_write_anything_else() -> None:
    assert loops is not None
    cls, slots, defaults = signin._MAKER
    reader = SigninReader(SigninCollector(), "log.txt")
    args: list[object] = [b"x\n", [0], [0], 0, 0, 0, None, reader._consts, reader.requests, 9, 1]
    args.append([])
    args.append(signin._SHARED_SLOTS)
    wrong_makers = [
        (cls, slots[:-1], defaults),  # a slot short
        (cls, slots, (*defaults, "")),  # a default too many
        (cls, (*slots[:-1], SipMessage.__dict__["node"]), defaults),  # another class's slot
        (cls, (*slots[:-1], "node"), defaults),  # not a descriptor
        (cls, slots),
        "HttpMessage",
    ]
    for wrong in wrong_makers:
        args[6] = wrong
        with pytest.raises((TypeError, ValueError)):
            loops.signin_run(*args)
    args[6] = signin._MAKER
    assert loops.signin_run(*args) == (0, 0, 0, None)
