"""Remember a library's built signatures between processes, next to its app.signatures.cache entry.

On a hit of the parsed-files entry the loader still built and checked every signature from the
cached YAML: ~0.1 s of `loupe analyze`'s start-up for the 773-signature bench library, on the
one core the start-up runs on, before the first block can be scanned. This entry holds the
signatures as that load built them (every signature, deprecated ones too, in library order),
pickled, under the same key as the parsed-files entry: the library's exact files, the loader's
own code and the versions of Python, PyYAML, Jinja and RE2 (cache.entry_key), and it holds
the directory it was loaded from: analyzer examples name their fixture files by absolute path,
so a copy of the library elsewhere, or one whose fixture files are gone, is a miss. It is
written only after a load that passed every check, so a hit means the same signatures would
be built and pass again.

Two things are not pickled as they are:
- a regex is kept as its pattern and named groups (app.parsing.linear_regex.deferred_linear):
  RE2 compiles it on its first match, as on a parsed-files hit;
- the texts are kept as their template sources and compiled again when read
  (render.compile_text: the parsed-files entry's template code, no Jinja compilation).

Like the parsed-files entry (whose template code runs when a finding is rendered) this is
executable data from the data directory's cache: it is trusted as that directory is. An entry
is framed as that one is (cache.sealed: format and digest of its payload): one damaged on disk
is a miss. Anything unreadable, of
another format or not what the loader built is a miss; one that cannot be written is ignored.
"""

from __future__ import annotations

import copyreg
import dataclasses
import io
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.parsing.linear_regex import LinearRegex, deferred_linear
from app.signatures import model
from app.signatures.cache import KEEP_ENTRIES, sealed, unsealed, write_kept
from app.signatures.model import Signature, Texts
from app.signatures.render import TEXT_FIELDS, compile_text

FORMAT = 3  # 2: the library's directory is kept (examples' fixture paths); 3: cache.sealed


def read_built(cache_dir: Path, key: str, root: Path) -> list[Signature]:
    """The signatures stored for `key` by a load of the library at `root` (deprecated ones
    too); raises LookupError on a miss: no entry, damaged, another format, a library loaded
    from another directory (the fixtures of analyzer examples are absolute paths) or one whose
    fixture files are gone. The `refines` naming signatures of the packaged library are the
    loader's to check again (that library may have changed)."""
    payload = unsealed(cache_dir / f"library-{key}.built", FORMAT)
    if payload is None:
        raise LookupError(key)
    try:
        content = pickle.loads(payload)  # noqa: S301  (our own cache, digest checked: see above)
        signatures, loaded_from = content["signatures"], content["root"]
    except Exception as exc:  # any damage that passed the digest: a miss, never an error
        raise LookupError(key) from exc
    if not isinstance(signatures, list) or not all(isinstance(s, Signature) for s in signatures):
        raise LookupError(key)
    if loaded_from != str(root.resolve()):
        raise LookupError(key)
    fixtures = (Path(f) for s in signatures for example in s.examples for f in example.fixtures)
    if not all(fixture.is_file() for fixture in fixtures):
        raise LookupError(key)
    return signatures


def write_built(cache_dir: Path, key: str, root: Path, signatures: Sequence[Signature]) -> None:
    """Store what a checked load of the library at `root` built for `key`; errors are ignored
    (a miss next time)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    for kind in _FIELDED:
        pickler.dispatch_table[kind] = _by_fields
    pickler.dispatch_table[LinearRegex] = _deferred
    pickler.dispatch_table[Texts] = _sources
    try:
        pickler.dump({"root": str(root.resolve()), "signatures": list(signatures)})
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return
    blob = sealed(FORMAT, buffer.getvalue())
    write_kept(cache_dir, f"library-{key}.built", blob, "library-*.built", KEEP_ENTRIES)


_FIELDED = tuple(
    kind
    for kind in vars(model).values()
    if isinstance(kind, type) and dataclasses.is_dataclass(kind) and hasattr(kind, "__slots__")
)
"""The signature model's slotted dataclasses: pickled as their field values in slot order (a
dataclass' own __setstate__ looks its fields up again for every object: 30 of the 60 ms a
773-signature entry took to read)."""


def _by_fields(item: Any) -> tuple[Any, tuple[type, tuple[Any, ...]]]:
    kind = type(item)
    return _filled, (kind, tuple(getattr(item, name) for name in _slots(kind)))


def _filled(kind: type, values: tuple[Any, ...]) -> Any:
    """An object of the slotted dataclass `kind` with its slots set to `values`, in order
    (each slot's member descriptor sets it: no attribute lookup by name per field)."""
    setters = _SETTERS.get(kind)
    if setters is None:
        setters = _SETTERS[kind] = tuple(getattr(kind, name).__set__ for name in _slots(kind))
    item: Any = object.__new__(kind)
    for setter, value in zip(setters, values, strict=True):
        setter(item, value)
    return item


_SETTERS: dict[type, tuple[Any, ...]] = {}  # the slots' setters of each kind, in slot order


def _slots(kind: type) -> tuple[str, ...]:
    slots: tuple[str, ...] = kind.__slots__  # type: ignore[attr-defined]
    return slots


def _deferred(regex: LinearRegex) -> tuple[Any, tuple[str, dict[str, int]]]:
    return deferred_linear, (regex.pattern, dict(regex.groupindex))


def _sources(texts: Texts) -> tuple[Any, tuple[str, ...]]:
    return texts_from_sources, tuple(getattr(texts, name) for name in TEXT_FIELDS)


def texts_from_sources(*texts: str) -> Texts:
    """Texts of these sources (in TEXT_FIELDS order) whose templates compile as the loader's
    did (they compiled when it built them)."""
    sources = dict(zip(TEXT_FIELDS, texts, strict=True))
    return Texts(**sources, compiled={name: compile_text(text) for name, text in sources.items()})
