"""Run signatures over log files: block reading, literal prefilter, regex on hit lines, grouping.

Files are read in binary, line-aligned blocks (~4 MB, cut at the last newline). A pluggable
Matcher finds candidate (signature, offset) pairs in a block; only those lines are decoded and
run through the signature's regexes (RE2: time linear in the line, whatever it holds). Python
never loops over every line.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol

from app.bundle.detect import is_expressway_line
from app.bundle.stored import frames_ahead, is_compressed, open_stored
from app.native import loops
from app.parsing.expressway import (
    SyslogClock,
    as_logged,
    clock_near,
    infer_clock,
    is_continuation,
    split_prefix,
    timestamp_of,
)
from app.priority import lower_priority
from app.report import SEVERITY_ORDER, BundleFile, FileKind, Finding, NodeInfo, Snippet
from app.signatures.applicability import NOT_RUN, Applicability, applicability
from app.signatures.model import Signature
from app.signatures.newlines import Newlines
from app.signatures.output_bounds import OutputLimits
from app.signatures.render import render_finding
from app.signatures.required import RawGate, passes, raw_gate, required_literals

BLOCK_SIZE = 4 * 1024 * 1024
MAX_LINE_BYTES = 16 * 2**20
"""A line longer than this (no log has one) is scanned in pieces of about this size: memory stays
bounded whatever a file holds, at the price of a pattern split across two pieces (BlockFeeder).
The report warns about each file where that happened, naming the lines."""
MAX_CUT_LINES_NAMED = 5
MAX_SNIPPETS = 5
MAX_SNIPPET_CHARS = 4000
MAX_FINDING_SNIPPETS = 50
"""Snippets of one finding, follow lines included (5 hits × up to 50 follow lines otherwise)."""
MAX_FINDING_SNIPPET_CHARS = 32_000
"""Characters of all the snippets of one finding; further snippets are not kept."""
MAX_FACT_CHARS = 1000
"""A fact taken from a line is cut here (with "…"): it is grouped on, stored and shown."""
CUT_MARK = "…"
DEFAULT_MAX_GROUPS = OutputLimits().max_groups
_MAX_HEADER_WALK = 5000
MAX_UNDATED = 10_000
"""Hits with a BSD timestamp (no year) kept per file until a line of it tells the year; more
keep an unknown time."""
_FORMAT_HEAD_LINES = 50  # lines of a file's first block looked at for the Expressway format
MAX_FOLLOW_LINE_BYTES = 64 * 1024
"""A follow line (`snippets.follow`) is looked at up to here: a line read again by the follows of
up to 50 hits above it costs at most this much each time."""


class BlockObserver(Protocol):
    """Sees every block of one file as it is scanned, in file order (e.g. app.calls.extract).

    `feed(block, lines_before, prepared)` gets each line-aligned block, the number of newlines
    before it and what `prepare(block)` returned for it; `close()` is called once after the
    last block. `prepare` runs in the matcher's thread (next to the matcher call, before the
    block is confirmed; blocks may be prepared in any order and at once): the observer's
    per-block work that needs no state goes there, off the thread that confirms. `newlines`
    (when given) counts the block's newlines for the scan too: line numbers asked of it cost
    no pass of the observer's own (it may be kept in what `prepare` returns, for `feed`).

    Its `needles` are literals whose every occurrence it looks for in a block (none: empty).
    The file's matcher is built to find them in its own pass where it can (MatcherFactory
    `positions`), and `prepare` gets them as `found` (literal → their start offsets in the
    block, native 64-bit integers, ascending), so that the observer needs no pass of its own;
    a needle missing from `found` (or no `found`) is searched for by the observer.
    """

    @property
    def needles(self) -> tuple[bytes, ...]: ...

    def prepare(
        self,
        block: bytes,
        newlines: Newlines | None = None,
        found: Mapping[bytes, bytes] | None = None,
    ) -> object: ...

    def feed(self, block: bytes, lines_before: int, prepared: object) -> None: ...

    def close(self) -> None: ...


Observe = Callable[[str, FileKind], BlockObserver | None]
"""Gives the observer of a file (its name and kind), or None."""


class BlockTally(Protocol):
    """Counts something in every block of one file (e.g. app.search.timeline's per-minute counts).

    `count(block, newlines, found)` runs where the block's matcher call runs (a matcher thread,
    several blocks at once, in any order), so it must keep no state between calls; `newlines`
    is the block's newline count (the scan has it for its line numbers), `found` the lines
    holding its `literals` (literal index, line start, newlines before the line: in line
    order, one entry per literal and line); `add(counted)` gets each
    block's result in file order, in the scanning thread; `close()` is called once after the
    last block.
    """

    @property
    def literals(self) -> Sequence[bytes]:
        """Literals whose lines the tally wants: the file's matcher finds them in its own pass
        (built with them as `extra`), and `count` gets their lines."""

    def count(self, block: bytes, newlines: int, found: list[tuple[int, int, int]]) -> object: ...

    def add(self, counted: object) -> None: ...

    def close(self) -> None: ...


Tally = Callable[[str, FileKind], BlockTally | None]
"""Gives the tally of a file (its name and kind), or None. A file of a kind no signature reads
is still scanned when its tally is not None."""


class Matcher(Protocol):
    """Finds candidate lines in a block; the engine confirms them with the regexes.

    Built for one ordered list of signatures. `scan(block)` yields `(index, offset)` pairs where
    `index` is a position in that list and `offset` any byte offset inside the line that holds
    the candidate (a literal's start or a match's exclusive end both work). Extra or duplicate
    candidates are harmless (the regex decides); a missed candidate is a missed finding.
    `block` holds whole lines: it ends with b"\\n" except possibly at the end of a file.

    A matcher may also find presence markers (engine.presence_markers) in the same pass: it
    then has `markers` (the literals it looks for) and `scan_with_markers(block)`, which gives
    what `scan(block)` gives and the frozenset of those markers the block holds.
    """

    def scan(self, block: bytes) -> Iterable[tuple[int, int]]: ...


class MatcherFactory(Protocol):
    """Builds the Matcher of a list of signatures; the `extra` literals (a BlockTally's) are
    reported as the indexes after the signatures' (len(signatures) + position). `positions`
    (an observer's needles, see BlockObserver) are found by a matcher that can (it then has
    `positions`, the ones it finds, and `scan_found`); others leave them to the observer."""

    def __call__(
        self,
        signatures: Sequence[Signature],
        extra: Sequence[bytes] = (),
        *,
        positions: Sequence[bytes] = (),
    ) -> Matcher: ...


class LiteralMatcher:
    """Reference matcher: every `contains` literal of every signature, found with bytes.find
    (`positions` are left to the observer that wants them)."""

    def __init__(
        self,
        signatures: Sequence[Signature],
        extra: Sequence[bytes] = (),
        *,
        positions: Sequence[bytes] = (),
    ) -> None:
        self._needles = [
            (index, literal.encode("utf-8"))
            for index, signature in enumerate(signatures)
            for literal in signature.contains
        ]
        self._needles += [(index, literal) for index, literal in enumerate(extra, len(signatures))]

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


Confirmed = tuple[str, Sequence[tuple[int, dict[str, Any]]]]
"""A candidate line's text and the signatures that match it, with their facts (FileScan.confirm;
the text is left empty when none does)."""


@dataclass(frozen=True, slots=True)
class Located:
    """The candidate lines of one block, and its newline count (see `locate`).

    `markers`: the presence markers in the block, when the matcher looks for them in the same
    pass (see Matcher); None otherwise (FileScan then looks for them itself).
    """

    lines: list[tuple[int, int, int, list[int]]]  # start, end, newlines before, signature indexes
    newlines: int
    prepared: object = None  # what the scan's observer prepared from the block (BlockObserver)
    markers: frozenset[str] | None = None
    counted: object = None  # the file's BlockTally.count of the block, when it has one
    extra: list[tuple[int, int, int]] = field(default_factory=list)  # see locate()
    confirmed: list[Confirmed] | None = None  # per line of `lines`, FileScan.confirm's answer


_UNCONFIRMED: Confirmed = ("", ())  # (shared by every line no signature matches)


def locate(
    matcher: Matcher,
    block: bytes,
    observer: BlockObserver | None = None,
    first_extra: int | None = None,
    gate: Callable[[int], RawGate] | None = None,
    gates: list[RawGate | None] | None = None,
) -> Located:
    """Run the matcher over a block and find each candidate's line and line number (and
    `observer.prepare(block, newlines)`, which shares the newline counting).

    Indexes from `first_extra` on are a tally's extra literals (MatcherFactory): their lines
    go to `extra` as (literal index, line start, newlines before), not to the signatures.
    `gate(index)` gives the raw pieces signature `index` needs on a line (required.raw_gate):
    a candidate line without them is dropped here, before anything decodes it; `gates`, one
    slot per signature index, keeps each answer (None: not asked yet).

    The costly part of a block's scan outside the matcher (counting its newlines for the line
    numbers) is here, so that it can run in the matcher's thread, next to the matcher call.
    Candidates in file order cost one look for their line's ends per line, however many a line
    holds (a line of a literal repeated a million times stays linear). The grouping by line
    and the gates run in C: in app._hsscan's pass itself where it is built (see _grouped),
    else in app._native.locate_lines, else in candidate_lines.
    """
    grouped, markers, found = _grouped(matcher, block, observer, first_extra, gate, gates)
    starts, ends, kept, extras = grouped
    lines = []
    extra: list[tuple[int, int, int]] = []
    # one walk numbers the lines (an observer's too): in C when app._native is built (the GIL
    # released), else per line below when no observer asks
    counter = Newlines(block) if observer is not None or loops is not None else None
    prepared = observer.prepare(block, counter, found) if observer is not None else None
    newlines = 0
    previous = 0
    numbered = None  # with an observer, the lines are numbered with its own in one walk
    if counter is not None:
        numbered = counter.answer(counter.ask([*starts, len(block)]))
        if first_extra is None:  # every line kept has a signature: zipped in C (no loop here)
            lines = list(zip(starts, ends, numbered[:-1], kept, strict=True))
            return Located(lines, numbered[-1], prepared, markers, extra=extra)
    for number, start in enumerate(starts):
        if numbered is not None:
            newlines = numbered[number]
        else:
            newlines += block.count(b"\n", previous, start)
        previous = start
        if extras[number]:
            assert first_extra is not None
            extra += [(i - first_extra, start, newlines) for i in extras[number]]
        if kept[number]:
            lines.append((start, ends[number], newlines, kept[number]))
    if numbered is not None:
        newlines = numbered[-1]
    else:
        newlines += block.count(b"\n", previous)  # each byte counted once
    return Located(lines, newlines, prepared, markers, extra=extra)


def _grouped(
    matcher: Matcher,
    block: bytes,
    observer: BlockObserver | None,
    first_extra: int | None,
    gate: Callable[[int], RawGate] | None,
    gates: list[RawGate | None] | None,
) -> tuple[CandidateLines, frozenset[str] | None, dict[bytes, bytes] | None]:
    """The matcher's candidates in the block grouped by line (see locate), the markers it found
    (None: it does not look for them) and, when an observer takes them, the offsets of its
    needles. app._hsscan groups them itself (`scan_lines`: no Python object per candidate, the
    GIL released); else app._native.locate_lines, else `candidate_lines`."""
    scan_found = getattr(matcher, "scan_found", None) if getattr(matcher, "positions", ()) else None
    extra_from = -1 if first_extra is None else first_extra
    markers: frozenset[str] | None = None
    found: dict[bytes, bytes] | None = None  # the observer's needles the matcher found
    scan_lines = getattr(matcher, "scan_lines", None)
    if scan_lines is not None and loops is not None and (gate is None or gates is not None):
        lined = scan_lines(block, gate, gates if gates is not None else [], extra_from)
        if lined is not None:
            grouped, markers, found = lined
            return grouped, markers, found if scan_found and observer is not None else None
    scan_with_markers = getattr(matcher, "scan_with_markers", None)
    candidates: Iterable[tuple[int, int]]
    if scan_found is not None and observer is not None:
        candidates, markers, found = scan_found(block)
    elif scan_with_markers is not None:
        candidates, markers = scan_with_markers(block)
    else:
        candidates = matcher.scan(block)
    if loops is None:
        return candidate_lines(block, candidates, first_extra, gate), markers, found
    listed = candidates if isinstance(candidates, list) else list(candidates)
    if gate is not None and gates is None:
        gates = [None] * (max((index for index, _ in listed), default=-1) + 1)
    return loops.locate_lines(block, listed, gate, gates, extra_from), markers, found


CandidateLines = tuple[list[int], list[int], list[list[int]], list[list[int]]]
"""The lines of a block's candidates (ascending): their starts, ends (newline or the block's
end), the signature indexes kept on each (sorted, gated) and the extra indexes (sorted)."""


def candidate_lines(
    block: bytes,
    candidates: Iterable[tuple[int, int]],
    first_extra: int | None = None,
    gate: Callable[[int], RawGate] | None = None,
) -> CandidateLines:
    """The reference of app._native.locate_lines: the candidates, (signature index, offset)
    pairs in any order, grouped by line; lines left without an index are left out."""
    by_start: dict[int, set[int]] = {}
    line_start, line_end = 0, -1  # the line of the previous candidate: [start, end]
    for index, offset in candidates:
        if not line_start <= offset <= line_end:  # many candidates on one line: found once
            line_start = block.rfind(b"\n", 0, offset) + 1
            line_end = block.find(b"\n", offset)
            if line_end == -1:
                line_end = len(block)
        by_start.setdefault(line_start, set()).add(index)
    starts: list[int] = []
    ends: list[int] = []
    kept: list[list[int]] = []
    extras: list[list[int]] = []
    for start in sorted(by_start):
        indexes = sorted(by_start[start])
        others: list[int] = []
        if first_extra is not None and indexes[-1] >= first_extra:
            others = [i for i in indexes if i >= first_extra]
            indexes = [i for i in indexes if i < first_extra]
        end = block.find(b"\n", start)
        end = len(block) if end == -1 else end
        if gate is not None:
            indexes = [i for i in indexes if passes(gate(i), block, start, end)]
        if indexes or others:
            starts.append(start)
            ends.append(end)
            kept.append(indexes)
            extras.append(others)
    return starts, ends, kept, extras


def extract_facts(signature: Signature, line: str) -> dict[str, Any] | None:
    """Facts of a line if one of the signature's patterns matches it, else None.

    Pattern constants come first; a required fact whose group did not take part rejects the line.
    """
    for pattern in signature.patterns:
        regex = pattern.regex
        for piece in required_literals(regex.pattern):  # (a loop: this runs per candidate)
            if piece not in line:
                break  # a piece every match holds is missing: no call into RE2
        else:
            match = regex.search(line)
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
        if value is not None and len(value) > MAX_FACT_CHARS:
            value = value[:MAX_FACT_CHARS] + CUT_MARK
        if value is not None:
            mapped = None
            if rule.value_map:  # (most rules have none: no generator made for them)
                mapped = next((m.then for m in rule.value_map if m.test.search(value)), None)
            if mapped is not None:
                value = mapped
            elif rule.type == "int":
                value = _as_int(value)
        if value is None:
            if rule.optional:
                continue
            return None
        facts[rule.name] = value
    return facts


def _as_int(text: str) -> int | None:
    """`text` as an int when it is one of at most 18 ASCII digits (`int("²")` raises, and
    Python refuses to convert more than 4300 digits)."""
    digits = text.removeprefix("-")
    if 0 < len(digits) <= 18 and digits.isascii() and digits.isdigit():
        return int(text)
    return None


@dataclass(slots=True)
class _Group:
    """A finding being accumulated."""

    signature: Signature
    node: str | None
    facts: dict[str, Any]
    note: str = ""  # added to the condition: the node's product or version disagrees or is unknown
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    snippets: list[Snippet] = field(default_factory=list)
    kept_hits: int = 0
    snippet_keys: set[tuple[str, int]] = field(default_factory=set)
    snippet_hits: list[int] = field(default_factory=list)  # kept-hit number of each snippet
    snippet_chars: int = 0

    def add_snippet(self, snippet: Snippet, hit: int) -> None:
        """Keep a snippet, unless it is a repeat or the finding's snippets are full (bounds)."""
        key = (snippet.file, snippet.line)
        if key in self.snippet_keys or len(self.snippets) >= MAX_FINDING_SNIPPETS:
            return
        if self.snippets and self.snippet_chars + len(snippet.text) > MAX_FINDING_SNIPPET_CHARS:
            return
        self.snippet_keys.add(key)
        self.snippets.append(snippet)
        self.snippet_hits.append(hit)
        self.snippet_chars += len(snippet.text)

    def see(self, when: datetime | None) -> None:
        if when is not None:
            if self.first is None or when < self.first:
                self.first = when
            if self.last is None or when > self.last:
                self.last = when


