"""Whether an analysis' upload is still stored: the API's `uploads_kept` and the page's line say
the same, as both show the same service call (storage.uploads_kept)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.services import storage
from tests.web.conftest import add_analysis

JSON = {"accept": "application/json"}
NOT_KEPT = "Original upload not kept; re-runs read the stored logs."


@pytest.mark.parametrize(
    ("status", "upload_there", "line_shown"),
    [
        ("done", False, True),  # removed once done (the default)
        ("done", True, False),  # LOUPE_KEEP_UPLOADS
        ("failed", True, False),  # a failed analysis keeps it for a retry
        ("running", True, False),
    ],
)
def test_the_api_says_whether_the_upload_is_kept(
    page_client: TestClient,
    quiet_settings: Settings,
    status: str,
    upload_there: bool,
    line_shown: bool,
) -> None:
    analysis_id = add_analysis(quiet_settings, status=status, error="cut short")
    if upload_there:
        uploads = storage.uploads_dir(quiet_settings.resolved_data_dir, analysis_id)
        uploads.mkdir(parents=True)
        (uploads / "000").write_bytes(b"bundle")
    body = page_client.get(f"/api/v1/analyses/{analysis_id}", headers=JSON).json()
    assert body["uploads_kept"] is upload_there
    paged = page_client.get(f"/api/v1/analyses/{analysis_id}?page=1", headers=JSON).json()
    assert paged["uploads_kept"] is upload_there
    assert (NOT_KEPT in page_client.get(f"/a/{analysis_id}").text) is line_shown


def test_the_openapi_schema_describes_it(page_client: TestClient) -> None:
    schema = page_client.get("/openapi.json").json()
    field = schema["components"]["schemas"]["AnalysisOut"]["properties"]["uploads_kept"]
    assert "LOUPE_KEEP_UPLOADS" in field["description"]
    assert {"type": "boolean"} in field["anyOf"]
