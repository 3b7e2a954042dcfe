"""The sparse line index and paging of the log viewer, on files written under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.web import logview
from app.web.logview import LINES_PER_PAGE
from tests.web.conftest import log_text


def write(directory: Path, content: bytes, name: str = "a.log") -> Path:
    path = directory / name
    path.write_bytes(content)
    return path


def page_texts(path: Path, page: int) -> list[str]:
    index = logview.build_index(path)
    return [line.text for line in logview.read_page(path, index, page).lines]


@pytest.mark.parametrize(
    ("lines", "trailing_newline", "pages"),
    [
        (0, True, 1),
        (1, True, 1),
        (999, True, 1),
        (1000, True, 1),
        (1001, True, 2),
        (2500, False, 3),
    ],
)
def test_line_and_page_counts(
    log_dir: Path, lines: int, trailing_newline: bool, pages: int
) -> None:
    content = log_text(lines)
    if not trailing_newline:
        content = content.rstrip(b"\n")
    index = logview.build_index(write(log_dir, content))
    assert index.line_count == lines
    assert index.page_count == pages
    assert len(index.page_offsets) == pages


def test_every_page_starts_at_the_right_line(log_dir: Path) -> None:
    path = write(log_dir, log_text(3 * LINES_PER_PAGE + 7))
    index = logview.build_index(path)
    for page in range(1, 5):
        shown = logview.read_page(path, index, page)
        first = (page - 1) * LINES_PER_PAGE + 1
        assert shown.lines[0].number == first
        assert shown.lines[0].text == f"line {first}"
        assert all(line.text == f"line {line.number}" for line in shown.lines)
    assert len(logview.read_page(path, index, 4).lines) == 7


def test_index_is_right_across_read_blocks(log_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Page starts falling inside, at the edge of, and across small read blocks."""
    monkeypatch.setattr(logview, "BLOCK_SIZE", 1000)
    monkeypatch.setattr(logview, "_STEP", 7)
    path = write(log_dir, log_text(5432))
    index = logview.build_index(path)
    data = path.read_bytes()
    for page, offset in enumerate(index.page_offsets):
        assert data[offset:].startswith(f"line {page * LINES_PER_PAGE + 1}\n".encode())
    assert index.line_count == 5432


def test_pages_out_of_range_are_clamped(log_dir: Path) -> None:
    path = write(log_dir, log_text(1500))
    index = logview.build_index(path)
    assert logview.read_page(path, index, 99).number == 2
    assert logview.read_page(path, index, 0).number == 1


def test_page_of_line() -> None:
    assert logview.page_of_line(1) == 1
    assert logview.page_of_line(1000) == 1
    assert logview.page_of_line(1001) == 2
    assert logview.page_of_line(0) == 1


def test_invalid_utf8_and_crlf_are_shown_safely(log_dir: Path) -> None:
    path = write(log_dir, b"caf\xe9 ok\r\nsecond\r\n\xff\xfe\n")
    assert page_texts(path, 1) == ["caf\ufffd ok", "second", "\ufffd\ufffd"]


def test_only_newline_ends_a_line(log_dir: Path) -> None:
    """Form feeds and U+2028 inside a line do not shift the line numbers snippets point at."""
    path = write(log_dir, "a\x0cb\n\u2028c\nd\n".encode())
    assert page_texts(path, 1) == ["a\x0cb", "\u2028c", "d"]


def test_very_long_lines_are_cut(log_dir: Path) -> None:
    path = write(log_dir, b"x" * (logview.MAX_LINE_CHARS + 50) + b"\nshort\n")
    index = logview.build_index(path)
    first, second = logview.read_page(path, index, 1).lines
    assert first.cut and len(first.text) == logview.MAX_LINE_CHARS
    assert not second.cut and second.text == "short"


def test_a_huge_page_is_read_only_up_to_the_cap(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logview, "MAX_PAGE_BYTES", 100)
    path = write(log_dir, log_text(50))
    shown = logview.read_page(path, logview.build_index(path), 1)
    assert shown.truncated
    assert 0 < len(shown.lines) < 50
    assert all(line.text == f"line {line.number}" for line in shown.lines)


def test_index_is_saved_and_reused_then_rebuilt_when_the_file_changes(log_dir: Path) -> None:
    path = write(log_dir, log_text(2100))
    index_file = log_dir / "index" / "a.u64"
    first = logview.load_index(path, index_file)
    assert index_file.is_file()
    assert index_file.stat().st_size == 8 * (4 + 3)  # header + one offset per page
    assert logview.load_index(path, index_file) == first
    path.write_bytes(log_text(10))
    assert logview.load_index(path, index_file).line_count == 10


def test_a_corrupt_index_file_is_rebuilt(log_dir: Path) -> None:
    path = write(log_dir, log_text(1200))
    index_file = log_dir / "a.u64"
    index_file.write_bytes(b"garbage")
    assert logview.load_index(path, index_file).line_count == 1200


def test_building_reads_in_blocks_not_the_whole_file(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No read asks for more than a block, whatever the file size."""
    monkeypatch.setattr(logview, "BLOCK_SIZE", 4096)
    path = write(log_dir, log_text(20_000))
    sizes: list[int] = []
    real_open = Path.open

    def spying_open(self: Path, *args: object, **kwargs: object) -> object:
        handle = real_open(self, *args, **kwargs)  # type: ignore[call-overload]
        real_read = handle.read

        def read(size: int = -1) -> bytes:
            sizes.append(size)
            data: bytes = real_read(size)
            return data

        handle.read = read
        return handle

    monkeypatch.setattr(Path, "open", spying_open)
    index = logview.build_index(path)
    page = logview.read_page(path, index, 20)
    assert page.lines[-1].text == "line 20000"
    assert sizes and all(0 < size <= 4096 for size in sizes[:-1])
    assert sizes[-1] <= logview.MAX_PAGE_BYTES


def test_binary_files_are_recognised(log_dir: Path) -> None:
    assert logview.looks_binary(
        write(log_dir, b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00", "c.pcap")
    )
    assert not logview.looks_binary(write(log_dir, log_text(10), "t.log"))


def test_a_page_shows_every_line_within_its_byte_budget(log_dir: Path) -> None:
    long_lines = b"".join(b"q" * 8000 + b"\n" for _ in range(500))
    short_lines = b"".join(f"short {i}\n".encode() for i in range(500))
    path = write(log_dir, long_lines + short_lines)
    shown = logview.read_page(path, logview.build_index(path), 1, page_bytes=100_000)
    assert len(shown.lines) == LINES_PER_PAGE  # no line disappears from the page
    assert sum(len(line.text) for line in shown.lines) <= 100_000
    assert all(line.cut and line.text.startswith("q") for line in shown.lines[:500])
    assert [line.text for line in shown.lines[500:]] == [f"short {i}" for i in range(500)]
    assert not any(line.cut for line in shown.lines[500:])


def test_a_line_cut_for_the_budget_keeps_whole_characters(log_dir: Path) -> None:
    path = write(log_dir, "é".encode() * 5000 + b"\n")
    [line] = logview.read_page(path, logview.build_index(path), 1, page_bytes=4097).lines
    assert line.cut and set(line.text) == {"é"} and len(line.text) == 2048


def test_line_budget_cuts_only_the_longest_lines() -> None:
    assert logview.line_budget([10, 20, 30], 60) is None
    assert logview.line_budget([10, 20, 1000], 100) == 70
    assert logview.line_budget([500] * 4, 1000) == 250
