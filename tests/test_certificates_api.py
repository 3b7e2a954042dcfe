"""The seed article's scenarios through the real API: findings carry the certificate and the fix."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes
from fastapi.testclient import TestClient

from tests.analyzers.scenarios import HOST, STEVEN_CA, TOMCAT, TOMCAT_EC, scenario_bundle
from tests.conftest import wait_for

CERT_FACTS = {
    "cert_subject",
    "cert_issuer",
    "cert_sans",
    "cert_self_signed",
    "cert_key_type",
    "cert_not_after",
    "cert_port",
    "issuer_trusted",
}


def analyse(client: TestClient, bundle: bytes) -> tuple[str, dict[str, Any]]:
    response = client.post(
        "/api/v1/analyses", files=[("files", ("diagnostic_log_vcsc.tar.gz", bundle))]
    )
    assert response.status_code == 202
    analysis_id = response.json()["id"]
    body = wait_for(client, analysis_id)
    assert body["status"] == "done", body["error"]
    return analysis_id, body


def finding(body: dict[str, Any], signature_id: str) -> dict[str, Any]:
    (found,) = [f for f in body["findings"] if f["signature"]["id"] == signature_id]
    return found


def test_self_signed_ecdsa_on_6972_names_the_certificate_port_and_ca(client: TestClient) -> None:
    _, body = analyse(client, scenario_bundle("self_signed"))
    warning = finding(body, "mra-traffic-server-cert-verification")
    facts = warning["facts"]
    assert set(facts) >= CERT_FACTS
    assert {k: facts[k] for k in CERT_FACTS} == {
        "cert_subject": TOMCAT_EC,
        "cert_issuer": TOMCAT_EC,
        "cert_sans": ["cucm.steven.lab"],
        "cert_self_signed": True,
        "cert_key_type": "EC",
        "cert_not_after": "2032-07-01T00:00:00Z",
        "cert_port": 6972,
        "issuer_trusted": False,
    }
    assert facts["reason"] == "self_signed"  # the log's facts are kept
    assert (
        "upload the self-signed certificate CN=cucm-EC.steven.lab (ECDSA, port 6972) to the "
        "trust store or re-issue it from steven-DC-CA" in warning["action"]
    )
    assert "xConfiguration EdgeConfigServer VerifyOriginServer" in warning["action"]
    pair = finding(body, "cert-ecdsa-rsa-different-ca")
    assert pair["node"] == HOST
    assert pair["facts"]["rsa_port"] == 8443 and pair["facts"]["ec_port"] == 6972
    assert pair["facts"]["rsa_issuer"] == STEVEN_CA and pair["facts"]["ec_self_signed"] is True


def test_unknown_ca_names_the_missing_intermediate_and_root(client: TestClient) -> None:
    _, body = analyse(client, scenario_bundle("unknown_ca"))
    warning = finding(body, "mra-traffic-server-cert-verification")
    facts = warning["facts"]
    assert facts["cert_subject"] == TOMCAT
    assert facts["cert_issuer"] == "CN=Rogue Issuing CA,O=Rogue Labs"
    assert (facts["cert_port"], facts["cert_key_type"], facts["issuer_trusted"]) == (
        8443,
        "RSA",
        False,
    )
    assert (
        "upload the intermediate CA CN=Rogue Issuing CA and the root CA CN=Rogue Root CA to "
        "the trust store" in warning["action"]
    )


def test_sni_by_ip_says_add_the_ip_to_the_san_or_use_the_fqdn(client: TestClient) -> None:
    _, body = analyse(client, scenario_bundle("sni_mismatch"))
    warning = finding(body, "mra-traffic-server-cert-verification")
    assert warning["facts"]["cert_sans"] == ["cucm.steven.lab", "cucm-ms.steven.lab"]
    assert warning["facts"]["issuer_trusted"] is True  # trusted, only the name is wrong
    assert (
        "add IP 10.48.36.215 to the SAN of CN=cucm-ms.steven.lab, or define the node by FQDN"
        in warning["action"]
    )


def test_without_a_trust_store_issuer_trusted_is_null(client: TestClient) -> None:
    analysis_id, body = analyse(client, scenario_bundle("self_signed", trust_store=False))
    facts = finding(body, "mra-traffic-server-cert-verification")["facts"]
    assert facts["issuer_trusted"] is None
    assert facts["cert_port"] == 6972  # the unknown_ca alert still tells the failing port
    entries = client.get(f"/api/v1/analyses/{analysis_id}/certificates").json()
    assert [e["trusted"] for e in entries] == [None, None]


def test_certificates_endpoint_lists_both_chains_of_the_article(client: TestClient) -> None:
    analysis_id, _ = analyse(client, scenario_bundle("self_signed"))
    response = client.get(f"/api/v1/analyses/{analysis_id}/certificates")
    assert response.status_code == 200
    entries = response.json()
    assert [(e["node"], e["server_ip"], e["port"]) for e in entries] == [
        (HOST, "10.48.36.215", 6972),
        (HOST, "10.48.36.215", 8443),
    ]
    ec, rsa = entries
    required = {"node", "server_ip", "port", "sni", "tls_version", "alerts", "chain", "trusted"}
    assert required <= set(ec)
    assert set(ec["chain"][0]) == {
        "subject",
        "issuer",
        "sans",
        "self_signed",
        "key_type",
        "key_bits",
        "not_before",
        "not_after",
        "sha256",
    }
    assert (ec["trusted"], ec["alerts"], ec["chain"][0]["key_bits"]) == (
        False,
        ["client: fatal unknown_ca"],
        384,
    )
    assert (rsa["trusted"], rsa["sni"], rsa["tls_version"]) == (True, "cucm.steven.lab", "TLS 1.2")
    assert rsa["chain"][0]["issuer"] == STEVEN_CA


def test_certificates_of_an_unknown_analysis_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/analyses/nope/certificates")
    assert response.status_code == 404
    assert "No analysis" in response.json()["detail"]


def test_analyzer_signatures_are_in_the_catalogue(client: TestClient) -> None:
    ids = {s["id"] for s in client.get("/api/v1/signatures").json()}
    assert {
        "cert-expired",
        "cert-san-too-long",
        "cert-ecdsa-rsa-different-ca",
        "cert-missing-client-auth-eku",
    } <= ids


def test_the_nodes_own_server_certificate_is_listed_and_shown(client: TestClient) -> None:
    from cryptography import x509

    from tests.analyzers import captures
    from tests.analyzers.scenarios import STAMP

    pem = (captures.DATA / f"server_vcsc_{STAMP}.pem").read_bytes()
    expected = x509.load_pem_x509_certificate(pem)
    analysis_id, _ = analyse(client, scenario_bundle("self_signed"))
    (own,) = client.get(f"/api/v1/analyses/{analysis_id}/server-certificates").json()
    assert own["node"] == HOST
    assert own["file"].endswith(f"server_{HOST}_{STAMP}.pem")
    assert own["subject"] == expected.subject.rfc4514_string()
    assert own["sha256"] == expected.fingerprint(hashes.SHA256()).hex()
    assert own["trusted"] in (True, False)  # the bundle holds a trust store
    page = client.get(f"/a/{analysis_id}/certificates", headers={"accept": "text/html"}).text
    assert "own server certificates" in page and own["sha256"] in page
    assert f"/api/v1/analyses/{analysis_id}/server-certificates" in page


def test_server_certificates_of_an_unknown_analysis_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/analyses/nope/server-certificates").status_code == 404
