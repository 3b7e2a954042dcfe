"""Search every log file of an analysis: which files, run the pure search, show a page of hits.

Called from the routes with the Analysis id, like the log viewer's functions. Hits come back
with line numbers (from the log viewer's cached line index), the UTC time of their record, a
line of context either side and the spans to highlight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bundle.stored import open_stored, original_size
from app.errors import LoupeError
from app.models import BundleFileRow, Node
from app.parsing.expressway import timestamp_of
from app.search.position import line_at
from app.search.query import BadQuery, CompiledQuery, SearchQuery
from app.search.scan import RawHit, SearchFile, search
from app.services import analyses, storage
from app.web import logview

PER_PAGE = 100
CONTEXT_BYTES = 4096
MAX_CONTEXT_CHARS = 500
BINARY_KINDS = frozenset({"pcap"})


class BadSearch(LoupeError):
    """A search that cannot run as asked (bad regular expression, unknown node, ...)."""

    status_code = 400


@dataclass(frozen=True, slots=True)
class ShownHit:
    node: str | None
    file: str
    line: int
    time: str | None  # UTC, ISO 8601 to the millisecond
    text: str
    segments: list[tuple[str, bool]]  # the text cut into (piece, highlighted)
    before: tuple[int, str] | None = None
    after: tuple[int, str] | None = None


@dataclass(slots=True)
class SearchPage:
    total: int
    stopped: str | None
    page: int
    per_page: int
    hits: list[ShownHit]
    seconds: float
    files_searched: int
    nodes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.stopped is not None

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def by_file(self) -> list[tuple[str, str | None, list[ShownHit]]]:
        """The page's hits grouped by file, in the order found: (file, node, hits)."""
        groups: list[tuple[str, str | None, list[ShownHit]]] = []
        for hit in self.hits:
            if not groups or groups[-1][0] != hit.file:
                groups.append((hit.file, hit.node, []))
            groups[-1][2].append(hit)
        return groups


def iso_ms(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_moment(value: str, what: str) -> datetime | None:
    """An ISO 8601 time from a form or query string (UTC when it has no offset)."""
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError as exc:
        raise BadSearch(
            f"'{what}' is not a time: give it as ISO 8601 in UTC, e.g. 2018-01-01T17:56:48."
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def searchable_files(session: Session, analysis_id: str, data_dir: Path) -> list[SearchFile]:
    """The analysis' text files (not captures), by node position then name."""
    nodes = {
        node.bundle: (node.position, node.hostname)
        for node in session.scalars(select(Node).where(Node.analysis_id == analysis_id))
    }
    rows = session.scalars(
        select(BundleFileRow).where(BundleFileRow.analysis_id == analysis_id)
    ).all()
    found: list[tuple[int, str, SearchFile]] = []
    for row in rows:
        if row.kind in BINARY_KINDS:
            continue
        try:
            path = storage.stored_file(data_dir, row.storage_path)
        except LoupeError:
            continue
        if not path.is_file() or logview.looks_binary(path):
            continue
        position, hostname = nodes.get(row.bundle, (len(nodes), None))
        found.append((position, row.name, SearchFile(path, row.name, hostname)))
    found.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in found]


def segments(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, highlighted) pairs at the match `spans` (sorted, not overlapping)."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for start, end in spans:
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((text[start:end], True))
        position = end
    if position < len(text) or not pieces:
        pieces.append((text[position:], False))
    return pieces


def _context(path: Path, offset: int, length: int) -> tuple[str | None, str | None]:
    """The line before and the line after the line at `offset` (`length` bytes long)."""
    start = max(0, offset - CONTEXT_BYTES)
    with open_stored(path) as handle:
        handle.seek(start)
        data = handle.read(offset - start + length + 1 + CONTEXT_BYTES)
    hit_start = offset - start
    before = None
    if hit_start > 0:
        previous = data.rfind(b"\n", 0, hit_start - 1) + 1
        if previous > 0 or start == 0:
            before = data[previous : hit_start - 1]
    after = None
    hit_end = data.find(b"\n", hit_start)
    if hit_end != -1:
        next_end = data.find(b"\n", hit_end + 1)
        if next_end != -1 or start + len(data) >= original_size(path):
            after = data[hit_end + 1 : next_end if next_end != -1 else len(data)]

    def show(raw: bytes | None) -> str | None:
        if raw is None:
            return None
        return raw.decode("utf-8", errors="replace").rstrip("\r")[:MAX_CONTEXT_CHARS]

    return show(before), show(after) or None


def _show(
    hit: RawHit, analysis_id: str, data_dir: Path, query: CompiledQuery, context: bool
) -> ShownHit:
    index = logview.load_index(
        hit.file.path, storage.line_index_path(data_dir, analysis_id, hit.file.name)
    )
    line = line_at(hit.file.path, index.page_offsets, logview.LINES_PER_PAGE, hit.offset)
    moment = timestamp_of(hit.header if hit.header is not None else hit.text, hit.clock)
    before = after = None
    if context:
        before_text, after_text = _context(hit.file.path, hit.offset, len(hit.text.encode()))
        before = (line - 1, before_text) if before_text is not None and line > 1 else None
        after = (line + 1, after_text) if after_text is not None else None
    return ShownHit(
        node=hit.file.node,
        file=hit.file.name,
        line=line,
        time=iso_ms(moment),
        text=hit.text,
        segments=segments(hit.text, query.spans(hit.text)),
        before=before,
        after=after,
    )


def run(
    session: Session,
    analysis_id: str,
    data_dir: Path,
    query: SearchQuery,
    *,
    node: str = "",
    file: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
    max_hits: int,
    seconds: float,
    context: bool = True,
) -> SearchPage:
    """One page of the hits of `query` over the analysis' files (NotFound for an unknown id)."""
    analyses.get(session, analysis_id)
    started = time.monotonic()
    files = searchable_files(session, analysis_id, data_dir)
    node_names = sorted({f.node for f in files if f.node})
    file_names = [f.name for f in files]
    chosen = files
    if node:
        if node not in node_names:
            raise BadSearch(f"The analysis has no node named '{node}'.")
        chosen = [f for f in chosen if f.node == node]
    if file:
        if file not in file_names:
            raise BadSearch(f"The analysis has no searchable file named '{file}'.")
        chosen = [f for f in chosen if f.name == file]
    try:
        compiled = CompiledQuery(query)
    except BadQuery as exc:
        raise BadSearch(str(exc)) from exc
    outcome = search(
        chosen,
        compiled,
        skip=(page - 1) * per_page,
        take=per_page,
        max_hits=max_hits,
        deadline=started + seconds,
    )
    shown = [_show(hit, analysis_id, data_dir, compiled, context) for hit in outcome.hits]
    return SearchPage(
        total=outcome.total,
        stopped=outcome.stopped,
        page=page,
        per_page=per_page,
        hits=shown,
        seconds=time.monotonic() - started,
        files_searched=outcome.files_searched,
        nodes=node_names,
        files=file_names,
    )
