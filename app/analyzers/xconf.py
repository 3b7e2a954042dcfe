"""A node's configuration as its xconf dumps show it: read once, in text and XML form alike.

The diagnostic bundle holds `xconf_dump_<host>_<ts>.txt` and `.xml` (Admin Guide X15.5,
"Diagnostics and Troubleshooting"). Both are read with app.bundle.identity.dumps (linear in their
size, bounded lines and values) into `Setting`s: the configuration item a value belongs to
(`Zones Zone 6`), its key inside that item with the words joined (text
`TraversalClient SIP TLS Verify Subject Name` and XML `<TraversalClient><SIP><TLS><Verify>
<SubjectName>` both give `traversalclientsiptlsverifysubjectname`), the value, and where it is
written (file name + 1-based line, the log viewer's numbering: only LF ends a line, a CRLF line
loses its CR). A finding built from a setting points at that line.

When a node has both forms, a value is kept once per form: checks report each problem once and
show the line of every form that holds it as evidence.

At most `MAX_BYTES` and `MAX_SETTINGS` settings of each dump and `MAX_FILES` dumps per node are
read; a longer dump is read up to there and a warning says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.bundle.identity.dumps import DumpEntry, dump_entries
from app.report import BundleFile, FileKind, NodeInfo, Snippet

MAX_BYTES = 4 * 2**20
"""Bytes of one xconf dump that are read (real dumps are well under 1 MB)."""
MAX_SETTINGS = 50_000
"""Settings kept from one dump (a real one has a few thousand)."""
MAX_FILES = 2
"""xconf dumps read per node (a bundle has two: text and XML)."""
_ROOTS = frozenset({"xconfiguration", "configuration"})


@dataclass(frozen=True, slots=True)
class Setting:
    """One configured value and where the dump writes it.

    `path` is the path as written (without the xConfiguration root) with the item numbers that
    tell items apart (`Zones Zone 6 ...`); `key` the words after the item the setting was taken
    from, lower case and joined (`traversalclientpeeraddress`), or after the root.
    """

    path: tuple[str, ...]
    key: str
    value: str
    file: str  # BundleFile.name
    line: int  # 1-based
    shown: str  # `Zones Zone 6 TraversalClient Peer 1 Address: "expe.example.com"`

    def snippet(self) -> Snippet:
        """The evidence: the line the log viewer opens at, the setting as the text form says it."""
        if self.file.lower().endswith(".xml"):
            return Snippet(file=self.file, line=self.line, text=f"{self.shown} (XML form)")
        return Snippet(file=self.file, line=self.line, text=f"*c xConfiguration {self.shown}")

    def under(self, names: tuple[str, ...]) -> tuple[str, Setting] | None:
        """(item number, this setting keyed inside the item) when it belongs to an item `names`.

        `names` are lower-case words (`("zones", "zone")`); the number is the token after the
        last of them, "1" when the dump wrote none (an XML dump with a single item).
        """
        position = 0
        index = 0
        tokens = self.path
        while position < len(names):
            while index < len(tokens) and tokens[index].isdigit():
                index += 1
            if index >= len(tokens) or tokens[index].lower() != names[position]:
                return None
            index += 1
            position += 1
        number = "1"
        if index < len(tokens) and tokens[index].isdigit():
            number = tokens[index]
            index += 1
        rest = tokens[index:]
        key = _key(rest)
        if not key:
            return None
        return number, replace(self, key=key)


@dataclass(slots=True)
class NodeConfig:
    """The settings of one node's xconf dumps, in file order (text form first)."""

    bundle: str
    label: str  # the node's hostname, else its upload name (what findings call `node`)
    files: list[str] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)

    def items(self, *names: str) -> dict[str, list[Setting]]:
        """Settings grouped by item number under `names` (`items("zones", "zone")` → zones)."""
        wanted = tuple(name.lower() for name in names)
        groups: dict[str, list[Setting]] = {}
        for setting in self.settings:
            found = setting.under(wanted)
            if found is not None:
                groups.setdefault(found[0], []).append(found[1])
        return groups


@dataclass(slots=True)
class ConfigScan:
    nodes: list[NodeConfig]
    warnings: list[str]


def _key(tokens: Sequence[str]) -> str:
    return "".join(token.lower() for token in tokens if not token.isdigit())


