"""Read xstatus / xconfiguration dumps as (path, value) entries, in time linear in their size.

Text forms (Greenbone's VCS detection, doc 212475, the VCS admin and command references):
    flat    `*s SystemUnit Software Version: "X14.2.1"`
            `*c xConfiguration Zones Zone 3 Type: "TraversalServer"`
    block   `*s SystemUnit: /` then indented `Name: value` lines, nested by indentation
            (`Software:` opens a level), until the next `*s`/`*c` line, `*s/end` or `OK`.
XML form: `<Status product="TANDBERG VCS" version="X8.11.4"><SystemUnit item="1"><Product
    item="1">…</Product>…`: each leaf element's text with its element path (an `item="N"`
    attribute adds the token N after the element name, as in the text form), and the root
    element's `product` / `version` attributes as paths `(<root>, "@product")`.

Nothing but `str` methods runs over the text (no regular expression), every line is cut at
`MAX_LINE` characters, nesting is followed to `MAX_DEPTH` levels and values are cut at
`MAX_VALUE`: whatever the input, the work is linear in its size and the entries small.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass

MAX_LINE = 4096
"""Characters of one text line that are looked at."""
MAX_DEPTH = 32
"""Nesting levels followed (deeper entries are read as if they were at this depth)."""
MAX_VALUE = 512
"""Characters of one value that are kept."""
MAX_TAG = 1024
"""Characters of one XML tag that are looked at (name and attributes)."""
MAX_TOKENS = 12
"""Path tokens kept from one line (`Zones Zone 3 TraversalClient SIP Media ...`)."""
_ROOTS = frozenset({"xstatus", "xconfiguration", "status", "configuration"})


@dataclass(frozen=True, slots=True)
class DumpEntry:
    """One value of a dump: its path (as written, item numbers as tokens) and 1-based line."""

    path: tuple[str, ...]
    value: str
    line: int

    @property
    def names(self) -> tuple[str, ...]:
        """The path in lower case without item numbers or the xStatus/Configuration root."""
        names = tuple(token.lower() for token in self.path if not token.isdigit())
        return names[1:] if names and names[0] in _ROOTS else names

    @property
    def shown(self) -> str:
        """How people recognise the entry, e.g. `Zones Zone 3 Type: "TraversalServer"`."""
        path = self.path[1:] if self.path and self.path[0].lower() in _ROOTS else self.path
        return f'{" ".join(path)}: "{self.value}"'


def dump_entries(text: str) -> Iterator[DumpEntry]:
    """The entries of a dump in text or XML form (told apart by its first character)."""
    if text.lstrip()[:1] == "<":
        return xml_entries(text)
    return text_entries(text)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based number, line cut at MAX_LINE without its end of line) for each line."""
    start = 0
    number = 0
    size = len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            end = size
        number += 1
        yield number, text[start : min(end, start + MAX_LINE)].rstrip("\r")
        start = end + 1


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value[:MAX_VALUE]


def text_entries(text: str) -> Iterator[DumpEntry]:
    """Entries of the `*s` / `*c` text form, flat lines and indented blocks alike."""
    block: tuple[str, ...] | None = None  # path of the open `*s Name: /` block
    stack: list[tuple[int, str]] = []  # (indent, name) of the open levels inside it
    for number, line in _lines(text):
        stripped = line.strip()
        if stripped[:2] in ("*s", "*c") and stripped[2:3] in (" ", "/"):
            block, stack = None, []
            head, colon, rest = stripped[3:].partition(":")
            if not colon or stripped[2:3] == "/":
                continue
            path = tuple(head.split()[:MAX_TOKENS])
            if rest.strip() in ("/", ""):
                block = path
                continue
            yield DumpEntry(path, _unquote(rest), number)
            continue
        if block is None or not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:  # "OK", "** end" or anything else at the margin closes the block
            block, stack = None, []
            continue
        head, colon, rest = stripped.partition(":")
        if not colon:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        names = tuple(head.split()[:MAX_TOKENS])
        if rest.strip() in ("", "/"):
            if len(stack) < MAX_DEPTH:
                stack.append((indent, " ".join(names)))
            continue
        opened = tuple(token for _, name in stack for token in name.split())
        yield DumpEntry(block + opened + names, _unquote(rest), number)


def _attribute(tag: str, name: str) -> str | None:
    """The value of attribute `name="…"` in a (bounded) tag, or None."""
    marker = f' {name}="'
    start = tag.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = tag.find('"', start)
    value = tag[start : end if end >= 0 else len(tag)]
    return (html.unescape(value) if "&" in value else value)[:MAX_VALUE]


def xml_entries(text: str) -> Iterator[DumpEntry]:
    """Entries of the XML form: leaf element texts and the root's product/version attributes.

    A scanner over `<`…`>` (no XML library: malformed or truncated dumps still give what they
    hold, entity expansion never happens beyond the five predefined entities).
    """
    stack: list[tuple[str, ...]] = []  # per open element: its name and item number
    ignored = 0  # elements opened past MAX_DEPTH
    leaf: tuple[int, int] | None = None  # (depth, offset of its text) of the last opened element
    line = 1
    position = 0
    size = len(text)
    while True:
        start = text.find("<", position)
        if start < 0:
            return
        line += text.count("\n", position, start)
        if text.startswith("<!--", start):
            end = text.find("-->", start + 4)
            end = size if end < 0 else end + 2
        else:
            end = text.find(">", start + 1)
            if end < 0:
                return
        line += text.count("\n", start, end)
        position = end + 1
        tag = text[start + 1 : min(end, start + 1 + MAX_TAG)]
        if tag[:1] in ("?", "!"):
            continue
        if tag[:1] == "/":
            name = tag[1:].strip()
            if ignored:
                ignored -= 1
                continue
            if leaf is not None and leaf[0] == len(stack) and stack and stack[-1][0] == name:
                value = html.unescape(text[leaf[1] : min(start, leaf[1] + MAX_VALUE)]).strip()
                yield DumpEntry(tuple(t for level in stack for t in level), value, line)
            leaf = None
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == name:
                    del stack[depth:]
                    break
            continue
        parts = tag.split(None, 1)
        if not parts:
            continue
        name = parts[0].rstrip("/")
        self_closing = tag.endswith("/")
        if not stack and not ignored:
            for attribute in ("product", "version"):
                found = _attribute(tag, attribute)
                if found:
                    yield DumpEntry((name, "@" + attribute), found, line)
        if self_closing:
            continue
        if len(stack) >= MAX_DEPTH:
            ignored += 1
            leaf = None
            continue
        item = _attribute(tag, "item")
        stack.append((name, item) if item and item.isdigit() else (name,))
        leaf = (len(stack), end + 1)
