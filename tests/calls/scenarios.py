"""Generated Expressway-C and Expressway-E logs of calls crossing both (the real log's forms)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.calls.siplog import START, Node, sip

ENDPOINT = "198.51.100.20:50123"
CUCM = "10.0.0.10:5061"
E_IP, C_IP = "10.0.0.5", "10.0.0.2"
E_TRAVERSAL, C_TRAVERSAL = 7002, 25017
DX80 = "TANDBERG/529 (ce9.15.0.1) Cisco-DX80"


def failed_mra_call(
    expe: Node,
    expc: Node,
    *,
    number: str = "5551234",
    call_id: str = "c0ffee01@198.51.100.20",
    start: datetime = START,
    status: str = "404 Not Found",
    ua: str = DX80,
) -> None:
    """An endpoint calls `number` over MRA: E → C → Unified CM, which answers `status`."""
    tick = iter(range(1000))

    def at() -> datetime:
        return start + timedelta(milliseconds=7 * next(tick))

    to_uri = f"sip:{number}@example.com"
    common = {"call_id": call_id, "to_uri": to_uri, "from_uri": "sip:1003@example.com"}
    invite = f"INVITE {to_uri} SIP/2.0"
    via_ep = f"Via: SIP/2.0/TLS {ENDPOINT};branch=z9hG4bKep1"
    via_e = f"Via: SIP/2.0/TLS {E_IP}:{E_TRAVERSAL};branch=z9hG4bKe1"
    via_c = f"Via: SIP/2.0/TLS {C_IP}:5061;branch=z9hG4bKc1"
    final_tag = {"to_tag": "ucm42"}

    def e_to_c(start_line: str, method: str, vias: tuple[str, ...], **extra: object) -> None:
        when = at()
        sip(
            expe,
            when,
            direction="out",
            local_port=E_TRAVERSAL,
            remote=f"{C_IP}:{C_TRAVERSAL}",
            start_line=start_line,
            cseq=100,
            method=method,
            vias=vias,
            **common,
            **extra,
        )  # type: ignore[arg-type]
        sip(
            expc,
            when + timedelta(milliseconds=1),
            direction="in",
            local_port=C_TRAVERSAL,
            remote=f"{E_IP}:{E_TRAVERSAL}",
            start_line=start_line,
            cseq=100,
            method=method,
            vias=vias,
            **common,
            **extra,
        )  # type: ignore[arg-type]

    def c_to_e(start_line: str, method: str, vias: tuple[str, ...], **extra: object) -> None:
        when = at()
        sip(
            expc,
            when,
            direction="out",
            local_port=C_TRAVERSAL,
            remote=f"{E_IP}:{E_TRAVERSAL}",
            start_line=start_line,
            cseq=100,
            method=method,
            vias=vias,
            **common,
            **extra,
        )  # type: ignore[arg-type]
        sip(
            expe,
            when + timedelta(milliseconds=1),
            direction="in",
            local_port=E_TRAVERSAL,
            remote=f"{C_IP}:{C_TRAVERSAL}",
            start_line=start_line,
            cseq=100,
            method=method,
            vias=vias,
            **common,
            **extra,
        )  # type: ignore[arg-type]

    sip(
        expe,
        at(),
        direction="in",
        local_port=5061,
        remote=ENDPOINT,
        start_line=invite,
        cseq=100,
        method="INVITE",
        vias=(via_ep,),
        headers=(f"User-Agent: {ua}",),
        **common,
    )
    sip(
        expe,
        at(),
        direction="out",
        local_port=5061,
        remote=ENDPOINT,
        start_line="SIP/2.0 100 Trying",
        cseq=100,
        method="INVITE",
        vias=(via_ep,),
        headers=("Server: TANDBERG/4136 (X14.2.1)",),
        **common,
    )
    e_to_c(invite, "INVITE", (via_e, via_ep), headers=(f"User-Agent: {ua}",))
    c_to_e(
        "SIP/2.0 100 Trying",
        "INVITE",
        (via_e, via_ep),
        headers=("Server: TANDBERG/4136 (X14.2.1)",),
    )
    sip(
        expc,
        at(),
        direction="out",
        local_port=5061,
        remote=CUCM,
        start_line=invite,
        cseq=100,
        method="INVITE",
        vias=(via_c, via_e, via_ep),
        **common,
    )
    sip(
        expc,
        at(),
        direction="in",
        local_port=5061,
        remote=CUCM,
        start_line="SIP/2.0 100 Trying",
        cseq=100,
        method="INVITE",
        vias=(via_c, via_e, via_ep),
        headers=("Server: Cisco-CUCM14.0",),
        **common,
    )
    sip(
        expc,
        at(),
        direction="in",
        local_port=5061,
        remote=CUCM,
        start_line=f"SIP/2.0 {status}",
        cseq=100,
        method="INVITE",
        vias=(via_c, via_e, via_ep),
        headers=("Server: Cisco-CUCM14.0", 'Reason: Q.850;cause=1;text="Unallocated number"'),
        **common,
        **final_tag,
    )
    sip(
        expc,
        at(),
        direction="out",
        local_port=5061,
        remote=CUCM,
        start_line=f"ACK {to_uri} SIP/2.0",
        cseq=100,
        method="ACK",
        vias=(via_c,),
        **common,
        **final_tag,
    )
    c_to_e(f"SIP/2.0 {status}", "INVITE", (via_e, via_ep), **final_tag)
    e_to_c(f"ACK {to_uri} SIP/2.0", "ACK", (via_e,), **final_tag)
    sip(
        expe,
        at(),
        direction="out",
        local_port=5061,
        remote=ENDPOINT,
        start_line=f"SIP/2.0 {status}",
        cseq=100,
        method="INVITE",
        vias=(via_ep,),
        **common,
        **final_tag,
    )
    sip(
        expe,
        at(),
        direction="in",
        local_port=5061,
        remote=ENDPOINT,
        start_line=f"ACK {to_uri} SIP/2.0",
        cseq=100,
        method="ACK",
        vias=(via_ep,),
        **common,
        **final_tag,
    )


def answered_call(expe: Node, *, call_id: str, number: str, start: datetime) -> None:
    """A call on the E alone, answered and hung up by the endpoint."""
    common = {"call_id": call_id, "to_uri": f"sip:{number}@example.com"}
    for index, (direction, start_line, method) in enumerate(
        [
            ("in", f"INVITE sip:{number}@example.com SIP/2.0", "INVITE"),
            ("out", "SIP/2.0 100 Trying", "INVITE"),
            ("out", "SIP/2.0 200 OK", "INVITE"),
            ("in", f"ACK sip:{number}@example.com SIP/2.0", "ACK"),
            ("in", f"BYE sip:{number}@example.com SIP/2.0", "BYE"),
            ("out", "SIP/2.0 200 OK", "BYE"),
        ]
    ):
        sip(
            expe,
            start + timedelta(seconds=index),
            direction=direction,
            local_port=5061,
            remote=ENDPOINT,
            start_line=start_line,
            cseq=101 if method == "BYE" else 100,
            method=method,
            to_tag="t1" if index >= 2 else "",
            **common,
        )  # type: ignore[arg-type]


def two_node_logs() -> tuple[Node, Node]:
    """An Expressway-E and an Expressway-C log: one failed MRA call crossing both, one
    answered call on the E alone, and OPTIONS keep-alives between the two."""
    expe, expc = Node("expe1", E_IP), Node("expc1", C_IP)
    for n in range(5):
        when = START - timedelta(seconds=60 - n)
        sip(
            expc,
            when,
            direction="out",
            local_port=C_TRAVERSAL,
            remote=f"{E_IP}:7001",
            start_line=f"OPTIONS sip:{E_IP}:7001 SIP/2.0",
            call_id=f"ka{n}@{C_IP}",
            cseq=n,
            method="OPTIONS",
        )
        sip(
            expc,
            when,
            direction="in",
            local_port=C_TRAVERSAL,
            remote=f"{E_IP}:7001",
            start_line="SIP/2.0 200 OK",
            call_id=f"ka{n}@{C_IP}",
            cseq=n,
            method="OPTIONS",
        )
    failed_mra_call(expe, expc)
    answered_call(
        expe, call_id="beef02@198.51.100.20", number="5550000", start=START + timedelta(seconds=30)
    )
    return expe, expc
