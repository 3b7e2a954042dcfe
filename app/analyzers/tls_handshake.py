"""Parse the plaintext part of one TLS direction (records → handshake messages and alerts).

Bytes arrive in order (TCP reassembly is the caller's job) and in any slicing: a record may be
split over many feeds and a handshake message over many records. Parsing stops for good at
ChangeCipherSpec, application data, an alert, or anything that is not a TLS record.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

VERSION_NAMES = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}
ALERT_NAMES = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}
CLIENT_HELLO, SERVER_HELLO, CERTIFICATE, CERTIFICATE_REQUEST, SERVER_HELLO_DONE = 1, 2, 11, 13, 14
_CCS, _ALERT, _HANDSHAKE, _APPDATA = 20, 21, 22, 23
_EXT_SNI, _EXT_SUPPORTED_VERSIONS = 0, 43


def starts_tls_handshake(data: bytes) -> bool:
    """True when data begins like a TLS handshake record: 16 03 0x."""
    return len(data) >= 3 and data[0] == _HANDSHAKE and data[1] == 3 and data[2] <= 4


def version_name(code: int) -> str:
    return VERSION_NAMES.get(code, f"0x{code:04x}")


class TlsDirection:
    """Incremental parser for one direction; reports through the two callbacks."""

    __slots__ = ("_buf", "_hs", "done", "on_message", "on_alert", "on_stop")

    def __init__(
        self,
        on_message: Callable[[int, bytes], None],
        on_alert: Callable[[int, int], None],
        on_stop: Callable[[int], None],
    ) -> None:
        self._buf = bytearray()
        self._hs = bytearray()
        self.done = False
        self.on_message = on_message  # (handshake type, body)
        self.on_alert = on_alert  # (level, description)
        self.on_stop = on_stop  # (record type that ended the plaintext part; 0 = not TLS)

    def feed(self, data: bytes) -> None:
        if self.done:
            return
        self._buf += data
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 5 and not self.done:
            rtype = buf[pos]
            if rtype not in (_CCS, _ALERT, _HANDSHAKE, _APPDATA) or buf[pos + 1] != 3:
                self._stop(0)
                break
            length = (buf[pos + 3] << 8) | buf[pos + 4]
            if len(buf) - pos - 5 < length:
                break
            body = bytes(buf[pos + 5 : pos + 5 + length])
            pos += 5 + length
            if rtype == _HANDSHAKE:
                self._hs += body
                self._drain_handshake()
            elif rtype == _ALERT:
                if len(body) == 2:
                    self.on_alert(body[0], body[1])
                self._stop(rtype)
            else:
                self._stop(rtype)
        del buf[:pos]
        if self.done:
            self._buf = bytearray()
            self._hs = bytearray()

    def _stop(self, record_type: int) -> None:
        self.done = True
        self.on_stop(record_type)

    def _drain_handshake(self) -> None:
        hs = self._hs
        pos = 0
        while len(hs) - pos >= 4 and not self.done:
            length = (hs[pos + 1] << 16) | (hs[pos + 2] << 8) | hs[pos + 3]
            if len(hs) - pos - 4 < length:
                break
            self.on_message(hs[pos], bytes(hs[pos + 4 : pos + 4 + length]))
            pos += 4 + length
        del hs[:pos]


def _extensions(body: bytes, pos: int) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    if pos + 2 > len(body):
        return found
    end = min(len(body), pos + 2 + struct.unpack_from(">H", body, pos)[0])
    pos += 2
    while pos + 4 <= end:
        etype, elen = struct.unpack_from(">HH", body, pos)
        found[etype] = body[pos + 4 : pos + 4 + elen]
        pos += 4 + elen
    return found


def parse_client_hello(body: bytes) -> tuple[str | None, list[str]]:
    """(SNI host name, offered versions) from a ClientHello body; raises on malformed input."""
    pos = 2 + 32
    pos += 1 + body[pos]  # session id
    pos += 2 + struct.unpack_from(">H", body, pos)[0]  # cipher suites
    pos += 1 + body[pos]  # compression methods
    offered = [version_name(struct.unpack_from(">H", body, 0)[0])]
    ext = _extensions(body, pos)
    sni = None
    raw = ext.get(_EXT_SNI)
    if raw and len(raw) >= 5 and raw[2] == 0:
        name_len = struct.unpack_from(">H", raw, 3)[0]
        sni = raw[5 : 5 + name_len].decode("ascii", "replace")
    versions = ext.get(_EXT_SUPPORTED_VERSIONS)
    if versions:
        codes = [struct.unpack_from(">H", versions, i)[0] for i in range(1, len(versions) - 1, 2)]
        offered = [version_name(c) for c in codes if (c & 0x0F0F) != 0x0A0A]  # drop GREASE
    return sni, offered


def parse_server_hello(body: bytes) -> tuple[str, int]:
    """(negotiated version name, cipher suite code) from a ServerHello body."""
    version = struct.unpack_from(">H", body, 0)[0]
    pos = 2 + 32
    pos += 1 + body[pos]
    cipher = struct.unpack_from(">H", body, pos)[0]
    pos += 3
    selected = _extensions(body, pos).get(_EXT_SUPPORTED_VERSIONS)
    if selected and len(selected) >= 2:
        version = struct.unpack_from(">H", selected, 0)[0]
    return version_name(version), cipher


def parse_certificate_list(body: bytes) -> list[bytes]:
    """The DER certificates of a TLS 1.2 Certificate message, leaf first."""
    total = (body[0] << 16) | (body[1] << 8) | body[2]
    end = min(len(body), 3 + total)
    pos = 3
    ders = []
    while pos + 3 <= end:
        length = (body[pos] << 16) | (body[pos + 1] << 8) | body[pos + 2]
        ders.append(body[pos + 3 : pos + 3 + length])
        pos += 3 + length
    return ders