class GroupBudget:
    """How many groups one or several Aggregators (one per prescanned file) may hold together,
    and the signatures that have one: a signature's first group is always made."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.signatures: set[str] = set()


class Aggregator:
    """Groups hits into findings by the signature's group_by: count, first/last seen, snippets.

    At most `max_groups` groups are kept (memory; `budget` shares that bound between several
    aggregators), plus the first group of each signature, so every signature that matched keeps
    a finding. Past the bound, a new group takes the place of a less severe one of this
    aggregator (from the signature with most groups) or, if there is none, its hit is only
    counted in `dropped` (signature id → hits not kept).
    """

    def __init__(
        self, max_groups: int = DEFAULT_MAX_GROUPS, *, budget: GroupBudget | None = None
    ) -> None:
        self._groups: dict[tuple[Any, ...], _Group] = {}
        self.budget = budget or GroupBudget(max_groups)
        self.dropped: dict[str, int] = {}
        self._keys: dict[tuple[int, str], list[tuple[Any, ...]]] = {}  # (severity, id) → keys
        self.warnings: list[str] = []  # for the report: what could not be scanned as usual

    def _group(
        self,
        signature: Signature,
        key: tuple[Any, ...],
        node: str | None,
        facts: dict[str, Any],
        note: str = "",
    ) -> _Group | None:
        """The group of `key`, made with its own copy of `facts` if there is room for it (see
        the class docstring)."""
        group = self._groups.get(key)
        if group is not None:
            return group
        rank = SEVERITY_ORDER.get(signature.severity, 9)
        budget = self.budget
        full = budget.used >= budget.limit and signature.id in budget.signatures
        if full and not self._evict(rank):
            return None
        group = self._groups[key] = _Group(signature, node, dict(facts), note)
        self._keys.setdefault((rank, signature.id), []).append(key)
        budget.used += 1
        budget.signatures.add(signature.id)
        return group

    def see(
        self, signature: Signature, node: str | None, facts: dict[str, Any], when: datetime
    ) -> None:
        """A time learnt later for a hit already counted by `add` (its group, if still kept)."""
        values = tuple(node if key == "node" else facts.get(key) for key in signature.group_by)
        group = self._groups.get((signature.id, *values))
        if group is not None:
            group.see(when)

    def release(self) -> None:
        """Forget every group and give their room back to the budget (a discarded prescan)."""
        self.budget.used -= len(self._groups)
        self._groups.clear()
        self._keys.clear()

    def _evict(self, rank: int) -> bool:
        """Drop the newest group of the least severe signature (below `rank`) with most groups."""
        candidates = [
            (other, len(keys), sig)
            for (other, sig), keys in self._keys.items()
            if other > rank and len(keys) > 1
        ]
        if not candidates:
            return False
        other, _, sig = max(candidates)
        dropped = self._groups.pop(self._keys[(other, sig)].pop())
        self.dropped[sig] = self.dropped.get(sig, 0) + dropped.count
        self.budget.used -= 1
        return True

    def add(
        self,
        signature: Signature,
        node: str | None,
        facts: dict[str, Any],
        when: datetime | None,
        snippet: Snippet,
        note: str = "",
    ) -> _Group | None:
        """Count one hit; return its group when the snippet was kept (follow lines attach to it)."""
        values = tuple(node if key == "node" else facts.get(key) for key in signature.group_by)
        key = (signature.id, *values)
        group_node = node if "node" in signature.group_by else None
        group = self._group(signature, key, group_node, facts, note)
        if group is None:
            self.dropped[signature.id] = self.dropped.get(signature.id, 0) + 1
            return None
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
        app.signatures.prescan); the node's hostname and applicability are applied now (the
        `applies` fact and condition note; only an `only_on_product` signature on a node known
        to be another product is dropped), and only the snippets of the first MAX_SNIPPETS hits
        of each group (with their follow lines) are kept, exactly as a direct scan would.
        """
        hostname = node.hostname if node is not None else None
        for sig, hits in other.dropped.items():
            self.dropped[sig] = self.dropped.get(sig, 0) + hits
        self.warnings.extend(other.warnings)
        for source in other._groups.values():
            signature = source.signature
            fit = applicability(signature, node)
            if fit.state == NOT_RUN:
                continue
            facts = dict(source.facts)
            facts.update(fit.facts())
            values = tuple(
                hostname if key == "node" else facts.get(key) for key in signature.group_by
            )
            key = (signature.id, *values)
            group_node = hostname if "node" in signature.group_by else None
            group = self._group(signature, key, group_node, facts, fit.note)
            if group is None:
                self.dropped[signature.id] = self.dropped.get(signature.id, 0) + source.count
                continue
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
        condition_note=group.note,
    )


