"""The log viewer, raw downloads, search and the timeline on files kept compressed
(app.bundle.stored), next to the plain files older analyses kept; a damaged store is a page
with the reason, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.bundle import stored
from app.config import Settings
from app.services import storage
from tests.web.conftest import add_analysis

LOG = "diagnostic_log_vcsc.tar.gz/loggingsnapshot_vcsc.txt"
JSON = {"accept": "application/json"}
LINES = 30_000


def big_log(lines: int = LINES) -> bytes:
    """An Expressway-like log of `lines` lines, over a few MiB: kept compressed."""
    out = []
    for n in range(1, lines + 1):
        second, minute, hour = n % 60, (n // 60) % 60, n // 3600
        out.append(
            f"2026-11-20T{10 + hour:02d}:{minute:02d}:{second:02d}.000+01:00 vcsc tvcs: "
            f'UTCTime="2026-11-20 {9 + hour:02d}:{minute:02d}:{second:02d},000" '
            'Module="network.sip" '
            f'Level="INFO": Detail="line {n} {"y" * (n % 97)}"\n'
        )
    return "".join(out).encode()


@pytest.fixture(scope="module")
def content() -> bytes:
    data = big_log()
    assert len(data) > 3 * stored.PLAIN_BELOW
    return data


def stored_path(settings: Settings, analysis_id: str) -> Path:
    (path,) = storage.work_dir(settings.resolved_data_dir, analysis_id).rglob("*.*")
    return path


@pytest.mark.parametrize("compressed", [True, False])
def test_the_viewer_shows_the_same_pages_either_way(
    page_client: TestClient, quiet_settings: Settings, content: bytes, compressed: bool
) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: content}, compressed=compressed)
    assert stored_path(quiet_settings, analysis_id).name.endswith(stored.SUFFIX) == compressed
    last = page_client.get(f"/a/{analysis_id}/files/{LOG}", params={"line": LINES - 2})
    assert last.status_code == 200
    assert f"line {LINES} " in last.text and f"line {LINES - 1000} " not in last.text
    assert "Page 30 of 30" in last.text or "30 of 30" in last.text
    first = page_client.get(f"/a/{analysis_id}/files/{LOG}")
    assert "line 1 " in first.text and "line 1001 " not in first.text
    jump = page_client.get(
        f"/a/{analysis_id}/files/{LOG}",
        params={"time": "2026-11-20T09:05:00Z"},
        follow_redirects=False,
    )
    assert jump.status_code == 303 and jump.headers["location"].endswith("?line=300#L300")


def test_a_raw_download_of_a_compressed_file_is_the_original_bytes(
    page_client: TestClient, quiet_settings: Settings, content: bytes
) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: content}, compressed=True)
    response = page_client.get(f"/a/{analysis_id}/raw/{LOG}")
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["content-type"] == "application/octet-stream"
    assert (
        response.headers["content-disposition"] == 'attachment; filename="loggingsnapshot_vcsc.txt"'
    )


def test_head_of_a_compressed_download_says_its_length_without_reading_it(
    page_client: TestClient,
    quiet_settings: Settings,
    content: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: content}, compressed=True)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("HEAD inflated the file")

    monkeypatch.setattr("app.web.downloads.open_raw", no_reading)
    response = page_client.head(f"/a/{analysis_id}/raw/{LOG}")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(len(content))


def test_search_finds_lines_of_a_compressed_file_with_their_numbers(
    page_client: TestClient, quiet_settings: Settings, content: bytes
) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: content}, compressed=True)
    response = page_client.get(
        f"/api/v1/analyses/{analysis_id}/search", params={"q": f'Detail="line {LINES - 5} '}
    )
    assert response.status_code == 200
    (hit,) = response.json()["hits"]
    assert hit["line"] == LINES - 5 and hit["file"] == LOG
    timeline = page_client.get(f"/api/v1/analyses/{analysis_id}/timeline")
    assert timeline.status_code == 200
    assert sum(m["lines"] for n in timeline.json()["nodes"] for m in n["minutes"]) == LINES


def damage(path: Path, where: str) -> None:
    raw = bytearray(path.read_bytes())
    if where == "end":
        path.write_bytes(bytes(raw[:-20]))
    else:
        layout_end = len(raw) // 2
        raw[layout_end : layout_end + 64] = b"\0" * 64
        path.write_bytes(bytes(raw))


@pytest.mark.parametrize("where", ["end", "middle"])
def test_a_damaged_store_is_a_page_with_the_reason(
    page_client: TestClient, quiet_settings: Settings, content: bytes, where: str
) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: content}, compressed=True)
    damage(stored_path(quiet_settings, analysis_id), where)
    page = "15" if where == "middle" else "1"
    viewer = page_client.get(f"/a/{analysis_id}/files/{LOG}", params={"page": page})
    assert viewer.status_code == 422
    assert "The stored copy of loggingsnapshot_vcsc.txt is damaged" in viewer.text
    api = page_client.get(
        f"/api/v1/analyses/{analysis_id}/search", params={"q": "zzz"}, headers=JSON
    )
    assert api.status_code == 422
    assert "is damaged" in api.json()["detail"]
    if where == "end":
        raw = page_client.get(f"/a/{analysis_id}/raw/{LOG}", headers=JSON)
        assert raw.status_code == 422 and "is damaged" in raw.json()["detail"]


def test_the_work_dir_takes_a_fraction_of_what_it_holds(
    quiet_settings: Settings, content: bytes
) -> None:
    data_dir = quiet_settings.resolved_data_dir
    packed = add_analysis(quiet_settings, files={LOG: content}, compressed=True)
    plain = add_analysis(quiet_settings, files={LOG: content})
    on_disk, unpacked = storage.work_sizes(data_dir, packed)
    assert unpacked == len(content) and on_disk < len(content) // 4
    assert storage.work_sizes(data_dir, plain) == (len(content), len(content))
    assert storage.disk_usage(data_dir, packed)["work"] == on_disk
    assert storage.disk_usage(data_dir, plain)["total"] >= len(content)


def test_loupe_compact_compresses_the_plain_files_of_older_analyses(
    quiet_settings: Settings,
    content: bytes,
    monkeypatch: pytest.MonkeyPatch,
    page_client: TestClient,
) -> None:
    from typer.testing import CliRunner

    from app.cli import app
    from app.config import get_settings

    old = add_analysis(quiet_settings, files={LOG: content})
    running = add_analysis(quiet_settings, files={LOG: content}, status="running")
    monkeypatch.setenv("LOUPE_DATA_DIR", str(quiet_settings.data_dir))
    monkeypatch.setenv("LOUPE_DATABASE_URL", quiet_settings.sqlalchemy_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["compact"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 files of 1 analyses compressed:")
    assert stored_path(quiet_settings, old).name.endswith(stored.SUFFIX)
    assert not stored_path(quiet_settings, running).name.endswith(stored.SUFFIX)  # still busy
    assert page_client.get(f"/a/{old}/raw/{LOG}").content == content
    page = page_client.get(f"/a/{old}/files/{LOG}", params={"line": LINES})
    assert page.status_code == 200 and f"line {LINES} " in page.text


def test_search_dates_the_bsd_lines_of_a_compressed_syslog_export(
    page_client: TestClient, quiet_settings: Settings
) -> None:
    """A remote-syslog export kept compressed: Traffic Server lines carry only a BSD time (no
    year, no zone); the time filter and the hits' times take them from the tvcs lines near them."""
    out = []
    for n in range(LINES):
        second, minute = n % 60, (n // 60) % 60
        stamp = f"Nov 20 10:{minute:02d}:{second:02d}"
        if n % 2:
            out.append(
                f"<166>{stamp} vcsc traffic_server[3936]: traffic_server: [ET_NET 0] "
                f"WARNING: ts line {n} {'z' * (n % 89)}\n"
            )
        else:
            out.append(
                f'<166>{stamp} vcsc tvcs: tvcs: UTCTime="2026-11-20 09:{minute:02d}:'
                f'{second:02d},000" Module="network.sip" Level="INFO": Detail="line {n}"\n'
            )
    content = "".join(out).encode()
    name = "syslog.tar.gz/messages"
    analysis_id = add_analysis(quiet_settings, files={name: content}, compressed=True)
    assert stored_path(quiet_settings, analysis_id).name.endswith(stored.SUFFIX)
    response = page_client.get(
        f"/api/v1/analyses/{analysis_id}/search",
        params={"q": "ts line", "from": "2026-11-20T09:10:00Z", "to": "2026-11-20T09:10:09Z"},
    )
    assert response.status_code == 200
    body = response.json()
    # the odd seconds 01..09 of minute 10 of each hour-less run: n = 600+1, 600+3, …
    assert [hit["line"] for hit in body["hits"]][:5] == [602, 604, 606, 608, 610]
    assert body["hits"][0]["time"] == "2026-11-20T09:10:01.000Z"
    assert body["total"] == 5 * (LINES // 3600 + 1)
