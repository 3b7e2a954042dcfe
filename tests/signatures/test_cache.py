"""The library cache: a warm start-up skips YAML and Jinja, and never hides a change or error."""

from __future__ import annotations

import hashlib
import marshal
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.errors import SignatureError
from app.signatures import LIBRARY_DIR, built_cache, lint, load_library, loader, scan_lines
from app.signatures import cache as library_cache
from app.signatures.required import required_literals
from tests.signatures.helpers import minimal_signature, write_library

ROOT = Path(__file__).resolve().parents[2]


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


def _count_cross_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each run of the two costly cross-checks a cache hit may skip."""
    runs: list[str] = []
    real_gap, real_overlap = loader.prefilter_gap, lint.first_overlap

    def gap(*args: Any) -> Any:
        runs.append("prefilter")
        return real_gap(*args)

    def overlap(*args: Any) -> Any:
        runs.append("overlap")
        return real_overlap(*args)

    monkeypatch.setattr(loader, "prefilter_gap", gap)
    monkeypatch.setattr(lint, "first_overlap", overlap)
    return runs


def test_a_warm_load_does_not_repeat_the_cross_checks_a_cold_load_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_library(tmp_path / "library", minimal_signature())
    cache = tmp_path / "cache"
    runs = _count_cross_checks(monkeypatch)
    cold = load_library(root, cache_dir=cache)
    assert "prefilter" in runs and "overlap" in runs
    runs.clear()
    warm = load_library(root, cache_dir=cache)
    assert runs == []
    assert warm.signatures == cold.signatures
    runs.clear()
    load_library(root)  # no cache: every check, every time
    assert "prefilter" in runs and "overlap" in runs


def test_an_entry_changed_on_disk_is_a_miss_and_the_library_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an entry whose payload still unmarshals but is not what was written (a bit flipped on
    # disk, an edit): the documents in it never passed the checks, so it must not be used
    first = minimal_signature("first-sig")
    root = write_library(tmp_path / "library", first)
    cache = tmp_path / "cache"
    load_library(root, cache_dir=cache)
    (entry,) = cache.glob("library-*.marshal")
    data = marshal.loads(entry.read_bytes())
    content = marshal.loads(data["payload"])
    (name,) = content["files"]
    document = marshal.loads(content["files"][name])
    document["match"]["patterns"] = [{"regex": r"DEMO-FAIL|code=(?P<code>\d+) peer=(?P<peer>\S+)"}]
    content["files"][name] = marshal.dumps(document)
    data["payload"] = marshal.dumps(content)  # the digest is left as written
    entry.write_bytes(marshal.dumps(data))
    parsed = _count_yaml_parses(monkeypatch)
    runs = _count_cross_checks(monkeypatch)
    library = load_library(root, cache_dir=cache)
    assert parsed == [name]  # read from the YAML file again, not from the changed entry
    assert "prefilter" in runs and "overlap" in runs
    assert library.signatures[0].patterns[0].regex.pattern == first["match"]["patterns"][0]["regex"]


def _regexes(library_root: Path, cache: Path | None) -> list[Any]:
    library = load_library(library_root, cache_dir=cache)
    return [p.regex for s in library.signatures for p in s.patterns]


def test_a_warm_load_compiles_its_regexes_on_first_use_and_finds_the_same(
    tmp_path: Path,
) -> None:
    root = write_library(tmp_path / "library", minimal_signature())
    cache = tmp_path / "cache"
    cold = _regexes(root, cache)
    assert all(regex.compiled for regex in cold)  # checked by RE2 before the entry is written
    warm = _regexes(root, cache)
    assert warm == cold and not any(regex.compiled for regex in warm)
    assert [r.groupindex for r in warm] == [r.groupindex for r in cold]
    assert _texts(root, cache) == [("demo-sig", "Peer edge1 failed with 7.", "Fix edge1.")]
    assert all(regex.compiled for regex in _regexes(root, None))  # no cache: compiled now


def test_a_regex_re2_refuses_is_refused_at_load_with_a_cache_too(tmp_path: Path) -> None:
    root = write_library(tmp_path / "library", minimal_signature())
    cache = tmp_path / "cache"
    load_library(root, cache_dir=cache)
    doc = minimal_signature()
    doc["match"]["patterns"][0]["regex"] = r"DEMO-FAIL code=(?P<code>\d+) peer=(?P<peer>\S+)\Z"
    write_library(root, doc)
    for _ in range(2):
        with pytest.raises(SignatureError, match="linear time"):
            load_library(root, cache_dir=cache)


def test_a_warm_start_imports_no_yaml_jinja_or_cryptography_until_a_text_renders(
    tmp_path: Path,
) -> None:
    root = write_library(tmp_path / "library", minimal_signature())
    cache = tmp_path / "cache"
    load_library(root, cache_dir=cache)  # the cold load fills the cache
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from app.signatures import load_library, scan_lines\n"
        f"library = load_library(Path({str(root)!r}), cache_dir=Path({str(cache)!r}))\n"
        "print(sorted({'yaml', 'jinja2', 'cryptography'} & set(sys.modules)))\n"
        "(found,) = scan_lines(library.signatures, ['x DEMO-FAIL code=7 peer=edge1'])\n"
        "print(found.description, 'jinja2' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.splitlines() == ["[]", "Peer edge1 failed with 7. True"]


def test_a_warm_start_parses_no_pattern_for_its_required_pieces(tmp_path: Path) -> None:
    # the scan's threads read each regex's required pieces (app.signatures.required) on its
    # first candidate line: a warm start takes them from the entry, they are not parsed again
    root = write_library(tmp_path / "library", minimal_signature())
    cache = tmp_path / "cache"
    library = load_library(root, cache_dir=cache)  # the cold load fills the cache
    (pattern,) = [p.regex.pattern for s in library.signatures for p in s.patterns]
    script = (
        "import re._parser as parser\n"
        "from pathlib import Path\n"
        "parsed = []\n"
        "parse = parser.parse\n"
        "parser.parse = lambda text, *rest: parsed.append(text) or parse(text, *rest)\n"
        "from app.signatures import load_library, scan_lines\n"
        "from app.signatures.required import required_literals\n"
        f"library = load_library(Path({str(root)!r}), cache_dir=Path({str(cache)!r}))\n"
        "(found,) = scan_lines(library.signatures, ['x DEMO-FAIL code=7 peer=edge1'])\n"
        "assert not scan_lines(library.signatures, ['x DEMO-FAIL code=7'])\n"
        f"print(found.description, {pattern!r} in parsed, required_literals({pattern!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    pieces = required_literals(pattern)
    assert pieces  # the test means something: the pattern has pieces to find
    assert done.stdout.strip() == f"Peer edge1 failed with 7. False {pieces!r}"


def test_an_entry_with_pieces_of_the_wrong_shape_is_a_miss(tmp_path: Path) -> None:
    root = write_library(tmp_path / "library", minimal_signature())
    cache_dir = tmp_path / "cache"
    load_library(root, cache_dir=cache_dir)
    (entry,) = cache_dir.glob("library-*.marshal")
    key = entry.name.removeprefix("library-").removesuffix(".marshal")
    assert library_cache.read(cache_dir, key) is not None
    data = marshal.loads(entry.read_bytes())
    content = marshal.loads(data["payload"])
    for pieces in ({"DEMO": "not a tuple"}, {"DEMO": (7,)}, ["DEMO"], None):
        content["pieces"] = pieces
        data["payload"] = marshal.dumps(content)
        data["digest"] = hashlib.sha256(data["payload"]).digest()  # whole, but not of our shape
        entry.write_bytes(marshal.dumps(data))
        assert library_cache.read(cache_dir, key) is None


def _count_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each signature file the loader builds and checks from its parsed YAML."""
    built: list[str] = []
    real = loader.load_document

    def spy(data: Any, path: Path, **kwargs: Any) -> Any:
        built.append(path.name)
        return real(data, path, **kwargs)

    monkeypatch.setattr(loader, "load_document", spy)
    return built


