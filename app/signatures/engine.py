"""Run signatures over log files: block reading, literal prefilter, regex on hit lines, grouping.

Files are read in binary, line-aligned blocks (~4 MB, cut at the last newline). A pluggable
Matcher finds candidate (signature, offset) pairs in a block; only those lines are decoded and
run through the signature's Python regexes. Python never loops over every line.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol

from app.parsing.expressway import is_continuation, timestamp_of
from app.report import SEVERITY_ORDER, BundleFile, FileKind, Finding, NodeInfo, Snippet
from app.signatures.model import Signature
from app.signatures.render import TEXT_FIELDS, render_text, text_context
from app.signatures.versions import in_range

BLOCK_SIZE = 4 * 1024 * 1024
MAX_SNIPPETS = 5
_MAX_HEADER_WALK = 5000
VERSION_UNKNOWN_NOTE = (
    "The software version of this node could not be determined, so this finding is shown "
    "although the problem may not apply to it."
)


class Matcher(Protocol):
    """Finds candidate lines in a block; the engine confirms them with the Python regexes.

    Built for one ordered list of signatures. `scan(block)` yields `(index, offset)` pairs where
    `index` is a position in that list and `offset` any byte offset inside the line that holds
    the candidate (a literal's start or a match's exclusive end both work). Extra or duplicate
    candidates are harmless (the regex decides); a missed candidate is a missed finding.
    `block` holds whole lines: it ends with b"\\n" except possibly at the end of a file.
    """

    def scan(self, block: bytes) -> Iterable[tuple[int, int]]: ...


MatcherFactory = Callable[[Sequence[Signature]], Matcher]


class LiteralMatcher:
    """Reference matcher: every `contains` literal of every signature, found with bytes.find."""

    def __init__(self, signatures: Sequence[Signature]) -> None:
        self._needles = [
            (index, literal.encode("utf-8"))
            for index, signature in enumerate(signatures)
            for literal in signature.contains
        ]

    def scan(self, block: bytes) -> Iterator[tuple[int, int]]:
        find = block.find
        for index, needle in self._needles:
            pos = find(needle)
            while pos != -1:
                yield index, pos
                line_end = find(b"\n", pos)
                if line_end == -1:
                    break
                pos = find(needle, line_end + 1)


def iter_blocks(
    stream: BinaryIO, block_size: int, progress: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """Yield line-aligned blocks; a line longer than a block is kept whole."""
    carry = b""
    while True:
        chunk = stream.read(block_size)
        if not chunk:
            if carry:
                yield carry
            return
        if progress is not None:
            progress(len(chunk))
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n")
        if cut == -1:
            carry = data
            continue
        carry = data[cut + 1 :]
        yield data[: cut + 1]


def extract_facts(signature: Signature, line: str) -> dict[str, Any] | None:
    """Facts of a line if one of the signature's patterns matches it, else None.

    Pattern constants come first; a required fact whose group did not take part rejects the line.
    """
    for pattern in signature.patterns:
        match = pattern.regex.search(line)
        if match:
            break
    else:
        return None
    groups = match.groupdict()
    facts: dict[str, Any] = dict(pattern.facts)
    for rule in signature.facts:
        if rule.name in facts:
            continue
        raw = groups.get(rule.source_group)
        value: Any = raw.strip() if raw is not None else None
        if value is not None:
            mapped = next((m.then for m in rule.value_map if m.test.search(value)), None)
            if mapped is not None:
                value = mapped
            elif rule.type == "int":
                value = int(value) if value.lstrip("-").isdigit() else None
        if value is None:
            if rule.optional:
                continue
            return None
        facts[rule.name] = value
    return facts


@dataclass(slots=True)
class _Group:
    """A finding being accumulated."""

    signature: Signature
    node: str | None
    facts: dict[str, Any]
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    snippets: list[Snippet] = field(default_factory=list)
    kept_hits: int = 0
    snippet_keys: set[tuple[str, int]] = field(default_factory=set)

    def add_snippet(self, snippet: Snippet) -> None:
        key = (snippet.file, snippet.line)
        if key not in self.snippet_keys:
            self.snippet_keys.add(key)
            self.snippets.append(snippet)


class Aggregator:
    """Groups hits into findings by the signature's group_by: count, first/last seen, snippets."""

    def __init__(self) -> None:
        self._groups: dict[tuple[Any, ...], _Group] = {}

    def add(
        self,
        signature: Signature,
        node: str | None,
        facts: dict[str, Any],
        when: datetime | None,
        snippet: Snippet,
    ) -> _Group | None:
        """Count one hit; return its group when the snippet was kept (follow lines attach to it)."""
        values = tuple(node if key == "node" else facts.get(key) for key in signature.group_by)
        key = (signature.id, *values)
        group = self._groups.get(key)
        if group is None:
            group_node = node if "node" in signature.group_by else None
            group = self._groups[key] = _Group(signature, group_node, dict(facts))
        group.count += 1
        if when is not None:
            if group.first is None or when < group.first:
                group.first = when
            if group.last is None or when > group.last:
                group.last = when
        if group.kept_hits >= MAX_SNIPPETS:
            return None
        group.kept_hits += 1
        group.add_snippet(snippet)
        return group

    def findings(self) -> list[Finding]:
        """Rendered findings sorted by severity, then signature id, then node."""
        found = [_render(group) for group in self._groups.values()]
        found.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.signature_id, f.node or ""))
        return found


