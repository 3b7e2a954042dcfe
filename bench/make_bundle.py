"""Build a deterministic, realistic Expressway diagnostic bundle of a given size for the bench.

    python bench/make_bundle.py --size-mib 1024 [--signatures 300] [--out bench/out]
    -> bench/out/bundle-1024MiB/diagnostic_log_expc1_2026-11-20_10_15_33.tar.gz (+ manifest.json)

The tar.gz holds one loggingsnapshot of exactly --size-mib MiB, small xstat/xconf dumps and two
small synthetic TCP/TLS pcaps. The log is a seeded mix of the line shapes of domain.md §2.4
(tvcs module and event lines, developer.* lines, multi-line SIPMSG blocks, traffic_server,
alarm, XCP, b2bua, kernel/sshd/cron/httpd lines), ~200 bytes per line on average. Planted in it:
hit lines (0.1 % of events) and near misses (0.4 %) of the bench's generated signatures, the
example lines of the real library (the seed traffic_server warnings) at 20 spread positions, and
SIP calls (CALLS_PER_GIB per GiB, evenly spread: INVITE, 100, 180, final answer, ACK, BYE, 200,
each an INFO summary, a DEBUG line and a SIPMSG block in the real public log's forms; every tenth
call is answered 486 Busy Here and has no BYE). manifest.json records how many hits of each
generated signature and how many calls (`sip-calls`) were planted.

Nothing is held in memory: lines are written in batches into `gzip -6 -n` (a second process, so
compression runs on the other core). The tar header carries the exact size up front because the
log is padded to exactly the requested size. Same arguments, same bytes.
"""

# ruff: noqa: E501  (log-line templates read better on one line)

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import struct
import subprocess
import sys
import tarfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import yaml

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from sigdefs import SEED, Ctx, generated_signatures  # noqa: E402

HOST = "expc1"
STAMP = "2026-11-20_10_15_33"
START = datetime(2026, 11, 20, 10, 15, 33, tzinfo=UTC)
OFFSET = "+01:00"
MTIME = 1_790_000_000
HIT_RATE = 0.001
MISS_RATE = 0.004
REAL_PLANTS = 20
CALLS_PER_GIB = 3000
BATCH = 4000

_MODULES = ("network.sip", "network.tcp", "network.dns", "network.ldap", "network.h323")
_DEV = (
    "developer.fsm.sipproxylegfsm",
    "developer.sip.leg",
    "developer.clusterdb.cdb",
    "developer.replication",
    "developer.zone.zonemgr",
    "developer.mediasessionmgr.mediasession",
    "developer.edgeconfigprovisioning.uds",
    "developer.xcp.cm",
    "developer.call.callcounter",
)
_EVENTS = (
    "Registration Accepted",
    "Registration Refresh",
    "Search Completed",
    "Call Attempted",
    "Call Connected",
    "Call Disconnected",
    "Request Successful",
    "Policy Change",
)
_DETAILS = (
    "Starting message execution on task",
    "Path change detected",
    "Sending DNS query",
    "Connection established",
    "Found route",
    "Loaded configuration",
    "Timer expired",
    "Starting synchronisation",
    "Processing response",
    "Queue drained",
)
_URLS = (
    "/CSFuser.cnf.xml",
    "/cucm-uds/user/jdoe/devices",
    "/dial/v1/dial",
    "/xmpp/bosh",
    "/ldap/sso",
)


class _Pools:
    """Precomputed random values, so the per-line cost stays small (hex tags, IPs, aliases)."""

    def __init__(self, rng: random.Random) -> None:
        self.hex16 = [f"{rng.getrandbits(64):016x}" for _ in range(8192)]
        self.hex32 = [f"{rng.getrandbits(128):032x}" for _ in range(8192)]
        self.ips = [
            f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            for _ in range(4096)
        ]
        self.users = [f"user{rng.randrange(100000):05d}" for _ in range(2048)]
        self.ports = [str(rng.randrange(1024, 65535)) for _ in range(4096)]


