"""The certificate analyzers: expiry, SAN length, RSA/ECDSA issuers, client-auth EKU."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.analyzers.cert_checks import (
    ecdsa_rsa_different_ca,
    expiry,
    missing_client_auth,
    san_too_long,
)
from app.analyzers.certificates import CertificateScan, NodeCertificates, scan_paths
from app.analyzers.certinfo import CertInfo, parse_der
from app.analyzers.pcap_tls import TlsSession
from tests.analyzers import captures
from tests.analyzers.certfactory import (
    COLLECTED,
    STAMP,
    long_sans,
    make_ca,
    make_cert,
    write_pem,
)

SERVER_AUTH_ONLY = (ExtendedKeyUsageOID.SERVER_AUTH,)


def info(cert: object) -> CertInfo:
    return parse_der(cert.public_bytes(Encoding.DER))  # type: ignore[attr-defined]


def session(port: int, *chain: CertInfo, **extra: object) -> TlsSession:
    return TlsSession(
        client_ip="10.0.0.1",
        client_port=40000 + port,
        server_ip="10.0.0.9",
        server_port=port,
        sni=None,
        tls_version="TLS 1.2",
        first_seen="2024-03-01T09:00:00.000000Z",
        chain=list(chain),
        **extra,  # type: ignore[arg-type]
    )


def one_node(
    *sessions: TlsSession, own: list[tuple[str, CertInfo]] | None = None
) -> CertificateScan:
    node = NodeCertificates("expc1", list(sessions), None, own or [], COLLECTED)
    return CertificateScan([node], [])


def test_expired_and_expiring_own_certificates(tmp_path: Path) -> None:
    old = write_pem(
        tmp_path / f"server_a_{STAMP}.pem",
        make_cert("old.example.com", not_after=dt.datetime(2024, 1, 15, tzinfo=dt.UTC)),
    )
    [issue] = expiry(scan_paths([old]))
    assert issue.facts["state"] == "expired" and issue.facts["days_left"] == -46
    assert issue.facts["where"] == old.name and issue.facts["role"] == "server"
    soon = write_pem(
        tmp_path / f"server_b_{STAMP}.pem",
        make_cert("soon.example.com", not_after=COLLECTED + dt.timedelta(days=29)),
    )
    [issue] = expiry(scan_paths([soon]))
    assert (issue.facts["state"], issue.facts["days_left"]) == ("expiring", 29)
    later = write_pem(
        tmp_path / f"server_c_{STAMP}.pem",
        make_cert("later.example.com", not_after=COLLECTED + dt.timedelta(days=31)),
    )
    assert expiry(scan_paths([later])) == []


def test_expired_ca_in_a_captured_chain_is_reported_once_per_place() -> None:
    ca_cert, ca_key = make_ca("Old CA")
    expired_intermediate = info(
        make_cert("Old Intermediate", not_after=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
    )
    leaf = info(make_cert("cucm.example.com", issuer=(ca_cert, ca_key)))
    scan = one_node(
        session(8443, leaf, expired_intermediate), session(8443, leaf, expired_intermediate)
    )
    [issue] = expiry(scan)
    assert issue.facts["certificate"] == "CN=Old Intermediate"
    assert (issue.facts["role"], issue.facts["where"]) == ("CA", "10.0.0.9:8443")
    assert issue.seen == "2024-03-01T09:00:00.000000Z"


def test_san_over_999_characters(tmp_path: Path) -> None:
    long = write_pem(tmp_path / "server_l.pem", make_cert("l.example.com", sans=long_sans(35)))
    [issue] = san_too_long(scan_paths([long]))
    assert (issue.facts["san_length"], issue.facts["san_entries"]) == (1013, 35)
    short = write_pem(tmp_path / "server_s.pem", make_cert("s.example.com", sans=long_sans(34)))
    assert san_too_long(scan_paths([short])) == []  # 984 characters


def test_article_capture_has_rsa_8443_and_self_signed_ecdsa_6972() -> None:
    [issue] = ecdsa_rsa_different_ca(scan_paths([captures.DATA / "article.pcap"]))
    assert issue.node == "example"
    assert issue.facts["server"] == "10.48.36.215"
    assert (issue.facts["rsa_port"], issue.facts["ec_port"]) == (8443, 6972)
    assert issue.facts["ec_issuer"] == "self-signed"


def test_rsa_and_ecdsa_from_the_same_ca_are_fine() -> None:
    ca = make_ca("Corp CA")
    rsa = info(make_cert("cucm.example.com", key_type="RSA", issuer=ca))
    ec = info(make_cert("cucm-ec.example.com", key_type="EC", issuer=ca))
    assert ecdsa_rsa_different_ca(one_node(session(8443, rsa), session(6972, ec))) == []
    other = info(make_cert("cucm-ec.example.com", key_type="EC", issuer=make_ca("Other CA")))
    [issue] = ecdsa_rsa_different_ca(one_node(session(8443, rsa), session(6972, other)))
    assert issue.facts["ec_issuer"] == "CN=Other CA" and issue.facts["ec_self_signed"] is False


def test_missing_client_auth_on_own_client_and_sip_certificates(tmp_path: Path) -> None:
    web_only = info(make_cert("web.example.com", eku=SERVER_AUTH_ONLY))
    no_eku = info(make_cert("any.example.com", eku=()))
    both = info(make_cert("both.example.com"))
    scan = one_node(
        session(5061, web_only),  # UCM CallManager certificate on SIP TLS
        session(8443, both, client_cert_requested=True, client_chain=[web_only]),
        session(5061, no_eku),  # no EKU extension: every use allowed
        own=[("server_expc1.pem", web_only)],
    )
    issues = missing_client_auth(scan)
    assert [i.facts["role"] for i in issues] == ["expressway"]  # one per certificate per node
    client = one_node(
        session(8443, both, client_cert_requested=True, client_chain=[web_only]),
        session(8443, both, client_cert_requested=False, client_chain=[web_only]),
    )
    [issue] = missing_client_auth(client)
    assert issue.facts["role"] == "client" and issue.facts["eku"] == "serverAuth"
    assert issue.facts["where"] == "10.0.0.1 → 10.0.0.9:8443"
    [sip] = missing_client_auth(one_node(session(5061, web_only), session(443, web_only)))
    assert (sip.facts["role"], sip.facts["where"]) == ("sip-server", "10.0.0.9:5061")
    assert missing_client_auth(one_node(session(5061, no_eku), session(5061, both))) == []
