"""Wrong entries are hard to add: sources, prefilter literals, one finding per line, counts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from app.errors import SignatureError
from app.signatures import load_library, scan_lines
from tests.signatures.helpers import minimal_signature, write_library

LIBRARY = load_library()


def _refused(tmp_path: Path, *docs: dict[str, Any]) -> SignatureError:
    write_library(tmp_path, *docs)
    with pytest.raises(SignatureError) as caught:
        load_library(tmp_path)
    return caught.value


def _permissive(contains: list[str]) -> dict[str, Any]:
    doc = minimal_signature()
    doc["match"].update(
        contains=contains,
        patterns=[{"regex": r"Action\s*[:=]\s*Continue code=(?P<code>\d+) peer=(?P<peer>\S+)"}],
    )
    doc["examples"] = [
        {
            "name": "hit",
            "line": "x Action=Continue code=7 peer=a",
            "expect": {"code": 7},
            "source": "https://example.com/note",
        },
        {"name": "also hit", "line": "x Action:Continue code=7 peer=a", "expect": {"code": 7}},
        {"name": "miss", "line": "x Action=Continue code=none", "expect": "no_match"},
    ]
    doc["examples"][1]["variant_of"] = "hit"
    return doc


def test_a_literal_a_matching_line_need_not_hold_is_refused_with_that_line(
    tmp_path: Path,
) -> None:
    error = _refused(tmp_path, _permissive(["Action=Continue", "Action:Continue"]))
    assert error.field == "match.patterns[0].regex"
    assert "Action :Continue" in error.problem or "Action: Continue" in error.problem


def test_literals_every_match_holds_are_accepted(tmp_path: Path) -> None:
    doc = _permissive(["Continue code="])
    assert load_library(write_library(tmp_path, doc)).get("demo-sig").contains == (
        "Continue code=",
    )


def test_a_literal_inside_each_alternative_is_accepted(tmp_path: Path) -> None:
    doc = minimal_signature()
    doc["match"].update(
        contains=["alert certificate unknown", "alert unknown ca"],
        patterns=[
            {
                "regex": r"(?P<peer>sslv3 alert certificate unknown|tlsv1 alert unknown ca)"
                r" code=(?P<code>\d+)"
            }
        ],
    )
    doc["examples"] = [
        {
            "name": "a",
            "line": "sslv3 alert certificate unknown code=1",
            "expect": {"code": 1},
            "source": "seed",
        },
        {"name": "b", "line": "tlsv1 alert unknown ca code=2", "expect": {"code": 2}},
        {"name": "c", "line": "tlsv1 alert unknown ca", "expect": "no_match"},
    ]
    doc["examples"][1]["source"] = "real-log"
    assert load_library(write_library(tmp_path, doc)).get("demo-sig")


def test_a_stable_signature_names_the_source_of_each_positive_example(tmp_path: Path) -> None:
    doc = minimal_signature()
    del doc["examples"][0]["source"]
    error = _refused(tmp_path, doc)
    assert error.field == "examples[0].source" and "experimental" in error.problem
    doc["status"] = "experimental"
    assert load_library(write_library(tmp_path, doc)).get("demo-sig").status == "experimental"


def test_a_variant_must_name_a_sourced_example(tmp_path: Path) -> None:
    doc = minimal_signature()
    doc["examples"].append(
        {"name": "other", "line": "x DEMO-FAIL code=8 peer=b", "expect": {"code": 8}}
    )
    doc["examples"][2]["variant_of"] = "miss"
    error = _refused(tmp_path, doc)
    assert error.field == "examples[2].variant_of"


def test_a_source_is_a_url_or_a_marker(tmp_path: Path) -> None:
    doc = minimal_signature()
    doc["examples"][0]["source"] = "a colleague"
    assert _refused(tmp_path, doc).field == "examples[0].source"


def test_a_literal_no_positive_example_holds_is_refused(tmp_path: Path) -> None:
    doc = minimal_signature()
    doc["match"]["contains"] = ["DEMO-FAIL", "NEVER-SEEN"]
    assert _refused(tmp_path, doc).field == "match.contains[1]"


def _twin(sig_id: str) -> dict[str, Any]:
    doc = copy.deepcopy(minimal_signature(sig_id))
    doc["match"]["patterns"] = [{"regex": r"DEMO-FAIL code=(?P<code>7) peer=(?P<peer>\S+)"}]
    doc["title"] = "Demo failure, code 7"
    return doc


def test_two_signatures_reporting_one_line_are_refused(tmp_path: Path) -> None:
    error = _refused(tmp_path, minimal_signature(), _twin("demo-seven"))
    assert "reports this line too" in error.problem and "refines" in error.problem


def test_a_refining_signature_reports_the_line_alone(tmp_path: Path) -> None:
    library = load_library(
        write_library(tmp_path, minimal_signature(), _twin("demo-seven") | {"refines": "demo-sig"})
    )
    found = scan_lines(
        library.signatures, ["x DEMO-FAIL code=7 peer=a", "x DEMO-FAIL code=8 peer=b"]
    )
    assert sorted((f.signature_id, f.facts["code"]) for f in found) == [
        ("demo-seven", 7),
        ("demo-sig", 8),
    ]


def test_refines_must_name_a_signature(tmp_path: Path) -> None:
    error = _refused(tmp_path, minimal_signature(refines=["no-such-one"]))
    assert error.field == "refines[0]"


def test_no_line_of_the_library_is_reported_by_two_signatures() -> None:
    from app.signatures.lint import first_overlap

    assert first_overlap(LIBRARY.signatures) is None


DISCONNECT = (
    "2017-09-20T10:49:{s:02d}.724-04:00 amer-expressway01 tvcs: "
    'Event="Inbound TLS Negotiation Error" Service="SIP" Src-ip="{ip}" Src-port="{p}" '
    'Dst-ip="172.16.2.2" Dst-port="5062" '
    'Detail="No SSL error available, probably remote disconnect" Protocol="TLS" Level="1" '
    'UTCTime="2017-09-20 14:49:{s:02d},724"'
)


def test_a_scanner_disconnecting_a_few_times_is_info_a_peer_failing_often_a_warning() -> None:
    signature = LIBRARY.get("tls-remote-disconnect-during-handshake")
    lines = [DISCONNECT.format(s=i, ip="203.0.113.9", p=40000 + i) for i in range(3)]
    lines += [DISCONNECT.format(s=i, ip="146.20.193.73", p=50000 + i) for i in range(12)]
    found = {f.facts["src_ip"]: f for f in scan_lines([signature], lines)}
    assert (found["203.0.113.9"].severity, found["203.0.113.9"].count) == ("info", 3)
    assert (found["146.20.193.73"].severity, found["146.20.193.73"].count) == ("warning", 12)
    assert "middlebox" in found["146.20.193.73"].description
    assert "scanner" in found["203.0.113.9"].description


def test_severity_by_count_thresholds_must_increase(tmp_path: Path) -> None:
    doc = minimal_signature(
        severity="info",
        severity_by_count=[
            {"at_least": 10, "severity": "warning"},
            {"at_least": 5, "severity": "error"},
        ],
    )
    assert _refused(tmp_path, doc).field == "severity_by_count[1].at_least"


def test_families_come_from_the_field_or_the_id() -> None:
    assert LIBRARY.get("tls-inbound-untrusted-ca").family == "tls"
    assert LIBRARY.get("expressway-alarm-20004").family == "alarm"
    assert LIBRARY.get("mra-http-403-forbidden").family == "mra"


TS_LINE = (
    "2023-03-02T10:15:42.118+01:00 expc1 traffic_server[4102]: [ET_NET 0] WARNING: Core server "
    "certificate verification failed for (cucm.example.com). Action=Terminate Error={error} "
    "server=cucm.example.com(192.0.2.10) depth=0"
)


@pytest.mark.parametrize(
    ("error", "reported_by"),
    [
        ("certificate is not yet valid", "mra-traffic-server-verification-failed"),
        ("self-signed certificate", "mra-traffic-server-cert-verification"),
        ("certificate has expired", "mra-traffic-server-cert-expired"),
    ],
)
def test_each_traffic_server_failure_is_one_finding_of_the_most_specific_signature(
    error: str, reported_by: str
) -> None:
    found = scan_lines(LIBRARY.signatures, [TS_LINE.format(error=error)])
    assert [f.signature_id for f in found] == [reported_by]
