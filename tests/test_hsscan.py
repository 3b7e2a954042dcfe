"""app._hsscan: the literals' Hyperscan pass from C must find exactly the candidates and
markers the hyperscan package's per-match Python callback finds, on any literals and blocks,
from any number of threads, from a stored database or a fresh one."""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app import native
from app.bundle.sources import SOURCES
from app.report import FileKind
from app.signatures import load_library, matchers
from app.signatures.engine import candidate_lines, presence_markers, signatures_for_kind
from app.signatures.matchers import HyperscanMatcher, databases_kept_in
from app.signatures.model import Signature
from tests.calls.hostile import CASES
from tests.calls.test_extract import REAL

hsscan = native.hsscan
needs_hsscan = pytest.mark.skipif(
    hsscan is None or not matchers.hyperscan_available(),
    reason="app._hsscan is built where libhyperscan-dev is installed",
)


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="CI installs libhyperscan-dev")
def test_ci_builds_the_c_hyperscan_pass() -> None:
    """(CI installs libhyperscan-dev: without the module, the tests below would skip.)"""
    assert hsscan is not None, native.describe()


class _Sig:
    """What HyperscanMatcher reads of a signature: its `contains` literals."""

    def __init__(self, contains: list[str]) -> None:
        self.contains = contains


def _both(
    signatures: list[object],
    monkeypatch: pytest.MonkeyPatch,
    extra: tuple[bytes, ...] = (),
    markers: tuple[str, ...] | None = None,
) -> tuple[HyperscanMatcher, HyperscanMatcher]:
    """The matcher scanning from C and the one calling back into Python, same literals."""
    sigs: list[Signature] = signatures  # type: ignore[assignment]
    from_c = HyperscanMatcher(sigs, extra, markers)
    assert from_c._native is not None
    with monkeypatch.context() as patched:
        patched.setattr(matchers, "hsscan", None)
        in_python = HyperscanMatcher(sigs, extra, markers)
    assert in_python._native is None
    return from_c, in_python


def _same(from_c: HyperscanMatcher, in_python: HyperscanMatcher, block: bytes) -> int:
    """Both find the same candidates (as many times each) and markers in `block`: the
    engine's contract (matches ending at the same offset come in an order that depends on the
    Hyperscan build, and locate_lines sorts them); how many candidates."""
    (found, markers), (expected, expected_markers) = (
        from_c.scan_with_markers(block),
        in_python.scan_with_markers(block),
    )
    assert sorted(found) == sorted(expected), block[:200]
    assert markers == expected_markers
    return len(found)


def _random_block(rng: random.Random, alphabet: str) -> bytes:
    size = rng.choice((0, 1, 50, 3000, 40_000))
    return "".join(rng.choice(alphabet) for _ in range(size)).encode()


def _random_pair(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[
    random.Random, str, list[object], tuple[bytes, ...], tuple[HyperscanMatcher, HyperscanMatcher]
]:
    """Random literals of a random alphabet (signatures, extra literals, markers) and the two
    matchers of `_both` for them."""
    rng = random.Random(seed)
    alphabet = rng.choice(("ab\n", "abc \n", "ab\r\n", "abcdefgh \n\t"))
    pool = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 5))) for _ in range(30)]
    signatures: list[object] = [
        _Sig(rng.sample(pool, rng.randrange(1, 4))) for _ in range(rng.randrange(1, 25))
    ]
    extra = tuple(p.encode() for p in rng.sample(pool, rng.randrange(0, 3)))
    markers = tuple(rng.sample(pool, rng.randrange(0, 3)))
    return rng, alphabet, signatures, extra, _both(signatures, monkeypatch, extra, markers)


@needs_hsscan
@pytest.mark.parametrize("seed", range(12))
def test_random_literals_and_blocks_give_the_same_candidates(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng, alphabet, _signatures, _extra, (from_c, in_python) = _random_pair(seed, monkeypatch)
    found = sum(_same(from_c, in_python, _random_block(rng, alphabet)) for _ in range(15))
    assert found > 0


@needs_hsscan
def test_the_library_on_logs_and_hostile_input_gives_the_same_candidates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    library = load_library()
    chosen = signatures_for_kind(library.signatures, FileKind.LOGGINGSNAPSHOT, SOURCES)
    from_c, in_python = _both(list(chosen), monkeypatch)
    blocks = [CASES[case](50_000) for case in sorted(CASES)]
    if REAL.is_file():
        blocks.append(REAL.read_bytes())
    blocks += [block.replace(b"\n", b"\r\n") for block in blocks[:4]]
    assert sum(_same(from_c, in_python, block) for block in blocks) > 0
    assert set(from_c.markers) == set(presence_markers())


@needs_hsscan
def test_a_literal_repeated_on_a_long_line_is_one_candidate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from_c, in_python = _both([_Sig(["ab"]), _Sig(["ab", "b"])], monkeypatch)
    block = b"ab" * 500_000 + b"\nx ab\n"
    candidates, _markers = from_c.scan_with_markers(block)
    assert sorted(candidates) == [(0, 1), (0, 1_000_004), (1, 1), (1, 1), (1, 1_000_004),
                                  (1, 1_000_004)]  # fmt: skip
    _same(from_c, in_python, block)


def _family_literals(rng: random.Random, prefix: str, members: int) -> list[str]:
    """`members` distinct literals of `prefix` and 1 to 8 digits (leading zeros, members that
    begin another: `Id="2000` and `Id="20004`)."""
    chosen: set[str] = set()
    while len(chosen) < members:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 9)))
        chosen.add(prefix + digits)
        if rng.random() < 0.2 and len(digits) > 1:
            chosen.add(prefix + digits[:-1])
    return sorted(chosen)[:members]


