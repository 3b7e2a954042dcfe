"""Slice a captured frame down to its TCP segment with `struct` (Ethernet/VLAN, SLL, SLL2, raw IP).

No full decoding: only the offsets and fields the TLS reassembly needs. Anything else (UDP,
IP fragments, unknown link types, short frames) gives None.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

DLT_NULL, DLT_EN10MB, DLT_RAW, DLT_LOOP = 0, 1, 101, 108
DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_IPV4, DLT_IPV6 = 113, 276, 228, 229
_VLAN_TYPES = (0x8100, 0x88A8, 0x9100)
_IPV6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options

FlowKey = tuple[bytes, int, bytes, int]


@dataclass(slots=True)
class TcpPacket:
    src: bytes
    dst: bytes
    sport: int
    dport: int
    seq: int
    flags: int
    payload: bytes

    @property
    def syn(self) -> bool:
        return bool(self.flags & 0x02)

    @property
    def fin(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def rst(self) -> bool:
        return bool(self.flags & 0x04)

    @property
    def ack_flag(self) -> bool:
        return bool(self.flags & 0x10)

    def flow_key(self) -> FlowKey:
        """The same key for both directions of a connection."""
        a, b = (self.src, self.sport), (self.dst, self.dport)
        return (a[0], a[1], b[0], b[1]) if a <= b else (b[0], b[1], a[0], a[1])


def _network_offset(linktype: int, frame: bytes) -> tuple[int, int] | None:
    """(offset of the IP header, ethertype-like protocol) for a link type."""
    if linktype == DLT_EN10MB:
        if len(frame) < 14:
            return None
        off, ethertype = 14, (frame[12] << 8) | frame[13]
        while ethertype in _VLAN_TYPES and len(frame) >= off + 4:
            ethertype = (frame[off + 2] << 8) | frame[off + 3]
            off += 4
        return off, ethertype
    if linktype == DLT_LINUX_SLL:
        return (16, (frame[14] << 8) | frame[15]) if len(frame) >= 16 else None
    if linktype == DLT_LINUX_SLL2:
        return (20, (frame[0] << 8) | frame[1]) if len(frame) >= 20 else None
    if linktype in (DLT_RAW, 12, 14, DLT_IPV4, DLT_IPV6):
        if not frame:
            return None
        return 0, 0x0800 if frame[0] >> 4 == 4 else 0x86DD
    if linktype in (DLT_NULL, DLT_LOOP):
        if len(frame) < 4:
            return None
        family = struct.unpack("<I" if frame[0] else ">I", frame[:4])[0]
        return 4, 0x0800 if family == 2 else 0x86DD
    return None


def is_ipv4_not_tcp(linktype: int, frame: bytes) -> bool:
    """A cheap early answer for the bulk of a capture: untagged Ethernet IPv4 that is not TCP."""
    return (
        linktype == DLT_EN10MB
        and len(frame) > 23
        and frame[12] == 8
        and frame[13] == 0
        and frame[23] != 6
    )


def slice_tcp(linktype: int, frame: bytes) -> TcpPacket | None:
    """The TCP segment inside `frame`, or None when it is not (complete) TCP over IP."""
    located = _network_offset(linktype, frame)
    if located is None:
        return None
    off, ethertype = located
    if ethertype == 0x0800:
        if len(frame) < off + 20 or frame[off] >> 4 != 4:
            return None
        ihl = (frame[off] & 0x0F) * 4
        total = (frame[off + 2] << 8) | frame[off + 3]
        if frame[off + 9] != 6 or ((frame[off + 6] & 0x3F) << 8 | frame[off + 7]):
            return None  # not TCP, or an IP fragment
        src, dst = frame[off + 12 : off + 16], frame[off + 16 : off + 20]
        end = min(len(frame), off + total) if total >= ihl else len(frame)
        off += ihl
    elif ethertype == 0x86DD:
        if len(frame) < off + 40:
            return None
        next_header = frame[off + 6]
        end = min(len(frame), off + 40 + ((frame[off + 4] << 8) | frame[off + 5]))
        src, dst = frame[off + 8 : off + 24], frame[off + 24 : off + 40]
        off += 40
        while next_header in _IPV6_EXTENSIONS and len(frame) >= off + 8:
            next_header, off = frame[off], off + (frame[off + 1] + 1) * 8
        if next_header != 6:
            return None
    else:
        return None
    if end < off + 20:
        return None
    sport, dport, seq = struct.unpack_from(">HHI", frame, off)
    data_off = (frame[off + 12] >> 4) * 4
    if data_off < 20 or off + data_off > end:
        return None
    return TcpPacket(src, dst, sport, dport, seq, frame[off + 13], frame[off + data_off : end])
