"""TLS sessions found in the committed captures of the TAC note's scenarios, and robustness."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.analyzers.pcap_tls import (
    RESUMED_NOTE,
    TLS13_NOTE,
    PcapResult,
    TlsSession,
    analyze_pcap,
    main,
    summarize,
)
from app.analyzers.truststore import TrustStore
from tests.analyzers import captures

TOMCAT_SUBJECT = "CN=cucm-ms.steven.lab,OU=TAC,O=Cisco,L=Diegem,ST=Belgium,C=BE"
TOMCAT_EC_SUBJECT = "CN=cucm-EC.steven.lab,OU=TAC,O=Cisco,L=Diegem,ST=Belgium,C=BE"
STEVEN_CA = "CN=steven-DC-CA,DC=steven,DC=lab"


def by_port(result: PcapResult) -> dict[int, TlsSession]:
    return {s.server_port: s for s in result.sessions}


def facts(result: PcapResult) -> list[tuple[object, ...]]:
    return [
        (
            s.client_ip,
            s.server_ip,
            s.server_port,
            s.sni,
            s.tls_version,
            tuple(s.alerts),
            tuple(c.sha256 for c in s.chain),
            s.note,
        )
        for s in result.sessions
    ]


@pytest.fixture(scope="module")
def article() -> PcapResult:
    return analyze_pcap(captures.DATA / "article.pcap")


def test_article_8443_presents_the_ca_signed_rsa_tomcat_certificate(article: PcapResult) -> None:
    s = by_port(article)[8443]
    assert (s.client_ip, s.server_ip, s.sni, s.tls_version) == (
        "10.48.36.46",
        "10.48.36.215",
        "cucm.steven.lab",
        "TLS 1.2",
    )
    assert s.alerts == []
    assert s.first_seen.startswith("2022-07-11T16:55:25.")
    [leaf] = s.chain  # the root is not sent
    assert leaf.subject == TOMCAT_SUBJECT
    assert leaf.issuer == STEVEN_CA
    assert leaf.common_name == "cucm-ms.steven.lab"
    assert leaf.sans == ["cucm.steven.lab", "cucm-ms.steven.lab"]
    assert (leaf.self_signed, leaf.key_type, leaf.key_bits, leaf.is_ca) == (
        False,
        "RSA",
        2048,
        False,
    )
    assert leaf.eku == ["serverAuth", "clientAuth"]
    assert leaf.signature_algorithm == "sha256WithRSAEncryption"
    assert (leaf.not_before, leaf.not_after) == ("2022-07-01T00:00:00Z", "2032-07-01T00:00:00Z")
    assert leaf.serial == "4500000120850805d340"
    assert len(leaf.sha256) == 64


def test_article_8443_mutual_tls_shows_the_expressway_client_certificate(
    article: PcapResult,
) -> None:
    s = by_port(article)[8443]
    assert s.client_cert_requested
    # openssl completes the client chain from its CAfile, so the root is sent too
    assert [c.common_name for c in s.client_chain] == ["vcsc.steven.lab", "steven-DC-CA"]


def test_article_6972_self_signed_ecdsa_rejected_with_unknown_ca(article: PcapResult) -> None:
    s = by_port(article)[6972]
    [leaf] = s.chain
    assert leaf.subject == leaf.issuer == TOMCAT_EC_SUBJECT
    assert leaf.sans == ["cucm.steven.lab"]
    assert (leaf.self_signed, leaf.key_type, leaf.key_bits) == (True, "EC", 384)
    assert leaf.signature_algorithm == "ecdsa-with-SHA256"
    assert s.alerts == ["client: fatal unknown_ca"]
    assert not s.client_cert_requested
    assert article.warnings == []


def test_unknown_ca_chain_carries_leaf_and_intermediate() -> None:
    [s] = analyze_pcap(captures.DATA / "unknown_ca.pcap").sessions
    assert [c.subject for c in s.chain] == [TOMCAT_SUBJECT, "CN=Rogue Issuing CA,O=Rogue Labs"]
    assert s.chain[0].issuer == s.chain[1].subject == "CN=Rogue Issuing CA,O=Rogue Labs"
    assert s.chain[1].is_ca and not s.chain[1].self_signed
    assert s.alerts == ["client: fatal unknown_ca"]


def test_connecting_by_ip_sends_the_ip_as_sni_or_none() -> None:
    first, second = analyze_pcap(captures.DATA / "sni_ip.pcap").sessions
    assert first.sni == "10.48.36.215"
    assert "10.48.36.215" not in first.chain[0].sans
    assert first.alerts == ["client: fatal bad_certificate"]  # openssl -verify_ip mismatch
    assert second.sni is None
    assert second.chain[0].subject == TOMCAT_SUBJECT


def test_tls13_says_certificates_are_encrypted() -> None:
    [s] = analyze_pcap(captures.DATA / "tls13.pcap").sessions
    assert s.tls_version == "TLS 1.3"
    assert "TLS 1.3" in s.client_versions
    assert s.chain == []
    assert s.note == TLS13_NOTE
    assert s.alerts == []


def test_resumed_session_has_no_certificate() -> None:
    full, resumed = analyze_pcap(captures.DATA / "resumed.pcap").sessions
    assert full.chain[0].subject == TOMCAT_SUBJECT and full.note is None
    assert resumed.chain == [] and resumed.note == RESUMED_NOTE
    assert resumed.client_port != full.client_port


def test_summary_has_the_api_shape_and_trust_verdicts(article: PcapResult) -> None:
    store = TrustStore.from_pem_files([captures.DATA / "ca_vcsc_2022-07-11_16_55_44.pem"])
    entries = summarize(article.sessions + article.sessions, store)
    assert [e["port"] for e in entries] == [8443, 6972]
    assert all(e["count"] == 2 for e in entries)
    entry = entries[1]
    assert set(entry) == {
        "server_ip",
        "port",
        "sni",
        "tls_version",
        "alerts",
        "chain",
        "trusted",
        "count",
        "first_seen",
    }
    assert set(entry["chain"][0]) == {
        "subject",
        "issuer",
        "sans",
        "self_signed",
        "key_type",
        "key_bits",
        "not_before",
        "not_after",
        "sha256",
    }
    assert (entries[0]["trusted"], entries[1]["trusted"]) == (True, False)
    assert entry["alerts"] == ["client: fatal unknown_ca"]
    assert entry["first_seen"] == article.sessions[1].first_seen
    assert all(e["trusted"] is None for e in summarize(article.sessions))


def test_truncated_capture_keeps_what_was_read(article: PcapResult, tmp_path: Path) -> None:
    data = (captures.DATA / "article.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 700])  # mid-way through the last packets
    result = analyze_pcap(cut)
    assert result.warnings == [f"capture is truncated after {result.packets} packets"]
    assert 0 < result.packets < article.packets
    assert by_port(result)[8443].chain[0].subject == TOMCAT_SUBJECT


def test_pcapng_with_two_interfaces_of_different_link_types(
    article: PcapResult, tmp_path: Path
) -> None:
    path = captures.write_pcapng_two_interfaces(
        tmp_path / "x.pcapng", captures.frames("article.pcap")
    )
    result = analyze_pcap(path)
    assert facts(result) == facts(article)
    assert result.packets == 2 * article.packets
    assert result.sessions[0].first_seen == article.sessions[0].first_seen


def test_vlan_tagged_copy_gives_the_same_sessions(article: PcapResult, tmp_path: Path) -> None:
    tagged = captures.vlan_tagged(captures.frames("article.pcap"))
    assert facts(analyze_pcap(captures.write_pcap(tmp_path / "v.pcap", tagged))) == facts(article)


def test_raw_ip_link_type(article: PcapResult, tmp_path: Path) -> None:
    raw = [(ts, buf[14:]) for ts, buf in captures.frames("article.pcap")]
    path = captures.write_pcap(tmp_path / "raw.pcap", raw, linktype=101)
    assert facts(analyze_pcap(path)) == facts(article)


@pytest.mark.parametrize("size", [1, 7, 100])
def test_records_spread_over_tiny_segments(article: PcapResult, tmp_path: Path, size: int) -> None:
    small = captures.resegmented(captures.frames("unknown_ca.pcap"), size)
    result = analyze_pcap(captures.write_pcap(tmp_path / "s.pcap", small))
    assert facts(result) == facts(analyze_pcap(captures.DATA / "unknown_ca.pcap"))


def test_out_of_order_and_retransmitted_segments(article: PcapResult, tmp_path: Path) -> None:
    messy = captures.shuffled_with_retransmissions(
        captures.resegmented(captures.frames("article.pcap"), 300)
    )
    result = analyze_pcap(captures.write_pcap(tmp_path / "m.pcap", messy))
    assert facts(result) == facts(article)


def test_non_tls_traffic_on_a_tls_port_is_ignored(tmp_path: Path) -> None:
    frames = captures.frames("sni_ip.pcap")
    first_flow = frames[:11]  # SYN .. final ACK of the first connection
    http = []
    for ts, buf in first_flow:
        payload_start = 14 + 20 + (buf[14 + 20 + 12] >> 4) * 4
        if len(buf) > payload_start:  # replace TLS bytes with HTTP of the same length
            text = b"GET / HTTP/1.1\r\n" * 200
            buf = buf[:payload_start] + text[: len(buf) - payload_start]
        http.append((ts, buf))
    result = analyze_pcap(captures.write_pcap(tmp_path / "http.pcap", http))
    assert result.sessions == []
    assert result.packets == 11


def test_garbage_file_gives_a_warning_not_an_exception(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pcap"
    path.write_bytes(os.urandom(5000))
    result = analyze_pcap(path)
    assert result.sessions == [] and result.packets == 0
    assert result.warnings == ["garbage.pcap: not a pcap or pcapng file"]


def test_garbage_packets_after_a_valid_header(tmp_path: Path) -> None:
    header = (captures.DATA / "article.pcap").read_bytes()[:24]
    rng = __import__("random").Random(3)
    body = b"".join(
        (rng.getrandbits(32).to_bytes(4, "little") * 2)
        + (n := rng.randrange(0, 200)).to_bytes(4, "little") * 2
        + bytes(rng.getrandbits(8) for _ in range(n))
        for _ in range(300)
    )
    path = tmp_path / "noise.pcap"
    path.write_bytes(header + body)
    result = analyze_pcap(path)
    assert result.packets == 300 and result.warnings == []


def test_cli_prints_rates_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(captures.DATA / "article.pcap")]) == 0
    out, err = capsys.readouterr()
    assert "packets/s" in err and "MB/s" in err
    assert '"port": 6972' in out
