"""Write Expressway `network.sip` log lines in the forms the real public log shows.

The forms are those of /work/shared/data/real/expressway-e_mra_call.txt (an X8.11 Expressway-E):
an INFO summary line with `Detail="Receive Request Method=…"`, a DEBUG line with the same
Msg-Hash, then ` SIPMSG:` and the message framed by `|`, each line starting with a space.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

_hashes = itertools.count(10_000_000_000_000_000_000)
START = datetime(2018, 1, 1, 17, 56, 48, 964000, tzinfo=UTC)


@dataclass
class Node:
    host: str
    ip: str
    lines: list[str] = field(default_factory=list)

    def other(self, text: str, when: datetime) -> None:
        self.lines.append(
            f'{_prefix(when)} {self.host} tvcs: UTCTime="{_utc(when)}" '
            f'Module="developer.sip.leg" Level="DEBUG": {text}'
        )

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _prefix(when: datetime) -> str:
    local = when.astimezone(UTC) - timedelta(hours=5)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}-05:00"


def _utc(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S,") + f"{when.microsecond // 1000:03d}"


def sip(
    node: Node,
    when: datetime,
    *,
    direction: str,
    local_port: int,
    remote: str,
    start_line: str,
    call_id: str,
    cseq: int,
    method: str,
    from_uri: str = "sip:1003@example.com",
    to_uri: str = "sip:1004@example.com",
    from_tag: str = "809f1f10ebdb302c",
    to_tag: str = "",
    headers: tuple[str, ...] = (),
    session: str = "00000000000000000000000000000000;remote=00000000000000000000000000000000",
    body: tuple[str, ...] = (),
    summary: bool = True,
    block: bool = True,
    transport: str = "TLS",
    vias: tuple[str, ...] = (),
) -> None:
    """Append one logged SIP message (summary line, DEBUG line, SIPMSG block) to `node`."""
    msg_hash = str(next(_hashes))
    remote_ip, remote_port = remote.rsplit(":", 1)
    incoming = direction == "in"
    action = "Received" if incoming else "Sent"
    side = "Src" if incoming else "Dst"
    where = (
        f'Action="{action}" Local-ip="{node.ip}" Local-port="{local_port}" '
        f'{side}-ip="{remote_ip}" {side}-port="{remote_port}"'
    )
    local_session, _, remote_session = session.partition(";remote=")
    if start_line.startswith("SIP/2.0"):
        code = start_line.split()[1]
        verb = "Receive" if incoming else "Sending"
        detail = (
            f"{verb} Response Code={code}, Method={method}, CSeq={cseq}, To={to_uri}, "
            f"Call-ID={call_id}, From-Tag={from_tag}, To-Tag={to_tag}, Msg-Hash={msg_hash}, "
            f"Local-SessionID={local_session}, Remote-SessionID={remote_session}"
        )
    else:
        verb = "Receive" if incoming else "Sending"
        uri = start_line.split()[1]
        detail = (
            f"{verb} Request Method={method}, CSeq={cseq}, Request-URI={uri}, "
            f"Call-ID={call_id}, From-Tag={from_tag}, To-Tag={to_tag}, Msg-Hash={msg_hash}, "
            f"Local-SessionID={local_session}, Remote-SessionID={remote_session}"
        )
    head = f'{_prefix(when)} {node.host} tvcs: UTCTime="{_utc(when)}" Module="network.sip"'
    if summary:
        node.lines.append(f'{head} Level="INFO":  {where} Detail="{detail}"')
    if not block:
        return
    node.lines.append(f'{head} Level="DEBUG":  {where} Msg-Hash="{msg_hash}"')
    to_value = f"<{to_uri}>" + (f";tag={to_tag}" if to_tag else "")
    message = [
        f"|{start_line}",
        *(
            vias
            or (
                f"Via: SIP/2.0/{transport} {remote if incoming else node.ip}:5061"
                f";branch=z9hG4bK{msg_hash}",
            )
        ),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        f"From: <{from_uri}>;tag={from_tag}",
        f"To: {to_value}",
        *headers,
        f"Session-ID: {session}",
        f"Content-Length: {sum(len(b) + 2 for b in body)}",
        "",
        *body,
        "|",
    ]
    node.lines.append(" SIPMSG:")
    node.lines.extend(f" {line}" for line in message)
    node.lines.append("")