def _render(group: _Group) -> Finding:
    signature = group.signature
    first = group.first.astimezone(UTC).isoformat() if group.first else None
    last = group.last.astimezone(UTC).isoformat() if group.last else None
    context = text_context(
        group.facts,
        node=group.node,
        bug_ids=signature.bug_ids,
        signature_id=signature.id,
        title=signature.title,
        count=group.count,
        first_seen=first,
        last_seen=last,
    )
    texts = {name: render_text(signature.text.compiled[name], context) for name in TEXT_FIELDS}
    if group.facts.get("version_unknown"):
        texts["condition"] = f"{texts['condition']}\n\n{VERSION_UNKNOWN_NOTE}".strip()
    return Finding(
        signature_id=signature.id,
        title=signature.title,
        severity=signature.severity,
        bug_ids=list(signature.bug_ids),
        node=group.node,
        description=texts["description"],
        condition=texts["condition"],
        further_info=texts["further_info"],
        action=texts["action"],
        facts=dict(group.facts),
        snippets=list(group.snippets),
        count=group.count,
        first_seen=first,
        last_seen=last,
    )


@dataclass(slots=True)
class _PendingFollow:
    group: _Group
    signature: Signature
    next_line: int  # 1-based number of the next line to look at
    remaining: int
    needles: tuple[str, ...] = ()  # values the follow line must contain (same_facts)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