def _deprecated_too(root: Path) -> Path:
    old = minimal_signature("old-sig", status="deprecated")
    old["match"]["contains"] = ["OLD-FAIL"]
    old["match"]["patterns"] = [{"regex": r"OLD-FAIL code=(?P<code>\d+) peer=(?P<peer>\S+)"}]
    old["examples"] = [
        {"name": "hit", "line": "x OLD-FAIL code=7 peer=a", "expect": {"code": 7}},
        {"name": "miss", "line": "x OLD-FAIL nothing", "expect": "no_match"},
    ]
    return write_library(root, minimal_signature(), old)


def test_a_warm_load_builds_no_signature_again_and_gives_the_same_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _deprecated_too(tmp_path / "library")
    cache = tmp_path / "cache"
    built = _count_builds(monkeypatch)
    cold = load_library(root, cache_dir=cache, include_deprecated=True)
    assert sorted(built) == ["demo-sig.yaml", "old-sig.yaml"]
    assert len(list(cache.glob("library-*.built"))) == 1
    built.clear()
    warm = load_library(root, cache_dir=cache, include_deprecated=True)
    assert built == []  # read whole from the entry
    assert warm.signatures == cold.signatures and warm.version == cold.version
    assert [s.id for s in load_library(root, cache_dir=cache).signatures] == ["demo-sig"]
    assert built == []
    assert not any(p.regex.compiled for s in warm.signatures for p in s.patterns)
    assert _texts(root, cache) == [("demo-sig", "Peer edge1 failed with 7.", "Fix edge1.")]
    assert built == []


