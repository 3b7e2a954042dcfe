"""The record layer parser on hand-made byte streams (records split across feeds and messages)."""

from __future__ import annotations

from app.analyzers import tls_handshake as tls


def record(rtype: int, body: bytes) -> bytes:
    return bytes([rtype, 3, 3]) + len(body).to_bytes(2, "big") + body


def handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def collect(
    stream: bytes, step: int
) -> tuple[list[tuple[int, bytes]], list[tuple[int, int]], list[int]]:
    messages: list[tuple[int, bytes]] = []
    alerts: list[tuple[int, int]] = []
    stops: list[int] = []
    parser = tls.TlsDirection(
        lambda t, b: messages.append((t, b)),
        lambda lv, d: alerts.append((lv, d)),
        stops.append,
    )
    for i in range(0, len(stream), step):
        parser.feed(stream[i : i + step])
    return messages, alerts, stops


def test_certificate_message_spanning_three_records_fed_byte_by_byte() -> None:
    ders = [b"A" * 300, b"B" * 200]
    certs = b"".join(len(d).to_bytes(3, "big") + d for d in ders)
    message = handshake(tls.CERTIFICATE, len(certs).to_bytes(3, "big") + certs)
    stream = b"".join(record(22, message[i : i + 200]) for i in range(0, len(message), 200))
    stream += record(22, handshake(tls.SERVER_HELLO_DONE, b""))
    messages, _, _ = collect(stream, 1)
    assert [t for t, _ in messages] == [tls.CERTIFICATE, tls.SERVER_HELLO_DONE]
    assert tls.parse_certificate_list(messages[0][1]) == ders


def test_plaintext_alert_is_reported_and_ends_parsing() -> None:
    stream = record(21, bytes([2, 48])) + record(22, handshake(tls.CERTIFICATE_REQUEST, b""))
    messages, alerts, stops = collect(stream, 3)
    assert alerts == [(2, 48)] and tls.ALERT_NAMES[48] == "unknown_ca"
    assert messages == [] and stops == [21]


def test_change_cipher_spec_ends_the_plaintext_part() -> None:
    stream = record(20, b"\x01") + record(22, handshake(tls.CERTIFICATE, b"\x00\x00\x00"))
    messages, _, stops = collect(stream, 64)
    assert messages == [] and stops == [20]


def test_non_tls_bytes_stop_the_parser() -> None:
    messages, _, stops = collect(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 5)
    assert messages == [] and stops == [0]


def test_starts_tls_handshake_checks_content() -> None:
    assert tls.starts_tls_handshake(b"\x16\x03\x01\x02\x00")
    assert not tls.starts_tls_handshake(b"\x17\x03\x03")
    assert not tls.starts_tls_handshake(b"GET")