@dataclass(slots=True)
class _PendingFollow:
    group: _Group
    signature: Signature
    next_line: int  # 1-based number of the next line to look at
    remaining: int
    needles: tuple[str, ...] = ()  # values the follow line must contain (same_facts)
    hit: int = 0  # the kept-hit number of the hit being followed


@dataclass(frozen=True, slots=True)
class _Walk:
    """One walk up from the line at `start` of `block` to its header line.

    `depth` is the number of lines walked to reach `found` (or the block's start); None when
    the walk gave up after _MAX_HEADER_WALK lines.
    """

    block: bytes
    start: int
    found: tuple[int, str] | None
    depth: int | None


def clip(text: str) -> str:
    """A line as a snippet quotes it: at most MAX_SNIPPET_CHARS (the log viewer has it whole)."""
    if len(text) <= MAX_SNIPPET_CHARS:
        return text
    return f"{text[:MAX_SNIPPET_CHARS]} … [{len(text) - MAX_SNIPPET_CHARS} more characters]"


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


@dataclass(slots=True)
class FileStats:
    """What the scan of one file saw besides hits: its lines, and whether its input is there.

    `markers` are the presence literals (app.bundle.sources.MARKERS) found in the file;
    `expressway_format` says whether its first lines are Expressway syslog lines.
    """

    lines: int = 0
    markers: set[str] = field(default_factory=set)
    expressway_format: bool = False


