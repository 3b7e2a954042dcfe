"""Make small test certificates (expired, long SAN, no clientAuth EKU) and PEM files of them.

`python -m tests.analyzers.certfactory DIR` writes the fixtures of the analyzer signatures
(app/signatures/library/expressway/fixtures/); the tests call the functions directly.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.analyzers import captures

STAMP = "2024-03-01_10_00_00"  # the collection time in the fixture names: the reference time
COLLECTED = dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
BOTH = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)


Issuer = tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]


def make_key(key_type: str = "EC") -> CertificateIssuerPrivateKeyTypes:
    if key_type == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def make_ca(cn: str) -> Issuer:
    """A self-signed CA certificate and its key."""
    key = make_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_cert(
    cn: str,
    *,
    not_after: dt.datetime = dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    sans: tuple[str, ...] = (),
    eku: tuple[x509.ObjectIdentifier, ...] = BOTH,
    key_type: str = "EC",
    issuer: Issuer | None = None,
) -> x509.Certificate:
    """A certificate with these names, end date, EKU and key; self-signed unless `issuer`."""
    key = make_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer_name, signer_key = (issuer[0].subject, issuer[1]) if issuer else (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(not_after)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs))
    return path


def long_sans(count: int = 60) -> tuple[str, ...]:
    """`count` SAN names of 21 characters: over 999 characters as OpenSSL prints them."""
    return tuple(f"node{i:03d}.mra.example.com" for i in range(count))


def write_fixtures(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    write_pem(
        target / f"server_expold_{STAMP}.pem",
        make_cert("expold.example.com", not_after=dt.datetime(2024, 1, 15, tzinfo=dt.UTC)),
    )
    write_pem(
        target / f"server_expsoon_{STAMP}.pem",
        make_cert("expsoon.example.com", not_after=COLLECTED + dt.timedelta(days=10)),
    )
    write_pem(
        target / f"server_longsan_{STAMP}.pem",
        make_cert("longsan.example.com", sans=long_sans()),
    )
    write_pem(
        target / f"server_webonly_{STAMP}.pem",
        make_cert("webonly.example.com", eku=(ExtendedKeyUsageOID.SERVER_AUTH,)),
    )
    for name in ("article.pcap", "unknown_ca.pcap", "server_vcsc_2022-07-11_16_55_44.pem"):
        shutil.copyfile(captures.DATA / name, target / name)


if __name__ == "__main__":
    write_fixtures(Path(sys.argv[1]))