def _without_root(path: tuple[str, ...]) -> tuple[str, ...]:
    return path[1:] if path and path[0].lower() in _ROOTS else path


def _informative(entries: list[DumpEntry]) -> list[tuple[str, ...]]:
    """The XML paths without the item numbers that tell nothing apart.

    The XML form numbers every element (`<Zones item="1"><Zone item="6">…<Address
    item="1">`); a number is kept where the same element under the same parent has several
    (zones, peers), so that both forms read `Zones Zone 6 … Address`.
    """
    seen: dict[tuple[str, ...], set[str]] = {}
    paths = [_without_root(entry.path) for entry in entries]
    for path in paths:
        for index in range(1, len(path)):
            if path[index].isdigit() and not path[index - 1].isdigit():
                seen.setdefault(path[:index], set()).add(path[index])
    result = []
    for path in paths:
        kept = [
            token
            for index, token in enumerate(path)
            if not (token.isdigit() and index > 0 and seen.get(path[:index]) == {"1"})
        ]
        result.append(tuple(kept))
    return result


def read_settings(path: Path, name: str, warnings: list[str]) -> list[Setting]:
    """The settings of one dump file (at most MAX_BYTES of it)."""
    with path.open("rb") as stream:
        data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        data = data[:MAX_BYTES]
        warnings.append(
            f"{name}: only the first {MAX_BYTES // 2**20} MiB of this configuration dump "
            "were read for the configuration checks"
        )
    text = data.decode("utf-8", errors="replace")
    del data
    entries: list[DumpEntry] = []
    for entry in dump_entries(text):
        if entry.path and entry.path[-1].startswith("@"):
            continue  # the XML root's product / version attributes
        if len(entries) >= MAX_SETTINGS:
            warnings.append(
                f"{name}: only the first {MAX_SETTINGS:,} settings of this configuration dump "
                "were read for the configuration checks"
            )
            break
        entries.append(entry)
    if text.lstrip()[:1] == "<":
        paths = _informative(entries)
    else:
        paths = [_without_root(entry.path) for entry in entries]
    settings = []
    for entry, tokens in zip(entries, paths, strict=True):
        key = _key(tokens)
        if key:
            shown = f'{" ".join(tokens)}: "{entry.value}"'
            settings.append(Setting(tokens, key, entry.value, name, entry.line, shown))
    return settings


def _order(file: BundleFile) -> tuple[int, str]:
    return (0 if file.name.lower().endswith(".txt") else 1, file.name)


def scan_config(files: Sequence[BundleFile], nodes: Mapping[str, NodeInfo]) -> ConfigScan:
    """Every xconf dump of `files`, per node (`nodes` maps BundleFile.bundle → NodeInfo)."""
    warnings: list[str] = []
    by_bundle: dict[str, list[BundleFile]] = {}
    for file in files:
        if file.kind == FileKind.XCONF:
            by_bundle.setdefault(file.bundle, []).append(file)
    result = []
    for bundle, dumps in by_bundle.items():
        info = nodes.get(bundle)
        node = NodeConfig(bundle, info.hostname if info and info.hostname else bundle)
        for file in sorted(dumps, key=_order)[:MAX_FILES]:
            try:
                node.settings.extend(read_settings(file.path, file.name, warnings))
            except OSError as exc:
                warnings.append(f"{file.name}: could not be read ({type(exc).__name__})")
                continue
            node.files.append(file.name)
        result.append(node)
    return ConfigScan(result, warnings)


def _dump_host(path: Path) -> str | None:
    """`expc` from `xconf_dump_expc_2024-03-01_10_00_00.txt`, else None."""
    parts = path.name.split("_")
    if len(parts) > 3 and parts[0].lower() == "xconf" and parts[1].lower() == "dump":
        return parts[2]
    return None


def scan_config_paths(paths: Iterable[Path]) -> ConfigScan:
    """Loose xconf files (signature examples, ad-hoc checks): one node, or one node per host
    when their names (`xconf_dump_<host>_<time>`) name several hosts (an Expressway-C and
    its Expressway-E)."""
    listed = list(paths)
    hosts = {_dump_host(path) for path in listed}
    several = len(hosts) > 1 and None not in hosts
    files = [
        BundleFile(
            path,
            path.name,
            path.stat().st_size,
            FileKind.XCONF,
            (_dump_host(path) or "example") if several else "example",
        )
        for path in listed
    ]
    return scan_config(files, {})
