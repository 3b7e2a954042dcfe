"""First and last seen of a finding whose lines have a BSD syslog timestamp (no year, no zone):
dated by the year and zone another line of the same file tells, else unknown (never invented)."""

from __future__ import annotations

from app.report import Finding
from app.signatures import load_library, scan_lines

LIBRARY = load_library()
SEED = "mra-traffic-server-cert-verification"
HIT = (
    "<166>Jul 11 18:55:26 vcsc traffic_server[18242]: traffic_server[18242]: [ET_NET 0] WARNING: "
    "Core server certificate verification failed for (cucm.steven.lab). Action=Terminate "
    "Error=self signed certificate server=cucm.steven.lab(10.48.36.215) depth=0"
)
# local 18:50:00 with UTCTime 16:50:00: the file's Expressway is at UTC+2, in 2022
EVIDENCE = (
    'Jul 11 18:50:00 vcsc tvcs: UTCTime="2022-07-11 16:50:00,000" Module="network.sip" '
    'Level="INFO":  Detail="Receive Request Method=OPTIONS"'
)


def _seed(lines: list[str], block_size: int = 4 * 2**20) -> Finding:
    found = [
        f
        for f in scan_lines(LIBRARY.signatures, lines, block_size=block_size)
        if f.signature_id == SEED
    ]
    assert len(found) == 1
    return found[0]


def test_bsd_hits_are_dated_by_the_year_and_zone_the_file_tells() -> None:
    finding = _seed([EVIDENCE, HIT, HIT.replace("18:55:26", "19:01:02")])
    assert (finding.first_seen, finding.last_seen) == (
        "2022-07-11T16:55:26+00:00",
        "2022-07-11T17:01:02+00:00",
    )
    assert finding.count == 2 and finding.snippets[0].text == HIT  # the line as written


def test_evidence_in_a_later_block_dates_the_hits_before_it_too() -> None:
    lines = [HIT] + ["x" * 100] * 50 + [EVIDENCE, HIT.replace("18:55:26", "19:01:02")]
    finding = _seed(lines, block_size=4096)  # the evidence is blocks after the first hit
    assert finding.count == 2
    assert (finding.first_seen, finding.last_seen) == (
        "2022-07-11T16:55:26+00:00",
        "2022-07-11T17:01:02+00:00",
    )


def test_without_evidence_the_time_is_unknown() -> None:
    finding = _seed([HIT])
    assert finding.count == 1
    assert (finding.first_seen, finding.last_seen) == (None, None)


def test_a_neighbouring_line_dates_a_hit_across_daylight_saving_time() -> None:
    winter = (  # in March the Expressway is at UTC+1
        'Mar  2 10:00:00 vcsc tvcs: UTCTime="2022-03-02 09:00:00,000" Module="network.sip" '
        'Level="INFO":  Detail="Receive Request Method=OPTIONS"'
    )
    finding = _seed([winter, *["x" * 100] * 20, EVIDENCE, HIT])  # in July at UTC+2
    assert finding.first_seen == "2022-07-11T16:55:26+00:00"  # not 17:55:26 (March's offset)
