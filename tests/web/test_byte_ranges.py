"""Reading a download's Range and If-Range (app.web.byte_ranges) at the edges the web tests do
not reach: an empty file, spacing, case, huge numbers."""

from __future__ import annotations

import pytest

from app.web.byte_ranges import Span, Unsatisfiable, if_range_holds, last_modified, requested


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=2-4", 10, Span(2, 5, 10)),
        ("Bytes = 2-4 ", 10, Span(2, 5, 10)),  # the unit is case-insensitive
        ("bytes=2-4,", 10, Span(2, 5, 10)),  # an empty list element is no second range
        ("bytes=0-99999999999999999999999", 10, Span(0, 10, 10)),
        ("bytes=99999999999999999999999-", 10, "416"),
        ("bytes=0-", 0, "416"),  # an empty file has no first byte
        ("bytes=-5", 0, None),  # nor a last one to name: the whole (empty) file
        ("bytes=-0", 10, "416"),
        ("bytes=1-2-3", 10, None),
        ("bytes=٣-4", 10, None),  # digits are ASCII digits
        ("bytes", 10, None),
    ],
)
def test_requested(header: str | None, size: int, expected: Span | str | None) -> None:
    got = requested(header, size)
    if expected == "416":
        assert isinstance(got, Unsatisfiable) and got.size == size
    else:
        assert got == expected


def test_if_range_holds_for_the_file_as_it_is() -> None:
    etag, mtime, now = '"abc-1"', 1_700_000_000.0, 1_700_000_100.0
    assert if_range_holds(None, etag, mtime, now)
    assert if_range_holds(etag, etag, mtime, now)
    assert not if_range_holds(f"W/{etag}", etag, mtime, now)
    assert if_range_holds(last_modified(mtime), etag, mtime, now)
    assert last_modified(mtime) == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert not if_range_holds(last_modified(mtime), etag, mtime, mtime + 0.5)  # weak: too new
    assert not if_range_holds("yesterday", etag, mtime, now)
