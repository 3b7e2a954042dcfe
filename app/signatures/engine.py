"""Run signatures over log files: block reading, literal prefilter, regex on hit lines, grouping.

Files are read in binary, line-aligned blocks (~4 MB, cut at the last newline). A pluggable
Matcher finds candidate (signature, offset) pairs in a block; only those lines are decoded and
run through the signature's Python regexes. Python never loops over every line.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol

from app.parsing.expressway import is_continuation, timestamp_of
from app.report import SEVERITY_ORDER, BundleFile, FileKind, Finding, NodeInfo, Snippet
from app.signatures.model import Signature
from app.signatures.render import render_finding
from app.signatures.versions import in_range

BLOCK_SIZE = 4 * 1024 * 1024
MAX_LINE_BYTES = 16 * 2**20
"""A line longer than this (no log has one) is scanned in pieces of about this size: memory stays
bounded whatever a file holds, at the price of a pattern split across two pieces (BlockFeeder)."""
MAX_SNIPPETS = 5
MAX_SNIPPET_CHARS = 4000
_MAX_HEADER_WALK = 5000
VERSION_UNKNOWN_NOTE = (
    "The software version of this node could not be determined, so this finding is shown "
    "although the problem may not apply to it."
)


class BlockObserver(Protocol):
    """Sees every block of one file as it is scanned, in file order (e.g. app.calls.extract).

    `feed(block, lines_before)` gets each line-aligned block and the number of newlines before
    it; `close()` is called once after the last block.
    """

    def feed(self, block: bytes, lines_before: int) -> None: ...

    def close(self) -> None: ...


Observe = Callable[[str, FileKind], BlockObserver | None]
"""Gives the observer of a file (its name and kind), or None."""


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


@dataclass(frozen=True, slots=True)
class Located:
    """The candidate lines of one block, and its newline count (see `locate`)."""

    lines: list[tuple[int, int, int, list[int]]]  # start, end, newlines before, signature indexes
    newlines: int


def locate(matcher: Matcher, block: bytes) -> Located:
    """Run the matcher over a block and find each candidate's line and line number.

    The costly part of a block's scan outside the matcher (counting its newlines for the line
    numbers) is here, so that it can run in the matcher's thread, next to the matcher call.
    """
    starts: dict[int, set[int]] = {}
    for index, offset in matcher.scan(block):
        starts.setdefault(block.rfind(b"\n", 0, offset) + 1, set()).add(index)
    lines = []
    newlines = 0
    previous = 0
    for start in sorted(starts):
        newlines += block.count(b"\n", previous, start)
        previous = start
        end = block.find(b"\n", start)
        lines.append((start, len(block) if end == -1 else end, newlines, sorted(starts[start])))
    return Located(lines, newlines + block.count(b"\n", previous))  # each byte counted once


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
    snippet_hits: list[int] = field(default_factory=list)  # kept-hit number of each snippet

    def add_snippet(self, snippet: Snippet, hit: int) -> None:
        key = (snippet.file, snippet.line)
        if key not in self.snippet_keys:
            self.snippet_keys.add(key)
            self.snippets.append(snippet)
            self.snippet_hits.append(hit)

    def see(self, when: datetime | None) -> None:
        if when is not None:
            if self.first is None or when < self.first:
                self.first = when
            if self.last is None or when > self.last:
                self.last = when


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
        group.see(when)
        if group.kept_hits >= MAX_SNIPPETS:
            return None
        group.kept_hits += 1
        group.add_snippet(snippet, group.kept_hits)
        return group

    def merge(self, other: Aggregator, node: NodeInfo | None) -> None:
        """Add the groups of a file scanned without its node, as if it had been scanned here.

        `other` must come from one file scanned with `node=None` and no version facts (see
        app.signatures.prescan); the node's hostname and version are applied now: signatures
        outside the node's applies_to are dropped, `version_unknown` is added where the
        version cannot be told, and only the snippets of the first MAX_SNIPPETS hits of each
        group (with their follow lines) are kept, exactly as a direct scan would.
        """
        hostname = node.hostname if node is not None else None
        for source in other._groups.values():
            signature = source.signature
            state = version_state(signature, node)
            if state == "skip":
                continue
            facts = dict(source.facts)
            if state == "unknown":
                facts["version_unknown"] = True
            values = tuple(
                hostname if key == "node" else facts.get(key) for key in signature.group_by
            )
            key = (signature.id, *values)
            group = self._groups.get(key)
            if group is None:
                group_node = hostname if "node" in signature.group_by else None
                group = self._groups[key] = _Group(signature, group_node, facts)
            group.count += source.count
            group.see(source.first)
            group.see(source.last)
            room = MAX_SNIPPETS - group.kept_hits
            if room <= 0:
                continue
            for snippet, hit in zip(source.snippets, source.snippet_hits, strict=True):
                if hit <= room:
                    group.add_snippet(snippet, group.kept_hits + hit)
            group.kept_hits += min(room, source.kept_hits)

    def findings(self) -> list[Finding]:
        """Rendered findings sorted by severity, then signature id, then node."""
        found = [_render(group) for group in self._groups.values()]
        found.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.signature_id, f.node or ""))
        return found


def _render(group: _Group) -> Finding:
    first = group.first.astimezone(UTC).isoformat() if group.first else None
    last = group.last.astimezone(UTC).isoformat() if group.last else None
    return render_finding(
        group.signature,
        group.facts,
        node=group.node,
        count=group.count,
        first_seen=first,
        last_seen=last,
        snippets=group.snippets,
        condition_note=VERSION_UNKNOWN_NOTE if group.facts.get("version_unknown") else "",
    )


@dataclass(slots=True)
class _PendingFollow:
    group: _Group
    signature: Signature
    next_line: int  # 1-based number of the next line to look at
    remaining: int
    needles: tuple[str, ...] = ()  # values the follow line must contain (same_facts)
    hit: int = 0  # the kept-hit number of the hit being followed


def clip(text: str) -> str:
    """A line as a snippet quotes it: at most MAX_SNIPPET_CHARS (the log viewer has it whole)."""
    if len(text) <= MAX_SNIPPET_CHARS:
        return text
    return f"{text[:MAX_SNIPPET_CHARS]} … [{len(text) - MAX_SNIPPET_CHARS} more characters]"


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
        observer: BlockObserver | None = None,
    ) -> None:
        self.file_name = file_name
        self.observer = observer
        self.signatures = signatures
        self.matcher = matcher
        self.aggregator = aggregator
        self.node = node
        self.extra_facts = extra_facts or [{} for _ in signatures]
        self.lines_before = 0  # newlines in the blocks already scanned
        self.last_header: tuple[int, str] | None = None  # last header line of previous blocks
        self.pending: list[_PendingFollow] = []

    def feed(self, block: bytes, located: Located | None = None) -> None:
        """Scan one line-aligned block; `located` is `locate(matcher, block)` if already done."""
        if self.pending:
            self._continue_follows(block)
        if located is None:
            located = locate(self.matcher, block)
        if self.observer is not None:
            self.observer.feed(block, self.lines_before)
        for start, end, newlines, indexes in located.lines:
            text = _decode(block[start:end])
            line_no = self.lines_before + newlines + 1
            for index in indexes:
                self._hit(block, index, line_no, start, end, text)
        self.lines_before += located.newlines
        self.last_header = self._header_before(block, len(block), self.lines_before + 1)

    def close(self) -> None:
        """The file has ended: tell the observer."""
        if self.observer is not None:
            self.observer.close()

    def _hit(self, block: bytes, index: int, line_no: int, start: int, end: int, text: str) -> None:
        signature = self.signatures[index]
        if not any(literal in text for literal in signature.contains):
            return  # a matcher may over-report; the literal prefilter is part of the contract
        facts = extract_facts(signature, text)
        if facts is None:
            return
        facts.update(self.extra_facts[index])
        header = None
        if is_continuation(text):
            header = self._header_before(block, start, line_no)
        if header is None:
            snippet = Snippet(self.file_name, line_no, clip(text))
            when = timestamp_of(text)
        else:
            gap = "\n" if header[0] == line_no - 1 else "\n…\n"
            snippet = Snippet(self.file_name, header[0], f"{clip(header[1])}{gap}{clip(text)}")
            when = timestamp_of(header[1])
        group = self.aggregator.add(signature, self.node, facts, when, snippet)
        if group is not None and signature.follow is not None:
            needles = tuple(str(facts[n]) for n in signature.follow.same_facts if n in facts)
            follow = _PendingFollow(
                group,
                signature,
                line_no + 1,
                signature.follow.within_lines,
                needles,
                group.kept_hits,
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
                snippet = Snippet(self.file_name, follow.next_line, clip(text))
                follow.group.add_snippet(snippet, follow.hit)
            follow.next_line += 1
            follow.remaining -= 1
            pos = end + 1

    def _continue_follows(self, block: bytes) -> None:
        pending, self.pending = self.pending, []
        for follow in pending:
            self._follow(block, 0, follow)

    def _header_before(self, block: bytes, start: int, line_no: int) -> tuple[int, str] | None:
        """The nearest non-continuation line above the line starting at `start` (number line_no).

        Only the lines walked over are counted, never the block up to them.
        """
        pos = start
        steps = 0
        while pos > 0 and steps < _MAX_HEADER_WALK:
            steps += 1
            line_start = block.rfind(b"\n", 0, pos - 1) + 1
            text = _decode(block[line_start : pos - 1])
            if not is_continuation(text):
                return line_no - block.count(b"\n", line_start, start), text
            pos = line_start
        return self.last_header if pos == 0 else None


def scan_stream(
    stream: BinaryIO,
    scan: FileScan,
    *,
    block_size: int = BLOCK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Feed all of `stream` to `scan`, in this thread."""
    feed_stream(stream, BlockFeeder(scan, None), block_size=block_size, progress=progress)


