"""Signature texts (a Markdown subset) as safe HTML for pages and as plain text for the CLI."""

from __future__ import annotations

import pytest

from app.textformat import to_html, to_text

TEXT = (
    "Upload the *CA* to the `trusted CA list`.\n\n"
    "- first **reason**\n- second reason\n\n"
    "See [the guide](https://example.com/guide)."
)


def test_html_has_emphasis_code_lists_and_links() -> None:
    html = str(to_html(TEXT))
    assert "<p>Upload the <em>CA</em> to the <code>trusted CA list</code>.</p>" in html
    assert "<ul>\n<li>first <strong>reason</strong></li>\n<li>second reason</li>\n</ul>" in html
    assert '<a rel="noopener noreferrer" target="_blank" href="https://example.com/guide">' in html


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "<a href='javascript:alert(1)'>x</a>",
    ],
)
def test_raw_html_is_shown_as_text(hostile: str) -> None:
    html = str(to_html(f"Server {hostile} said no"))
    assert "<script" not in html and "<img" not in html and "<a href='" not in html
    assert "&lt;" in html


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "[x](JAVASCRIPT:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox)",
        "[x](file:///etc/passwd)",
        "[x](/relative/path)",
    ],
)
def test_only_http_and_https_links_become_links(link: str) -> None:
    assert "href=" not in str(to_html(f"see {link}"))


def test_plain_text_drops_the_markup() -> None:
    assert to_text(TEXT) == (
        "Upload the CA to the trusted CA list.\n\n"
        "- first reason\n- second reason\n\n"
        "See the guide (https://example.com/guide)."
    )


def test_plain_text_numbers_ordered_lists_and_keeps_raw_html_as_typed() -> None:
    assert to_text("1. one\n2. two") == "1. one\n2. two"
    assert to_text("a <b>c</b>") == "a <b>c</b>"
    assert to_text("") == "" and str(to_html(None)) == ""
