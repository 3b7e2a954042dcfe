"""Build the test certificates of the TAC note (CSCwc69661) with `cryptography`.

Usage: python tests/pcapgen/mkcerts.py OUTDIR
Writes keys + certificates for the capture generator into OUTDIR. Dates are fixed so that
expiry checks in tests stay deterministic.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOT_BEFORE = dt.datetime(2022, 7, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2032, 7, 1, tzinfo=dt.UTC)


def name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def make_cert(
    subject: x509.Name,
    key: CertificateIssuerPrivateKeyTypes,
    issuer: x509.Certificate | None = None,
    issuer_key: CertificateIssuerPrivateKeyTypes | None = None,
    *,
    ca: bool = False,
    sans: tuple[str, ...] = (),
    serial: int = 1,
    not_after: dt.datetime = NOT_AFTER,
) -> x509.Certificate:
    signer = issuer_key or key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    if sans:
        entries: list[x509.GeneralName] = []
        for san in sans:
            try:
                entries.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                entries.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    return builder.sign(signer, hashes.SHA256())


def write(path: Path, *objs: x509.Certificate | CertificateIssuerPrivateKeyTypes) -> None:
    chunks = []
    for obj in objs:
        if isinstance(obj, x509.Certificate):
            chunks.append(obj.public_bytes(ser.Encoding.PEM))
        else:
            chunks.append(
                obj.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
            )
    path.write_bytes(b"".join(chunks))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    dc = (NameOID.DOMAIN_COMPONENT, "lab"), (NameOID.DOMAIN_COMPONENT, "steven")
    org = (
        (NameOID.COUNTRY_NAME, "BE"),
        (NameOID.STATE_OR_PROVINCE_NAME, "Belgium"),
        (NameOID.LOCALITY_NAME, "Diegem"),
        (NameOID.ORGANIZATION_NAME, "Cisco"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "TAC"),
    )
    root_key = rsa.generate_private_key(65537, 2048)
    root = make_cert(
        name(*dc, (NameOID.COMMON_NAME, "steven-DC-CA")), root_key, ca=True, serial=0x10
    )
    tomcat_key = rsa.generate_private_key(65537, 2048)
    tomcat = make_cert(
        name(*org, (NameOID.COMMON_NAME, "cucm-ms.steven.lab")),
        tomcat_key,
        root,
        root_key,
        sans=("cucm.steven.lab", "cucm-ms.steven.lab"),
        serial=0x4500000120850805D340,
    )
    ec_key = ec.generate_private_key(ec.SECP384R1())
    tomcat_ec = make_cert(
        name(*org, (NameOID.COMMON_NAME, "cucm-EC.steven.lab")),
        ec_key,
        sans=("cucm.steven.lab",),
        serial=0x6972,
    )
    rogue_root_key = rsa.generate_private_key(65537, 2048)
    rogue_root = make_cert(
        name((NameOID.ORGANIZATION_NAME, "Rogue Labs"), (NameOID.COMMON_NAME, "Rogue Root CA")),
        rogue_root_key,
        ca=True,
        serial=0x20,
    )
    rogue_int_key = rsa.generate_private_key(65537, 2048)
    rogue_int = make_cert(
        name((NameOID.ORGANIZATION_NAME, "Rogue Labs"), (NameOID.COMMON_NAME, "Rogue Issuing CA")),
        rogue_int_key,
        rogue_root,
        rogue_root_key,
        ca=True,
        serial=0x21,
    )
    rogue_leaf_key = rsa.generate_private_key(65537, 2048)
    rogue_leaf = make_cert(
        name(*org, (NameOID.COMMON_NAME, "cucm-ms.steven.lab")),
        rogue_leaf_key,
        rogue_int,
        rogue_int_key,
        sans=("cucm.steven.lab", "cucm-ms.steven.lab"),
        serial=0x22,
    )
    other_ca_key = ec.generate_private_key(ec.SECP256R1())
    other_ca = make_cert(
        name(
            (NameOID.ORGANIZATION_NAME, "Example Public"), (NameOID.COMMON_NAME, "Example Root G2")
        ),
        other_ca_key,
        ca=True,
        serial=0x30,
    )
    vcsc_key = rsa.generate_private_key(65537, 2048)
    vcsc = make_cert(
        name(*org, (NameOID.COMMON_NAME, "vcsc.steven.lab")),
        vcsc_key,
        root,
        root_key,
        sans=("vcsc.steven.lab", "10.48.36.46"),
        serial=0x46,
    )
    write(out / "root.pem", root)
    write(out / "tomcat.pem", tomcat)
    write(out / "tomcat.key", tomcat_key)
    write(out / "tomcat_ec.pem", tomcat_ec)
    write(out / "tomcat_ec.key", ec_key)
    write(out / "rogue_leaf.pem", rogue_leaf)
    write(out / "rogue_leaf.key", rogue_leaf_key)
    write(out / "rogue_chain.pem", rogue_int)
    write(out / "rogue_root.pem", rogue_root)
    write(out / "vcsc.pem", vcsc)
    write(out / "vcsc.key", vcsc_key)
    # the Expressway-C bundle files: trusted CA list and its own server certificate
    write(out / "ca_vcsc_2022-07-11_16_55_44.pem", root, other_ca)
    write(out / "server_vcsc_2022-07-11_16_55_44.pem", vcsc)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
