"""Signature texts are a small Markdown subset (emphasis, code, lists, links): as safe HTML for the
pages, as plain text for the CLI.

One parser for both: markdown-it-py's "zero" preset with only the rules the texts use enabled and
raw HTML off, so a `<script>` in a text or in a fact read from a log is shown, never run. Links are
kept only when they point to http or https.
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

RULES = ["emphasis", "backticks", "list", "link", "newline", "escape"]
LINK_SCHEMES = ("http://", "https://")


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(LINK_SCHEMES)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": False})
    md.enable(RULES)
    md.validateLink = _safe_link  # type: ignore[method-assign]
    return md


def to_html(source: str | None) -> Markup:
    """The text as HTML: paragraphs, lists, emphasis, code and http(s) links; everything else
    escaped. Links open in a new tab without a referrer."""
    if not source:
        return Markup("")
    html = _parser().render(source)
    html = html.replace("<a href=", '<a rel="noopener noreferrer" target="_blank" href=')
    # quotes escaped as every other page escapes them (markupsafe); the source's own "&quot;"
    # arrives as "&amp;quot;" (entities are off), so only escaped quotes are changed
    html = html.replace("&quot;", "&#34;")
    return Markup(html.strip())  # noqa: S704 - produced by the parser with html=False


def _inline_text(tokens: list[Token]) -> str:
    parts: list[str] = []
    href: str | None = None
    label_start = 0
    for token in tokens:
        if token.type in ("text", "code_inline"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif token.type == "link_open":
            href = str(token.attrs.get("href", ""))
            label_start = len(parts)
        elif token.type == "link_close" and href is not None:
            if "".join(parts[label_start:]).strip() != href:
                parts.append(f" ({href})")
            href = None
    return "".join(parts)


def to_text(source: str | None) -> str:
    """The text with its markup taken out: emphasis and code marks dropped, list items as
    "- item" (or "1. item"), links as "label (url)", paragraphs separated by a blank line."""
    if not source:
        return ""
    blocks: list[str] = []
    lists: list[list[int]] = []  # per open list: [ordered, next number]
    prefix = ""
    list_starts = False  # the next list item begins a block of its own
    for token in _parser().parse(source):
        if token.type == "bullet_list_open":
            lists.append([0, 0])
            list_starts = len(lists) == 1
        elif token.type == "ordered_list_open":
            lists.append([1, int(token.attrs.get("start", 1) or 1)])
            list_starts = len(lists) == 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open" and lists:
            ordered, number = lists[-1]
            indent = "  " * (len(lists) - 1)
            prefix = f"{indent}{number}. " if ordered else f"{indent}- "
            lists[-1][1] = number + 1
        elif token.type == "inline":
            text = _inline_text(token.children or [])
            if prefix:
                pad = " " * len(prefix)
                text = prefix + text.replace("\n", "\n" + pad)
                prefix = ""
                if blocks and not list_starts:
                    blocks[-1] += "\n" + text
                    continue
                list_starts = False
            elif lists and blocks:  # a second paragraph in the same list item
                blocks[-1] += "\n" + "  " * len(lists) + text
                continue
            blocks.append(text)
    return "\n\n".join(block.rstrip() for block in blocks).strip()
