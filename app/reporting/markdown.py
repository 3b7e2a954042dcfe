"""Write a report document (reporting/document.py) as Markdown to paste into case notes."""

from __future__ import annotations

import re

from app.reporting.document import (
    Bullets,
    Code,
    Document,
    Fields,
    Heading,
    Prose,
    Table,
    Text,
)

_SPECIAL = re.compile(r"([\\`*\[\]<>|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")
_LINE_START = re.compile(r"^(#|[-+]\s|\d+[.)]\s)")
_BACKTICKS = re.compile(r"`+")


def escape(text: str, *, line_start: bool = False) -> str:
    """Plain text that Markdown shows as it is: no emphasis, links or HTML from log content;
    `line_start` for text that begins a line (where `#`, `-` or `1.` would start a block)."""
    escaped = _SPECIAL.sub(r"\\\1", text).replace("\n", " ")
    return "\\" + escaped if line_start and _LINE_START.match(escaped) else escaped


def fence(lines: tuple[str, ...]) -> list[str]:
    """A fenced block longer than any run of backticks inside, so no line can close it."""
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    mark = "`" * max(3, longest + 1)
    return [mark + "text", *lines, mark]


def _prose(text: str) -> str:
    """A signature text (already the Markdown subset), with `<` escaped: no raw HTML."""
    return text.strip().replace("\\<", "<").replace("<", "\\<")


def render_markdown(doc: Document) -> str:
    out: list[str] = []
    for block in doc.blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + escape(block.text), ""]
        elif isinstance(block, Text):
            out += [escape(block.text, line_start=True), ""]
        elif isinstance(block, Prose):
            out += [f"**{block.label}:**", "", _prose(block.text), ""]
        elif isinstance(block, Fields):
            out += [f"- **{label}:** {escape(value)}" for label, value in block.items] + [""]
        elif isinstance(block, Code):
            out += [*fence(block.lines), ""]
        elif isinstance(block, Table):
            out.append("| " + " | ".join(escape(h) for h in block.header) + " |")
            out.append("|" + "---|" * len(block.header))
            out += ["| " + " | ".join(escape(c) for c in row) + " |" for row in block.rows]
            out.append("")
        elif isinstance(block, Bullets):
            out += [f"- {escape(item)}" for item in block.items] + [""]
    return "\n".join(out).rstrip() + "\n"
