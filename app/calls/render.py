"""Draw a Ladder as SVG (pages and downloads) or as plain text (case notes, the CLI).

Every text that came from a log is escaped here; colours are presentation attributes, so the
SVG needs no style sheet and passes the pages' Content-Security-Policy. `link` turns each arrow
into an `<a href="#msg-N">` (the page lists the messages below the ladder).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from html import escape as escape_html

from app.calls.ladder import Arrow, Ladder

COLOURS = {"request": "#1f4e99", "1xx": "#6b6b6b", "2xx": "#1d7a35", "error": "#b3261e"}
COLUMN_WIDTH = 230
ROW_HEIGHT = 30
TOP = 76
LEFT = 150  # room for the times
TEXT_COLUMN = 26
MAX_PNG_ARROWS = 1000
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ufffe\uffff]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟ (CONTROL PICTURES)
    return "\u2421" if code == 0x7F else "\ufffd"


def printable(text: str) -> str:
    """`text` on one line with its control characters shown (`␇`, `␛`): a log's BEL or ESC
    neither breaks the SVG's XML nor drives the terminal `ladder.txt` is printed on."""
    return _UNPRINTABLE.sub(_picture, text)


def escape(text: str) -> str:
    return escape_html(printable(text))


def _time(arrow: Arrow) -> str:
    if arrow.time is None:
        return "?"
    return arrow.time.strftime("%H:%M:%S.") + f"{arrow.time.microsecond // 1000:03d}"


def _delta(arrow: Arrow) -> str:
    return "" if arrow.delta_ms is None else f"+{arrow.delta_ms} ms"


def _label(arrow: Arrow, *, short: bool = False) -> str:
    text = arrow.label
    if len(arrow.messages) == 1 and arrow.first.cseq is not None and arrow.first.method:
        text = f"{text} ({arrow.first.cseq})"
    if arrow.retransmission:
        return f"{text} [resent]" if short else f"{text} [retransmission]"
    return text


def _x(column: int) -> int:
    return LEFT + column * COLUMN_WIDTH + COLUMN_WIDTH // 2


def to_svg(
    ladder: Ladder,
    *,
    link: bool = True,
    marked: Collection[int] = (),
    title: str = "SIP ladder diagram",
) -> str:
    """The ladder as an SVG document; arrows whose number is in `marked` are highlighted."""
    width = LEFT + max(1, len(ladder.columns)) * COLUMN_WIDTH + 20
    height = TOP + len(ladder.arrows) * ROW_HEIGHT + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" '
        f'role="img" aria-label="{escape(title)}">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    for index, column in enumerate(ladder.columns):
        x = _x(index)
        name, paren, detail = column.label.partition(" (")
        out.append(
            f'<text x="{x}" y="18" text-anchor="middle" font-weight="bold">'
            f"{escape(name[:30])}</text>"
            f'<text x="{x}" y="33" text-anchor="middle" font-size="11">'
            f"{escape((paren.strip() + detail)[:34] if paren else '')}</text>"
            f'<text x="{x}" y="48" text-anchor="middle" fill="#555">'
            f"{escape(column.address[:40])}</text>"
            f'<line x1="{x}" y1="56" x2="{x}" y2="{height - 10}" stroke="#999" '
            'stroke-dasharray="4 3"/>'
        )
    for row, arrow in enumerate(ladder.arrows):
        out.append(_svg_arrow(arrow, TOP + row * ROW_HEIGHT + 18, link, arrow.number in marked))
    out.append("</svg>")
    return "\n".join(out)


def _svg_arrow(arrow: Arrow, y: int, link: bool, marked: bool) -> str:
    colour = COLOURS.get(arrow.klass, "#000")
    x1, x2 = _x(arrow.src), _x(arrow.dst)
    parts = []
    if link:
        parts.append(f'<a href="#msg-{arrow.number}" id="arrow-{arrow.number}">')
    parts.append(f'<g class="arrow {arrow.klass}" data-number="{arrow.number}">')
    if marked or link:  # the highlight, or an invisible hit area: the whole row is the link
        fill = 'fill="#fff3a0"' if marked else 'fill="#ffffff" fill-opacity="0"'
        parts.append(f'<rect x="0" y="{y - 20}" width="100%" height="{ROW_HEIGHT - 2}" {fill}/>')
    parts.append(
        f'<text x="6" y="{y}" fill="#333">{escape(_time(arrow))}</text>'
        f'<text x="6" y="{y + 11}" fill="#777" font-size="10">{escape(_delta(arrow))}</text>'
    )
    dash = ' stroke-dasharray="6 4"' if arrow.retransmission else ""
    if x1 == x2:  # a message to itself: a small loop
        parts.append(
            f'<path d="M{x1} {y - 6} h30 v10 h-30" fill="none" stroke="{colour}" '
            f'stroke-width="2"{dash}/>'
        )
        label_x = x1 + 36
        anchor = "start"
    else:
        head = -8 if x2 > x1 else 8
        parts.append(
            f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" '
            f'stroke-width="2"{dash}/>'
            f'<polygon points="{x2},{y} {x2 + head},{y - 4} {x2 + head},{y + 4}" fill="{colour}"/>'
        )
        label_x = (x1 + x2) // 2
        anchor = "middle"
    parts.append(
        f'<text x="{label_x}" y="{y - 5}" text-anchor="{anchor}" fill="{colour}">'
        f"{escape(_label(arrow)[:60])}</text>"
    )
    parts.append("</g>")
    if link:
        parts.append("</a>")
    return "".join(parts)


def to_text(ladder: Ladder) -> str:
    """The ladder as monospaced text for case notes."""
    width = TEXT_COLUMN
    count = max(1, len(ladder.columns))
    lines = []
    for attribute in ("label", "address"):
        cells = [
            printable(str(getattr(c, attribute)))[: width - 2].center(width) for c in ladder.columns
        ]
        lines.append(" " * 22 + "".join(cells).rstrip())
    for arrow in ladder.arrows:
        row = [" "] * (count * width)
        for index in range(count):
            row[index * width + width // 2] = "|"
        a, b = arrow.src * width + width // 2, arrow.dst * width + width // 2
        label = printable(_label(arrow, short=True))
        if a == b:
            text = "".join(row).rstrip() + f"  <- {label} (to itself)"
        else:
            lo, hi = min(a, b), max(a, b)
            fill = "." if arrow.retransmission else "-"
            for pos in range(lo + 1, hi):
                row[pos] = fill
            row[hi - 1 if b > a else lo + 1] = ">" if b > a else "<"
            room = hi - lo - 3
            if room > 0:
                short = label[:room]
                start = lo + 2 + (room - len(short)) // 2
                row[start : start + len(short)] = list(short)
            text = "".join(row).rstrip()
        stamp = f"{_time(arrow):<13}{_delta(arrow):>9}"
        lines.append(f"{stamp} {text}")
    return "\n".join(lines) + "\n"


class PngUnavailable(Exception):
    """PNG rendering needs CairoSVG and the system cairo library; this machine lacks one."""


def to_png(ladder: Ladder) -> bytes:
    """The ladder as a PNG image (CairoSVG); PngUnavailable where cairo cannot be loaded."""
    try:
        import cairosvg  # type: ignore[import-untyped]
    except (ImportError, OSError) as exc:
        raise PngUnavailable(str(exc)) from exc
    shown = Ladder(ladder.columns, ladder.arrows[:MAX_PNG_ARROWS])  # cairo's 32,767 px limit
    png: bytes = cairosvg.svg2png(bytestring=to_svg(shown, link=False).encode("utf-8"))
    return png
