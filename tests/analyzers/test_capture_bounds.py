"""A capture cannot make the analysis hold unbounded memory: the flow table and the reassembly
buffers are capped, the least recently active flows are dropped and counted in one warning,
and the TLS handshakes around the flood are still found."""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import pytest

from app.analyzers import pcap_tls
from app.analyzers.capture_reader import ReadStatus, read_packets
from app.analyzers.pcap_tls import EVICTED_NOTE, analyze_pcap
from app.analyzers.tcp_stream import DLT_EN10MB, slice_tcp
from tests.analyzers import captures

_ETHERNET_IPV4 = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"


def syn_frame(number: int) -> bytes:
    """A TCP SYN from its own address and port to 10.99.0.1:443 (Ethernet, IPv4)."""
    src = struct.pack(">I", 0x0B000000 + number)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, src, b"\x0a\x63\x00\x01")
    tcp = struct.pack(">HHIIBBHHH", 1024 + number % 50_000, 443, number, 0, 0x50, 0x02, 0, 0, 0)
    return _ETHERNET_IPV4 + ip + tcp


def write_capture(path: Path, frames: list[tuple[float, bytes]]) -> Path:
    """A classic little-endian pcap, written in one go (fast for 10^5 frames)."""
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for ts, frame in frames:
        sec = int(ts)
        usec = int((ts - sec) * 1e6)
        parts.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(parts))
    return path


def syn_flood(count: int, start: float = 1_657_000_000.0) -> list[tuple[float, bytes]]:
    return [(start + i * 1e-5, syn_frame(i)) for i in range(count)]


def peak_bytes(path: Path) -> tuple[int, pcap_tls.PcapResult]:
    tracemalloc.start()
    try:
        result = analyze_pcap(path)
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_however_many_syn_only_flows_the_capture_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pcap_tls, "MAX_FLOWS", 250)
    small = write_capture(tmp_path / "small.pcap", syn_flood(2_000))
    large = write_capture(tmp_path / "large.pcap", syn_flood(8_000))
    small_peak, small_result = peak_bytes(small)
    large_peak, large_result = peak_bytes(large)
    # 8,000 flows followed at once would take about 6 MB; 250 take 0.2 MB, plus 2-3 MB of
    # read buffers
    assert large_peak < 4 * 2**20, large_peak
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)
    assert large_result.warnings == [
        "7,750 TCP flows were not followed to the end: more than 250 were open at once "
        "(or 64 MB of handshake data waited for missing segments); TLS handshakes on them "
        "may be incomplete"
    ]
    assert small_result.warnings[0].startswith("1,750 TCP flows were not followed")
    assert large_result.packets == 8_000 and large_result.sessions == []


def test_handshakes_before_and_after_a_flood_are_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pcap_tls, "MAX_FLOWS", 200)
    article = captures.frames("article.pcap")
    plain = analyze_pcap(captures.DATA / "article.pcap")
    first = article[0][0]
    flood = syn_flood(1_000, start=first - 10)
    path = write_capture(tmp_path / "flooded.pcap", flood + article + flood)
    result = analyze_pcap(path)
    assert [(s.server_port, [c.sha256 for c in s.chain]) for s in result.sessions] == [
        (s.server_port, [c.sha256 for c in s.chain]) for s in plain.sessions
    ]
    assert result.warnings[-1].startswith("1,800 TCP flows were not followed to the end")


def payload_frames(frames: list[tuple[float, bytes]]) -> list[int]:
    """Indexes of the frames that carry TCP payload."""
    sliced = [slice_tcp(DLT_EN10MB, frame) for _, frame in frames]
    return [i for i, pkt in enumerate(sliced) if pkt is not None and pkt.payload]


def test_a_handshake_interrupted_by_a_flood_is_marked_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pcap_tls, "MAX_FLOWS", 100)
    handshake = captures.frames("unknown_ca.pcap")
    clean = analyze_pcap(captures.DATA / "unknown_ca.pcap")
    assert clean.sessions and clean.sessions[0].chain  # the certificate is readable in full
    split = payload_frames(handshake)[1] + 1  # the server's first segment, not its last
    flood = syn_flood(1_000, start=handshake[split - 1][0])
    path = write_capture(tmp_path / "cut.pcap", handshake[:split] + flood + handshake[split:])
    result = analyze_pcap(path)
    cut = result.sessions[0]
    assert cut.chain == [] and cut.note == EVICTED_NOTE
    assert any("TCP flows were not followed to the end" in w for w in result.warnings)


def test_bytes_waiting_in_buffers_are_capped_across_flows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 handshakes whose certificate never completes: what they hold stays under the cap."""
    monkeypatch.setattr(pcap_tls, "MAX_BUFFERED", 64 * 1024)
    handshake = captures.frames("unknown_ca.pcap")
    opening = handshake[: payload_frames(handshake)[1] + 1]
    client_ip = opening[0][1][26:30]
    frames = []
    for n in range(200):  # the same opening, each from a client port of its own
        port = struct.pack(">H", 20_000 + n)
        for ts, frame in opening:
            at = 34 if frame[26:30] == client_ip else 36
            frames.append((ts + n, frame[:at] + port + frame[at + 2 :]))
    path = write_capture(tmp_path / "open.pcap", frames)
    analyzer = pcap_tls._Analyzer()
    most = 0
    with path.open("rb") as stream:
        for ts, linktype, frame in read_packets(stream, ReadStatus()):
            pkt = slice_tcp(linktype, frame)
            assert pkt is not None
            analyzer.packet(ts, pkt)
            most = max(most, analyzer.buffered)
    assert 0 < most <= 64 * 1024
    assert 0 < analyzer.evicted < 200
    result = analyze_pcap(path)
    assert len(result.sessions) == 200
    assert any("TCP flows were not followed to the end" in w for w in result.warnings)


def test_handshakes_beyond_the_cap_are_counted_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    every = analyze_pcap(captures.DATA / "article.pcap").sessions
    assert len(every) == 2
    monkeypatch.setattr(pcap_tls, "MAX_SESSIONS", 1)
    capped = analyze_pcap(captures.DATA / "article.pcap")
    assert [s.server_port for s in capped.sessions] == [every[0].server_port]
    assert capped.warnings[-1] == (
        "1 TLS handshakes were not analysed: only the first 1 of a capture are"
    )
