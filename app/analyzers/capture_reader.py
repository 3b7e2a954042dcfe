"""Stream packets out of a .pcap or .pcapng file one at a time, tolerating truncation.

Own minimal readers rather than dpkt's: dpkt's pcapng.Reader only knows the first interface's
link type and neither reader reports a packet cut short at the end of the file. Memory use is
one packet, whatever the file size.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

MAX_PACKET = 1 << 18  # larger record lengths mean a corrupt file
CHUNK = 1 << 20  # bytes read at a time from a classic pcap
_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e6),
    b"\xa1\xb2\xc3\xd4": (">", 1e6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e9),
    b"\xa1\xb2\x3c\x4d": (">", 1e9),
}
_PCAPNG_SHB = 0x0A0D0D0A


class CaptureFormatError(ValueError):
    """The file is neither pcap nor pcapng."""


@dataclass(slots=True)
class ReadStatus:
    """What went wrong while reading, filled in as packets are read."""

    packets: int = 0
    bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    def truncated(self) -> None:
        self.warnings.append(f"capture is truncated after {self.packets} packets")


Packet = tuple[float, int, bytes]  # (timestamp, link type, frame bytes)


def read_packets(
    stream: BinaryIO, status: ReadStatus, *, skip_udp: bool = False
) -> Iterator[Packet]:
    """Yield (ts, linktype, frame) for each packet; problems go to status.warnings.

    `skip_udp`: untagged Ethernet IPv4 frames that are not TCP (RTP, the bulk of a call
    capture) are counted but not yielded; only classic pcap files take this short cut.
    """
    head = stream.read(4)
    if head in _PCAP_MAGICS:
        yield from _read_pcap(stream, head, status, skip_udp)
    elif len(head) == 4 and struct.unpack("<I", head)[0] == _PCAPNG_SHB:
        yield from _read_pcapng(stream, head, status)
    else:
        raise CaptureFormatError("not a pcap or pcapng file")


def _read_pcap(
    stream: BinaryIO, magic: bytes, status: ReadStatus, skip_udp: bool = False
) -> Iterator[Packet]:
    endian, divisor = _PCAP_MAGICS[magic]
    rest = stream.read(20)
    if len(rest) < 20:
        status.warnings.append("capture is truncated in its file header")
        return
    linktype = struct.unpack(endian + "I", rest[16:20])[0] & 0x0FFFFFFF
    unpack_record = struct.Struct(endian + "IIII").unpack_from
    skip_udp = skip_udp and linktype == 1  # Ethernet: ethertype at 12, IPv4 protocol at 23
    buf, pos, packets, size = b"", 0, 0, 0
    try:
        while True:  # records are sliced out of CHUNK-sized reads: no read() per packet
            if len(buf) - pos < 16:
                buf, pos = buf[pos:] + stream.read(CHUNK), 0
                if not buf:
                    return
                if len(buf) < 16:
                    status.packets, packets = status.packets + packets, 0
                    status.truncated()
                    return
            sec, frac, caplen, _origlen = unpack_record(buf, pos)
            if caplen > MAX_PACKET:
                status.packets, packets = status.packets + packets, 0
                status.warnings.append(f"corrupt packet record after {status.packets} packets")
                return
            end = pos + 16 + caplen
            if end > len(buf):
                buf, pos = buf[pos:] + stream.read(max(CHUNK, caplen + 16)), 0
                end = 16 + caplen
                if end > len(buf):
                    status.packets, packets = status.packets + packets, 0
                    status.truncated()
                    return
            packets += 1
            size += caplen
            if (
                skip_udp
                and caplen > 23
                and buf[pos + 28] == 8
                and buf[pos + 29] == 0
                and buf[pos + 39] != 6
            ):
                pos = end  # IPv4, not TCP: no bytes copied, no yield
                continue
            yield sec + frac / divisor, linktype, buf[pos + 16 : end]
            pos = end
    finally:  # counted locally: attribute updates per packet cost as much as the slicing
        status.packets += packets
        status.bytes += size


@dataclass(slots=True)
class _Interface:
    linktype: int
    divisor: float


def _tsresol(options: bytes, endian: str) -> float:
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(endian + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[pos + 4]
            return float(2 ** (value & 0x7F) if value & 0x80 else 10 ** (value & 0x7F))
        pos += 4 + (length + 3) // 4 * 4
    return 1e6


def _read_pcapng(stream: BinaryIO, head: bytes, status: ReadStatus) -> Iterator[Packet]:
    endian = "<"
    interfaces: list[_Interface] = []
    pending = head  # the first block's type, already read to sniff the format
    while True:
        hdr = pending + stream.read(8 - len(pending))
        pending = b""
        if not hdr:
            return
        if len(hdr) < 8:
            status.truncated()
            return
        prefix = b""
        if hdr[:4] == b"\x0a\x0d\x0d\x0a":  # section header: its byte-order magic sets endianness
            prefix = stream.read(4)
            endian = "<" if prefix == b"\x4d\x3c\x2b\x1a" else ">"
        block_type, block_len = struct.unpack(endian + "II", hdr)
        if block_len < 12 or block_len > MAX_PACKET + 64 or block_len % 4:
            status.warnings.append(f"corrupt pcapng block after {status.packets} packets")
            return
        body = prefix + stream.read(block_len - 8 - len(prefix))
        if len(body) < block_len - 8:
            status.truncated()
            return
        body = body[:-4]  # the trailing copy of the block length
        if block_type == _PCAPNG_SHB:
            interfaces = []  # a new section restarts interface numbering
        elif block_type == 1 and len(body) >= 8:  # Interface Description Block
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            interfaces.append(_Interface(linktype, _tsresol(body[8:], endian)))
        elif block_type == 6 and len(body) >= 20:  # Enhanced Packet Block
            if_id, ts_hi, ts_lo, caplen = struct.unpack_from(endian + "IIII", body, 0)
            if if_id >= len(interfaces) or caplen > len(body) - 20:
                status.warnings.append(f"corrupt pcapng packet after {status.packets} packets")
                continue
            iface = interfaces[if_id]
            status.packets += 1
            status.bytes += caplen
            yield ((ts_hi << 32) | ts_lo) / iface.divisor, iface.linktype, body[20 : 20 + caplen]
        elif block_type == 3 and len(body) >= 4 and interfaces:  # Simple Packet Block
            status.packets += 1
            status.bytes += len(body) - 4
            yield 0.0, interfaces[0].linktype, body[4:]
