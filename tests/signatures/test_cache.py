"""The library cache: a warm start-up skips YAML and Jinja, and never hides a change or error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.config import Settings
from app.errors import SignatureError
from app.signatures import LIBRARY_DIR, load_library, loader, scan_lines
from tests.signatures.helpers import minimal_signature, write_library


def _count_yaml_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    real = loader._parse_yaml

    def spy(raw: bytes, name: str) -> object:
        parsed.append(name)
        return real(raw, name)

    monkeypatch.setattr(loader, "_parse_yaml", spy)
    return parsed


def _texts(library_root: Path, cache: Path | None) -> list[tuple[str, str, str]]:
    library = load_library(library_root, cache_dir=cache)
    findings = scan_lines(library.signatures, ["x DEMO-FAIL code=7 peer=edge1"])
    return [(f.signature_id, f.description, f.action) for f in findings]


def test_a_second_load_reads_no_yaml_and_gives_the_same_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, root)
    cache = tmp_path / "cache"
    parsed = _count_yaml_parses(monkeypatch)
    first = load_library(root, cache_dir=cache)
    assert parsed  # the cold load parsed every file
    assert len(list(cache.glob("library-*.marshal"))) == 1
    parsed.clear()
    second = load_library(root, cache_dir=cache)
    assert parsed == []
    assert second.version == first.version
    assert second.signatures == first.signatures


def test_texts_render_the_same_from_the_cache(tmp_path: Path) -> None:
    root = write_library(tmp_path / "library", minimal_signature())
    cache = tmp_path / "cache"
    cold = _texts(root, cache)
    warm = _texts(root, cache)
    assert cold == warm == [("demo-sig", "Peer edge1 failed with 7.", "Fix edge1.")]


def test_a_changed_file_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_library(tmp_path / "library", minimal_signature())
    cache = tmp_path / "cache"
    load_library(root, cache_dir=cache)
    doc = minimal_signature()
    doc["text"]["action"] = "Replace the certificate of {{ peer }}."
    write_library(root, doc)
    assert _texts(root, cache)[0][2] == "Replace the certificate of edge1."


def test_a_broken_library_is_refused_and_never_cached(tmp_path: Path) -> None:
    doc = minimal_signature()
    doc["text"]["action"] = "Fix {{ peer "
    root = write_library(tmp_path / "library", doc)
    cache = tmp_path / "cache"
    for _ in range(2):
        with pytest.raises(SignatureError, match="text.action"):
            load_library(root, cache_dir=cache)
    assert not list(cache.glob("library-*.marshal"))


def test_a_corrupt_cache_entry_is_ignored(tmp_path: Path) -> None:
    root = write_library(tmp_path / "library", minimal_signature())
    cache = tmp_path / "cache"
    load_library(root, cache_dir=cache)
    (entry,) = cache.glob("library-*.marshal")
    entry.write_bytes(b"\x00not marshal data")
    assert _texts(root, cache) == [("demo-sig", "Peer edge1 failed with 7.", "Fix edge1.")]


def test_an_unwritable_cache_dir_only_costs_time(tmp_path: Path) -> None:
    root = write_library(tmp_path / "library", minimal_signature())
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache dir should be")
    assert [s.id for s in load_library(root, cache_dir=blocker / "cache").signatures] == [
        "demo-sig"
    ]


def test_an_empty_cache_setting_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUPE_CACHE_DIR", "")
    assert Settings().cache_dir is None
    monkeypatch.setenv("LOUPE_CACHE_DIR", "/var/cache/loupe")
    assert Settings().cache_dir == Path("/var/cache/loupe")
