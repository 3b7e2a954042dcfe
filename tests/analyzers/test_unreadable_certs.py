"""A certificate logloupe cannot read is skipped with a warning naming it; the analysis goes on
with every other finding. Certificates are built here and then damaged byte by byte: an
undecodable name, an extension that does not parse, an unknown key algorithm or curve, a
truncated DER inside a well-formed PEM block."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from app.analyzers.pcap_tls import analyze_pcap
from app.analyzers.truststore import load_pem_bundle
from app.config import Settings
from app.signatures import load_library
from app.worker.pipeline import Input, analyze, limits_from
from tests.analyzers import captures
from tests.analyzers.certfactory import make_cert
from tests.analyzers.scenarios import HOST, STAMP, scenario_bundle
from tests.factories import make_tar

LIBRARY = load_library()
EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")  # OID 1.2.840.10045.2.1
P256 = bytes.fromhex("06082a8648ce3d030107")  # OID 1.2.840.10045.3.1.7
EKU = bytes.fromhex("0603551d25")  # OID 2.5.29.37


def pem(*ders: bytes) -> bytes:
    return b"".join(
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
        for der in ders
    )


def replaced(der: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and old in der
    return der.replace(old, new, 1)


def expired(cn: str) -> bytes:
    """A certificate that expired in 2021: a finding whenever logloupe can read it."""
    cert = make_cert(cn, not_after=dt.datetime(2021, 1, 15, tzinfo=dt.UTC))
    return cert.public_bytes(Encoding.DER)


def damaged() -> dict[str, bytes]:
    bad_name = expired("badname.example.com")
    bad_extension = expired("badext.example.com")
    at = bad_extension.index(EKU) + len(EKU) + 2  # inside the OCTET STRING of the EKU value
    return {
        "undecodable CN": replaced(bad_name, b"ba", b"\xff\xfe"),
        "broken extension": bad_extension[:at] + b"\x02" + bad_extension[at + 1 :],
        "truncated DER": expired("cut.example.com")[:-40],
    }


@pytest.mark.parametrize("kind", ["undecodable CN", "broken extension", "truncated DER"])
def test_an_unreadable_certificate_in_a_pem_file_is_skipped_and_named(kind: str) -> None:
    good = expired("good.example.com")
    bundle = load_pem_bundle(pem(good, damaged()[kind], good), "ca_x.pem")
    assert len(bundle.certificates) == 2  # the good ones, before and after it
    (warning,) = bundle.warnings
    assert warning.startswith("ca_x.pem: certificate")
    assert " 2 " in warning or "block 2 " in warning  # which one of the file


@pytest.mark.parametrize("oid", [EC_PUBLIC_KEY, P256])
def test_a_certificate_with_an_unknown_key_is_kept_with_a_warning(oid: bytes) -> None:
    unknown = replaced(expired("oddkey.example.com"), oid, oid[:-1] + b"\x09")
    bundle = load_pem_bundle(pem(unknown), "server_x.pem")
    assert len(bundle.certificates) == 1  # its name, dates and extensions can still be used
    (warning,) = bundle.warnings
    assert warning.startswith("server_x.pem: certificate 1 (CN=oddkey.example.com) has a public")


def run(tmp_path: Path, bundle: bytes) -> tuple[set[tuple[str, str | None]], list[str]]:
    upload = tmp_path / "upload.tar.gz"
    tmp_path.mkdir(parents=True)
    upload.write_bytes(bundle)
    report = analyze(
        [Input(upload, "upload.tar.gz")],
        tmp_path / "work",
        LIBRARY,
        limits_from(Settings()),
        jobs=1,
    )
    found = {(f.signature_id, f.facts.get("certificate")) for f in report.findings}
    return found, report.warnings


def test_the_analysis_goes_on_with_every_other_finding(tmp_path: Path) -> None:
    """A bundle whose CA file holds damaged certificates among good ones."""
    clean = scenario_bundle("unknown_ca")
    clean_found, _ = run(tmp_path / "clean", clean)
    parts = damaged()
    oddkey = replaced(expired("oddkey.example.com"), P256, P256[:-1] + b"\x09")
    trusted = (captures.DATA / f"ca_vcsc_{STAMP}.pem").read_bytes()
    before = trusted.count(b"-----BEGIN CERTIFICATE-----")  # the good ones come first
    members = {
        f"server_{HOST}_{STAMP}.pem": pem(expired("own.example.com")),
        f"ca_{HOST}_{STAMP}.pem": trusted
        + pem(parts["broken extension"], parts["undecodable CN"], oddkey),
    }
    found, warnings = run(tmp_path / "damaged", with_members(clean, members))
    assert clean_found and clean_found <= found  # the log and capture findings are all there
    assert ("cert-expired", "CN=own.example.com") in found  # and the PEM ones
    ca_file = f"upload.tar.gz/ca_{HOST}_{STAMP}.pem"
    skipped = sorted(w for w in warnings if "cannot be read and was skipped" in w)
    assert [w.split(" (")[0] for w in skipped] == [
        f"{ca_file}: certificate {before + 1}",
        f"{ca_file}: certificate {before + 2}",
    ], warnings
    oddkey_warning = f"{ca_file}: certificate {before + 3} (CN=oddkey.example.com) has a public"
    assert any(w.startswith(oddkey_warning) for w in warnings), warnings


def test_an_unreadable_leaf_in_a_server_pem_gives_no_own_certificate(tmp_path: Path) -> None:
    """The first certificate of server_*.pem is the node's own; the next is not taken for it."""
    members = {
        f"server_{HOST}_{STAMP}.pem": pem(damaged()["undecodable CN"], expired("issuer.example"))
    }
    found, warnings = run(tmp_path / "run", with_members(scenario_bundle("unknown_ca"), members))
    assert ("mra-traffic-server-cert-verification", None) in found
    assert not any(f[0] == "cert-expired" for f in found)
    assert any(
        w.startswith(f"upload.tar.gz/server_{HOST}_{STAMP}.pem: certificate 1 (CN=badname")
        for w in warnings
    ), warnings


def with_members(bundle: bytes, replacements: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    from isal import igzip

    members: dict[str, str | bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(igzip.decompress(bundle))) as archive:
        for info in archive.getmembers():
            extracted = archive.extractfile(info)
            assert extracted is not None
            members[info.name] = extracted.read()
    members.update(replacements)
    return make_tar(members)


def test_an_unreadable_certificate_in_a_capture_is_skipped_and_named(tmp_path: Path) -> None:
    frames = captures.frames("article.pcap")
    cn = b"cucm-ms.steven.lab"
    hit = next(i for i, (_, frame) in enumerate(frames) if cn in frame)
    ts, frame = frames[hit]
    frames[hit] = (ts, frame.replace(cn, b"\xff\xfe" + cn[2:]))
    path = captures.write_pcap(tmp_path / "damaged.pcap", frames)
    clean = {s.server_port: s for s in analyze_pcap(captures.DATA / "article.pcap").sessions}
    result = analyze_pcap(path)
    damaged_ports = [
        s.server_port for s in result.sessions if len(s.chain) < len(clean[s.server_port].chain)
    ]
    assert damaged_ports  # the leaf is gone from that chain, the rest is read
    assert any(
        w.startswith("certificate 1 of the chain the server of 10.48.36.215:")
        and "cannot be read and was skipped" in w
        for w in result.warnings
    ), result.warnings
    others = [s for s in result.sessions if s.server_port not in damaged_ports]
    assert others and all(s.chain == clean[s.server_port].chain for s in others)
