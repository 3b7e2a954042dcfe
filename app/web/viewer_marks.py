"""What the log viewer marks on a page: search-text highlights, filtered-out lines, markers.

DEBUG_MARKER lines are the marks an administrator types while diagnostic logging runs; they are
shown as visible markers. Module and level filters apply to whole records (a SIPMSG block's
continuation lines follow their header line).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.parsing.expressway import is_continuation
from app.search.query import BadQuery, CompiledQuery, SearchQuery
from app.services.search import segments
from app.web.logview import Line

MARKER_TAG = "DEBUG_MARKER"


@dataclass(frozen=True, slots=True)
class ShownLine:
    number: int
    segments: list[tuple[str, bool]]
    cut: bool
    marker: bool


@dataclass(frozen=True, slots=True)
class MarkedPage:
    lines: list[ShownLine]
    hidden: int  # lines of the page left out by the filters
    matches: int  # lines with the search text
    problem: str | None  # why the highlight or filter could not be applied


def mark_page(
    lines: Sequence[Line],
    *,
    text: str = "",
    regex: bool = False,
    case_sensitive: bool = False,
    module: str = "",
    level: str = "",
) -> MarkedPage:
    """The page's lines with highlights and markers; lines outside the filters left out."""
    problem = None
    highlight: CompiledQuery | None = None
    record_filter: CompiledQuery | None = None
    try:
        if text:
            highlight = CompiledQuery(
                SearchQuery(text=text, regex=regex, case_sensitive=case_sensitive)
            )
        if module or level:
            record_filter = CompiledQuery(SearchQuery(module=module, level=level))
    except BadQuery as exc:
        problem = str(exc)
    shown: list[ShownLine] = []
    hidden = matches = 0
    keep = True
    for position, line in enumerate(lines):
        if record_filter is not None and (position == 0 or not is_continuation(line.text)):
            keep = record_filter.accepts(line.text, "")
        if record_filter is not None and not keep:
            hidden += 1
            continue
        spans = highlight.spans(line.text) if highlight is not None else []
        matches += bool(spans)
        shown.append(
            ShownLine(line.number, segments(line.text, spans), line.cut, MARKER_TAG in line.text)
        )
    return MarkedPage(shown, hidden, matches, problem)
