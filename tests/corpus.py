"""Realistic synthetic Expressway log TEXT for tests (no archives here: see tests/factories.py).

Every line shape is copied from a public source (domain.md §2.4, the seed TAC note, the real
Expressway-E log in ../shared/data/real); only hosts, addresses and times are rewritten.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

_LOCAL = timezone(timedelta(hours=1))
_START = datetime(2023, 3, 2, 10, 0, 0, tzinfo=_LOCAL)


def _stamps(index: int) -> tuple[str, str]:
    """(syslog prefix time, UTCTime value) for the index-th record, 7 ms apart."""
    when = _START + timedelta(milliseconds=7 * index)
    prefix = when.isoformat(timespec="milliseconds")
    utc = when.astimezone(UTC)
    return prefix, f"{utc:%Y-%m-%d %H:%M:%S},{utc.microsecond // 1000:03d}"


def _traffic_server_request(host: str, ts: str, utc: str, n: int) -> list[str]:
    return [
        f'{ts} {host} traffic_server[3936]: UTCTime="{utc}" Module="network.http.trafficserver" '
        f'Level="DEBUG": Detail="Sending Request" Txn-id="{3000 + n}" '
        f'TrackingID="f3a1c2d4-{n:04d}-4b7e-9c1d-0a1b2c3d4e5f" Dst-ip="192.0.2.10" Dst-port="8443"',
        "HTTPMSG:",
        f"|GET /cucm-uds/user/user{n % 50}/devices?max=100 HTTP/1.1",
        " Host: cucm.example.com:8443",
        " Accept: */*",
        " |",
    ]


def _traffic_server_allowed(host: str, ts: str, n: int) -> list[str]:
    return [
        f'{ts} {host} traffic_server[3936]: Event="Request Allowed" Detail="Access allowed" '
        f'Reason="In allow list" Src-ip="127.0.0.1" Dst-ip="192.0.2.10" Dst-port="8443" '
        f'Txn-id="{3000 + n}"'
    ]


def _sip_received(host: str, ts: str, utc: str, n: int) -> list[str]:
    call_id = f"e7e75ff9a67fb2435b25eab2a14{n:05d}"
    return [
        f'{ts} {host} tvcs: UTCTime="{utc}" Module="network.sip" Level="INFO":  Action="Received" '
        f'Local-ip="192.0.2.5" Local-port="5061" Src-ip="198.51.100.183" Src-port="47177" '
        f'Detail="Receive Request Method=INVITE, CSeq=100, Request-URI=sip:1004@example.com, '
        f"Call-ID={call_id}, From-Tag=809f1f10ebdb302c, To-Tag=, Msg-Hash=14340233468942773735, "
        f'Local-SessionID=, Remote-SessionID="',
        f'{ts} {host} tvcs: UTCTime="{utc}" Module="network.sip" Level="DEBUG":  Action="Received" '
        f'Local-ip="192.0.2.5" Local-port="5061" Src-ip="198.51.100.183" Src-port="47177" '
        f'Msg-Hash="14340233468942773735"',
        " SIPMSG:",
        " |INVITE sip:1004@example.com SIP/2.0",
        f" Via: SIP/2.0/TLS 198.51.100.183:47177;branch=z9hG4bK45174a9c{n:08d};rport",
        f" Call-ID: {call_id}",
        " CSeq: 100 INVITE",
        " From: <sip:1003@example.com>;tag=809f1f10ebdb302c",
        " To: <sip:1004@example.com>",
        " User-Agent: TANDBERG/529 (ce9.2.0.5c47770) Cisco-DX70",
        " Content-Length: 0",
        " ",
        " |",
        "",
    ]


def _developer(host: str, ts: str, utc: str, n: int) -> list[str]:
    return [
        f'{ts} {host} tvcs: UTCTime="{utc}" Module="developer.fsm.sipproxylegfsm" Level="TRACE" '
        f'CodeLocation="allshare/fsm/fsmfsm.cpp(900)" Method="::sys_testAndExecTask" '
        f'Thread="0x7fc1d8e2d700":  Detail="Starting message execution on task" '
        f'Self="SipProxyLegFsm({n})"',
        f'{ts} {host} tvcs: UTCTime="{utc}" Module="network.dns" Level="DEBUG":  '
        f'Detail="Sending DNS query" Name="_sip._tcp.example.com" Type="SRV (IPv4 and IPv6)"',
        f'{ts} {host} management: UTCTime="{utc}" Module="developer.management.databasemanager" '
        f'Level="INFO" CodeLocation="databasemanager(63)" Detail="Path change detected", '
        f'Path="/status/call/call" Type="record change" '
        f'Name="CallUsageNotifier.on_cdr_record_changed" Duration="0ms"',
    ]


def _events(host: str, ts: str, utc: str, n: int) -> list[str]:
    return [
        f'{ts} {host} tvcs: Event="Call Attempted" Service="SIP" Src-ip="198.51.100.183" '
        f'Src-port="47177" Src-alias-type="SIP" Src-alias="sip:1003@example.com" '
        f'Dst-alias-type="SIP" Dst-alias="sip:1004@example.com" '
        f'Call-serial-number="0b0cd0b8-4ed3-41fe-893e-{n:012d}" Protocol="TLS" Level="1" '
        f'UTCTime="{utc}"',
        f'{ts} {host} licensemanager: UTCTime="{utc}" '
        f'Module="developer.licensemanager.service.manager" Level="INFO" '
        f'CodeLocation="licensemanager(192)" Detail="License granted" '
        f'call_id="998d8187-bf80-4a68-ba4f-{n:012d}" lic_type="collabedge" tokens=2',
    ]


def _alarm_25019(host: str, ts: str, utc: str) -> str:
    return (
        f'{ts} {host} alarm: Level="WARN" Event="Alarm Raised" Id="25019" '
        f'UUID="0f96695e-d954-4f6f-85c1-2ef1eae6f764" Severity="warning" '
        f'Detail="Verbose log levels configured: One or more modules of the Network Log or '
        f'Support Log have been configured with a level of Debug or Trace" UTCTime="{utc}"'
    )


def alarm_line(
    host: str,
    alarm_id: str,
    event: str = "Raised",
    *,
    severity: str = "warning",
    detail: str = "Cluster database communication failure: The database is unable to "
    "replicate with one or more of the cluster peers",
    index: int = 0,
) -> str:
    """An `alarm:` line (doc 217230's shape) for `event` "Raised" or "Lowered".

    The Lowered form is the published Raised line with the other event name (no public excerpt
    shows a lowered line).
    """
    ts, utc = _stamps(index)
    return (
        f'{ts} {host} alarm: Level="WARN" Event="Alarm {event}" Id="{alarm_id}" '
        f'UUID="0f96695e-d954-4f6f-85c1-2ef1eae6f764" Severity="{severity}" '
        f'Detail="{detail}" UTCTime="{utc}"'
    )


# Alarms a healthy node raises and lowers again within a diagnostic log (start-up, NTP sync).
_NTP = "NTP server not available"
_SSH = "Unified Communications SSH tunnel failure"


def _register(host: str, ts: str, utc: str, n: int) -> list[str]:
    call_id = f"00505690-7c5e0003-{n:08d}@198.51.100.183"
    port = f"51{n % 1000:03d}"
    return [
        f'{ts} {host} tvcs: UTCTime="{utc}" Module="network.sip" Level="INFO":  Action="Received" '
        f'Local-ip="192.0.2.5" Local-port="5061" Src-ip="198.51.100.183" Src-port="{port}" '
        f'Detail="Receive Request Method=REGISTER, CSeq={n}, Request-URI=sip:example.com, '
        f"Call-ID={call_id}, From-Tag=a1b2c3d4, To-Tag=, Msg-Hash=8{n:018d}, "
        f'Local-SessionID=, Remote-SessionID="',
        f'{ts} {host} tvcs: UTCTime="{utc}" Module="network.sip" Level="INFO":  Action="Sent" '
        f'Local-ip="192.0.2.5" Local-port="5061" Dst-ip="198.51.100.183" Dst-port="{port}" '
        f'Detail="Sending Response Code=200, Method=REGISTER, CSeq={n}, To=sip:1003@example.com, '
        f"Call-ID={call_id}, From-Tag=a1b2c3d4, To-Tag=e5f6a7b8, Msg-Hash=9{n:018d}, "
        f'Local-SessionID=, Remote-SessionID="',
    ]


def _edge_config(host: str, ts: str, utc: str, n: int) -> list[str]:
    return [
        f'{ts} {host} traffic_server[2030]: UTCTime="{utc}" Module="network.http.trafficserver" '
        f'Level="DEBUG": Detail="Sending Request" Txn-id="{5000 + n}" '
        f'TrackingID="a9b8c7d6-{n:04d}-4e5f-8a9b-0c1d2e3f4a5b" Dst-ip="192.0.2.5" Dst-port="8443"',
        "HTTPMSG:",
        "|GET /ZXhhbXBsZS5jb20/get_edge_config/ HTTP/1.1",
        " Host: expe1.example.com:8443",
        " Accept: */*",
        " |",
    ]


def _with_alarm_history(host: str, body: list[str], alarm: tuple[str, str], n_lines: int) -> str:
    """Verbose-logging alarm first, `alarm` raised then lowered, body, verbose alarm lowered."""
    alarm_id, detail = alarm
    head = [
        _alarm_25019(host, *_stamps(0)),
        alarm_line(host, alarm_id, "Raised", detail=detail, index=1),
    ]
    middle = body[: max(0, n_lines - 4)]
    tail = [
        alarm_line(host, alarm_id, "Lowered", detail=detail, index=len(middle) + 2),
        alarm_line(
            host,
            "25019",
            "Lowered",
            detail="Verbose log levels configured: One or more modules of the Network Log or "
            "Support Log have been configured with a level of Debug or Trace",
            index=len(middle) + 3,
        ),
    ]
    return "\n".join(head + middle + tail) + "\n"


def healthy_expressway_e_loggingsnapshot(host: str = "expe1", n_lines: int = 2000) -> str:
    """A healthy X14.2.1 Expressway-E at debug level: MRA logins, registrations and calls.

    Edge-config requests through Traffic Server, REGISTER/200 and INVITE with SIPMSG blocks,
    developer.* lines, events, alarm 25019 raised and lowered, and the SSH tunnel alarm 35013
    raised at start and lowered seconds later: no live problem in it.
    """
    body: list[str] = []
    n = 2
    while len(body) < n_lines:
        ts, utc = _stamps(n)
        kind = n % 5
        if kind == 0:
            body += _edge_config(host, ts, utc, n)
        elif kind == 1:
            body += _register(host, ts, utc, n)
        elif kind == 2:
            body += _sip_received(host, ts, utc, n)
        elif kind == 3:
            body += _developer(host, ts, utc, n)
        else:
            body += _events(host, ts, utc, n)
        n += 1
    return _with_alarm_history(host, body, ("35013", _SSH), n_lines)


def healthy_expressway_c_loggingsnapshot(
    host: str = "expc1", n_lines: int = 2000, *, alarm_history: bool = False
) -> str:
    """A healthy X14.2.1 Expressway-C at debug level during MRA logins: no problem in it.

    Traffic Server request lines with HTTPMSG blocks, network.sip with SIPMSG blocks,
    developer.* lines, alarm 25019 (expected in every diagnostic log), events. With
    `alarm_history`, also SIP registrations, NTP alarm 25021 raised then lowered and 25019
    lowered at the end (findings only after the alarm lifecycle is resolved).
    """
    if alarm_history:
        body: list[str] = []
        n = 2
        while len(body) < n_lines:
            ts, utc = _stamps(n)
            kind = n % 6
            if kind == 5:
                body += _register(host, ts, utc, n)
            elif kind == 0:
                body += _traffic_server_request(host, ts, utc, n)
            elif kind == 1:
                body += _traffic_server_allowed(host, ts, n)
            elif kind == 2:
                body += _sip_received(host, ts, utc, n)
            elif kind == 3:
                body += _developer(host, ts, utc, n)
            else:
                body += _events(host, ts, utc, n)
            n += 1
        return _with_alarm_history(host, body, ("25021", _NTP), n_lines)
    lines: list[str] = []
    ts, utc = _stamps(0)
    lines.append(_alarm_25019(host, ts, utc))
    n = 1
    while len(lines) < n_lines:
        ts, utc = _stamps(n)
        kind = n % 5
        if kind == 0:
            lines += _traffic_server_request(host, ts, utc, n)
        elif kind == 1:
            lines += _traffic_server_allowed(host, ts, n)
        elif kind == 2:
            lines += _sip_received(host, ts, utc, n)
        elif kind == 3:
            lines += _developer(host, ts, utc, n)
        else:
            lines += _events(host, ts, utc, n)
        n += 1
    return "\n".join(lines[:n_lines]) + "\n"


def xstat_dump(host: str = "expc1", product: str = "Expressway-C", version: str = "X14.2.1") -> str:
    """xstatus text: `*s SystemUnit: /` block with product and version, `*s/end`, `OK`.

    The frame (`*s SystemUnit: /`, `Build: "…"`, `*s/end`, `OK`) is the shape the Greenbone
    VCS detection parses; the Product/Version line names inside it are our assumption.
    """
    return (
        "*s SystemUnit: /\n"
        f'    Name: "{host}"\n'
        f'    Product: "{product}"\n'
        "    Uptime: 86400\n"
        "    Software: /\n"
        f'      Version: "{version}"\n'
        f'      Build: "{version.lstrip("X")}"\n'
        '      Name: "Release"\n'
        "*s/end\n"
        "\n"
        "OK\n"
    )


_SEED_LINES: dict[str, list[str]] = {
    # seed: "Failed connection on 6972", lines rejoined where the article wrapped them
    "self_signed": [
        "2022-07-11T18:55:26.016+02:00 vcsc traffic_server[18242]: [ET_NET 0] WARNING: Core "
        "server certificate verification failed for (cucm.steven.lab). Action=Terminate "
        "Error=self signed certificate server=cucm.steven.lab(10.48.36.215) depth=0",
        "2022-07-11T18:55:26.016+02:00 vscs traffic_server[18242]: [ET_NET 0] ERROR: SSL "
        "connection failed for 'cucm.steven.lab': error:1416F086: SSL "
        "routines:tls_process_server_certificate:certificate verify failed",
    ],
    # seed: CSA screenshot "diagnostic_log_vcsd_…-DifferentCA-8443"
    "unknown_ca": [
        "2022-07-11T19:33:06.740+02:00 vcsd traffic_server[3936]: [ET_NET 0] WARNING: Core "
        "server certificate verification failed for (10.48.36.215). Action:Terminate "
        "Error=ssl signed certificate in certificate chain server=10.48.36.215(10.48.36.215) "
        "depth=1",
        "2022-07-11T19:33:06.740+02:00 vcsd traffic_server[3936]: [ET_NET 0] ERROR: SSL "
        'connection failed for "10.48.36.215": error:1416F080:SSL '
        "routines:tls_process_server_certificate:certificate verify failed",
    ],
    # seed: CSA screenshot "diagnostic_log_vcsd_…-ConnectCAbutwithIPonCUCM"
    "sni_mismatch": [
        "2022-07-11T19:49:01.533+02:00 vcsd traffic_server[3936]: [ET_NET 2] WARNING: SNI "
        "(10.48.36.215) not in certificate. Action:Terminate server=10.48.36.215(10.48.36.215)",
        "2022-07-11T19:49:01.533+02:00 vcsd traffic_server[3936]: [ET_NET 2] ERROR: SSL "
        'connection failed for "10.48.36.215": error:1416F080:SSL '
        "routines:tls_process_server_certificate:certificate verify failed",
    ],
}


def seed_scenario_lines(kind: str) -> list[str]:
    """The seed article's WARNING line and its follow-up ERROR line for one failure reason.

    kind: "self_signed" | "unknown_ca" | "sni_mismatch".
    """
    return list(_SEED_LINES[kind])


XSS_SERVER = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'


def xss_line() -> str:
    """A Traffic Server warning the seed signature matches, with HTML/JS in the server name."""
    return (
        "2022-07-11T19:33:06.740+02:00 vcsd traffic_server[3936]: [ET_NET 0] WARNING: Core "
        f"server certificate verification failed for ({XSS_SERVER}). Action=Terminate "
        "Error=self signed certificate server=cucm.example.com(192.0.2.10) depth=0"
    )
