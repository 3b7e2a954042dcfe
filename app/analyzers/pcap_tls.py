"""Find the TLS handshakes in a pcap/pcapng capture and report who presented which certificates.

Streams the capture (bounded memory), slices link/IP/TCP headers with `struct`, reassembles
each TCP direction that starts with a TLS handshake record (by content, not port) and parses the
plaintext handshake of TLS 1.0-1.2 (TLS 1.3 certificates are encrypted). Memory is bounded
whatever the capture holds: at most MAX_FLOWS connections are followed at once and at most
MAX_BUFFERED bytes wait in their reassembly buffers (the least recently active connections
are dropped first, counted in one warning), at most MAX_SESSIONS handshakes are kept. Run as
`python -m app.analyzers.pcap_tls FILE` for throughput figures and the JSON summary.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from app.analyzers import tls_handshake as tls
from app.analyzers.capture_reader import CaptureFormatError, ReadStatus, read_packets
from app.analyzers.tcp_stream import FlowKey, TcpPacket, is_ipv4_not_tcp, slice_tcp
from app.bundle.stored import open_stored

if TYPE_CHECKING:
    from app.analyzers.certinfo import CertInfo

FOLLOW_LIMIT = 256 * 1024  # bytes per direction
PENDING_LIMIT = 256 * 1024  # out-of-order bytes buffered per direction
MAX_FLOWS = 50_000  # TCP connections followed at once
MAX_BUFFERED = 64 * 2**20  # bytes waiting in the reassembly and parser buffers of all of them
MAX_SESSIONS = 50_000  # TLS handshakes kept
MAX_MALFORMED_WARNINGS = 20  # then they are only counted
TLS13_NOTE = "TLS 1.3: certificates are encrypted and cannot be read from a capture"
RESUMED_NOTE = "resumed session: no certificate was exchanged"
EVICTED_NOTE = "not followed to the end: too many connections were open at once in the capture"


@dataclass(slots=True)
class TlsSession:
    """One TLS handshake seen in the capture."""

    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    sni: str | None
    tls_version: str | None
    first_seen: str  # ISO 8601 UTC, from the pcap timestamp
    alerts: list[str] = field(default_factory=list)  # e.g. "client: fatal unknown_ca"
    chain: list[CertInfo] = field(default_factory=list)  # as presented by the server
    note: str | None = None
    client_versions: list[str] = field(default_factory=list)
    cipher: str | None = None  # "0xc02f"
    client_cert_requested: bool = False
    client_chain: list[CertInfo] = field(default_factory=list)


@dataclass(slots=True)
class PcapResult:
    sessions: list[TlsSession]
    packets: int
    bytes: int
    warnings: list[str]


class _Verifier(Protocol):
    def verify_chain(self, chain: list[CertInfo]) -> tuple[bool, str]: ...


def _iso(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}Z"


def _ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


class _Direction:
    """Reassembly state of one TCP direction that carries (or may carry) TLS."""

    __slots__ = ("next_seq", "pending", "pending_bytes", "parser", "fed", "decided", "head", "held")

    def __init__(self) -> None:
        self.held = 0  # bytes this direction holds in buffers (counted in MAX_BUFFERED)
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.parser: tls.TlsDirection | None = None
        self.fed = 0
        self.decided = False  # True once we know whether this direction is TLS
        self.head = b""  # first bytes, held until there are enough to decide


class _Flow:
    """One TCP connection: both directions and the session it produced."""

    __slots__ = ("dirs", "session", "client_side", "closed", "syn_from")

    def __init__(self) -> None:
        self.dirs: dict[tuple[bytes, int], _Direction] = {}
        self.session: TlsSession | None = None
        self.client_side: tuple[bytes, int] | None = None
        self.closed: set[tuple[bytes, int]] = set()
        self.syn_from: tuple[bytes, int] | None = None


class _Analyzer:
    def __init__(self) -> None:
        self.flows: OrderedDict[FlowKey, _Flow] = OrderedDict()  # least recently active first
        self.sessions: list[TlsSession] = []
        self.warnings: list[str] = []
        self.buffered = 0  # bytes held by every direction of every flow
        self.evicted = 0  # flows dropped to keep within MAX_FLOWS / MAX_BUFFERED
        self.sessions_dropped = 0  # handshakes beyond MAX_SESSIONS
        self.malformed = 0
        self._bad_certs = 0

    # -- TCP ---------------------------------------------------------------------------------
    def packet(self, ts: float, pkt: TcpPacket) -> None:
        key = pkt.flow_key()
        flow = self.flows.get(key)
        src = (pkt.src, pkt.sport)
        if pkt.syn and not pkt.ack_flag:
            if flow is not None:
                self._forget(key)
            flow = _Flow()  # a new connection, possibly reusing the 4-tuple
            self.flows[key] = flow
            flow.syn_from = src
        elif flow is not None:
            self.flows.move_to_end(key)
        if flow is None:
            if not pkt.payload or not tls.starts_tls_handshake(pkt.payload):
                return
            flow = _Flow()
            self.flows[key] = flow
        self._follow(ts, pkt, key, flow, src)
        while len(self.flows) > MAX_FLOWS or (self.buffered > MAX_BUFFERED and self.flows):
            oldest = next(iter(self.flows))
            self._evict(oldest)

    def _follow(
        self, ts: float, pkt: TcpPacket, key: FlowKey, flow: _Flow, src: tuple[bytes, int]
    ) -> None:
        direction = flow.dirs.get(src)
        if direction is None:
            direction = _Direction()
            flow.dirs[src] = direction
        if pkt.syn:
            direction.next_seq = (pkt.seq + 1) & 0xFFFFFFFF
        elif pkt.payload:
            self._segment(ts, pkt, flow, direction, src)
        if pkt.rst or pkt.fin:
            flow.closed.add(src)
            if pkt.rst or len(flow.closed) == 2:
                self._forget(key)

    def _hold(self, d: _Direction, delta: int) -> None:
        d.held += delta
        self.buffered += delta

    def _forget(self, key: FlowKey) -> None:
        """Drop a flow and release what its directions hold."""
        flow = self.flows.pop(key)
        for d in flow.dirs.values():
            self._hold(d, -d.held)

    def _evict(self, key: FlowKey) -> None:
        """Drop the least recently active flow to stay within the bounds; counted."""
        session = self.flows[key].session
        if session is not None and not session.chain and session.note is None:
            session.note = EVICTED_NOTE
        self._forget(key)
        self.evicted += 1

    def _segment(
        self, ts: float, pkt: TcpPacket, flow: _Flow, d: _Direction, src: tuple[bytes, int]
    ) -> None:
        if d.decided and d.parser is None:
            return
        if d.parser is not None and d.parser.done:
            return
        if d.next_seq is None:  # no SYN seen: start at the first segment that looks like TLS
            if not tls.starts_tls_handshake(pkt.payload):
                return
            d.next_seq = pkt.seq
        offset = (pkt.seq - d.next_seq) & 0xFFFFFFFF
        data = pkt.payload
        if offset >= 0x80000000:  # starts before next_seq: retransmission, trim the old part
            overlap = 0x100000000 - offset
            if overlap >= len(data):
                return
            data = data[overlap:]
        elif offset > 0:  # a gap: keep it for later
            if d.pending_bytes + len(data) > PENDING_LIMIT:
                self._give_up(d)
                return
            if len(data) > len(d.pending.get(pkt.seq, b"")):
                grown = len(data) - len(d.pending.get(pkt.seq, b""))
                d.pending_bytes += grown
                self._hold(d, grown)
                d.pending[pkt.seq] = data
            return
        self._deliver(ts, pkt, flow, d, src, data)
        while d.pending and not (d.parser is not None and d.parser.done):
            ready = None
            for seq, chunk in d.pending.items():
                assert d.next_seq is not None
                off = (seq - d.next_seq) & 0xFFFFFFFF
                if off == 0 or off >= 0x80000000:
                    ready = seq, chunk, (0x100000000 - off) & 0xFFFFFFFF
                    break
            if ready is None:
                break
            seq, chunk, overlap = ready
            del d.pending[seq]
            d.pending_bytes -= len(chunk)
            self._hold(d, -len(chunk))
            if overlap < len(chunk):
                self._deliver(ts, pkt, flow, d, src, chunk[overlap:])

    def _give_up(self, d: _Direction) -> None:
        d.pending.clear()
        d.pending_bytes = 0
        self._hold(d, -d.held)
        d.decided = True
        if d.parser is not None:
            d.parser.done = True

    def _deliver(
        self,
        ts: float,
        pkt: TcpPacket,
        flow: _Flow,
        d: _Direction,
        src: tuple[bytes, int],
        data: bytes,
    ) -> None:
        assert d.next_seq is not None
        d.next_seq = (d.next_seq + len(data)) & 0xFFFFFFFF
        if not d.decided:
            data = d.head + data
            if len(data) < 3:
                d.head = data
                return
            d.decided, d.head = True, b""
            if not tls.starts_tls_handshake(data):
                return
            d.parser = self._start(ts, pkt, flow, src)
        if d.parser is None or d.parser.done:
            return
        d.fed += len(data)
        d.parser.feed(data)
        # done: its buffers are freed, and what waits out of order is of no use any more
        if d.parser.done or d.fed >= FOLLOW_LIMIT:
            self._give_up(d)
        else:
            self._hold(d, 2 * len(data))  # at most in its record and handshake buffers

    # -- TLS ---------------------------------------------------------------------------------
    def _start(
        self, ts: float, pkt: TcpPacket, flow: _Flow, src: tuple[bytes, int]
    ) -> tls.TlsDirection:
        if flow.session is None:
            dst = (pkt.dst, pkt.dport)
            client, server = (src, dst)
            if flow.syn_from is not None:
                client, server = (flow.syn_from, dst if flow.syn_from == src else src)
            flow.client_side = client
            flow.session = TlsSession(
                client_ip=_ip_text(client[0]),
                client_port=client[1],
                server_ip=_ip_text(server[0]),
                server_port=server[1],
                sni=None,
                tls_version=None,
                first_seen=_iso(ts),
            )
            if len(self.sessions) < MAX_SESSIONS:
                self.sessions.append(flow.session)
            else:
                self.sessions_dropped += 1
        session = flow.session
        state = {"certificate": False}

        def role() -> str:
            return "client" if src == flow.client_side else "server"

        def on_message(msg_type: int, body: bytes) -> None:
            try:
                self._message(session, flow, src, msg_type, body, state)
            except (IndexError, ValueError, UnicodeError, OverflowError):
                self.malformed += 1
                if self.malformed <= MAX_MALFORMED_WARNINGS:
                    self.warnings.append(
                        f"malformed TLS handshake message type {msg_type} from {role()} "
                        f"{session.server_ip}:{session.server_port}"
                    )

        def on_alert(level: int, desc: int) -> None:
            if session.tls_version == "TLS 1.3" and session.cipher is not None:
                return  # after ServerHello, TLS 1.3 alerts are encrypted: bytes are not an alert
            level_name = {1: "warning", 2: "fatal"}.get(level, f"level{level}")
            name = tls.ALERT_NAMES.get(desc, f"alert{desc}")
            session.alerts.append(f"{role()}: {level_name} {name}")

        def on_stop(record_type: int) -> None:
            if (
                record_type == 20
                and role() == "server"
                and not state["certificate"]
                and session.tls_version not in (None, "TLS 1.3")
            ):
                session.note = RESUMED_NOTE

        return tls.TlsDirection(on_message, on_alert, on_stop)

    def _message(
        self,
        session: TlsSession,
        flow: _Flow,
        src: tuple[bytes, int],
        msg_type: int,
        body: bytes,
        state: dict[str, bool],
    ) -> None:
        if msg_type == tls.CLIENT_HELLO:
            if src != flow.client_side and flow.syn_from is None:  # we guessed the roles wrong
                self._swap_roles(session, flow)
            session.sni, session.client_versions = tls.parse_client_hello(body)
        elif msg_type == tls.SERVER_HELLO:
            if src == flow.client_side and flow.syn_from is None:
                self._swap_roles(session, flow)
            session.tls_version, cipher = tls.parse_server_hello(body)
            session.cipher = f"0x{cipher:04x}"
            if session.tls_version == "TLS 1.3":
                session.note = TLS13_NOTE
        elif msg_type == tls.CERTIFICATE:
            state["certificate"] = True
            sender = "client" if src == flow.client_side else "server"
            where = f"{sender} of {session.server_ip}:{session.server_port}"
            listed = tls.parse_certificate_list(body)
            chain = [c for c in (self._cert(der, n, where) for n, der in enumerate(listed)) if c]
            if src == flow.client_side:
                session.client_chain = chain
            else:
                session.chain = chain
        elif msg_type == tls.CERTIFICATE_REQUEST:
            session.client_cert_requested = True

    def _swap_roles(self, session: TlsSession, flow: _Flow) -> None:
        session.client_ip, session.server_ip = session.server_ip, session.client_ip
        session.client_port, session.server_port = session.server_port, session.client_port
        others = [side for side in flow.dirs if side != flow.client_side]
        flow.client_side = others[0] if others else flow.client_side

    def _cert(self, der: bytes, position: int, where: str) -> CertInfo | None:
        """The certificate at `position` (0: leaf) of a chain sent by `where`; None, with a
        warning naming it, when logloupe cannot read it."""
        # (imported here: a capture without a certificate needs no `cryptography`)
        from cryptography.exceptions import UnsupportedAlgorithm

        from app.analyzers.certinfo import parse_der

        try:
            return parse_der(der)
        except (ValueError, TypeError, UnsupportedAlgorithm) as err:
            self._bad_certs += 1
            if self._bad_certs <= MAX_MALFORMED_WARNINGS:
                self.warnings.append(
                    f"certificate {position + 1} of the chain the {where} sent cannot be read "
                    f"and was skipped ({err})"
                )
            return None

    def finish(self) -> None:
        if self.malformed > MAX_MALFORMED_WARNINGS:
            more = self.malformed - MAX_MALFORMED_WARNINGS
            self.warnings.append(f"{more:,} more malformed TLS handshake messages")
        if self._bad_certs > MAX_MALFORMED_WARNINGS:
            more = self._bad_certs - MAX_MALFORMED_WARNINGS
            self.warnings.append(f"{more:,} more certificates could not be read")
        if self.evicted:
            self.warnings.append(
                f"{self.evicted:,} TCP flows were not followed to the end: more than "
                f"{MAX_FLOWS:,} were open at once (or {MAX_BUFFERED // 2**20} MB of handshake "
                "data waited for missing segments); TLS handshakes on them may be incomplete"
            )
        if self.sessions_dropped:
            self.warnings.append(
                f"{self.sessions_dropped:,} TLS handshakes were not analysed: only the first "
                f"{MAX_SESSIONS:,} of a capture are"
            )
        self.flows.clear()
        self.buffered = 0


def analyze_pcap(path: Path) -> PcapResult:
    """Every TLS handshake in the capture at `path`; never raises on bad content."""
    status = ReadStatus()
    analyzer = _Analyzer()
    try:
        with open_stored(path, buffering=1 << 20) as stream:
            for ts, linktype, frame in read_packets(stream, status, skip_udp=True):
                if is_ipv4_not_tcp(linktype, frame):  # RTP and other UDP: most of a capture
                    continue
                pkt = slice_tcp(linktype, frame)
                if pkt is not None:
                    analyzer.packet(ts, pkt)
    except CaptureFormatError as err:
        status.warnings.append(f"{path.name}: {err}")
    except OSError as err:
        status.warnings.append(f"{path.name}: cannot read: {err.strerror or err}")
    analyzer.finish()
    return PcapResult(
        analyzer.sessions, status.packets, status.bytes, status.warnings + analyzer.warnings
    )


def summarize(
    sessions: Iterable[TlsSession], trust_store: _Verifier | None = None
) -> list[dict[str, Any]]:
    """Group identical sessions (server, port, SNI, chain) into one entry with a count."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for s in sessions:
        key = (
            s.server_ip,
            s.server_port,
            s.sni,
            s.tls_version,
            tuple(c.sha256 for c in s.chain),
            tuple(s.alerts),
        )
        entry = groups.get(key)
        if entry is not None:
            entry["count"] += 1
            entry["first_seen"] = min(entry["first_seen"], s.first_seen)
            continue
        trusted = None
        if trust_store is not None and s.chain:
            trusted = trust_store.verify_chain(s.chain)[0]
        groups[key] = {
            "server_ip": s.server_ip,
            "port": s.server_port,
            "sni": s.sni,
            "tls_version": s.tls_version,
            "alerts": list(s.alerts),
            "chain": [c.display() for c in s.chain],
            "trusted": trusted,
            "count": 1,
            "first_seen": s.first_seen,
        }
    return list(groups.values())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m app.analyzers.pcap_tls FILE\n")
        return 2
    path = Path(argv[0])
    started = time.perf_counter()
    result = analyze_pcap(path)
    elapsed = max(time.perf_counter() - started, 1e-9)
    sys.stderr.write(
        f"{result.packets} packets, {result.bytes / 1e6:.1f} MB in {elapsed:.3f} s: "
        f"{result.packets / elapsed:,.0f} packets/s, {result.bytes / 1e6 / elapsed:.1f} MB/s\n"
    )
    report = {"warnings": result.warnings, "sessions": summarize(result.sessions)}
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
