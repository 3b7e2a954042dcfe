"""Remember a library's parsed YAML and compiled text templates between processes.

Loading 300 signatures spends most of its time parsing YAML and compiling Jinja templates to
Python code (~0.35 s of ~0.5 s measured here), which `loupe analyze` pays on every run. A cache
entry holds, for one exact set of library files, what YAML gave for each file, the code
objects of every text template, the named groups of every regex RE2 compiled and the literal
pieces every match of each regex holds (app.signatures.required: reading them parses the
pattern, which the scan's threads otherwise did on each pattern's first candidate line, ~60 ms
of CPU for the 773-signature bench library): `marshal` data (plain values and code only, like
a `.pyc`). With it, app.signatures.built_cache keeps the signatures a checked load built, under
the same key: a hit of both builds nothing again. On a hit of this entry alone the loader builds
and checks every signature again from the cached data; only its costly checks are not
repeated: the prefilter counterexample search and the overlap of examples between signatures
(~0.35 s of a 300-signature load), and the RE2 compilation of each regex, which is deferred
to its first match (app.parsing.linear_regex.deferred_linear; ~0.05 s for 1300 regexes): an
entry is written only after a load passed all checks, and its name covers everything their
verdict depends on.
An entry holds a digest of its own contents, so one damaged on disk is a miss, never a
library that skipped its checks.

The entry's name is a digest of the files' paths and bytes, this package's signature code and
regex wrapper (its RE2 options), the Python version, PyYAML's and Jinja's `__init__.py` (their
versions) and the RE2 extension module; anything else is a miss.
Unreadable, corrupt or unwritable cache files are ignored (the library is then loaded the
slow way).
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import secrets
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import CodeType
from typing import Any

FORMAT = 4  # 2: the payload's digest is checked on read; 3: named groups of the regexes;
# 4: the regexes' required pieces
KEEP_ENTRIES = 8
_CODE_FILES = ("app/signatures", "app/bundle/sources.py", "app/parsing/linear_regex.py")
RegexGroups = dict[str, tuple[tuple[str, int], ...]]
"""Regex pattern → its named groups and their numbers, as RE2 compiled them."""
RegexPieces = dict[str, tuple[str, ...]]
"""Regex pattern → the literal pieces every match holds (app.signatures.required)."""


@lru_cache(maxsize=1)
def _code_digest() -> bytes:
    """What the loader's own code looks like: a changed validator invalidates every entry."""
    package = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for name in _CODE_FILES:
        path = package / name
        for source in sorted(path.glob("*.py")) if path.is_dir() else [path]:
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    return digest.digest()


def _package_build(name: str) -> str:
    """A digest of package `name`'s `__init__.py`, which holds its version: found, not
    imported (a cache hit parses no YAML and renders no template)."""
    try:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        return hashlib.sha256(Path(str(origin)).read_bytes()).hexdigest() if origin else "none"
    except (ImportError, OSError, ValueError):
        return "none"


@lru_cache(maxsize=1)
def _yaml_build() -> str:
    """Which PyYAML parsed the files (importing it costs ~10 ms)."""
    return "yaml:" + _package_build("yaml")


@lru_cache(maxsize=1)
def _jinja_build() -> str:
    """Which Jinja compiled the templates (importing it costs ~20 ms)."""
    return "jinja2:" + _package_build("jinja2")


@lru_cache(maxsize=1)
def _re2_build() -> str:
    """Which RE2 the regex checks ran with: its extension module's size and change time."""
    try:
        from re2 import _re2

        info = os.stat(str(_re2.__file__))
    except (ImportError, OSError, TypeError):
        return "no re2"
    return f"{info.st_size}:{info.st_mtime_ns}"


def entry_key(contents: Mapping[str, bytes]) -> str:
    """The cache key of a library whose files (relative path → bytes) are `contents`."""
    digest = hashlib.sha256()
    for part in (str(FORMAT), sys.version, _yaml_build(), _jinja_build(), _re2_build()):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(_code_digest())
    for name in sorted(contents):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(contents[name]).digest())
    return digest.hexdigest()[:32]


