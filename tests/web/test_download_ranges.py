"""Raw downloads in parts (RFC 9110 §14): one `Range` of a plain or compressed file is the same
bytes as that slice of the original; a broken download resumes (`curl -C -`); a range at the end
of a compressed file inflates only the frames that hold it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.bundle import stored
from app.config import Settings
from app.services import storage
from tests.web.conftest import add_analysis, log_text

LOG = "diagnostic_log_vcsc.tar.gz/loggingsnapshot_vcsc.txt"
JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def content() -> bytes:
    data = log_text(800_000)  # about 9.6 MB: three 4 MiB frames once compressed
    assert 2 * stored.FRAME_BYTES < len(data) < 3 * stored.FRAME_BYTES
    return data


def kept_file(settings: Settings, analysis_id: str) -> Path:
    (path,) = storage.work_dir(settings.resolved_data_dir, analysis_id).rglob("*.*")
    return path


@pytest.fixture(params=[True, False], ids=["compressed", "plain"])
def download_url(request: pytest.FixtureRequest, quiet_settings: Settings, content: bytes) -> str:
    analysis_id = add_analysis(quiet_settings, files={LOG: content}, compressed=request.param)
    kept = kept_file(quiet_settings, analysis_id)
    assert kept.name.endswith(stored.SUFFIX) == request.param
    return f"/a/{analysis_id}/raw/{LOG}"


def ranges(size: int) -> list[tuple[str, int, int]]:
    """Range headers with the slice of the file each names (start, end exclusive)."""
    frame = stored.FRAME_BYTES
    return [
        ("bytes=0-99", 0, 100),
        (f"bytes={frame - 10}-{frame + 9}", frame - 10, frame + 10),  # across a frame boundary
        (f"bytes={frame + 5}-{2 * frame + 5}", frame + 5, 2 * frame + 6),  # a whole frame and more
        ("bytes=-1000", size - 1000, size),  # the last 1000 bytes
        (f"bytes={size - 500}-", size - 500, size),  # from 500 before the end on
        (f"bytes=100-{size + 50}", 100, size),  # an end past the file's is its end
        (f"bytes=-{size + 10}", 0, size),  # a suffix longer than the file is the file
        (f"bytes={size - 1}-{size - 1}", size - 1, size),  # the last byte
    ]


def test_one_range_is_that_slice_of_the_original(
    page_client: TestClient, download_url: str, content: bytes
) -> None:
    size = len(content)
    for header, start, end in ranges(size):
        response = page_client.get(download_url, headers={"range": header})
        assert response.status_code == 206, header
        assert response.content == content[start:end], header
        assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{size}", header
        assert response.headers["content-length"] == str(end - start), header
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-disposition"].startswith("attachment;")


def test_the_whole_file_says_ranges_are_accepted(
    page_client: TestClient, download_url: str, content: bytes
) -> None:
    response = page_client.get(download_url)
    assert response.status_code == 200 and response.content == content
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["cache-control"] == "no-store"
    assert "content-range" not in response.headers


def test_a_range_past_the_end_is_416_with_the_size(
    page_client: TestClient, download_url: str, content: bytes
) -> None:
    size = len(content)
    for wanted in (f"bytes={size}-", f"bytes={size}-{size + 100}", "bytes=-0"):
        response = page_client.get(download_url, headers={"range": wanted, **JSON})
        assert response.status_code == 416, wanted
        assert response.headers["content-range"] == f"bytes */{size}"
        assert response.json()["detail"] == (
            f"The range asked for ({wanted}) is past the end of loggingsnapshot_vcsc.txt, "
            f"which has {size} bytes."
        )
        page = page_client.get(download_url, headers={"range": wanted})
        assert page.status_code == 416 and "Range not satisfiable" in page.text


NOT_SERVED = [
    "bytes=0-9,20-29",  # several ranges: the whole file, never multipart
    "bytes=-5, 0-1",
    "items=0-9",  # another unit
    "bytes=9-0",  # last before first: not a range
    "bytes=abc",
    "bytes=-",
    "bytes=+1-2",
]


def test_a_range_it_does_not_serve_gives_the_whole_file(
    page_client: TestClient, download_url: str, content: bytes
) -> None:
    for header in NOT_SERVED:
        response = page_client.get(download_url, headers={"range": header})
        assert response.status_code == 200, header
        assert response.content == content, header
        assert "content-range" not in response.headers
        assert response.headers["content-length"] == str(len(content))


def test_head_says_what_a_get_gives_without_reading(
    page_client: TestClient,
    download_url: str,
    content: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole = page_client.get(download_url)
    partial = page_client.get(download_url, headers={"range": "bytes=10-19"})

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("HEAD read the file")

    monkeypatch.setattr("app.web.downloads.open_raw", no_reading)
    for headers in ({}, {"range": "bytes=10-19"}):  # Range is for GET only (RFC 9110 §14.2)
        head = page_client.head(download_url, headers=headers)
        assert head.status_code == 200 and head.content == b""
        for name in ("content-length", "accept-ranges", "etag", "last-modified", "content-type"):
            assert head.headers[name] == whole.headers[name], name
    assert partial.headers["etag"] == whole.headers["etag"]


def test_a_broken_download_resumes_to_the_whole_file(
    page_client: TestClient, download_url: str, content: bytes
) -> None:
    """As `curl -C -` does, and a browser with If-Range: the rest from where it broke off."""
    first = page_client.get(download_url)
    received = first.content[: len(content) // 3 + 12_345]  # the connection broke here
    rest = page_client.get(
        download_url,
        headers={"range": f"bytes={len(received)}-", "if-range": first.headers["etag"]},
    )
    assert rest.status_code == 206
    assert received + rest.content == content
    done = page_client.get(download_url, headers={"range": f"bytes={len(content)}-"})
    assert done.status_code == 416  # curl -C - on a file already whole: nothing more


def test_if_range_gives_the_whole_file_when_the_file_changed(
    page_client: TestClient, quiet_settings: Settings, content: bytes
) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: content}, compressed=True)
    url = f"/a/{analysis_id}/raw/{LOG}"
    path = kept_file(quiet_settings, analysis_id)
    week_ago = time.time() - 7 * 86_400
    os.utime(path, (week_ago, week_ago))
    seen = page_client.get(url, headers={"range": "bytes=0-9"})
    etag, date = seen.headers["etag"], seen.headers["last-modified"]
    for validator in (etag, date):
        still = page_client.get(url, headers={"range": "bytes=0-9", "if-range": validator})
        assert still.status_code == 206 and still.content == content[:10], validator
    for validator in ('"other"', f"W/{etag}", "Tue, 01 Jan 2019 00:00:00 GMT"):
        other = page_client.get(url, headers={"range": "bytes=0-9", "if-range": validator})
        assert other.status_code == 200 and other.content == content, validator
    later = time.time() + 60  # re-written (a re-run, `loupe compact`): a new ETag and date
    os.utime(path, (later, later))
    for validator in (etag, date):
        changed = page_client.get(url, headers={"range": "bytes=0-9", "if-range": validator})
        assert changed.status_code == 200 and changed.content == content, validator
    now_date = page_client.get(url).headers["last-modified"]
    weak = page_client.get(url, headers={"range": "bytes=0-9", "if-range": now_date})
    assert weak.status_code == 200  # a date not a second old is no strong validator


Inflated = list[tuple[int, int]]


def count_inflated(monkeypatch: pytest.MonkeyPatch) -> Inflated:
    """(frame, bytes) of every frame a CompressedReader inflates from now on."""
    inflated: Inflated = []
    load: Callable[[stored.CompressedReader, int], bytes] = stored.CompressedReader._load

    def counting(reader: stored.CompressedReader, frame: int) -> bytes:
        fresh = frame != reader._frame
        data = load(reader, frame)
        if fresh:
            inflated.append((frame, len(data)))
        return data

    monkeypatch.setattr(stored.CompressedReader, "_load", counting)
    return inflated


def test_a_range_inflates_only_the_frames_that_hold_it(
    page_client: TestClient,
    quiet_settings: Settings,
    content: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as small:
        small.setattr(stored, "FRAME_BYTES", 64 * 1024)  # 130 frames rather than 3
        analysis_id = add_analysis(quiet_settings, files={LOG: content}, compressed=True)
    layout = stored.stored_layout(kept_file(quiet_settings, analysis_id))
    assert layout is not None and len(layout.frame_starts) - 1 > 100
    starts = layout.frame_starts
    size = len(content)
    inflated = count_inflated(monkeypatch)
    url = f"/a/{analysis_id}/raw/{LOG}"
    for header, start, end in [
        ("bytes=-100000", size - 100_000, size),
        (f"bytes={size // 2}-{size // 2 + 200_000}", size // 2, size // 2 + 200_001),
        ("bytes=0-0", 0, 1),
    ]:
        inflated.clear()
        response = page_client.get(url, headers={"range": header})
        assert response.status_code == 206 and response.content == content[start:end]
        holding = [n for n in range(len(starts) - 1) if starts[n] < end and starts[n + 1] > start]
        assert [frame for frame, _ in inflated] == holding, header
        assert sum(length for _, length in inflated) < end - start + 2 * 64 * 1024, header


def test_the_last_mib_of_a_compressed_file_is_one_frame(
    page_client: TestClient,
    quiet_settings: Settings,
    content: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: content}, compressed=True)
    inflated = count_inflated(monkeypatch)
    response = page_client.get(f"/a/{analysis_id}/raw/{LOG}", headers={"range": "bytes=-1048576"})
    assert response.content == content[-(2**20) :]
    assert [frame for frame, _ in inflated] == [2]  # the third and last of three
    inflated.clear()
    assert page_client.get(f"/a/{analysis_id}/raw/{LOG}").content == content
    assert [frame for frame, _ in inflated] == [0, 1, 2]


def test_a_range_in_a_damaged_frame_is_the_reason_before_any_byte(
    page_client: TestClient, quiet_settings: Settings, content: bytes
) -> None:
    analysis_id = add_analysis(quiet_settings, files={LOG: content}, compressed=True)
    path = kept_file(quiet_settings, analysis_id)
    layout = stored.stored_layout(path)
    assert layout is not None
    raw = bytearray(path.read_bytes())
    middle = (layout.frame_positions[1] + layout.frame_positions[2]) // 2
    raw[middle : middle + 64] = b"\0" * 64  # inside the second frame
    path.write_bytes(bytes(raw))
    url = f"/a/{analysis_id}/raw/{LOG}"
    inside = f"bytes={stored.FRAME_BYTES + 10}-{stored.FRAME_BYTES + 20}"
    damaged = page_client.get(url, headers={"range": inside, **JSON})
    assert damaged.status_code == 422
    assert damaged.json()["detail"].startswith(
        "The stored copy of loggingsnapshot_vcsc.txt is damaged (frame 2"
    )
    before = page_client.get(url, headers={"range": "bytes=0-99"})  # the first frame is whole
    assert before.status_code == 206 and before.content == content[:100]
