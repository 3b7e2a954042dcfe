"""Re-address a loopback capture to the TAC note's lab addresses and shift its clock.

Usage: python tests/pcapgen/rewrite.py IN.pcap OUT.pcap EPOCH
The side using port 8443 or 6972 becomes the CUCM 10.48.36.215, the other side the
Expressway-C 10.48.36.46; MACs get plausible values; IP and TCP checksums are recomputed.
The first packet is moved to EPOCH (plus the original sub-second part).
"""

from __future__ import annotations

import socket
import sys

import dpkt

SERVER_PORTS = {8443, 6972}
SERVER = (socket.inet_aton("10.48.36.215"), bytes.fromhex("005056a10215"))
CLIENT = (socket.inet_aton("10.48.36.46"), bytes.fromhex("005056a1002e"))


def main(src: str, dst: str, epoch: int) -> None:
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        writer = dpkt.pcap.Writer(fout, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB)
        shift: float | None = None
        for ts, buf in dpkt.pcap.Reader(fin):
            if shift is None:
                shift = epoch + (ts % 1) - ts
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            tcp = ip.data
            from_server = tcp.sport in SERVER_PORTS
            src_side, dst_side = (SERVER, CLIENT) if from_server else (CLIENT, SERVER)
            ip.src, eth.src = src_side
            ip.dst, eth.dst = dst_side
            ip.sum = 0
            tcp.sum = 0
            writer.writepkt(bytes(eth), ts=ts + shift)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
