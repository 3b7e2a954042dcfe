"""The REST contract of api/v1, as a script or a TAC engineer's curl would see it."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.conftest import wait_for
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_tar

HOST = "vcsc"


def seed_bundle(kind: str, host: str = HOST) -> bytes:
    lines = [re.sub(r"^(\S+) \S+ ", rf"\1 {host} ", line) for line in seed_scenario_lines(kind)]
    log = healthy_expressway_c_loggingsnapshot(host, n_lines=300) + "\n".join(lines) + "\n"
    return make_tar(
        {
            f"loggingsnapshot_{host}_2022-07-11_17_33_18.txt": log,
            f"xstat_dump_{host}_2022-07-11_17_33_18.txt": xstat_dump(
                host, "Expressway-C", "X14.2.1"
            ),
        },
        compress=True,
    )


def upload(client: TestClient, *files: tuple[str, bytes], title: str | None = None) -> Any:
    data = {"title": title} if title is not None else None
    return client.post(
        "/api/v1/analyses", files=[("files", (name, body)) for name, body in files], data=data
    )


def stored_things(settings: Settings) -> list[Path]:
    root = settings.resolved_data_dir
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith("loupe.db")]


def test_upload_returns_202_with_links_and_an_unguessable_id(client: TestClient) -> None:
    response = upload(client, ("diagnostic_log_vcsc.tar.gz", seed_bundle("self_signed")))
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "status", "url", "api_url"}
    assert body["status"] == "queued"
    assert body["url"] == f"/a/{body['id']}"
    assert body["api_url"] == f"/api/v1/analyses/{body['id']}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", body["id"])  # >= 128 bits, url-safe
    other = upload(client, ("b.tar.gz", seed_bundle("self_signed"))).json()["id"]
    assert other != body["id"]


def test_analysis_reaches_done_with_the_seed_finding(client: TestClient) -> None:
    created = upload(
        client, ("diagnostic_log_vcsc.tar.gz", seed_bundle("self_signed")), title="MRA broken"
    ).json()
    body = wait_for(client, created["id"])
    assert body["status"] == "done", body["error"]
    assert body["title"] == "MRA broken"
    assert body["error"] is None
    assert body["ruleset_version"]
    assert body["created_at"] and body["started_at"] and body["finished_at"]
    (file,) = body["files"]
    assert file["name"] == "diagnostic_log_vcsc.tar.gz"
    assert len(file["sha256"]) == 64 and file["size"] > 0
    (node,) = body["nodes"]
    assert (node["hostname"], node["product"], node["version"]) == (HOST, "Expressway-C", "X14.2.1")
    assert node["confidence"] == "high"  # the xstatus names the role
    assert {"source", "says"} == set(node["evidence"][0])
    (finding,) = body["findings"]
    assert finding["signature"]["id"] == "mra-traffic-server-cert-verification"
    assert set(finding["signature"]["bug_ids"]) >= {"CSCwc69661", "CSCwa25108"}
    assert finding["node"] == HOST
    assert finding["facts"]["reason"] == "self_signed"
    assert finding["facts"]["server"] == "cucm.steven.lab"
    assert finding["facts"]["depth"] == 0
    for key in ("description", "condition", "further_info", "action"):
        assert finding[key].strip()
    assert finding["count"] >= 1
    assert finding["first_seen"] and finding["last_seen"]
    texts = [s["text"] for s in finding["snippets"]]
    assert any("Core server certificate verification failed" in t for t in texts)
    assert any("SSL connection failed" in t for t in texts)
    for snippet in finding["snippets"]:
        assert snippet["file"].startswith("diagnostic_log_vcsc.tar.gz/")
        assert snippet["line"] >= 1


def test_several_bundles_become_several_nodes(client: TestClient) -> None:
    created = upload(
        client,
        ("diagnostic_log_vcsc1.tar.gz", seed_bundle("unknown_ca", "vcsc1")),
        ("diagnostic_log_vcsc2.tar.gz", seed_bundle("sni_mismatch", "vcsc2")),
    ).json()
    body = wait_for(client, created["id"])
    assert body["status"] == "done", body["error"]
    assert [n["hostname"] for n in body["nodes"]] == ["vcsc1", "vcsc2"]
    by_node = {f["node"]: f["facts"]["reason"] for f in body["findings"]}
    assert by_node == {"vcsc1": "unknown_ca", "vcsc2": "sni_mismatch"}


def test_unknown_analysis_is_404_with_detail(client: TestClient) -> None:
    response = client.get("/api/v1/analyses/does-not-exist")
    assert response.status_code == 404
    assert "does-not-exist" in response.json()["detail"]


def test_no_files_is_422_and_nothing_stored(client: TestClient, migrated: Settings) -> None:
    response = client.post("/api/v1/analyses", data={"title": "x"})
    assert response.status_code == 422
    assert "files" in response.json()["detail"]
    assert stored_things(migrated) == []


def test_not_multipart_is_rejected_with_a_hint(client: TestClient) -> None:
    response = client.post(
        "/api/v1/analyses", content=b"hello", headers={"content-type": "text/plain"}
    )
    assert response.status_code in (415, 422)
    assert "multipart" in response.json()["detail"]


def test_empty_file_is_400_and_nothing_stored(client: TestClient, migrated: Settings) -> None:
    response = upload(client, ("good.tar.gz", seed_bundle("self_signed")), ("empty.log", b""))
    assert response.status_code == 400
    assert "empty.log" in response.json()["detail"]
    assert stored_things(migrated) == []


def test_unknown_type_is_415_and_nothing_stored(client: TestClient, migrated: Settings) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    response = upload(client, ("screenshot.png", png))
    assert response.status_code == 415
    assert "screenshot.png" in response.json()["detail"]
    assert stored_things(migrated) == []


def test_upload_over_the_cap_is_413_and_nothing_stored(migrated: Settings) -> None:
    from app.main import create_app

    small = migrated.model_copy(update={"max_upload_bytes": 10_000})
    with TestClient(create_app(small)) as client:
        response = upload(client, ("big.log", b"x" * 20_000))
        assert response.status_code == 413
        assert "LOUPE_MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert stored_things(migrated) == []


def test_too_long_title_is_422(client: TestClient, migrated: Settings) -> None:
    response = upload(client, ("a.tar.gz", seed_bundle("self_signed")), title="t" * 400)
    assert response.status_code == 422
    assert stored_things(migrated) == []


def test_corrupt_bundle_fails_with_a_reason(client: TestClient) -> None:
    truncated = seed_bundle("self_signed")[:40]  # cut before its first file
    created = upload(client, ("diagnostic_log_cut.tar.gz", truncated)).json()
    body = wait_for(client, created["id"])
    assert body["status"] == "failed"
    assert "diagnostic_log_cut.tar.gz" in body["error"]
    assert "truncated" in body["error"]
    assert body["findings"] == []


def test_a_bundle_cut_short_is_analysed_up_to_the_cut_with_a_warning(client: TestClient) -> None:
    truncated = seed_bundle("self_signed")[:-200]  # the log is whole, the xstat dump is cut
    created = upload(client, ("diagnostic_log_cut.tar.gz", truncated)).json()
    body = wait_for(client, created["id"])
    assert body["status"] == "done"
    assert "mra-traffic-server-cert-verification" in {
        f["signature"]["id"] for f in body["findings"]
    }
    assert any(
        warning.startswith("diagnostic_log_cut.tar.gz: the gzip-compressed file is truncated")
        and "Everything read before the damage was analysed" in warning
        for warning in body["warnings"]
    )


def test_signatures_list_contract(client: TestClient) -> None:
    response = client.get("/api/v1/signatures")
    assert response.status_code == 200
    rows = response.json()
    seed = next(r for r in rows if r["id"] == "mra-traffic-server-cert-verification")
    assert set(seed) == {"id", "title", "severity", "bug_ids", "product"}
    assert seed["severity"] in ("critical", "error", "warning", "info")


def test_healthz_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    assert "/api/v1/analyses" in client.get("/openapi.json").json()["paths"]


def test_healthy_bundles_find_nothing_and_cleared_alarms_show_in_coverage(
    client: TestClient,
) -> None:
    from tests.corpus import healthy_expressway_e_loggingsnapshot

    expc = make_tar(
        {
            "loggingsnapshot_expc1_2026-11-27_10_00_00.txt": healthy_expressway_c_loggingsnapshot(
                "expc1", n_lines=3000, alarm_history=True
            ),
            "xstat_dump_expc1_2026-11-27_10_00_00.txt": xstat_dump(
                "expc1", "Expressway-C", "X14.2.1"
            ),
        }
    )
    expe = make_tar(
        {
            "loggingsnapshot_expe1_2026-11-27_10_00_00.txt": healthy_expressway_e_loggingsnapshot(
                "expe1", n_lines=3000
            ),
            "xstat_dump_expe1_2026-11-27_10_00_00.txt": xstat_dump(
                "expe1", "Expressway-E", "X14.2.1"
            ),
        }
    )
    created = upload(
        client, ("diagnostic_log_expc1.tar.gz", expc), ("diagnostic_log_expe1.tar.gz", expe)
    )
    body = wait_for(client, created.json()["id"])
    assert body["status"] == "done", body["error"]
    assert body["findings"] == []
    cleared = [c for c in body["coverage"] if c["reason"] and "cleared" in c["reason"]]
    assert cleared, "the alarm raised and lowered in the healthy logs is reported as cleared"
    assert all(c["outcome"] == "passed" for c in cleared)
    assert not any("25019" in c["signature_id"] for c in body["coverage"])


def test_a_large_upload_is_stored_byte_for_byte_past_the_page_cache(
    migrated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.bundle import writer
    from app.main import create_app

    direct: list[int] = []
    real = writer.DirectWriter.__init__

    def spy(self: writer.DirectWriter, handle: int, **options: int) -> None:
        direct.append(handle)
        real(self, handle, **options)

    monkeypatch.setattr(writer.DirectWriter, "__init__", spy)
    settings = migrated.model_copy(update={"unpack_direct_write_mib": 1, "embedded_worker": False})
    log = healthy_expressway_c_loggingsnapshot(HOST, n_lines=30_000).encode()  # several MB
    assert len(log) > 3 * 2**20
    with TestClient(create_app(settings)) as client:
        response = upload(client, ("loggingsnapshot_vcsc.txt", log), ("small.log", b"a b c\n"))
        assert response.status_code == 202
        files = client.get(f"/api/v1/analyses/{response.json()['id']}").json()["files"]
    assert files[0]["sha256"] == hashlib.sha256(log).hexdigest()
    assert len(direct) == 1  # the small file was written the ordinary way
    stored = [p for p in stored_things(settings) if p.stat().st_size == len(log)]
    assert len(stored) == 1 and stored[0].read_bytes() == log
