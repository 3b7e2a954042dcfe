"""Write the MRA sign-in log lines in the forms public Cisco documents show.

- `ts_request`: an Expressway's Traffic Server sending a request on, with its HTTPMSG block
  (doc 225746, https://www.cisco.com/c/en/us/support/docs/unified-communications/unified-communications-manager-version-15/225746-troubleshoot-common-issues-with.html:
  `traffic_server[2030]: UTCTime=… Module="network.http.trafficserver" Level="DEBUG":
  Detail="Sending Request" Txn-id=… TrackingID=… Dst-ip=… Dst-port=…`, then `HTTPMSG:`,
  `|GET /CSFmarcoalh.cnf.xml HTTP/1.1`, header lines starting with a space, ` |`).
- `ts_response`: the Traffic Server sending a response to the client, with its HTTPMSG block,
  and the `Event="Sending HTTP error response"` line (doc 117811,
  https://www.cisco.com/c/en/us/support/docs/unified-communications/expressway-series/117811-configure-vcs-00.html,
  whose copy flattens the block onto one line; `flat=True` writes it that way).
- `uds_401` / `auth_failed`: the Exp-C edge config provisioning lines of doc 211304
  (https://www.cisco.com/c/en/us/support/docs/unified-communications/unified-communications-manager-callmanager/211304-Collaboration-Edge-TC-based-Endpoints-Co.html),
  which its copy also flattens; here each log line is on its own line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 1, 29, 19, 1, 16, 974000, tzinfo=UTC)


def stamp(when: datetime) -> tuple[str, str]:
    local = when - timedelta(hours=5)
    prefix = local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}-05:00"
    utc = when.strftime("%Y-%m-%d %H:%M:%S,") + f"{when.microsecond // 1000:03d}"
    return prefix, utc


def ts_request(
    host: str,
    when: datetime,
    path: str,
    *,
    txn: int,
    tracking: str,
    dst: str,
    port: int,
    client: str,
    agent: str = "WebEx/0.0.0.0",
    extra: tuple[str, ...] = (),
) -> list[str]:
    prefix, utc = stamp(when)
    return [
        f'{prefix} {host} traffic_server[2030]: UTCTime="{utc}" '
        f'Module="network.http.trafficserver" Level="DEBUG": Detail="Sending Request" '
        f'Txn-id="{txn}" TrackingID="{tracking}" Dst-ip="{dst}" Dst-port="{port}"',
        "HTTPMSG:",
        f"|GET {path} HTTP/1.1",
        f" Host: {dst}:{port}",
        " Accept: */*",
        " Cookie:<CONCEALED>",
        f" User-Agent: {agent}",
        f" TrackingID: {tracking}",
        f" Client-ip: {client}",
        f" X-Forwarded-For: {client}, 127.0.0.1",
        *extra,
        " Via: https/1.1 vcs[0f000000-c853-0000-aa16-0a290bf56fc8] (ATS)",
        " ",
        " |",
    ]


def ts_response(
    host: str,
    when: datetime | None,
    status: int,
    reason: str,
    *,
    txn: int,
    dst: str,
    port: int,
    flat: bool = False,
    event: bool = True,
    extra: tuple[str, ...] = (),
) -> list[str]:
    head = f"{host} traffic_server[15550]: "
    if when is not None:
        prefix, utc = stamp(when)
        head = f'{prefix} {head}UTCTime="{utc}" '
    module = (
        f'Module="network.http.trafficserver" Level="DEBUG": Detail="Sending Response" '
        f'Txn-id="{txn}" Dst-ip="{dst}" Dst-port="{port}"'
    )
    event_line = (
        f'{host} traffic_server[15550]: Event="Sending HTTP error response" Status="{status}" '
        f'Reason="{reason}" Dst-ip="{dst}" Dst-port="{port}"'
    )
    if flat:
        return [
            f"{head}{module} HTTPMSG: |HTTP/1.1 {status} {reason} Date: Wed, 21 May 2014 "
            f"14:31:18 GMT Connection: close Server: CE_E Content-Length: 0 "
            + (event_line if event else "")
        ]
    lines = [
        f"{head}{module}",
        " HTTPMSG:",
        f" |HTTP/1.1 {status} {reason}",
        " Date: Wed, 21 May 2014 14:31:18 GMT",
        " Connection: close",
        " Server: CE_E",
        *extra,
        " Content-Length: 0",
        " |",
    ]
    return lines + ([event_line] if event and status >= 400 else [])


def uds_401(host: str, when: datetime, user: str, server: str = "10.0.97.131") -> list[str]:
    prefix, utc = stamp(when)
    return [
        f'{prefix} {host} edgeconfigprovisioning UTCTime="{utc}" '
        'Module="network.http.edgeconfigprovisioning" Level="DEBUG" Action="Received" '
        f'Request-url="https://{server}:8443/cucm-uds/user/{user}/devices"',
        " HTTPMSG:",
        " |HTTP/1.1 401 Unauthorized",
        " Expires: Wed, 31 Dec 1969 19:00:00 EST",
        " Cache-Control: private",
        " Content-Type: text/html;charset=utf-8",
        ' WWW-Authenticate: Basic realm="Cisco Web Services Realm"',
        " |",
    ]


def auth_failed(host: str, when: datetime, user: str, server: str = "10.0.97.131") -> list[str]:
    prefix, utc = stamp(when)
    return [
        f'{prefix} {host} UTCTime="{utc}" Module="developer.edgeconfigprovisioning.server" '
        'Level="DEBUG" CodeLocation="edgeprotocol(1018)" Detail="Failed to authenticate user '
        f'against server" Username="{user}" Server="(\'https\', \'{server}\', 8443) " '
        "Reason=\"<twisted.python.failure.Failure <type 'exceptions.Exception'>> \"",
        f'{prefix} {host} edgeconfigprovisioning: Level="INFO" Detail="Failed to authenticate '
        f'user against server" Username="{user}" Server="(\'https\', \'{server}\', 8443)" '
        f"Reason=\"<twisted.python.failure.Failure <type 'exceptions.Exception'>>\" "
        f'UTCTime="{utc}"',
    ]