class FileScan:
    """Scans one file's blocks for a fixed list of signatures and feeds an Aggregator.

    While it scans it also counts the file's lines and looks for the presence `markers` in its
    blocks (FileStats), so that nobody needs to read the file again to say what was examined.
    """

    def __init__(
        self,
        file_name: str,
        signatures: Sequence[Signature],
        matcher: Matcher,
        aggregator: Aggregator,
        *,
        node: str | None = None,
        extra_facts: Sequence[Mapping[str, Any]] | None = None,
        notes: Sequence[str] | None = None,
        markers: Sequence[str] = (),
        observer: BlockObserver | None = None,
        tally: BlockTally | None = None,
    ) -> None:
        self.file_name = file_name
        self.observer = observer
        self.tally = tally
        # the matcher reports the tally's literals after the signatures (MatcherFactory)
        self.first_extra = len(signatures) if tally is not None and tally.literals else None
        self.signatures = signatures
        self.matcher = matcher
        self.aggregator = aggregator
        self.node = node
        self.extra_facts = extra_facts or [{} for _ in signatures]
        self.notes = notes or ["" for _ in signatures]
        self.lines_before = 0  # newlines in the blocks already scanned
        self.last_header: tuple[int, str] | None = None  # last header line of previous blocks
        self.pending: list[_PendingFollow] = []
        self.stats = FileStats()
        self._open_end = False  # the last block fed did not end with a newline
        self._seen_block = False
        self._missing = [(marker, marker.encode("utf-8")) for marker in markers]
        # markers the matcher finds in its own pass: not searched for again here
        self._found_by_matcher = frozenset(getattr(matcher, "markers", ()))
        self._walk: _Walk | None = None  # the last header walk (see _header_before)
        self.cut_lines: list[int] = []  # lines scanned in pieces (see MAX_LINE_BYTES)
        self.refined = refined_indexes(signatures)  # index → indexes of the signatures it refines
        self.clock: SyslogClock | None = None  # the year and zone of BSD timestamps (see feed)
        self._undated: list[tuple[int, dict[str, Any], str]] = []  # BSD hits before a clock
        # each signature's gate by its index, made when first needed (read by locate_lines too)
        self._gates: list[RawGate | None] = [None] * len(signatures)

    def _gate(self, index: int) -> RawGate:
        """The raw pieces a line needs for signature `index` to match it (see locate)."""
        gate = self._gates[index]
        if gate is None:
            patterns = tuple(pattern.regex.pattern for pattern in self.signatures[index].patterns)
            gate = self._gates[index] = raw_gate(patterns)
        return gate

    @property
    def lines(self) -> int:
        """Lines scanned so far (a last line without a newline counts)."""
        return self.lines_before + (1 if self._open_end else 0)

    def note_cut(self) -> None:
        """The block just fed ended inside a line too long to hold: say so at the end."""
        line = self.lines_before + 1
        if not self.cut_lines or self.cut_lines[-1] != line:
            self.cut_lines.append(line)

    def finish(self) -> None:
        """The file is scanned: warn about the lines that were scanned in pieces."""
        if not self.cut_lines:
            return
        named = ", ".join(str(line) for line in self.cut_lines[:MAX_CUT_LINES_NAMED])
        more = len(self.cut_lines) - MAX_CUT_LINES_NAMED
        which = f"line {named} is" if len(self.cut_lines) == 1 else f"lines {named}"
        if more > 0:
            which += f" (and {more} more)"
        if len(self.cut_lines) > 1:
            which += " are"
        self.aggregator.warnings.append(
            f"{self.file_name}: {which} longer than {MAX_LINE_BYTES // 2**20} MB (no line "
            "break); scanned in pieces of that size, so a pattern across a cut can be missed."
        )

    def locate(self, block: bytes) -> Located:
        """The block's candidate lines and the tally's count of it: the part of a block's scan
        that may run in a matcher thread (it reads nothing but the block)."""
        located = locate(
            self.matcher, block, self.observer, self.first_extra, self._gate, self._gates
        )
        counted = None
        if self.tally is not None:
            counted = self.tally.count(block, located.newlines, located.extra)
        return Located(
            located.lines,
            located.newlines,
            located.prepared,
            located.markers,
            counted=counted,
            confirmed=self.confirm(block, located.lines),
        )

    def confirm(
        self, block: bytes, lines: list[tuple[int, int, int, list[int]]]
    ) -> list[Confirmed]:
        """Which of their candidate signatures each line matches, with the facts: what needs
        nothing but the line, so it runs in the matcher's thread with the rest of `locate`.

        (RE2 lets go of the GIL for each match: confirmed in the thread that feeds the
        blocks, every one of those calls had it wait for the GIL again behind the threads
        running Python, most of the time its thread spent confirming.)"""
        confirmed: list[Confirmed] = []
        for start, end, _newlines, indexes in lines:
            text = _decode(block[start:end])
            logged = as_logged(text)  # remote syslog reads as logged; once per line
            hits = [
                (i, facts) for i in indexes if (facts := self._facts(i, text, logged)) is not None
            ]
            if len(hits) > 1 and self.refined:
                hits = drop_refined(hits, self.refined)
            confirmed.append((text, hits) if hits else _UNCONFIRMED)
        return confirmed

    def feed(self, block: bytes, located: Located | None = None) -> None:
        """Scan one line-aligned block; `located` is `self.locate(block)` if already done
        (with, when the scan has an observer, what the observer's `prepare` gave).

        The block's first line that tells a year and a zone (app.parsing.expressway.infer_clock,
        a few lines read) dates the BSD timestamps (`Nov 18 19:55:58`) of its hits, of the
        blocks after it until another does, and of the hits before it (at most MAX_UNDATED);
        in a file where no line tells it their time stays unknown.
        """
        if self.pending:
            self._continue_follows(block)
        if located is None:
            located = self.locate(block)
        if self.tally is not None:
            self.tally.add(located.counted)
        if not self._seen_block and block:
            self._seen_block = True
            head = block[: 64 * 1024].split(b"\n", _FORMAT_HEAD_LINES)[:_FORMAT_HEAD_LINES]
            self.stats.expressway_format = any(is_expressway_line(line) for line in head)
        self.clock = infer_clock(block) or self.clock
        if self.clock is not None and self._undated:
            self._date_earlier_hits(self.clock)
        if self._missing:
            self._look_for_markers(block, located.markers)
        if self.observer is not None:
            self.observer.feed(block, self.lines_before, located.prepared)
        confirmed = located.confirmed
        if confirmed is None:
            confirmed = self.confirm(block, located.lines)
        for (start, end, newlines, _indexes), (text, hits) in zip(
            located.lines, confirmed, strict=True
        ):
            for index, facts in hits:
                self._hit(block, index, facts, self.lines_before + newlines + 1, start, end, text)
        self.lines_before += located.newlines
        if block:
            self._open_end = not block.endswith(b"\n")
        self.stats.lines = self.lines
        self.last_header = self._header_before(block, len(block), self.lines_before + 1)

    def _clock_for(self, block: bytes, start: int, line: str) -> SyslogClock | None:
        """The clock that dates `line` (at `start` of `block`) if it has only a BSD time: that
        of a neighbouring line (daylight saving time moves the offset), else the file's."""
        if not line[:1].isalpha() and not line.startswith("<") or 'UTCTime="' in line:
            return self.clock  # an ISO time or a UTCTime: no clock needed
        return clock_near(block, start) or self.clock

    def _date_earlier_hits(self, clock: SyslogClock) -> None:
        for index, facts, stamp in self._undated:
            when = clock.resolve(stamp)
            if when is not None:
                self.aggregator.see(self.signatures[index], self.node, facts, when)
        self._undated.clear()

    def close(self) -> None:
        """The file has ended: tell the observer and the tally."""
        if self.observer is not None:
            self.observer.close()
        if self.tally is not None:
            self.tally.close()

    def _look_for_markers(self, block: bytes, found: frozenset[str] | None) -> None:
        """Note the missing markers now seen: from the matcher's pass when it looked for them
        (`found`), else by searching the block (a whole pass of it per absent marker)."""
        still = []
        for marker, needle in self._missing:
            if found is not None and marker in self._found_by_matcher:
                present = marker in found
            else:
                present = needle in block
            if present:
                self.stats.markers.add(marker)
            else:
                still.append((marker, needle))
        self._missing = still

    def _facts(self, index: int, text: str, logged: str) -> dict[str, Any] | None:
        """The facts of signature `index` on this line, or None when it does not match."""
        signature = self.signatures[index]
        for literal in signature.contains:  # (a loop, not any(...): this runs per candidate)
            if literal in text:
                break
        else:
            return None  # a matcher may over-report; the literal prefilter is part of the contract
        facts = extract_facts(signature, logged)
        if facts is not None:
            facts.update(self.extra_facts[index])
        return facts

    def _hit(
        self,
        block: bytes,
        index: int,
        facts: dict[str, Any],
        line_no: int,
        start: int,
        end: int,
        text: str,
    ) -> None:
        signature = self.signatures[index]
        header = None
        if is_continuation(text):
            header = self._header_before(block, start, line_no)
        if header is None:
            snippet = Snippet(self.file_name, line_no, clip(text))
            when = timestamp_of(text, self._clock_for(block, start, text))
        else:
            gap = "\n" if header[0] == line_no - 1 else "\n…\n"
            snippet = Snippet(self.file_name, header[0], f"{clip(header[1])}{gap}{clip(text)}")
            when = timestamp_of(header[1], self._clock_for(block, start, header[1]))
        group = self.aggregator.add(signature, self.node, facts, when, snippet, self.notes[index])
        if when is None and self.clock is None and len(self._undated) < MAX_UNDATED:
            prefix = split_prefix(text if header is None else header[1])
            if prefix is not None and prefix.bsd:  # dated when a line tells the year (feed)
                self._undated.append((index, facts, prefix.stamp))
        if group is not None and signature.follow is not None:
            needles = tuple(
                str(facts[n]).removesuffix(CUT_MARK)
                for n in signature.follow.same_facts
                if n in facts
            )
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
            text = _decode(block[pos : min(end, pos + MAX_FOLLOW_LINE_BYTES)])
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

        Only the lines walked over are counted, never the block up to them, and a walk stops
        where the previous one in this block started: a run of continuation lines that all
        hold hits is walked once, not once per hit (which was quadratic).
        """
        pos = start
        steps = 0
        memo = self._walk
        while pos > 0 and steps < _MAX_HEADER_WALK:
            if memo is not None and memo.block is block and memo.start == pos:
                depth = None if memo.depth is None else steps + memo.depth
                found = memo.found if depth is not None and depth <= _MAX_HEADER_WALK else None
                self._walk = _Walk(block, start, found, depth if found is not None else None)
                return found
            steps += 1
            line_start = block.rfind(b"\n", 0, pos - 1) + 1
            text = _decode(block[line_start : pos - 1])
            if not is_continuation(text):
                found = line_no - block.count(b"\n", line_start, start), text
                self._walk = _Walk(block, start, found, steps)
                return found
            pos = line_start
        found = self.last_header if pos == 0 else None
        self._walk = _Walk(block, start, found, steps if pos == 0 else None)
        return found


def refined_indexes(signatures: Sequence[Signature]) -> dict[int, set[int]]:
    """For each signature (by position) that `refines` others in the list, their positions.

    Refinement is transitive: a signature refining one that refines a third takes its lines too.
    """
    position = {signature.id: index for index, signature in enumerate(signatures)}
    direct = {
        index: {position[r] for r in signature.refines if r in position}
        for index, signature in enumerate(signatures)
        if signature.refines
    }
    closed: dict[int, set[int]] = {}
    for index in direct:
        seen: set[int] = set()
        todo = list(direct[index])
        while todo:
            other = todo.pop()
            if other not in seen and other != index:
                seen.add(other)
                todo.extend(direct.get(other, ()))
        if seen:
            closed[index] = seen
    return closed


def drop_refined(
    hits: list[tuple[int, dict[str, Any]]], refined: Mapping[int, set[int]]
) -> list[tuple[int, dict[str, Any]]]:
    """The hits of one line without those of signatures that a matching signature refines."""
    taken: set[int] = set()
    for index, _ in hits:
        more = refined.get(index)
        if more:
            taken |= more
    if not taken:  # (most lines: no hit refines another)
        return hits
    return [(index, facts) for index, facts in hits if index not in taken]


def scan_stream(
    stream: BinaryIO,
    scan: FileScan,
    *,
    block_size: int = BLOCK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Feed all of `stream` to `scan`, in this thread."""
    feed_stream(stream, BlockFeeder(scan, None), block_size=block_size, progress=progress)