def _family_block(rng: random.Random, literals: list[str], size: int) -> bytes:
    """Text of the literals whole, cut, run together, followed by more digits, at line ends
    (CRLF too) and at the block's very end: where a family's lookup could go wrong."""
    parts: list[str] = []
    while sum(map(len, parts)) < size:
        literal = rng.choice(literals)
        parts.append(
            rng.choice(
                (
                    literal,
                    literal[:-1],
                    literal + rng.choice("0123456789"),
                    literal + literal,
                    literal + "\r\n",
                    "\n" + literal[: rng.randrange(len(literal) + 1)],
                    " x" + literal[-3:],
                    'Id="' + "9" * rng.randrange(1, 12),
                )
            )
        )
        parts.append(rng.choice(("", " ", "\n", '"', "a")))
    return "".join(parts).encode()[:size] + rng.choice(literals).encode()[: rng.randrange(1, 12)]


@needs_hsscan
@pytest.mark.parametrize("seed", range(8))
def test_literal_families_found_by_their_prefix_give_the_same_candidates(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Literals of one prefix and digits (the library's alarm ids, `Id="20004`), 16 or more,
    are found through their prefix (see app/_hsscan.c): the same candidates as each literal's
    own, beside the other literals, a family of 15 (left to Hyperscan), 9-digit members (not
    in a family) and the prefix as a literal of its own."""
    rng = random.Random(seed)
    family = _family_literals(rng, 'Id="', rng.choice((16, 40, 400)))
    few = _family_literals(rng, "cause=", 15)
    long = ['Id="' + "".join(rng.choice("0123456789") for _ in range(9)) for _ in range(3)]
    others = ["Event=", 'Id="', "Id=", "0\r"]
    pool = family + few + long + others
    signatures: list[object] = [
        _Sig(rng.sample(pool, rng.randrange(1, 4))) for _ in range(rng.randrange(40, 120))
    ]
    signatures += [_Sig([literal]) for literal in family]  # each member owned
    from_c, in_python = _both(signatures, monkeypatch, markers=("Event=",))
    assert from_c._native.families == 1
    found = sum(
        _same(from_c, in_python, _family_block(rng, pool, rng.choice((0, 1, 300, 20_000))))
        for _ in range(12)
    )
    assert found > 0


@needs_hsscan
def test_a_family_member_is_one_candidate_per_line_at_its_last_byte() -> None:
    family = [f'Id="{20000 + n}' for n in range(20)] + ['Id="2000']
    matcher = HyperscanMatcher([_Sig([literal]) for literal in family])  # type: ignore[misc]
    assert matcher._native.families == 1
    block = b'Id="20004" Id="20004"\nx Id="200040\nId="2000'
    candidates = sorted(matcher.scan_with_markers(block)[0])
    # line 1: Id="20004 (index 4) once, at its first place, and Id="2000 (index 20) in it;
    # line 2: both again, more digits after them; line 3: Id="2000 at the block's very end
    assert candidates == [(4, 8), (4, 32), (20, 7), (20, 31), (20, 42)]
    # a view that ends before the fifth digit: only the member whose digits are all inside it
    whole = b'x Id="20004'
    assert matcher._native.scan(memoryview(whole)[:-1])[0] == [(20, 9)]


@needs_hsscan
def test_threads_scanning_one_database_find_what_one_thread_finds() -> None:
    rng = random.Random(7)
    matcher = HyperscanMatcher([_Sig(["abc", "b\n"]), _Sig(["ca"])])  # type: ignore[list-item]
    blocks = [_random_block(rng, "abc\n") for _ in range(40)]
    alone = [matcher.scan_with_markers(block) for block in blocks]
    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(matcher.scan_with_markers, blocks * 3)) == alone * 3


@needs_hsscan
def test_a_stored_database_is_loaded_and_a_damaged_one_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matchers, "_natives", {})
    signatures: list[Signature] = [_Sig(["stored literal"])]  # type: ignore[list-item]
    with databases_kept_in(tmp_path):
        first = HyperscanMatcher(signatures)
    (stored,) = tmp_path.glob("hsscan-*.db")
    assert first._native.compiled
    matchers._natives.clear()
    with databases_kept_in(tmp_path):
        again = HyperscanMatcher(signatures)
    assert not again._native.compiled  # loaded
    block = b"a stored literal\n"
    assert again.scan_with_markers(block)[0] == [(0, 15)]
    stored.write_bytes(stored.read_bytes()[:40] + b"\x00" * 64)  # damaged
    matchers._natives.clear()
    with databases_kept_in(tmp_path):
        damaged = HyperscanMatcher(signatures)
    assert damaged._native.compiled
    assert damaged.scan_with_markers(block)[0] == [(0, 15)]


@needs_hsscan
def test_bad_arguments_are_refused() -> None:
    assert hsscan is not None
    with pytest.raises(ValueError):
        hsscan.Literals((), (), 0, ())
    with pytest.raises(ValueError):
        hsscan.Literals((b"a",), (0, 0), 1, ((0,),))
    with pytest.raises(ValueError):
        hsscan.Literals((b"a",), (0,), 1, ())
    with pytest.raises(TypeError):
        hsscan.Literals((b"",), (0,), 1, ((0,),))
    with pytest.raises(TypeError):
        hsscan.Literals(("a",), (0,), 1, ((0,),))
    with pytest.raises(ValueError):
        hsscan.Literals((b"a",), (0,), 1, ((-1,),))
    with pytest.raises(TypeError):
        hsscan.Literals((b"a",), (0,), 1, ((0,),), "not bytes")
    literals = hsscan.Literals((b"a",), (0,), 1, ((0,),), b"not a database")
    assert literals.compiled
    with pytest.raises(TypeError):
        literals.scan("text")
    assert literals.scan(b"") == ([], [], ())


def _random_gate(rng: random.Random, alphabet: str) -> tuple[tuple[bytes, ...], ...]:
    """A RawGate: per pattern the pieces a line needs ((): no gate, a pattern without pieces)."""
    if rng.random() < 0.2:
        return ()
    pieces = alphabet.replace("\n", "")
    return tuple(
        tuple(
            "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 4))).encode()
            for _ in range(rng.randrange(0, 3))
        )
        for _ in range(rng.randrange(1, 3))
    )


@needs_hsscan
@pytest.mark.parametrize("seed", range(16))
def test_lines_grouped_in_c_are_the_lines_the_engine_groups(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`scan_lines` (the candidates grouped by line, the gates tested, the extra literals apart,
    no Python object per candidate) gives what `candidate_lines`, the engine's reference, makes
    of the candidates the Python callback finds, with the same markers and positions."""
    rng, alphabet, signatures, extra, (from_c, in_python) = _random_pair(seed, monkeypatch)
    first_extra = len(signatures) if extra else None
    gated = rng.random() < 0.8
    table = [_random_gate(rng, alphabet) for _ in signatures]
    asked: list[int] = []

    def gate(index: int) -> tuple[tuple[bytes, ...], ...]:
        asked.append(index)
        return table[index]

    gates: list[object] = [None] * len(signatures)
    lines = 0
    for _ in range(15):
        block = _random_block(rng, alphabet)
        result = from_c.scan_lines(block, gate if gated else None, gates, first_extra or -1)
        assert result is not None
        grouped, found_markers, _found = result
        candidates, expected_markers = in_python.scan_with_markers(block)
        expected = candidate_lines(block, candidates, first_extra, table.__getitem__ if gated
                                   else None)  # fmt: skip
        assert grouped == expected, block[:200]
        assert found_markers == expected_markers
        lines += len(grouped[0])
    assert lines > 0
    assert len(asked) == len(set(asked))  # each gate asked for once, then kept in `gates`
    assert all(gates[index] == table[index] for index in asked)


@needs_hsscan
def test_grouping_lines_in_c_gives_the_positions_and_refuses_bad_gates() -> None:
    matcher = HyperscanMatcher([_Sig(["ab"]), _Sig(["cd"])], positions=(b"ab",))  # type: ignore[list-item]
    block = b"x ab cd\nab\ncd ab ab"
    grouped, markers, found = matcher.scan_lines(block, None, [], -1)  # type: ignore[misc]
    assert grouped == ([0, 8, 11], [7, 10, 19], [[0, 1], [0], [0, 1]], [[], [], []])
    assert markers == frozenset()
    assert found == matcher.scan_found(block)[2]
    assert matcher.scan_lines(b"", None, [], -1) == (([], [], [], []), frozenset(), {})
    native_scan = matcher._native.scan_lines

    def refusing(index: int) -> object:
        raise LookupError(index)

    with pytest.raises(LookupError):
        native_scan(block, refusing, [None, None], -1)
    with pytest.raises(IndexError):
        native_scan(block, refusing, [()], -1)  # index 0 known, no slot for index 1
    with pytest.raises(TypeError):
        native_scan(block, lambda index: "not a gate", [None, None], -1)
    with pytest.raises(TypeError):
        native_scan(block, lambda index: (("not bytes",),), [None, None], -1)
    # a gate the line lacks drops the candidate there; one it holds keeps it
    gates: list[object] = [((b"x",),), ((b"cd", b"ab"),)]
    starts, _ends, kept, _extra, _markers, _positions = native_scan(block, None, gates, -1)
    assert kept == [[0, 1], [0], [0, 1]]  # (no gate callable: nothing is gated)
    starts, _ends, kept, _extra, _markers, _positions = native_scan(block, refusing, gates, -1)
    assert (starts, kept) == ([0, 11], [[0, 1], [1]])