class _Clock:
    """Strictly increasing timestamps; the strings are cached per second."""

    def __init__(self) -> None:
        self.ms = 0
        self._second = -1
        self._local = ""
        self._utc = ""

    def tick(self, rng: random.Random) -> Ctx:
        self.ms += rng.randrange(0, 3)
        second, milli = divmod(self.ms, 1000)
        if second != self._second:
            self._second = second
            moment = START + timedelta(seconds=second)
            self._local = (moment + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
            self._utc = moment.strftime("%Y-%m-%d %H:%M:%S")
        return (f"{self._local}.{milli:03d}{OFFSET}", HOST, f"{self._utc},{milli:03d}")


def _background(rng: random.Random, p: _Pools, c: Ctx) -> str:
    """One ordinary event (one or several lines joined by newlines, no trailing newline)."""
    ts, host, utc = c
    r = rng.random()
    pick = rng.choice
    if r < 0.22:
        return (
            f'{ts} {host} tvcs: UTCTime="{utc}" Module="{pick(_MODULES)}" Level="INFO":  Action="Received" '
            f'Local-ip="192.0.2.5" Local-port="5061" Src-ip="{pick(p.ips)}" Src-port="{pick(p.ports)}" '
            f'Detail="Receive Request Method=REGISTER, CSeq={rng.randrange(1, 9999)}, '
            f'Call-ID={pick(p.hex32)}, From-Tag={pick(p.hex16)}, Msg-Hash={rng.getrandbits(63)}"'
        )
    if r < 0.30:
        call_id = pick(p.hex32)
        user = pick(p.users)
        return "\n".join(
            (
                f'{ts} {host} tvcs: UTCTime="{utc}" Module="network.sip" Level="DEBUG":  Action="Received" '
                f'Local-ip="192.0.2.5" Local-port="5061" Src-ip="{pick(p.ips)}" Src-port="{pick(p.ports)}" '
                f'Msg-Hash="{rng.getrandbits(63)}"',
                " SIPMSG:",
                " |REGISTER sip:example.com SIP/2.0",
                f" Via: SIP/2.0/TLS {pick(p.ips)}:{pick(p.ports)};branch=z9hG4bK{pick(p.hex16)};rport",
                f" Call-ID: {call_id}",
                f" CSeq: {rng.randrange(1, 9999)} REGISTER",
                f" From: <sip:{user}@example.com>;tag={pick(p.hex16)}",
                f" To: <sip:{user}@example.com>",
                f" Contact: <sip:{user}@{pick(p.ips)}:{pick(p.ports)};transport=tls>;expires=3600",
                " User-Agent: Cisco-CSF",
                " Content-Length: 0",
                " |",
            )
        )
    if r < 0.45:
        return (
            f'{ts} {host} traffic_server[3936]: UTCTime="{utc}" Module="network.http.trafficserver" '
            f'Level="DEBUG": Detail="Sending Request" Txn-id="{rng.randrange(100000)}" '
            f'TrackingID="{pick(p.hex32)}" Dst-ip="{pick(p.ips)}" Dst-port="8443" Url="{pick(_URLS)}"'
        )
    if r < 0.62:
        return (
            f'{ts} {host} tvcs: UTCTime="{utc}" Module="{pick(_DEV)}" Level="DEBUG" '
            f'CodeLocation="ppcmains/core/x.cpp({rng.randrange(40, 2000)})" Method="::run" '
            f'Thread="0x7f{pick(p.hex16)[:10]}":  Detail="{pick(_DETAILS)}" Self="Fsm({rng.randrange(99999)})"'
        )
    if r < 0.75:
        return (
            f'{ts} {host} tvcs: Event="{pick(_EVENTS)}" Service="SIP" Src-ip="{pick(p.ips)}" '
            f'Src-port="{pick(p.ports)}" Src-alias-type="SIP" Src-alias="sip:{pick(p.users)}@example.com" '
            f'Protocol="TLS" Level="1" UTCTime="{utc}"'
        )
    if r < 0.82:
        return (
            f'{ts} {host} XCP_JABBERD[23843]: UTCTime="{utc}" ThreadID="{rng.randrange(1000, 9999)}" '
            f'Module="Jabber" Level="INFO" CodeLocation="mio.c:{rng.randrange(100, 2000)}" '
            f'Detail="Presence update for {pick(p.users)}@example.com"'
        )
    if r < 0.88:
        return (
            f'{ts} {host} b2bua[2211]: UTCTime="{utc}" Module="developer.b2bua" Level="INFO" '
            f'Detail="Media session {pick(p.hex16)} relayed {rng.randrange(9999)} packets"'
        )
    if r < 0.93:
        return f"{ts} {host} kernel: [{rng.randrange(10**6)}.{rng.randrange(10**6):06d}] IPv4: martian source {pick(p.ips)} from {pick(p.ips)}, on dev eth0"
    if r < 0.96:
        return f"{ts} {host} sshd[{rng.randrange(1000, 30000)}]: Accepted publickey for admin from {pick(p.ips)} port {pick(p.ports)} ssh2"
    if r < 0.98:
        return f"{ts} {host} CRON[{rng.randrange(1000, 30000)}]: (root) CMD (/bin/run-parts /etc/cron.hourly)"
    return (
        f'{ts} {host} httpd[15060]: web: Event="Admin Session Start" Src-ip="{pick(p.ips)}" '
        f'Src-port="{pick(p.ports)}" User="admin" Level="1" UTCTime="{utc}"'
    )


_CALL_FLOW = (  # direction, start line, CSeq, CSeq method, Via branch index
    ("in", "INVITE sip:{to}@example.com SIP/2.0", 1, "INVITE"),
    ("out", "SIP/2.0 100 Trying", 1, "INVITE"),
    ("out", "SIP/2.0 180 Ringing", 1, "INVITE"),
    ("out", "SIP/2.0 {final}", 1, "INVITE"),
    ("in", "ACK sip:{to}@example.com SIP/2.0", 1, "ACK"),
    ("in", "BYE sip:{to}@example.com SIP/2.0", 2, "BYE"),
    ("out", "SIP/2.0 200 OK", 2, "BYE"),
)
_SDP = (
    "v=0",
    "o=tandberg 3 1 IN IP4 198.51.100.7",
    "s=-",
    "c=IN IP4 198.51.100.7",
    "b=AS:6000",
    "t=0 0",
    "m=audio 2326 RTP/SAVP 108 101",
    "a=rtpmap:108 MP4A-LATM/90000",
    "a=rtpmap:101 telephone-event/8000",
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PsKoMpHlCg+b5X0YLuSk3tCMjTmKjTc2xQ3YdVHZ",
    "m=video 2328 RTP/SAVP 97 126",
    "a=rtpmap:97 H264/90000",
    "a=fmtp:97 profile-level-id=428016;max-mbps=245000;max-fs=8160;packetization-mode=0",
    "a=rtpmap:126 H264/90000",
    "a=content:main",
    "a=sendrecv",
)


def planted_call(n: int, c: Ctx) -> str:
    """SIP call number `n` as an Expressway-C logs it (INFO summary, DEBUG line, SIPMSG block per
    message: the forms of the real public log): an INVITE from an endpoint answered 200 OK and
    ended with BYE, or (every tenth) answered 486 Busy Here and acknowledged."""
    ts, host, utc = c
    busy = n % 10 == 0
    to = 5550000 + n
    call_id = f"{n:08x}-bench-{n % 997:03d}@198.51.100.7"
    session = f"{n:016x}{'5000a000' * 2}"
    port = 40000 + n % 20000
    out: list[str] = []
    for index, (direction, start, cseq, method) in enumerate(_CALL_FLOW):
        if busy and index in (2, 5, 6):  # no ringing, no BYE
            continue
        line = start.format(to=to, final="486 Busy Here" if busy else "200 OK")
        incoming = direction == "in"
        side = "Src" if incoming else "Dst"
        where = (
            f'Action="{"Received" if incoming else "Sent"}" Local-ip="192.0.2.5" '
            f'Local-port="5061" {side}-ip="198.51.100.7" {side}-port="{port}"'
        )
        msg_hash = f"{n * 7 + index}{index}1"
        verb = "Receive" if incoming else "Sending"
        to_tag = "" if index < 2 else f"b{n:x}"
        if line.startswith("SIP/2.0"):
            detail = f"{verb} Response Code={line.split()[1]}, Method={method}, CSeq={cseq}, To=sip:{to}@example.com"
        else:
            detail = f"{verb} Request Method={method}, CSeq={cseq}, Request-URI={line.split()[1]}"
        detail += (
            f", Call-ID={call_id}, From-Tag=a{n:x}, To-Tag={to_tag}, Msg-Hash={msg_hash}, "
            f"Local-SessionID={session}, Remote-SessionID=00000000000000000000000000000000"
        )
        head = f'{ts} {host} tvcs: UTCTime="{utc}" Module="network.sip"'
        body = _SDP if index in (0, 3) and not busy else ()
        out += [
            f'{head} Level="INFO":  {where} Detail="{detail}"',
            f'{head} Level="DEBUG":  {where} Msg-Hash="{msg_hash}"',
            " SIPMSG:",
            f" |{line}",
            f" Via: SIP/2.0/TLS 198.51.100.7:{port};branch=z9hG4bK{n:x}{cseq};received=198.51.100.7;rport={port}",
            f" Call-ID: {call_id}",
            f" CSeq: {cseq} {method}",
            f" From: <sip:1003@example.com>;tag=a{n:x}",
            f" To: <sip:{to}@example.com>" + (f";tag={to_tag}" if to_tag else ""),
            " Max-Forwards: 70",
            f" Session-ID: {session};remote=00000000000000000000000000000000",
            " User-Agent: TANDBERG/529 (ce9.15.0.1) Cisco-DX80"
            if incoming
            else " Server: TANDBERG/4137 (X14.3.1)",
            " Content-Type: application/sdp" if body else " Content-Length: 0",
            *((f" Content-Length: {sum(len(b) + 2 for b in body)}",) if body else ()),
            " ",
            *(f" {b}" for b in body),
            " |",
        ]
    return "\n".join(out)


def real_example_blocks() -> list[str]:
    """The log-line examples of the real library (each example's lines kept together)."""
    blocks = []
    for path in sorted((ROOT / "app/signatures/library").rglob("*.yaml")):
        docs = yaml.safe_load(path.read_text(encoding="utf-8"))
        for doc in docs if isinstance(docs, list) else [docs]:
            if not isinstance(doc, dict):
                continue
            for example in doc.get("examples") or []:
                if "line" in example:
                    blocks.append(str(example["line"]))
                elif "lines" in example:
                    blocks.append("\n".join(map(str, example["lines"])))
    return [block for block in blocks if block.isascii()]


def inputs_digest() -> str:
    """Changes when the generator or the real library's example lines change (rebuild)."""
    digest = hashlib.sha256("\0".join(real_example_blocks()).encode())
    for source in ("make_bundle.py", "sigdefs.py"):
        digest.update((BENCH_DIR / source).read_bytes())
    return digest.hexdigest()[:12]


def write_log(out: BinaryIO, size: int, signatures: int, seed: int) -> dict[str, object]:
    """Stream exactly `size` bytes of log into `out`; return what was planted."""
    rng = random.Random(seed)
    pools = _Pools(rng)
    clock = _Clock()
    sigs = generated_signatures(signatures)
    real = real_example_blocks()
    planted: Counter[str] = Counter()
    plant_every = max(1, size // 200 // (REAL_PLANTS + 1))
    calls_wanted = max(1, CALLS_PER_GIB * size // 2**30)
    call_every = max(1, size // 300 // calls_wanted)  # ~290 bytes an event
    written = 0
    events = 0
    lines = 0
    reserve = 8192  # the tail is filled with exact-size padding lines
    batch: list[str] = []
    batch_bytes = 0
    while written + batch_bytes < size - reserve:
        c = clock.tick(rng)
        events += 1
        r = rng.random()
        if sigs and r < HIT_RATE:
            sig = sigs[rng.randrange(len(sigs))]
            text = sig.hit(rng, c)
            planted[sig.sig_id] += 1
        elif sigs and r < HIT_RATE + MISS_RATE:
            text = sigs[rng.randrange(len(sigs))].miss(rng, c)
        elif events % call_every == 0 and planted["sip-calls"] < calls_wanted:
            planted["sip-calls"] += 1
            text = planted_call(planted["sip-calls"], c)
        elif (
            real
            and events % plant_every == 0
            and planted["real-examples"] < REAL_PLANTS * len(real)
        ):
            text = "\n".join(real)
            planted["real-examples"] += len(real)
        else:
            text = _background(rng, pools, c)
        batch.append(text)
        batch_bytes += len(text) + 1  # ASCII only
        if len(batch) >= BATCH:
            data = ("\n".join(batch) + "\n").encode("ascii")
            out.write(data)
            written += len(data)
            lines += data.count(b"\n")
            batch.clear()
            batch_bytes = 0
    if batch:
        data = ("\n".join(batch) + "\n").encode("ascii")
        out.write(data)
        written += len(data)
        lines += data.count(b"\n")
    remaining = size - written
    while remaining > 0:
        c = clock.tick(rng)
        head = f"{c[0]} {c[1]} syslog: -- MARK -- "
        length = remaining if remaining <= 300 else min(200, remaining - 100)
        pad = max(0, length - len(head) - 1)
        line = (head + "." * pad)[: length - 1] + "\n" if length > 1 else "\n"
        out.write(line.encode("ascii"))
        remaining -= len(line)
        lines += 1
    return {"events": events, "lines": lines, "planted": dict(sorted(planted.items()))}


def _pcap(rng: random.Random, packets: int) -> bytes:
    """A small Ethernet/IPv4/TCP capture: TLS records between an endpoint and port 5061/8443."""
    out = io.BytesIO()
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    seq = {0: 1000, 1: 5000}
    for n in range(packets):
        direction = n % 2
        payload = b"\x17\x03\x03" + struct.pack(">H", 400) + rng.randbytes(400)
        src, dst = (b"\x0a\x00\x00\x05", b"\xc0\x00\x02\x05")[:: 1 if direction else -1]
        sport, dport = (50000 + n // 200, 5061 if n % 3 else 8443)[:: 1 if direction else -1]
        tcp = struct.pack(
            ">HHIIBBHHH", sport, dport, seq[direction], seq[1 - direction], 0x50, 0x18, 65535, 0, 0
        )
        seq[direction] += len(payload)
        ip = struct.pack(
            ">BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(tcp) + len(payload),
            n & 0xFFFF,
            0,
            64,
            6,
            0,
            src,
            dst,
        )
        frame = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip + tcp + payload
        out.write(
            struct.pack("<IIII", MTIME + n // 1000, (n % 1000) * 1000, len(frame), len(frame))
        )
        out.write(frame)
    return out.getvalue()


def _small_members() -> list[tuple[str, bytes]]:
    rng = random.Random(SEED + 1)
    xstat = (
        '*s SystemUnit: /\n    Product: "Expressway-C"\n    Uptime: 86400\n'
        '    Software:\n        Version: "X14.3.1"\n        Build: "X14.3.1"\n*s/end\n\nOK\n'
    )
    xconf = '*c xConfiguration IP DNS Hostname: "expc1"\n*c xConfiguration IP DNS Domain Name: "example.com"\nOK\n'
    return [
        (f"xstat_dump_{HOST}_{STAMP}.txt", xstat.encode()),
        (f"xconf_dump_{HOST}_{STAMP}.txt", xconf.encode()),
        (f"eth0_diagnostic_logging_tcpdump00_{HOST}_{STAMP}.pcap", _pcap(rng, 6000)),
        (f"eth0_diagnostic_logging_tcpdump01_{HOST}_{STAMP}.pcap", _pcap(rng, 6000)),
    ]


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = MTIME
    info.mode = 0o644
    info.uname = info.gname = "root"
    return info.tobuf(format=tarfile.GNU_FORMAT)


def _pad(out: BinaryIO, size: int) -> None:
    if size % 512:
        out.write(b"\0" * (512 - size % 512))


def build_bundle(size_mib: int, signatures: int, out_dir: Path, seed: int = SEED) -> Path:
    """Write the bundle and its manifest into out_dir/bundle-<size>MiB/; return the bundle path."""
    folder = out_dir / f"bundle-{size_mib}MiB"
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / f"diagnostic_log_{HOST}_{STAMP}.tar.gz"
    partial = bundle.with_suffix(".partial")
    size = size_mib * 2**20
    with partial.open("wb") as target:
        gzip = subprocess.Popen(["gzip", "-6", "-n", "-c"], stdin=subprocess.PIPE, stdout=target)
        assert gzip.stdin is not None
        pipe = gzip.stdin
        total = 0
        for name, data in _small_members()[:2]:
            pipe.write(_tar_header(name, len(data)) + data)
            _pad(pipe, len(data))
            total += len(data)
        log_name = f"loggingsnapshot_{HOST}_{STAMP}.txt"
        pipe.write(_tar_header(log_name, size))
        facts = write_log(pipe, size, signatures, seed)
        _pad(pipe, size)
        total += size
        for name, data in _small_members()[2:]:
            pipe.write(_tar_header(name, len(data)) + data)
            _pad(pipe, len(data))
            total += len(data)
        pipe.write(b"\0" * 1024)
        pipe.close()
        if gzip.wait() != 0:
            raise SystemExit("gzip failed")
    partial.replace(bundle)
    manifest = {
        "bundle": bundle.name,
        "size_mib": size_mib,
        "uncompressed_bytes": total,
        "log_bytes": size,
        "compressed_bytes": bundle.stat().st_size,
        "signatures": signatures,
        "inputs": inputs_digest(),
        "seed": seed,
        **facts,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the loggingsnapshot")
    parser.add_argument(
        "--signatures", type=int, default=300, help="generated signatures to plant hits of"
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    bundle = build_bundle(args.size_mib, args.signatures, args.out, args.seed)
    print(f"{bundle}: {bundle.stat().st_size / 1e6:.1f} MB compressed")


if __name__ == "__main__":
    main()