def feed_blocks(
    blocks: Iterable[bytes], feeder: BlockFeeder, *, progress: Callable[[int], None] | None = None
) -> None:
    """`feed_stream` of pieces already read (app.bundle.stored.read_ahead)."""
    for chunk in blocks:
        if progress is not None:
            progress(len(chunk))
        feeder.write(chunk)
    feeder.close()


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


def runnable(
    signatures: Sequence[Signature], node: NodeInfo | None
) -> tuple[list[Signature], list[Applicability]]:
    """The signatures to run on a node's files, and how each one's applies_to fits the node."""
    chosen: list[Signature] = []
    fits: list[Applicability] = []
    for signature in signatures:
        fit = applicability(signature, node)
        if fit.state != NOT_RUN:
            chosen.append(signature)
            fits.append(fit)
    return chosen, fits


def needles_of(observer: BlockObserver | None) -> tuple[bytes, ...]:
    """The literals whose every occurrence `observer` looks for (BlockObserver `needles`)."""
    return observer.needles if observer is not None else ()


def make_matcher(
    factory: MatcherFactory,
    signatures: Sequence[Signature],
    extra: Sequence[bytes] = (),
    positions: Sequence[bytes] = (),
) -> Matcher:
    """`factory(signatures, extra, positions)`, each argument given only when not empty (a
    factory that takes none of them serves a scan that needs none)."""
    if positions:
        return factory(signatures, extra, positions=positions)
    return factory(signatures, extra) if extra else factory(signatures)


