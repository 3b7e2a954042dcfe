"""The timeline and its JSON twin on a generated log with known errors, alarms and markers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.models import BundleFileRow, Node
from app.services import storage
from tests.web.conftest import FindingSpec, add_analysis

NAME = "diagnostic_log_vcsc/loggingsnapshot_vcsc.txt"


def module_line(minute: int, second: int, level: str) -> str:
    return (
        f"2018-01-01T12:{minute:02d}:{second:02d}.000-05:00 vcsc tvcs: "
        f'UTCTime="2018-01-01 17:{minute:02d}:{second:02d},000" Module="network.sip" '
        f'Level="{level}": Detail="x"\n'
    )


def generated_log() -> str:
    lines = [module_line(0, s, "DEBUG") for s in range(10)]  # 17:00 → 10 lines
    lines += [module_line(1, 1, "ERROR"), module_line(1, 2, "WARN"), module_line(1, 3, "INFO")]
    lines.append(" SIPMSG:\n")  # a continuation line counts in its minute
    lines.append(
        '2018-01-01T12:01:30.000-05:00 vcsc alarm: Level="WARN" Event="Alarm Raised" Id="20006" '
        'UUID="u" Severity="warning" Detail="Cluster database communication failure" '
        'UTCTime="2018-01-01 17:01:30,000"\n'
    )
    lines.append(
        '2018-01-01T12:02:00.000-05:00 vcsc tvcs: Event="DEBUG_MARKER" Detail="call starts now" '
        'Level="1" UTCTime="2018-01-01 17:02:00,000"\n'
    )
    lines.append(
        "2018-01-01T12:02:10.000-05:00 vcsc traffic_server[1]: [ET_NET 1] ERROR: SSL failed\n"
    )
    lines.append(
        '2018-01-01T12:02:40.000-05:00 vcsc alarm: Level="INFO" Event="Alarm Lowered" Id="20006" '
        'UUID="u" Detail="Cluster database communication failure" '
        'UTCTime="2018-01-01 17:02:40,000"\n'
    )
    return "".join(lines)


def test_timeline_json_counts_minutes_alarms_markers_and_findings(
    quiet_settings: Settings, page_client: TestClient
) -> None:
    finding = FindingSpec(
        first_seen="2018-01-01T17:01:01.000+00:00", last_seen="2018-01-01T17:02:10.000+00:00"
    )
    analysis_id = add_analysis(
        quiet_settings, files={NAME: generated_log().encode()}, findings=[finding]
    )
    body = page_client.get(f"/api/v1/analyses/{analysis_id}/timeline").json()
    assert body["complete"] is True
    (node,) = body["nodes"]
    assert node["node"] == "vcsc" and node["file"] == NAME
    assert node["minutes"] == [
        {"minute": "2018-01-01T17:00Z", "lines": 10, "errors": 0, "warnings": 0},
        {"minute": "2018-01-01T17:01Z", "lines": 5, "errors": 1, "warnings": 2},
        {"minute": "2018-01-01T17:02Z", "lines": 3, "errors": 1, "warnings": 0},
    ]
    assert [(e["kind"], e["line"], e["time"], e["id"]) for e in body["events"]] == [
        ("raised", 15, "2018-01-01T17:01:30.000Z", "20006"),
        ("marker", 16, "2018-01-01T17:02:00.000Z", ""),
        ("lowered", 18, "2018-01-01T17:02:40.000Z", "20006"),
    ]
    assert body["events"][1]["text"] == "call starts now"
    assert body["findings"][0]["first_seen"] == "2018-01-01T17:01:01.000+00:00"
    # a second view reads the cached counts
    again = page_client.get(f"/api/v1/analyses/{analysis_id}/timeline").json()
    assert again == body


def test_timeline_svg_links_each_moment_to_the_log_viewer(
    quiet_settings: Settings, page_client: TestClient
) -> None:
    analysis_id = add_analysis(quiet_settings, files={NAME: generated_log().encode()})
    page = page_client.get(f"/a/{analysis_id}/timeline")
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html and "<script" not in html.split("<main")[1]
    viewer = f'<a href="/a/{analysis_id}/files/{NAME}?time=2018-01-01T17%3A01%3A00Z&amp;from='
    assert viewer in html
    assert f'href="/a/{analysis_id}/files/{NAME}?line=16&amp;from=' in html  # the marker
    assert 'class="alarm-raised"' in html and 'class="marker"' in html
    # following the link opens the viewer at the first line of that minute
    link = html.split(viewer)[0].rsplit('<a href="', 1)[0]
    opened = page_client.get(
        f"/a/{analysis_id}/files/{NAME}", params={"time": "2018-01-01T17:01:00Z"}
    )
    assert 'class="log-line target" id="L11"' in opened.text
    assert link


def test_timeline_of_unknown_analysis_is_404(page_client: TestClient) -> None:
    response = page_client.get("/api/v1/analyses/nope/timeline")
    assert response.status_code == 404 and response.json()["detail"].endswith(".")
    assert page_client.head("/a/nope/timeline").status_code == 404


def add_peer(settings: Settings, analysis_id: str, hostname: str, name: str, text: str) -> None:
    """A second node (its own bundle and log file) in an existing analysis."""
    data_dir = settings.resolved_data_dir
    path = storage.work_dir(data_dir, analysis_id) / "peer" / name.rsplit("/", 1)[-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    bundle = f"diagnostic_log_{hostname}.tar.gz"
    db = Database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            session.add(Node(analysis_id=analysis_id, position=1, bundle=bundle, hostname=hostname))
            session.add(
                BundleFileRow(
                    analysis_id=analysis_id,
                    name=name,
                    kind="loggingsnapshot",
                    size=len(text),
                    bundle=bundle,
                    storage_path=storage.relative_to_data(data_dir, path),
                )
            )
            session.commit()
    finally:
        db.dispose()


def test_all_nodes_share_one_axis(quiet_settings: Settings, page_client: TestClient) -> None:
    analysis_id = add_analysis(quiet_settings, files={NAME: generated_log().encode()})
    peer_log = "".join(module_line(5, s, "ERROR").replace(" vcsc ", " vcsc2 ") for s in range(3))
    add_peer(quiet_settings, analysis_id, "vcsc2", "diagnostic_log_vcsc2/ls.txt", peer_log)
    body = page_client.get(f"/api/v1/analyses/{analysis_id}/timeline").json()
    assert [node["node"] for node in body["nodes"]] == ["vcsc", "vcsc2"]
    assert body["nodes"][1]["minutes"] == [
        {"minute": "2018-01-01T17:05Z", "lines": 3, "errors": 3, "warnings": 0}
    ]
    html = page_client.get(f"/a/{analysis_id}/timeline").text
    assert ">vcsc2</text>" in html
    assert "2018-01-01 17:00:00.000Z to 2018-01-01 17:06:00.000Z, 1 minute per column" in html
    peer_link = f"/a/{analysis_id}/files/diagnostic_log_vcsc2/ls.txt?time=2018-01-01T17%3A05%3A00Z"
    assert peer_link in html
