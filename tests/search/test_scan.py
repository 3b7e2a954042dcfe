"""The pure search: literal and RE2 matching over blocks, record filters, limits and deadline."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.search.query import BadQuery, CompiledQuery, SearchQuery
from app.search.scan import Outcome, SearchFile, search

SIP = (
    '2018-01-01T12:56:48.965-05:00 vcse1 tvcs: UTCTime="2018-01-01 17:56:48,965" '
    'Module="network.sip" Level="DEBUG":  Action="Received" Msg-Hash="1"\n'
    " SIPMSG:\n"
    " |INVITE sip:1004@cucm.example.com SIP/2.0\n"
    " Via: SIP/2.0/TLS 10.0.0.1:5061\n"
    " Call-ID: abc123\n"
    " CSeq: 100 INVITE\n"
)
LEG = (
    '2018-01-01T12:57:10.000-05:00 vcse1 tvcs: UTCTime="2018-01-01 17:57:10,000" '
    'Module="developer.sip.leg" Level="INFO": Detail="leg created for INVITE" Call-ID="zzz999"\n'
)
TS_ERROR = (
    "2018-01-01T13:10:00.000-05:00 vcse1 traffic_server[3936]: [ET_NET 1] ERROR: "
    "SSL connection failed for 'cucm.example.com'\n"
)


def write(tmp_path: Path, text: str, name: str = "loggingsnapshot.txt") -> SearchFile:
    path = tmp_path / name
    path.write_text(text)
    return SearchFile(path, name, "vcse1")


def run(
    files: list[SearchFile],
    query: SearchQuery,
    *,
    skip: int = 0,
    take: int = 100,
    max_hits: int = 10_000,
    block_size: int = 4 * 2**20,
) -> Outcome:
    return search(
        files,
        CompiledQuery(query),
        skip=skip,
        take=take,
        max_hits=max_hits,
        deadline=float("inf"),
        block_size=block_size,
    )


def lines_of(files: list[SearchFile], outcome: Outcome) -> list[str]:
    return [hit.text for hit in outcome.hits]


def test_literal_finds_each_matching_line_once(tmp_path: Path) -> None:
    log = write(tmp_path, SIP + LEG + TS_ERROR)
    outcome = run([log], SearchQuery(text="INVITE"))
    assert lines_of([log], outcome) == [
        " |INVITE sip:1004@cucm.example.com SIP/2.0",
        " CSeq: 100 INVITE",
        LEG.rstrip("\n"),
    ]
    assert outcome.total == 3 and not outcome.truncated


def test_case_is_ignored_unless_asked(tmp_path: Path) -> None:
    log = write(tmp_path, SIP + LEG)
    assert run([log], SearchQuery(text="invite", case_sensitive=False)).total == 3
    assert run([log], SearchQuery(text="invite", case_sensitive=True)).total == 0


def test_regex_is_matched_within_one_line(tmp_path: Path) -> None:
    log = write(tmp_path, SIP + LEG)
    outcome = run([log], SearchQuery(text=r"CSeq: \d+ INVITE", regex=True))
    assert [h.text for h in outcome.hits] == [" CSeq: 100 INVITE"]
    # a negated class never runs over a line end into the next line
    assert run([log], SearchQuery(text=r"Msg-Hash=\"1\"[^x]*SIPMSG", regex=True)).total == 0


def test_hits_across_small_blocks_keep_their_offsets_and_headers(tmp_path: Path) -> None:
    log = write(tmp_path, (SIP + LEG) * 40)
    outcome = run([log], SearchQuery(text="Call-ID: abc123"), block_size=300)
    data = log.path.read_bytes()
    assert outcome.total == 40
    for hit in outcome.hits:
        assert data[hit.offset :].startswith(b" Call-ID: abc123\n")
        assert hit.header is not None and 'Module="network.sip"' in hit.header


def test_module_filter_applies_to_the_record_of_a_continuation_line(tmp_path: Path) -> None:
    log = write(tmp_path, SIP + LEG)
    sip_only = run([log], SearchQuery(text="INVITE", module='Module="network.sip"'))
    assert [h.text for h in sip_only.hits] == [
        " |INVITE sip:1004@cucm.example.com SIP/2.0",
        " CSeq: 100 INVITE",
    ]
    # a module prefix takes its sub-modules
    assert run([log], SearchQuery(module="developer.sip")).total == 1


def test_level_filter_knows_bracket_levels_and_aliases(tmp_path: Path) -> None:
    log = write(tmp_path, SIP + LEG + TS_ERROR)
    errors = run([log], SearchQuery(level="error"))
    assert [h.text for h in errors.hits] == [TS_ERROR.rstrip("\n")]
    assert run([log], SearchQuery(text="INVITE", level="INFO")).total == 1


def test_call_id_filter_takes_every_line_of_the_call_record(tmp_path: Path) -> None:
    log = write(tmp_path, SIP + LEG)
    outcome = run([log], SearchQuery(text="INVITE", call_id="abc123"))
    assert [h.text for h in outcome.hits] == [
        " |INVITE sip:1004@cucm.example.com SIP/2.0",
        " CSeq: 100 INVITE",
    ]


def test_time_range_is_utc(tmp_path: Path) -> None:
    log = write(tmp_path, SIP + LEG + TS_ERROR)
    # 12:57:10-05:00 is 17:57:10Z; 13:10-05:00 is 18:10Z
    window = SearchQuery(
        text="vcse1",
        time_from=datetime(2018, 1, 1, 17, 57, tzinfo=UTC),
        time_to=datetime(2018, 1, 1, 18, 0, tzinfo=UTC),
    )
    assert [h.text for h in run([log], window).hits] == [LEG.rstrip("\n")]


def test_pages_and_the_hit_limit(tmp_path: Path) -> None:
    log = write(tmp_path, "".join(f"line {n} needle\n" for n in range(1, 251)))
    second = run([log], SearchQuery(text="needle"), skip=100, take=100)
    assert second.total == 250
    assert second.hits[0].text == "line 101 needle" and len(second.hits) == 100
    limited = run([log], SearchQuery(text="needle"), max_hits=30)
    assert limited.total == 30 and limited.stopped == "limit" and limited.truncated


def test_deadline_stops_the_search_and_says_so(tmp_path: Path) -> None:
    files = [write(tmp_path, "x needle\n", f"f{n}.log") for n in range(3)]
    ticks = itertools.count()
    outcome = search(
        files,
        CompiledQuery(SearchQuery(text="needle")),
        skip=0,
        take=10,
        max_hits=100,
        deadline=3,
        clock=lambda: next(ticks),
    )
    assert outcome.stopped == "time"
    assert outcome.files_searched < 3


def test_a_bad_regex_says_what_re2_found() -> None:
    with pytest.raises(BadQuery, match="missing \\)"):
        CompiledQuery(SearchQuery(text="Call-ID=(abc", regex=True))


def test_nothing_to_search_for_is_refused() -> None:
    with pytest.raises(BadQuery, match="Type something"):
        CompiledQuery(SearchQuery(time_from=datetime(2018, 1, 1, tzinfo=UTC)))


def test_highlight_spans() -> None:
    query = CompiledQuery(SearchQuery(text="ab", case_sensitive=False))
    assert query.spans("xAbyab") == [(1, 3), (4, 6)]


def test_case_insensitive_literal_finds_every_line_across_blocks(tmp_path: Path) -> None:
    """The caseless literal path (Hyperscan where installed, RE2 otherwise)."""
    log = write(tmp_path, "".join(f"{n} x CALL-id{n} y call-ID z\n" for n in range(300)))
    outcome = run([log], SearchQuery(text="Call-Id", case_sensitive=False), block_size=512)
    assert outcome.total == 300
    assert [hit.text.split()[0] for hit in outcome.hits] == [str(n) for n in range(100)]
    assert run([log], SearchQuery(text="ÇALL", case_sensitive=False)).total == 0


BSD_TVCS = (
    '<166>Nov 18 20:55:58 vcse1 tvcs: tvcs: UTCTime="2022-11-18 19:55:58,100" '
    'Module="network.sip" Level="INFO": Detail="before"\n'
)
BSD_TS = (
    "<166>Nov 18 20:56:30 vcse1 traffic_server[3936]: traffic_server: [ET_NET 1] ERROR: "
    "SSL connection failed for 'cucm.example.com'\n"
)


def test_time_range_dates_bsd_lines_without_utctime_by_their_file(tmp_path: Path) -> None:
    """A remote-syslog export: a Traffic Server line has only its BSD time (no year, no zone);
    the tvcs line near it tells both (+01:00), so 20:56:30 local is 19:56:30Z."""
    log = write(tmp_path, BSD_TVCS + BSD_TS, name="messages")
    window = SearchQuery(
        text="vcse1",
        time_from=datetime(2022, 11, 18, 19, 56, tzinfo=UTC),
        time_to=datetime(2022, 11, 18, 19, 57, tzinfo=UTC),
    )
    outcome = run([log], window)
    assert [h.text for h in outcome.hits] == [BSD_TS.rstrip("\n")]
    (hit,) = outcome.hits
    assert hit.clock is not None
    assert hit.clock.resolve("Nov 18 20:56:30") == datetime(2022, 11, 18, 19, 56, 30, tzinfo=UTC)
    earlier = SearchQuery(text="vcse1", time_to=datetime(2022, 11, 18, 19, 56, tzinfo=UTC))
    assert [h.text for h in run([log], earlier).hits] == [BSD_TVCS.rstrip("\n")]


def test_bsd_lines_of_a_file_that_never_tells_the_year_and_zone_are_not_guessed(
    tmp_path: Path,
) -> None:
    log = write(tmp_path, BSD_TS * 3, name="messages")
    window = SearchQuery(text="vcse1", time_from=datetime(2000, 1, 1, tzinfo=UTC))
    assert run([log], window).hits == []
    (first, *_) = run([log], SearchQuery(text="vcse1")).hits
    assert first.clock is None
