"""The call-flow readers take the offsets of their needles from the matcher's own pass.

SIP_MODULE and the sign-in markers are found by Hyperscan with the signatures' literals
(HyperscanMatcher `positions`, app._hsscan), and `prepare` takes those offsets instead of a pass
of its own (app._native `found`). Whatever the block, that must read exactly what the readers'
own pass reads; offsets that are not the needle's are refused, never read past the block.
"""

from __future__ import annotations

import random
from pathlib import Path
from struct import pack

import pytest

from app import native
from app.calls import extract, signin
from app.calls.extract import SIP_MODULE, Collector, FileExtractor, prepare_block
from app.calls.signin import NEEDLES, SigninCollector, SigninReader, mark_block
from app.report import FileKind
from app.signatures import engine, load_library, matchers, prescan
from app.signatures.matchers import HyperscanMatcher
from tests.calls.hostile import CASES
from tests.calls.scenarios import two_node_logs
from tests.calls.test_extract import REAL, analyse_expe_log

loops = native.loops
needs_native = pytest.mark.skipif(loops is None, reason="app._native is not built")
needs_hsscan = pytest.mark.skipif(
    native.hsscan is None or not matchers.hyperscan_available(),
    reason="app._hsscan is built where libhyperscan-dev is installed",
)


def starts(block: bytes, needle: bytes) -> bytes:
    """Every start of `needle` in `block`, overlapping ones too, as native 64-bit integers."""
    found, at = [], block.find(needle)
    while at != -1:
        found.append(at)
        at = block.find(needle, at + 1)
    return pack(f"={len(found)}q", *found)


def _blocks() -> list[bytes]:
    expe, expc = two_node_logs()
    logs = [expe.text().encode(), expc.text().encode()]
    if REAL.is_file():
        logs.append(REAL.read_bytes())
    logs += [CASES[case](30_000) for case in sorted(CASES)]
    rng = random.Random(5)
    blocks = []
    for log in logs:
        for _ in range(3):  # cut anywhere: a needle may open or close the block
            a, b = sorted(rng.randrange(len(log) + 1) for _ in range(2))
            blocks.append(log[a:b])
        blocks += [log, log.replace(b"\n", b"\r\n")]
    return blocks


@needs_native
def test_prepared_blocks_are_the_same_with_the_offsets_found_by_the_matcher() -> None:
    assert loops is not None
    compared = 0
    for block in _blocks():
        sip = starts(block, SIP_MODULE)
        own = loops.sip_prepare(block, extract._KEEPALIVE_METHODS)
        assert loops.sip_prepare(block, extract._KEEPALIVE_METHODS, None, (sip,)) == own
        given = tuple(starts(block, needle) for needle in NEEDLES)
        for lines in (True, False):
            assert loops.signin_marks(block, lines, given) == loops.signin_marks(block, lines)
        compared += own is not None
    assert compared > 10  # (blocks that hold SIP lines)


@needs_native
@pytest.mark.parametrize(
    "offsets",
    [
        [5, 5],  # twice
        [40, 5],  # out of order
        [-1],
        [10**9],  # past the block
        [6],  # where the needle is not
    ],
)
def test_offsets_that_are_not_the_needles_starts_are_refused(offsets: list[int]) -> None:
    assert loops is not None
    block = b"12345" + SIP_MODULE + b' Level="INFO"\n' + b"x" * 20 + SIP_MODULE + b"\n"
    found = pack(f"={len(offsets)}q", *offsets)
    with pytest.raises(ValueError, match="ascending starts"):
        loops.sip_prepare(block, extract._KEEPALIVE_METHODS, None, (found,))
    marks = (found, b"", b"", b"")
    block = b"12345" + NEEDLES[0] + b"\n" + b"x" * 40 + NEEDLES[0]
    with pytest.raises(ValueError, match="ascending starts"):
        loops.signin_marks(block, True, marks)


@needs_native
def test_found_of_the_wrong_shape_is_refused() -> None:
    assert loops is not None
    block = SIP_MODULE + b"\n"
    with pytest.raises(ValueError, match="ascending starts"):
        loops.sip_prepare(block, extract._KEEPALIVE_METHODS, None, (b"\0" * 7,))  # 7 bytes
    with pytest.raises(TypeError, match="tuple of 1"):
        loops.sip_prepare(block, extract._KEEPALIVE_METHODS, None, (b"", b""))
    with pytest.raises(TypeError, match="tuple of 4"):
        loops.signin_marks(block, True, (b"",))
    with pytest.raises(TypeError):
        loops.signin_marks(block, True, ("text", b"", b"", b""))