def _built_once(tmp_path: Path) -> tuple[Path, Path, Any, Path]:
    """A one-signature library loaded once: its root, the cache, the library, the built entry."""
    root = write_library(tmp_path / "library", minimal_signature())
    cache = tmp_path / "cache"
    cold = load_library(root, cache_dir=cache)
    (entry,) = cache.glob("library-*.built")
    return root, cache, cold, entry


def test_a_built_entry_damaged_on_disk_is_a_miss_and_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cache, cold, entry = _built_once(tmp_path)
    raw = bytearray(entry.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # a bit flipped in the pickled signatures
    entry.write_bytes(bytes(raw))
    built = _count_builds(monkeypatch)
    assert load_library(root, cache_dir=cache).signatures == cold.signatures
    assert built == ["demo-sig.yaml"]  # built from the parsed YAML again
    built.clear()
    assert load_library(root, cache_dir=cache).signatures == cold.signatures
    assert built == []  # the entry was written again, whole


def test_a_built_entry_that_holds_no_signatures_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cache, cold, entry = _built_once(tmp_path)
    payload = pickle.dumps({"root": str(root.resolve()), "signatures": ["not a signature"]})
    entry.write_bytes(library_cache.sealed(built_cache.FORMAT, payload))  # a digest that fits
    built = _count_builds(monkeypatch)
    assert load_library(root, cache_dir=cache).signatures == cold.signatures
    assert built == ["demo-sig.yaml"]


def test_a_library_copied_elsewhere_is_built_again_with_its_own_fixtures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # analyzer examples name their fixture files by absolute path: a built entry is only for
    # the directory it was built from, and only while those files are there
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(LIBRARY_DIR, first)
    shutil.copytree(LIBRARY_DIR, second)
    cache = tmp_path / "cache"
    load_library(first, cache_dir=cache)
    built = _count_builds(monkeypatch)
    library = load_library(second, cache_dir=cache)
    assert built  # same files, same key: built again for this directory
    fixtures = [f for s in library.signatures for e in s.examples for f in e.fixtures]
    assert fixtures and all(Path(f).is_relative_to(second.resolve()) for f in fixtures)
    built.clear()
    load_library(second, cache_dir=cache)
    assert built == []
    Path(fixtures[0]).unlink()  # a fixture gone: checked again, and refused
    with pytest.raises(SignatureError, match="fixture"):
        load_library(second, cache_dir=cache)
