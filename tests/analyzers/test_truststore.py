"""Trust verdicts for captured chains against the Expressway's ca_*.pem; PEM tolerance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from app.analyzers.certinfo import CertInfo
from app.analyzers.pcap_tls import analyze_pcap
from app.analyzers.truststore import (
    TrustStore,
    expiring,
    load_pem_bundle,
    load_pem_file,
    san_length,
)
from tests.analyzers import captures

CA_PEM = captures.DATA / "ca_vcsc_2022-07-11_16_55_44.pem"
SERVER_PEM = captures.DATA / "server_vcsc_2022-07-11_16_55_44.pem"


@pytest.fixture(scope="module")
def store() -> TrustStore:
    return TrustStore.from_pem_files([CA_PEM])


def chain_on(name: str, port: int) -> list[CertInfo]:
    return next(
        s.chain for s in analyze_pcap(captures.DATA / name).sessions if s.server_port == port
    )


def fake_cert(
    cn: str, sans: list[str] | None = None, name: x509.Name | None = None
) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(when)
        .not_valid_after(when + dt.timedelta(days=365))
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False
        )
    return builder.sign(key, hashes.SHA256())


def test_ca_pem_holds_the_trusted_cas(store: TrustStore) -> None:
    assert [c.subject.rfc4514_string() for c in store.anchors] == [
        "CN=steven-DC-CA,DC=steven,DC=lab",
        "CN=Example Root G2,O=Example Public",
    ]
    assert store.warnings == []


def test_ca_signed_tomcat_on_8443_is_trusted(store: TrustStore) -> None:
    assert store.verify_chain(chain_on("article.pcap", 8443)) == (
        True,
        "issued by trusted CA CN=steven-DC-CA",
    )


def test_self_signed_ecdsa_on_6972_is_not(store: TrustStore) -> None:
    assert store.verify_chain(chain_on("article.pcap", 6972)) == (
        False,
        "self-signed certificate CN=cucm-EC.steven.lab is not in the trust store",
    )


def test_chain_from_an_unknown_ca_names_the_missing_issuer(store: TrustStore) -> None:
    chain = chain_on("unknown_ca.pcap", 8443)
    assert store.verify_chain(chain) == (False, "issuer CN=Rogue Root CA is not in the trust store")
    with_rogue_root = TrustStore.from_pem_files([CA_PEM, captures.DATA / "rogue-root.pem"])
    assert with_rogue_root.verify_chain(chain) == (True, "issued by trusted CA CN=Rogue Root CA")


def test_uploading_the_self_signed_certificate_makes_it_trusted(store: TrustStore) -> None:
    chain = chain_on("article.pcap", 6972)
    pinned = TrustStore([*store.anchors, chain[0].certificate()])
    assert pinned.verify_chain(chain) == (True, "CN=cucm-EC.steven.lab is in the trust store")


def test_a_different_ca_with_the_same_name_does_not_verify() -> None:
    chain = chain_on("article.pcap", 8443)
    impostor = fake_cert("steven-DC-CA", name=chain[0].certificate().issuer)
    trusted, reason = TrustStore([impostor]).verify_chain(chain)
    assert not trusted
    assert "CN=steven-DC-CA is in the trust store but its key does not match" in reason


def test_validity_dates_are_checked_when_asked(store: TrustStore) -> None:
    chain = chain_on("article.pcap", 8443)
    assert store.verify_chain(chain, at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))[0]
    trusted, reason = store.verify_chain(chain, at=dt.datetime(2033, 1, 1, tzinfo=dt.UTC))
    assert not trusted and "CN=cucm-ms.steven.lab is not valid at 2033-01-01" in reason


def test_empty_chain_is_not_trusted(store: TrustStore) -> None:
    assert store.verify_chain([]) == (False, "no certificate was presented")


def test_junk_between_blocks_and_a_bad_block(tmp_path: Path) -> None:
    good = CA_PEM.read_bytes()
    bad = b"-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    data = b"Bag Attributes: friendlyName steven\n" + bad + b"\n# junk\n" + good + b"trailing junk"
    bundle = load_pem_bundle(data, "ca_x.pem")
    assert len(bundle.certificates) == 2
    assert len(bundle.warnings) == 1 and bundle.warnings[0].startswith(
        "ca_x.pem: certificate block 1 is not valid"
    )
    assert load_pem_bundle(b"nothing here", "e.pem").warnings == ["e.pem: no PEM certificate found"]
    assert (
        load_pem_file(tmp_path / "missing.pem").warnings[0].startswith("missing.pem: cannot read")
    )


def test_server_certificate_expiry_and_san_length() -> None:
    [server] = load_pem_file(SERVER_PEM).certificates
    assert not expiring(server, dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
    assert expiring(server, dt.datetime(2032, 6, 15, tzinfo=dt.UTC))
    assert expiring(server, dt.datetime(2032, 7, 2, tzinfo=dt.UTC), days=0)
    assert san_length(server) == len("DNS:vcsc.steven.lab, IP Address:10.48.36.46")


def test_san_longer_than_expressway_accepts() -> None:
    many = fake_cert("big", [f"node{i:03d}.collab.example.com" for i in range(40)])
    assert san_length(many) > 999
    assert san_length(fake_cert("none")) == 0
    assert "BEGIN" in many.public_bytes(Encoding.PEM).decode()
