"""One time format everywhere: UTC to the millisecond, and the node's local time from the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app import timefmt
from app.web.templating import when


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2022-07-11T19:49:01.533+02:00", "2022-07-11 17:49:01.533Z"),
        ("2026-01-29T19:01:16.974Z", "2026-01-29 19:01:16.974Z"),
        ("2022-07-11T16:55:26.016000+00:00", "2022-07-11 16:55:26.016Z"),
        (datetime(2026, 1, 29, 19, 1, 16, 974512, tzinfo=UTC), "2026-01-29 19:01:16.974Z"),
        (datetime(2026, 1, 29, 19, 1, 16), "2026-01-29 19:01:16.000Z"),  # naive: UTC
        (
            datetime(2026, 1, 29, 20, 1, 16, tzinfo=timezone(timedelta(hours=1))),
            "2026-01-29 19:01:16.000Z",
        ),
    ],
)
def test_every_moment_reads_the_same_way(value: datetime | str, shown: str) -> None:
    assert timefmt.utc(value) == shown


def test_the_node_local_time_is_kept_where_the_log_gave_one() -> None:
    logged = "2022-07-11T19:49:01.533+02:00"
    assert timefmt.local(logged) == "2022-07-11 19:49:01.533+02:00"
    assert timefmt.show(logged) == "2022-07-11 17:49:01.533Z (local 2022-07-11 19:49:01.533+02:00)"
    assert timefmt.local("2022-07-11T19:49:01-05:30") == "2022-07-11 19:49:01.000-05:30"
    assert timefmt.local("2026-01-29T19:01:16.974Z") is None
    assert timefmt.show("2026-01-29T19:01:16.974Z") == "2026-01-29 19:01:16.974Z"


def test_text_that_is_no_time_is_kept_and_none_is_empty() -> None:
    assert timefmt.utc("not a time") == "not a time"
    assert timefmt.utc(None) == "" and timefmt.iso(None) == "" and timefmt.local(None) is None


def test_the_page_filter_gives_a_time_element_with_the_local_time_as_title() -> None:
    assert str(when("2022-07-11T19:49:01.533+02:00")) == (
        '<time datetime="2022-07-11T17:49:01.533Z" '
        'title="node&#39;s local time: 2022-07-11 19:49:01.533+02:00">'
        "2022-07-11 17:49:01.533Z</time>"
    )
    assert str(when("<b>x</b>")) == "&lt;b&gt;x&lt;/b&gt;"
    assert str(when(None)) == ""