@needs_hsscan
def test_the_matcher_finds_every_start_of_its_position_literals() -> None:
    library = load_library()
    signatures = library.signatures[:50]
    plain = HyperscanMatcher(signatures)
    needles = (SIP_MODULE, *NEEDLES, b"aa")  # (b"aa": overlapping occurrences)
    finding = HyperscanMatcher(signatures, positions=needles)
    assert finding.positions == needles
    for block in [*_blocks(), b"aaaa\n", b""]:
        candidates, markers, found = finding.scan_found(block)
        assert (sorted(candidates), markers) == tuple(
            (sorted(c), m) for c, m in [plain.scan_with_markers(block)]
        )[0]
        if block:
            assert found == {needle: starts(block, needle) for needle in needles}


@needs_hsscan
def test_readers_given_the_matchers_offsets_read_what_they_read_alone() -> None:
    """The scan hands each observer the offsets of its needles (and no pass of its own is
    made): the messages, keep-alive rows and sign-ins are those read without them."""
    assert loops is not None
    blocks = _blocks()
    matcher = HyperscanMatcher([], positions=(SIP_MODULE, *NEEDLES))

    def read(given: bool) -> tuple[object, ...]:
        sip, signins = Collector(threaded=False), SigninCollector()
        observers = [
            FileExtractor(sip, "log.txt"),
            SigninReader(signins, "log.txt"),
        ]
        sip.messages["log.txt"] = []
        tee = signin.Tee(observers)  # type: ignore[arg-type]
        lines = 0
        for block in blocks:
            block = block[: block.rfind(b"\n") + 1]  # line-aligned, as the scan feeds them
            if not block:
                continue
            found = matcher.scan_found(block)[2] if given else None
            tee.feed(block, lines, tee.prepare(block, None, found))
            lines += block.count(b"\n")
        tee.close()
        return (
            repr(sip.messages),
            repr(sip.background_rows()),
            repr(signins.all_messages()),
            sip.warnings(),
        )

    calls = 0
    real_prepare, real_marks = loops.sip_prepare, loops.signin_marks

    def counting_prepare(*args: object) -> object:
        nonlocal calls
        calls += len(args) == 4 and args[3] is not None
        return real_prepare(*args)

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(loops, "sip_prepare", counting_prepare, raising=False)
        with_offsets = read(True)
    assert calls > 0
    assert real_marks is loops.signin_marks
    assert with_offsets == read(False)


@needs_hsscan
def test_an_analysis_builds_its_matcher_with_the_readers_needles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scanned while unpacked and read back: the log's matcher finds the readers' needles,
    and the calls are those found when it does not."""
    built: list[tuple[bytes, ...]] = []
    real_make = engine.make_matcher

    def recording(*args: object, **kwargs: object) -> object:
        matcher = real_make(*args, **kwargs)  # type: ignore[arg-type]
        built.append(tuple(getattr(matcher, "positions", ())))
        return matcher

    def calls(while_unpacking: bool) -> list[object]:
        report = analyse_expe_log(tmp_path, while_unpacking=while_unpacking)
        assert report.calls is not None and report.signins is not None
        return [repr(report.calls), repr(report.call_background), repr(report.signins)]

    for while_unpacking in (True, False):
        built.clear()
        with monkeypatch.context() as patched:
            patched.setattr(engine, "make_matcher", recording)
            patched.setattr(prescan, "make_matcher", recording)
            found = calls(while_unpacking)
        assert (SIP_MODULE, *NEEDLES) in built
        with monkeypatch.context() as patched:
            patched.setattr(engine, "needles_of", lambda observer: ())
            patched.setattr(prescan, "needles_of", lambda observer: ())
            assert calls(while_unpacking) == found


def test_each_reader_names_its_needles() -> None:
    collector = Collector()
    observer = collector.observer("log.txt", FileKind.LOGGINGSNAPSHOT)
    assert observer is not None and observer.needles == (SIP_MODULE,)
    observer.abandon()  # type: ignore[union-attr]
    reader = SigninCollector().observer("log.txt", FileKind.LOGGINGSNAPSHOT)
    assert reader is not None and reader.needles == NEEDLES
    both = signin.combine(collector.observer, SigninCollector().observer)
    assert both is not None
    tee = both("log.txt", FileKind.LOGGINGSNAPSHOT)
    assert tee is not None and tee.needles == (SIP_MODULE, *NEEDLES)
    # without the matcher's offsets (no Hyperscan), the readers search for themselves
    block = b"x " + SIP_MODULE + b' Level="INFO"\n'
    assert (
        prepare_block(block).hits
        == prepare_block(block, None, None, starts(block, SIP_MODULE)).hits
    )
    assert mark_block(block).counted == 0
