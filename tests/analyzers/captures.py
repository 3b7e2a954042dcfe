"""Derive variant captures (pcapng, VLAN, re-segmented, reordered) from the committed ones."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import dpkt

DATA = Path(__file__).resolve().parents[1] / "data" / "pcap"

Frames = list[tuple[float, bytes]]


def frames(name: str) -> Frames:
    with open(DATA / name, "rb") as stream:
        return [(ts, bytes(buf)) for ts, buf in dpkt.pcap.Reader(stream)]


def write_pcap(path: Path, packets: Frames, linktype: int = dpkt.pcap.DLT_EN10MB) -> Path:
    with open(path, "wb") as stream:
        writer = dpkt.pcap.Writer(stream, snaplen=65535, linktype=linktype)
        for ts, buf in packets:
            writer.writepkt(buf, ts=ts)
    return path


def write_pcapng_two_interfaces(path: Path, packets: Frames) -> Path:
    """Interface 0 is Ethernet carrying unrelated UDP; the TLS frames go on interface 1 as SLL2."""
    idbs = [
        dpkt.pcapng.InterfaceDescriptionBlockLE(linktype=dpkt.pcap.DLT_EN10MB, snaplen=65535),
        dpkt.pcapng.InterfaceDescriptionBlockLE(linktype=276, snaplen=65535),
    ]
    udp = dpkt.ethernet.Ethernet(
        data=dpkt.ip.IP(
            p=17,
            src=b"\x0a\x00\x00\x01",
            dst=b"\x0a\x00\x00\x02",
            data=dpkt.udp.UDP(sport=5004, dport=5004, data=b"\x16\x03\x01" * 50),
        )
    )
    with open(path, "wb") as stream:
        writer = dpkt.pcapng.Writer(stream, idb=idbs)
        for ts, buf in packets:
            writer.writepkt(bytes(udp), ts=ts)
            sll2 = struct.pack(">HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, b"\x00" * 8) + buf[14:]
            block = dpkt.pcapng.EnhancedPacketBlockLE(
                iface_id=1, caplen=len(sll2), pkt_len=len(sll2), pkt_data=sll2
            )
            writer.writepkt(block, ts=ts)
    return path


def vlan_tagged(packets: Frames, vlan: int = 36) -> Frames:
    return [(ts, buf[:12] + struct.pack(">HH", 0x8100, vlan) + buf[12:]) for ts, buf in packets]


def _rebuild(eth: dpkt.ethernet.Ethernet, seq: int, payload: bytes) -> bytes:
    tcp = dpkt.tcp.TCP(bytes(eth.data.data))
    tcp.seq = seq
    tcp.data = payload
    tcp.sum = 0
    ip = dpkt.ip.IP(bytes(eth.data))
    ip.data = tcp
    ip.len = len(ip.pack_hdr()) + len(ip.opts) + len(bytes(tcp))
    ip.sum = 0
    eth.data = ip
    return bytes(eth)


def resegmented(packets: Frames, size: int) -> Frames:
    """Every TCP payload cut into `size`-byte segments (TLS records then span many segments)."""
    out: Frames = []
    for ts, buf in packets:
        eth = dpkt.ethernet.Ethernet(buf)
        tcp = eth.data.data
        if len(tcp.data) <= size:
            out.append((ts, buf))
            continue
        for start in range(0, len(tcp.data), size):
            piece = tcp.data[start : start + size]
            out.append((ts, _rebuild(dpkt.ethernet.Ethernet(buf), tcp.seq + start, piece)))
    return out


def shuffled_with_retransmissions(packets: Frames, seed: int = 7) -> Frames:
    """Data segments locally reordered and each one sent twice (the copy overlapping by half)."""
    rng = random.Random(seed)
    out: Frames = []
    window: Frames = []
    for ts, buf in packets:
        tcp = dpkt.ethernet.Ethernet(buf).data.data
        if not tcp.data or tcp.flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN | dpkt.tcp.TH_RST):
            rng.shuffle(window)
            out += window
            window = []
            out.append((ts, buf))
            continue
        window.append((ts, buf))
        half = len(tcp.data) // 2
        overlap = _rebuild(dpkt.ethernet.Ethernet(buf), tcp.seq + half, tcp.data[half:])
        window.append((ts, overlap))
    rng.shuffle(window)
    return out + window