def feed_stream(
    stream: BinaryIO,
    feeder: BlockFeeder,
    *,
    block_size: int = BLOCK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Read `stream` in `block_size` pieces into `feeder` (which cuts them at line ends)."""
    while chunk := stream.read(block_size):
        if progress is not None:
            progress(len(chunk))
        feeder.write(chunk)
    feeder.close()


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
    """Signatures over lines whose logical source includes files of `kind` (not analyzers)."""
    return [
        s for s in signatures if s.analyzer is None and kind in sources.get(s.source, frozenset())
    ]


def default_matcher_factory() -> MatcherFactory:
    """Hyperscan where it is installed, the reference LiteralMatcher (with a warning) elsewhere."""
    from app.signatures.matchers import default_matcher_factory as best

    return best()[0]


class BlockFeeder:
    """Feeds one FileScan from arbitrary chunks: line-aligned blocks, matcher in a thread pool.

    `write(chunk)` takes any piece of the file (the unpacker's 1 MB copies) and `push(block)`
    a line-aligned block; each block's matcher call is submitted to `pool` (or run here
    without one), and blocks are confirmed here in file order with at most `window` blocks in
    flight. `close()` scans the last partial line and waits.
    """

    def __init__(
        self,
        scan: FileScan,
        pool: ThreadPoolExecutor | None,
        *,
        window: int = 3,
    ) -> None:
        self.scan = scan
        self.pool = pool
        self.window = window
        self._parts: list[bytes] = []
        self._parts_bytes = 0
        self._in_flight: deque[tuple[bytes, Future[Located]]] = deque()

    def write(self, chunk: bytes) -> None:
        """Take any piece of the file; whole lines go on, a partial last line waits.

        A chunk is passed on as it is when it ends a line (no copy); the line that straddles
        two chunks becomes a small block of its own.
        """
        if not chunk:
            return
        begin = 0
        if self._parts:
            first = chunk.find(b"\n")
            if first == -1:
                self._parts.append(chunk)  # a line longer than a chunk: keep it whole ...
                self._parts_bytes += len(chunk)
                if self._parts_bytes >= MAX_LINE_BYTES:  # ... up to a bound (memory)
                    self.push(b"".join(self._parts))
                    self._parts, self._parts_bytes = [], 0
                return
            self._parts.append(chunk[: first + 1])
            self.push(b"".join(self._parts))
            self._parts, self._parts_bytes = [], 0
            begin = first + 1
        last = chunk.rfind(b"\n") + 1
        if last > begin:
            self.push(chunk if begin == 0 and last == len(chunk) else chunk[begin:last])
        else:
            last = begin
        if last < len(chunk):
            self._parts.append(chunk[last:])
            self._parts_bytes = len(chunk) - last

    def push(self, block: bytes) -> None:
        """Queue one line-aligned block."""
        if self.pool is None:
            self.scan.feed(block)
            return
        self._in_flight.append((block, self.pool.submit(locate, self.scan.matcher, block)))
        while len(self._in_flight) >= self.window:
            self._confirm_oldest()

    def close(self) -> None:
        """Scan what is left and wait for every block."""
        if self._parts:
            self.push(b"".join(self._parts))
            self._parts, self._parts_bytes = [], 0
        while self._in_flight:
            self._confirm_oldest()

    def _confirm_oldest(self) -> None:
        block, found = self._in_flight.popleft()
        self.scan.feed(block, found.result())


@dataclass(frozen=True, slots=True)
class PreScanned:
    """A file already scanned while it was unpacked, without its node (see prescan.py)."""

    kind: FileKind
    aggregator: Aggregator


def run_signatures(
    signatures: Sequence[Signature],
    files: Sequence[BundleFile],
    nodes: Mapping[str, NodeInfo],
    *,
    sources: Mapping[str, frozenset[FileKind]],
    progress: Callable[[int], None] | None = None,
    block_size: int = BLOCK_SIZE,
    matcher_factory: MatcherFactory | None = None,
    jobs: int = 1,
    prescanned: Mapping[str, PreScanned] | None = None,
    observe: Observe | None = None,
) -> list[Finding]:
    """Scan every file with the signatures that apply to its kind and node; return findings.

    With `jobs` > 1 the matcher runs in that many threads over the blocks (Hyperscan releases
    the GIL) while this thread reads the files and confirms candidates in file order, so the
    findings are the same as with one job. At most 2 × jobs + 1 blocks are in flight.
    `prescanned` (file name → result) replaces the scan of files of the kind they were
    scanned as; their results are merged in file order. `observe` gives each file scanned
    here an observer of its blocks (files merged from `prescanned` were observed then).
    """
    factory = matcher_factory or default_matcher_factory()
    aggregator = Aggregator()
    matchers: dict[tuple[str, ...], Matcher] = {}
    ready = prescanned or {}
    pool = ThreadPoolExecutor(jobs, thread_name_prefix="signature-scan") if jobs > 1 else None
    try:
        for file in files:
            node = nodes.get(file.bundle)
            done = ready.get(file.name)
            if done is not None and done.kind == file.kind:
                aggregator.merge(done.aggregator, node)
                if progress is not None:
                    progress(file.size)
                continue
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
                matchers[key] = factory(chosen)
            scan = FileScan(
                file.name,
                chosen,
                matchers[key],
                aggregator,
                node=node.hostname if node is not None else None,
                extra_facts=extras,
                observer=observe(file.name, file.kind) if observe is not None else None,
            )
            with file.path.open("rb") as stream:
                feeder = BlockFeeder(scan, pool, window=2 * jobs + 1)
                feed_stream(stream, feeder, block_size=block_size, progress=progress)
            scan.close()
    finally:
        if pool is not None:
            pool.shutdown()
    return aggregator.findings()


def scan_lines(
    signatures: Sequence[Signature],
    lines: Iterable[str],
    *,
    file_name: str = "example.log",
    node: NodeInfo | None = None,
    block_size: int = BLOCK_SIZE,
    matcher_factory: MatcherFactory | None = None,
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
        (matcher_factory or default_matcher_factory())(chosen),
        aggregator,
        node=node.hostname if node is not None else None,
        extra_facts=extras,
    )
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    scan_stream(io.BytesIO(data), scan, block_size=block_size)
    return aggregator.findings()
