"""The log viewer on a remote syslog export (BSD timestamps, `<PRI>`, the tag twice): the lines
are shown, filtered by module and level, and the time jump lands on them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.web.conftest import add_analysis

NAME = "upload/syslog-vcsc"
LOG = (
    '<166>Jan  1 12:56:48 vcsc tvcs: tvcs: UTCTime="2018-01-01 17:56:48,965" '
    'Module="network.sip" Level="DEBUG":  Action="Received"\r\n'
    " SIPMSG:\r\n"
    " |INVITE sip:1004@cucm.example.com SIP/2.0\r\n"
    'Jan  1 12:57:10 vcsc tvcs: UTCTime="2018-01-01 17:57:10,000" '
    'Module="developer.sip.leg" Level="INFO": Detail="leg for INVITE"\r\n'
    "Jan  1 13:10:00 vcsc traffic_server[3936]: traffic_server: [ET_NET 1] ERROR: SSL failed\r\n"
)


@pytest.fixture
def analysis_id(quiet_settings: Settings) -> str:
    return add_analysis(quiet_settings, files={NAME: LOG.encode()}, kinds={NAME: "log"})


def viewer(client: TestClient, analysis_id: str, **params: str) -> str:
    response = client.get(f"/a/{analysis_id}/files/{NAME}", params=params)
    assert response.status_code == 200, response.text
    return response.text


def test_the_lines_are_shown_as_written(page_client: TestClient, analysis_id: str) -> None:
    html = viewer(page_client, analysis_id)
    assert "&lt;166&gt;Jan  1 12:56:48 vcsc tvcs: tvcs:" in html
    assert "Jan  1 13:10:00 vcsc traffic_server[3936]: traffic_server: [ET_NET 1] ERROR" in html
    assert all(f'id="L{n}"' in html for n in range(1, 6))


def test_module_and_level_filters_read_them(page_client: TestClient, analysis_id: str) -> None:
    html = viewer(page_client, analysis_id, module="network.sip")
    assert 'id="L1"' in html and 'id="L3"' in html and 'id="L4"' not in html
    html = viewer(page_client, analysis_id, level="error")
    assert 'id="L5"' in html and 'id="L1"' not in html


def test_the_time_jump_lands_on_a_bsd_line(page_client: TestClient, analysis_id: str) -> None:
    jump = page_client.get(
        f"/a/{analysis_id}/files/{NAME}",
        params={"time": "2018-01-01T17:57:00Z"},
        follow_redirects=False,
    )
    assert jump.status_code == 303
    assert jump.headers["location"] == f"/a/{analysis_id}/files/{NAME}?line=4#L4"
