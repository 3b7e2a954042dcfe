"""The product of each upload: chosen at upload (`product` fields, like `files`), on a re-run,
or detected; `nodes[].evidence` and `nodes[].confidence` say how it was decided."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.conftest import wait_for
from tests.test_api import seed_bundle, stored_things

HTML = {"accept": "text/html"}


def post(client: TestClient, names: list[str], data: dict[str, Any] | None = None) -> Any:
    files = [
        ("files", (name, seed_bundle("self_signed", host=f"vcsc{n}")))
        for n, name in enumerate(names)
    ]
    return client.post("/api/v1/analyses", files=files, data=data)


def test_detected_product_comes_with_evidence_and_confidence(client: TestClient) -> None:
    created = post(client, ["a.tar.gz"]).json()
    body = wait_for(client, created["id"])

    assert body["files"][0]["product"] is None  # nothing chosen: detected
    (node,) = body["nodes"]
    assert node["product"] == "Expressway-C" and node["confidence"] == "high"
    sources = [item["source"] for item in node["evidence"]]
    assert "a.tar.gz/xstat_dump_vcsc0_2022-07-11_17_33_18.txt" in sources
    html = client.get(f"/a/{created['id']}", headers=HTML).text
    assert "confidence-high" in html and "SystemUnit Product reads" in html


def test_chosen_products_are_stored_per_file_and_win(client: TestClient) -> None:
    created = post(
        client,
        ["a.tar.gz", "b.tar.gz", "c.tar.gz"],
        data={"product": ["Expressway-E", "auto"], "product_default": "vcs"},
    )
    assert created.status_code == 202, created.text
    body = wait_for(client, created.json()["id"])

    assert [f["product"] for f in body["files"]] == ["Expressway-E", None, "VCS"]
    products = [(n["product"], n["confidence"]) for n in body["nodes"]]
    assert products == [("Expressway-E", "high"), ("Expressway-C", "high"), ("VCS", "high")]
    assert body["nodes"][0]["evidence"][0] == {
        "source": "user",
        "says": "product chosen as Expressway-E at upload",
    }
    html = client.get(f"/a/{body['id']}", headers=HTML).text
    assert "chosen: Expressway-E" in html and "product chosen as VCS at upload" in html


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        ({"product": "Expressway-X"}, "'Expressway-X' is not a product: use one of Expressway-C"),
        ({"product": ["auto", "VCS"]}, "2 'product' fields for 1 file(s)"),
        ({"product_default": "vcs control"}, "is not a product"),
    ],
)
def test_a_bad_product_is_422_and_nothing_is_stored(
    client: TestClient, migrated: Settings, data: dict[str, Any], detail: str
) -> None:
    response = post(client, ["a.tar.gz"], data=data)

    assert response.status_code == 422
    assert detail in response.json()["detail"]
    assert stored_things(migrated) == []
    assert client.get("/").text.count('href="/a/') == 0


def test_a_rerun_can_change_the_product(client: TestClient) -> None:
    created = post(client, ["a.tar.gz"]).json()
    wait_for(client, created["id"])
    url = f"/api/v1/analyses/{created['id']}/rerun"

    unknown_file = client.post(url, json={"products": {"nope.tar.gz": "VCS"}})
    unknown_product = client.post(url, json={"products": {"a.tar.gz": "VCS-E"}})
    assert (unknown_file.status_code, unknown_product.status_code) == (422, 422)
    assert "no uploaded file named 'nope.tar.gz'" in unknown_file.json()["detail"]

    assert client.post(url, json={"products": {"a.tar.gz": "Expressway-E"}}).status_code == 202
    body = wait_for(client, created["id"])
    assert body["files"][0]["product"] == "Expressway-E"
    assert body["nodes"][0]["product"] == "Expressway-E"

    page = client.get(f"/a/{created['id']}", headers=HTML).text
    assert '<option value="Expressway-E" selected>' in page  # the re-run form's select
    bad = client.post(f"/a/{created['id']}/rerun", data={"product": ["auto", "VCS"]})
    assert bad.status_code == 422 and "2 product choices for 1 uploaded file(s)" in bad.text
    form = client.post(
        f"/a/{created['id']}/rerun", data={"product": "auto"}, follow_redirects=False
    )
    assert form.status_code == 303
    body = wait_for(client, created["id"])
    assert body["files"][0]["product"] is None
    assert body["nodes"][0]["product"] == "Expressway-C"
    assert len(body["runs"]) == 3
