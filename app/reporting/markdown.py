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

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_LINE_START = re.compile(r"^(#|[-+]\s|\d+[.)]\s)")
_BACKTICKS = re.compile(r"`+")


def escape(text: str) -> str:
    """Plain text that Markdown shows as it is: no emphasis, links or HTML from log content."""
    escaped = _SPECIAL.sub(r"\\\1", text).replace("\n", " ")
    return "\\" + escaped if _LINE_START.match(escaped) else escaped


def fence(lines: tuple[str, ...]) -> list[str]:
    """A fenced block longer than any run of backticks inside, so no line can close it."""
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    mark = "`" * max(3, longest + 1)
    return [mark + "text", *lines, mark]


def _prose(text: str) -> str:
    """A signature text (already the Markdown subset): raw HTML angle brackets escaped."""
    return text.strip().replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(doc: Document) -> str:
    out: list[str] = []
    for block in doc.blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + escape(block.text), ""]
        elif isinstance(block, Text):
            out += [escape(block.text), ""]
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