def presence_markers() -> tuple[str, ...]:
    """The literals whose presence in a file coverage asks about (app.bundle.sources.MARKERS)."""
    from app.bundle.sources import MARKERS

    return MARKERS


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
        self._in_flight: deque[tuple[bytes, Future[Located], bool]] = deque()

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
                    self.push(b"".join(self._parts), cut=True)
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

    def push(self, block: bytes, *, cut: bool = False) -> None:
        """Queue one line-aligned block (`cut`: it ends inside a line too long to hold)."""
        if self.pool is None:
            self.scan.feed(block)
            if cut:
                self.scan.note_cut()
            return
        self._in_flight.append((block, self.pool.submit(self.scan.locate, block), cut))
        while len(self._in_flight) >= self.window:
            self._confirm_oldest()

    def close(self) -> None:
        """Scan what is left and wait for every block."""
        if self._parts:
            self.push(b"".join(self._parts))
            self._parts, self._parts_bytes = [], 0
        while self._in_flight:
            self._confirm_oldest()
        self.scan.finish()

    def _confirm_oldest(self) -> None:
        block, found, cut = self._in_flight.popleft()
        self.scan.feed(block, found.result())
        if cut:
            self.scan.note_cut()


@dataclass(frozen=True, slots=True)
class PreScanned:
    """A file already scanned while it was unpacked, without its node (see prescan.py)."""

    kind: FileKind
    aggregator: Aggregator
    stats: FileStats = field(default_factory=FileStats)


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
    stats: dict[str, FileStats] | None = None,
    max_groups: int = DEFAULT_MAX_GROUPS,
    dropped: dict[str, int] | None = None,
    warnings: list[str] | None = None,
    observe: Observe | None = None,
    tally: Tally | None = None,
) -> list[Finding]:
    """Scan every file with the signatures that read its kind; return findings.

    `warnings` receives a sentence for each file whose scan was not complete (long lines).

    With `jobs` > 1 the matcher runs in that many threads over the blocks (Hyperscan releases
    the GIL) while this thread reads the files and confirms candidates in file order, so the
    findings are the same as with one job. At most 2 × jobs + 1 blocks are in flight.
    `prescanned` (file name → result) replaces the scan of files of the kind they were
    scanned as; their results are merged in file order. At most `max_groups` findings are kept
    while scanning (see Aggregator); `dropped` receives the hits not kept, by signature id.
    `stats`, when given, receives the FileStats (lines, presence markers, format) of every file
    scanned, by file name.
    `observe` gives each file scanned here an observer of its blocks (files merged from
    `prescanned` were observed then). `tally` gives each file scanned here a BlockTally, and
    a file it gives one is scanned even when no signature reads it.
    """
    factory = matcher_factory or default_matcher_factory()
    aggregator = Aggregator(max_groups)
    matchers: dict[tuple[str, ...], Matcher] = {}  # by signature ids, "", extra literals
    ready = prescanned or {}
    pool = (
        ThreadPoolExecutor(jobs, thread_name_prefix="signature-scan", initializer=lower_priority)
        if jobs > 1
        else None
    )
    try:
        for file in files:
            node = nodes.get(file.bundle)
            done = ready.get(file.name)
            if done is not None and done.kind == file.kind:
                aggregator.merge(done.aggregator, node)
                if stats is not None:
                    stats[file.name] = done.stats
                if progress is not None:
                    progress(file.size)
                continue
            chosen, fits = runnable(signatures_for_kind(signatures, file.kind, sources), node)
            counter = tally(file.name, file.kind) if tally is not None else None
            if not chosen and counter is None:
                if progress is not None:
                    progress(file.size)
                continue
            literals = tuple(counter.literals) if counter is not None else ()
            observer = observe(file.name, file.kind) if observe is not None else None
            needles = needles_of(observer)
            key = (
                *(signature.id for signature in chosen),
                "",
                *map(repr, literals),
                "",
                *map(repr, needles),
            )
            if key not in matchers:
                matchers[key] = make_matcher(factory, chosen, literals, needles)
            scan = FileScan(
                file.name,
                chosen,
                matchers[key],
                aggregator,
                node=node.hostname if node is not None else None,
                extra_facts=[fit.facts() for fit in fits],
                notes=[fit.note for fit in fits],
                markers=presence_markers(),
                observer=observer,
                tally=counter,
            )
            feeder = BlockFeeder(scan, pool, window=2 * jobs + 1)
            if is_compressed(file.path) and pool is not None:  # inflated while matched
                with closing(frames_ahead(file.path)) as blocks:  # its frames, not copied
                    feed_blocks(blocks, feeder, progress=progress)
            else:
                with open_stored(file.path) as stream:
                    feed_stream(stream, feeder, block_size=block_size, progress=progress)
            scan.close()
            if stats is not None:
                stats[file.name] = scan.stats
    finally:
        if pool is not None:
            pool.shutdown()
    if dropped is not None:
        for sig, hits in aggregator.dropped.items():
            dropped[sig] = dropped.get(sig, 0) + hits
    if warnings is not None:
        warnings.extend(aggregator.warnings)
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
    chosen, fits = runnable(signatures, node)
    aggregator = Aggregator()
    scan = FileScan(
        file_name,
        chosen,
        (matcher_factory or default_matcher_factory())(chosen),
        aggregator,
        node=node.hostname if node is not None else None,
        extra_facts=[fit.facts() for fit in fits],
        notes=[fit.note for fit in fits],
    )
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    scan_stream(io.BytesIO(data), scan, block_size=block_size)
    return aggregator.findings()
