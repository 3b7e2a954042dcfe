"""Hyperscan databases kept between `loupe analyze` runs: the same candidates, never a bad one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from app.signatures import LIBRARY_DIR, load_library, matchers
from app.signatures.engine import LiteralMatcher

pytestmark = pytest.mark.skipif(
    not matchers.hyperscan_available(), reason="hyperscan has wheels for x86-64 only"
)

SIGNATURES = load_library(LIBRARY_DIR).signatures[:40]
BLOCK = b"".join(f"{s.contains[0]} tail\n".encode() for s in SIGNATURES) + b"nothing here\n"


@pytest.fixture(autouse=True)
def _new_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each matcher below is built as in a process of its own (no database compiled yet), on
    the hyperscan package's databases (app._hsscan's: tests/test_hsscan.py)."""
    monkeypatch.setattr(matchers, "hsscan", None)
    matchers._databases.clear()
    yield
    matchers._databases.clear()


def _compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    compiled: list[int] = []
    real = matchers._compile

    def counting(literals: tuple[bytes, ...], flags: tuple[int, ...]) -> bytes:
        compiled.append(len(literals))
        return real(literals, flags)

    monkeypatch.setattr(matchers, "_compile", counting)
    return compiled


def _lines(found: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(signature, start of the line) of each candidate: the matchers report other offsets."""
    return sorted({(i, BLOCK.rfind(b"\n", 0, o) + 1) for i, o in found})


def _candidates() -> list[tuple[int, int]]:
    return _lines(matchers.HyperscanMatcher(SIGNATURES).scan(BLOCK))


def test_a_later_process_loads_the_stored_database_and_finds_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = _compiles(monkeypatch)
    with matchers.databases_kept_in(tmp_path):
        first = _candidates()
    assert len(compiled) == 1 and len(list(tmp_path.glob("hyperscan-*.db"))) == 1
    matchers._databases.clear()
    with matchers.databases_kept_in(tmp_path):
        again = _candidates()
    assert len(compiled) == 1  # loaded, not compiled
    assert again == first == _lines(LiteralMatcher(SIGNATURES).scan(BLOCK))
    assert len(first) >= 40


def test_a_damaged_stored_database_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with matchers.databases_kept_in(tmp_path):
        first = _candidates()
    (stored,) = tmp_path.glob("hyperscan-*.db")
    data = bytearray(stored.read_bytes())
    data[-100] ^= 0xFF
    stored.write_bytes(bytes(data))
    matchers._databases.clear()
    compiled = _compiles(monkeypatch)
    with matchers.databases_kept_in(tmp_path):
        assert _candidates() == first
    assert len(compiled) == 1


def test_a_database_hyperscan_refuses_is_compiled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a digest that matches, bytes Hyperscan cannot load (another version or CPU would do so)
    with matchers.databases_kept_in(tmp_path):
        first = _candidates()
    (stored,) = tmp_path.glob("hyperscan-*.db")
    blob = b"not a database" * 10
    stored.write_bytes(hashlib.sha256(blob).digest() + blob)
    matchers._databases.clear()
    compiled = _compiles(monkeypatch)
    with matchers.databases_kept_in(tmp_path):
        assert _candidates() == first
    assert len(compiled) == 1


def test_nothing_is_stored_outside_the_block(tmp_path: Path) -> None:
    with matchers.databases_kept_in(tmp_path / "kept"):
        pass
    _candidates()
    assert not (tmp_path / "kept").exists()