class FileScan:
    """Scans one file's blocks for a fixed list of signatures and feeds an Aggregator."""

    def __init__(
        self,
        file_name: str,
        signatures: Sequence[Signature],
        matcher: Matcher,
        aggregator: Aggregator,
        *,
        node: str | None = None,
        extra_facts: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.file_name = file_name
        self.signatures = signatures
        self.matcher = matcher
        self.aggregator = aggregator
        self.node = node
        self.extra_facts = extra_facts or [{} for _ in signatures]
        self.lines_before = 0  # newlines in the blocks already scanned
        self.last_header: tuple[int, str] | None = None  # last header line of previous blocks
        self.pending: list[_PendingFollow] = []

    def feed(self, block: bytes) -> None:
        """Scan one line-aligned block."""
        if self.pending:
            self._continue_follows(block)
        candidates: dict[int, set[int]] = {}
        for index, offset in self.matcher.scan(block):
            start = block.rfind(b"\n", 0, offset) + 1
            candidates.setdefault(start, set()).add(index)
        newlines = self.lines_before
        previous = 0
        for start in sorted(candidates):
            newlines += block.count(b"\n", previous, start)
            previous = start
            end = block.find(b"\n", start)
            if end == -1:
                end = len(block)
            text = _decode(block[start:end])
            for index in sorted(candidates[start]):
                self._hit(block, index, newlines + 1, start, end, text)
        self.last_header = self._header_before(block, len(block), len(block), self.lines_before)
        self.lines_before += block.count(b"\n")

    def _hit(self, block: bytes, index: int, line_no: int, start: int, end: int, text: str) -> None:
        signature = self.signatures[index]
        facts = extract_facts(signature, text)
        if facts is None:
            return
        facts.update(self.extra_facts[index])
        header = None
        if is_continuation(text):
            header = self._header_before(block, start, line_no, self.lines_before)
        if header is None:
            snippet = Snippet(self.file_name, line_no, text)
            when = timestamp_of(text)
        else:
            gap = "\n" if header[0] == line_no - 1 else "\n…\n"
            snippet = Snippet(self.file_name, header[0], f"{header[1]}{gap}{text}")
            when = timestamp_of(header[1])
        group = self.aggregator.add(signature, self.node, facts, when, snippet)
        if group is not None and signature.follow is not None:
            needles = tuple(str(facts[n]) for n in signature.follow.same_facts if n in facts)
            follow = _PendingFollow(
                group, signature, line_no + 1, signature.follow.within_lines, needles
            )
            self._follow(block, end + 1, follow)

    def _follow(self, block: bytes, pos: int, follow: _PendingFollow) -> None:
        assert follow.signature.follow is not None
        regex = follow.signature.follow.regex
        while follow.remaining > 0:
            if pos >= len(block):
                self.pending.append(follow)
                return
            end = block.find(b"\n", pos)
            if end == -1:
                end = len(block)
            text = _decode(block[pos:end])
            if regex.search(text) and all(needle in text for needle in follow.needles):
                follow.group.add_snippet(Snippet(self.file_name, follow.next_line, text))
            follow.next_line += 1
            follow.remaining -= 1
            pos = end + 1

    def _continue_follows(self, block: bytes) -> None:
        pending, self.pending = self.pending, []
        for follow in pending:
            self._follow(block, 0, follow)

    def _header_before(
        self, block: bytes, start: int, line_no: int, lines_before: int
    ) -> tuple[int, str] | None:
        """The nearest non-continuation line above the line starting at `start`."""
        pos = start
        steps = 0
        while pos > 0 and steps < _MAX_HEADER_WALK:
            steps += 1
            line_start = block.rfind(b"\n", 0, pos - 1) + 1
            text = _decode(block[line_start : pos - 1])
            if not is_continuation(text):
                return lines_before + block.count(b"\n", 0, line_start) + 1, text
            pos = line_start
        return self.last_header if pos == 0 else None


def scan_stream(
    stream: BinaryIO,
    scan: FileScan,
    *,
    block_size: int = BLOCK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Feed every block of `stream` to `scan`."""
    for block in iter_blocks(stream, block_size, progress):
        scan.feed(block)


def version_state(signature: Signature, node: NodeInfo | None) -> str:
    """'skip' when the node is known to be outside applies_to, 'unknown' or 'ok' otherwise."""
    applies = signature.applies_to
    known_product = node.product if node is not None else None
    if known_product and applies.products and known_product not in applies.products:
        return "skip"
    if applies.min_version is None and applies.max_version is None:
        return "ok"
    if node is None or not node.version:
        return "unknown"
    inside = in_range(node.version, applies.min_version, applies.max_version)
    if inside is None:
        return "unknown"
    return "ok" if inside else "skip"


def signatures_for_kind(
    signatures: Sequence[Signature], kind: FileKind, sources: Mapping[str, frozenset[FileKind]]
) -> list[Signature]:
    """Signatures whose logical source includes files of `kind`."""
    return [s for s in signatures if kind in sources.get(s.source, frozenset())]


def run_signatures(
    signatures: Sequence[Signature],
    files: Sequence[BundleFile],
    nodes: Mapping[str, NodeInfo],
    *,
    sources: Mapping[str, frozenset[FileKind]],
    progress: Callable[[int], None] | None = None,
    block_size: int = BLOCK_SIZE,
    matcher_factory: MatcherFactory = LiteralMatcher,
) -> list[Finding]:
    """Scan every file with the signatures that apply to its kind and node; return findings."""
    aggregator = Aggregator()
    matchers: dict[tuple[str, ...], Matcher] = {}
    for file in files:
        node = nodes.get(file.bundle)
        chosen: list[Signature] = []
        extras: list[Mapping[str, Any]] = []
        for signature in signatures_for_kind(signatures, file.kind, sources):
            state = version_state(signature, node)
            if state != "skip":
                chosen.append(signature)
                extras.append({"version_unknown": True} if state == "unknown" else {})
        if not chosen:
            if progress is not None:
                progress(file.size)
            continue
        key = tuple(signature.id for signature in chosen)
        if key not in matchers:
            matchers[key] = matcher_factory(chosen)
        scan = FileScan(
            file.name,
            chosen,
            matchers[key],
            aggregator,
            node=node.hostname if node is not None else None,
            extra_facts=extras,
        )
        with file.path.open("rb") as stream:
            scan_stream(stream, scan, block_size=block_size, progress=progress)
    return aggregator.findings()


def scan_lines(
    signatures: Sequence[Signature],
    lines: Iterable[str],
    *,
    file_name: str = "example.log",
    node: NodeInfo | None = None,
    block_size: int = BLOCK_SIZE,
    matcher_factory: MatcherFactory = LiteralMatcher,
) -> list[Finding]:
    """Run signatures over in-memory lines exactly as over a file (examples, tests, CLI)."""
    chosen = [s for s in signatures if version_state(s, node) != "skip"]
    extras = [
        {"version_unknown": True} if version_state(s, node) == "unknown" else {} for s in chosen
    ]
    aggregator = Aggregator()
    scan = FileScan(
        file_name,
        chosen,
        matcher_factory(chosen),
        aggregator,
        node=node.hostname if node is not None else None,
        extra_facts=extras,
    )
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    scan_stream(io.BytesIO(data), scan, block_size=block_size)
    return aggregator.findings()