class Entry:
    """One library's parsed files (marshal bytes by relative name), template code by source,
    the named groups of every regex it compiled and their required pieces."""

    def __init__(
        self,
        files: dict[str, bytes] | None = None,
        templates: dict[str, CodeType] | None = None,
        regexes: RegexGroups | None = None,
        pieces: RegexPieces | None = None,
    ) -> None:
        self.files: dict[str, bytes] = files or {}
        self.templates: dict[str, CodeType] = templates or {}
        self.regexes: RegexGroups = regexes if regexes is not None else {}
        self.pieces: RegexPieces = pieces if pieces is not None else {}
        self.complete = True  # False once a file could not be stored

    def remember(self, name: str, document: Any) -> None:
        """Keep what YAML gave for file `name` (as it was before anything could change it)."""
        try:
            self.files[name] = marshal.dumps(document)
        except ValueError:  # a value marshal cannot hold (a YAML date, say): no entry at all
            self.complete = False

    def document(self, name: str) -> Any:
        """The parsed file `name`, or None when this entry does not hold it."""
        blob = self.files.get(name)
        if blob is None:
            return None
        try:
            return marshal.loads(blob)  # noqa: S302  (our own cache)
        except (EOFError, ValueError, TypeError):
            return None


def read(cache_dir: Path, key: str) -> Entry | None:
    """The entry for `key`, or None when it is missing or not readable."""
    payload = unsealed(cache_dir / f"library-{key}.marshal", FORMAT)
    if payload is None:
        return None
    try:
        content = marshal.loads(payload)  # noqa: S302  (our own cache, digest checked)
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(content, dict):
        return None
    files, templates = content.get("files"), content.get("templates")
    regexes, pieces = content.get("regexes"), content.get("pieces")
    if not isinstance(files, dict) or not isinstance(templates, dict):
        return None
    if not all(isinstance(code, CodeType) for code in templates.values()):
        return None
    if not isinstance(regexes, dict) or not all(map(_is_groups, regexes.values())):
        return None
    if not isinstance(pieces, dict) or not all(map(_is_pieces, pieces.items())):
        return None
    return Entry(files, templates, regexes, pieces)


def _is_groups(value: Any) -> bool:
    return isinstance(value, tuple) and all(
        isinstance(pair, tuple)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and isinstance(pair[1], int)
        for pair in value
    )


def _is_pieces(item: tuple[Any, Any]) -> bool:
    pattern, pieces = item
    return (
        isinstance(pattern, str)
        and isinstance(pieces, tuple)
        and all(isinstance(piece, str) for piece in pieces)
    )


def write(cache_dir: Path, key: str, entry: Entry) -> None:
    """Store `entry` atomically; keep the newest KEEP_ENTRIES entries. Errors are ignored."""
    if not entry.complete:
        return
    try:
        payload = marshal.dumps(
            {
                "files": entry.files,
                "templates": entry.templates,
                "regexes": entry.regexes,
                "pieces": entry.pieces,
            }
        )
    except ValueError:
        return
    blob = sealed(FORMAT, payload)
    write_kept(cache_dir, f"library-{key}.marshal", blob, "library-*.marshal", KEEP_ENTRIES)


def sealed(version: int, payload: bytes) -> bytes:
    """`payload` framed with its format `version` and its digest, as `unsealed` reads it back
    (this cache's entries: one damaged on disk is a miss, never a wrong library)."""
    digest = hashlib.sha256(payload).digest()
    return marshal.dumps({"format": version, "payload": payload, "digest": digest})


def unsealed(path: Path, version: int) -> bytes | None:
    """The payload `sealed` framed in the file at `path`; None when the file is missing or
    unreadable, of another format, or its payload no longer matches its digest."""
    try:
        data = marshal.loads(path.read_bytes())  # noqa: S302  (our own cache: see `sealed`)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("format") != version:
        return None
    payload = data.get("payload")
    if not isinstance(payload, bytes) or data.get("digest") != hashlib.sha256(payload).digest():
        return None
    return payload


def write_kept(directory: Path, name: str, blob: bytes, kind: str, keep: int) -> None:
    """Write `blob` as `directory/name` atomically, then keep only the newest `keep` files
    matching the glob `kind` (this cache's entries, matchers' stored databases). Errors are
    ignored: a cache that cannot be written is a cache miss next time."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f".{name}.{secrets.token_hex(4)}"
        partial.write_bytes(blob)
        os.replace(partial, directory / name)
        kept = sorted(directory.glob(kind), key=lambda path: path.stat().st_mtime)
        for old in kept[:-keep]:
            old.unlink(missing_ok=True)
    except OSError:
        return
