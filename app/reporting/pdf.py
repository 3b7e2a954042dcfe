"""Write a report document (reporting/document.py) as a printable PDF with ReportLab.

Nothing is fetched: the fonts are DejaVu from the system when installed (wide Unicode coverage),
else Vera, which ReportLab ships, and Courier for the log lines. Every text is escaped before it
reaches ReportLab's paragraph markup; signature texts are shown as plain text (app.textformat).
"""

from __future__ import annotations

import io
import textwrap
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    LongTable,
    Paragraph,
    Preformatted,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus.doctemplate import BaseDocTemplate

from app import textformat
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

SYSTEM_FONTS = Path("/usr/share/fonts/truetype/dejavu")
CODE_COLUMNS = 110  # log lines are wrapped at this width to stay on the page


@lru_cache(maxsize=1)
def _fonts() -> tuple[str, str, str]:
    """(regular, bold, monospace) font names, registered once per process."""
    sans, bold, mono = (
        SYSTEM_FONTS / "DejaVuSans.ttf",
        SYSTEM_FONTS / "DejaVuSans-Bold.ttf",
        SYSTEM_FONTS / "DejaVuSansMono.ttf",
    )
    if sans.is_file() and bold.is_file():
        pdfmetrics.registerFont(TTFont("LoupeSans", str(sans)))
        pdfmetrics.registerFont(TTFont("LoupeSans-Bold", str(bold)))
    else:  # the fonts ReportLab ships
        pdfmetrics.registerFont(TTFont("LoupeSans", "Vera.ttf"))
        pdfmetrics.registerFont(TTFont("LoupeSans-Bold", "VeraBd.ttf"))
    if mono.is_file():
        pdfmetrics.registerFont(TTFont("LoupeMono", str(mono)))
        return "LoupeSans", "LoupeSans-Bold", "LoupeMono"
    return "LoupeSans", "LoupeSans-Bold", "Courier"


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    regular, bold, mono = _fonts()
    base = getSampleStyleSheet()
    body = ParagraphStyle("LoupeBody", parent=base["BodyText"], fontName=regular, fontSize=9.5)
    return {
        "body": body,
        "h1": ParagraphStyle("LoupeH1", parent=base["Heading1"], fontName=bold, fontSize=16),
        "h2": ParagraphStyle("LoupeH2", parent=base["Heading2"], fontName=bold, fontSize=13),
        "h3": ParagraphStyle("LoupeH3", parent=base["Heading3"], fontName=bold, fontSize=10.5),
        "cell": ParagraphStyle("LoupeCell", parent=body, fontSize=8, leading=10),
        "code": ParagraphStyle(
            "LoupeCode",
            parent=base["Code"],
            fontName=mono,
            fontSize=7,
            leading=8.5,
            backColor=colors.HexColor("#f3f4f6"),
            borderPadding=3,
        ),
    }


def _para(text: str, style: str = "body") -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), _styles()[style])


def _code(lines: tuple[str, ...]) -> Preformatted:
    wrapped = [
        part
        for line in lines
        for part in (textwrap.wrap(line, CODE_COLUMNS, subsequent_indent="    ") or [""])
    ]
    return Preformatted("\n".join(wrapped), _styles()["code"])


def _table(block: Table, width: float) -> LongTable:
    header = [_para(h, "cell") for h in block.header]
    rows = [[_para(cell, "cell") for cell in row] for row in block.rows]
    table = LongTable(
        [header, *rows], colWidths=[width / len(block.header)] * len(block.header), repeatRows=1
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9ca3af")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _flowables(doc: Document, width: float) -> list[Flowable]:
    story: list[Flowable] = []
    for block in doc.blocks:
        if isinstance(block, Heading):
            story.append(_para(block.text, f"h{min(block.level, 3)}"))
        elif isinstance(block, Text):
            story.append(_para(block.text))
        elif isinstance(block, Prose):
            label = f"<b>{escape(block.label)}:</b> "
            body = escape(textformat.to_text(block.text)).replace("\n", "<br/>")
            story.append(Paragraph(label + body, _styles()["body"]))
        elif isinstance(block, Fields):
            for label, value in block.items:
                markup = f"<b>{escape(label)}:</b> {escape(value)}"
                story.append(Paragraph(markup, _styles()["body"]))
        elif isinstance(block, Code):
            story += [_code(block.lines), Spacer(1, 2 * mm)]
        elif isinstance(block, Table):
            story += [_table(block, width), Spacer(1, 2 * mm)]
        elif isinstance(block, Bullets):
            story += [_para(f"• {item}") for item in block.items]
    return story


def render_pdf(doc: Document) -> bytes:
    """The document as PDF bytes (A4, page numbers in the footer, the title as metadata)."""
    buffer = io.BytesIO()
    regular = _fonts()[0]
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=doc.title,
        author="logloupe",
        creator="logloupe",
    )

    def footer(canvas: Canvas, document: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(regular, 7)
        canvas.drawRightString(
            A4[0] - 15 * mm, 8 * mm, f"{doc.title[:90]} · page {canvas.getPageNumber()}"
        )
        canvas.restoreState()

    template.build(_flowables(doc, template.width), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
