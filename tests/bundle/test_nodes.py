"""identify_node: hostname, product and version of the peer a bundle came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bundle.detect import detect_kind
from app.bundle.nodes import identify_node
from app.report import BundleFile, FileKind
from tests.factories import Unpack, make_tar

REAL_DATA = Path(__file__).parents[2] / "../shared/data/real"


def _line(host: str, rest: str, ts: str = "2024-05-02T10:00:00.100+02:00") -> str:
    return f"{ts} {host} {rest}\n"


def _sent_sip(host: str, first_line: str, header: str) -> str:
    return (
        _line(
            host,
            'tvcs: UTCTime="2024-05-02 08:00:00,100" Module="network.sip" Level="DEBUG": '
            'Action="Sent" Local-ip="10.0.0.1" Local-port="5061" Dst-ip="10.0.0.9"',
        )
        + f" SIPMSG:\n |{first_line}\n Via: SIP/2.0/TLS 10.0.0.9:5061\n {header}\n"
        " Content-Length: 0\n \n |\n"
    )


def _received_sip(host: str, first_line: str, header: str) -> str:
    return (
        _line(
            host,
            'tvcs: UTCTime="2024-05-02 08:00:00,200" Module="network.sip" Level="DEBUG": '
            'Action="Received" Local-ip="10.0.0.1" Local-port="7001" Src-ip="10.0.0.2"',
        )
        + f" SIPMSG:\n |{first_line}\n {header}\n Content-Length: 0\n \n |\n"
    )


EXPC_SNAPSHOT = (
    _line(
        "expc01",
        'tvcs: UTCTime="2024-05-02 08:00:00,000" Module="network.tcp" Level="INFO": Detail="x"',
    )
    + _line(
        "expc01",
        "traffic_server[3936]: [ET_NET 0] WARNING: Core server certificate "
        "verification failed for (10.48.36.215). Action:Terminate Error=self signed "
        "certificate server=10.48.36.215(10.48.36.215) depth=0",
    )
    + _received_sip("expc01", "SIP/2.0 200 OK", "Server: TANDBERG/4136 (X15.0.2)")
    + _sent_sip(
        "expc01",
        "INVITE sip:1@example.com SIP/2.0",
        "User-Agent: TANDBERG/529 (ce9.2.0.5c47770) Cisco-DX70",
    )
    + _sent_sip("expc01", "SIP/2.0 100 Trying", "Server: TANDBERG/4136 (X14.2.1)")
)


XCONF = '*c xConfiguration IP DNS Hostname: "expc01"\n'


def _unpacked(unpack: Unpack, name: str, members: dict[str, str]) -> list[BundleFile]:
    return unpack(name, make_tar(members)).files


def test_realistic_expressway_c_bundle(unpack: Unpack) -> None:
    files = _unpacked(
        unpack,
        "diagnostic_log_expc01_2024-05-02.tar.gz",
        {
            "loggingsnapshot_expc01_2024-05-02_10:00:00.txt": EXPC_SNAPSHOT,
            "xconf_dump_expc01_2024-05-02_10:00:00.txt": XCONF,
        },
    )

    node = identify_node(files, "diagnostic_log_expc01_2024-05-02.tar.gz")

    assert node.bundle == "diagnostic_log_expc01_2024-05-02.tar.gz"
    assert node.hostname == "expc01"
    assert node.product == "Expressway-C"  # Traffic Server verifying UC certificates
    assert node.version == "X14.2.1"  # its own 100 Trying, not the peer's 200 OK (X15.0.2)


def test_vcs_label_with_traffic_server_hint_is_expressway_c(unpack: Unpack) -> None:
    xstat = (
        "*s SystemUnit: /\n"
        '    Product: "TANDBERG VCS"\n'
        "    Uptime: 12345\n"
        "    Software:\n"
        '      Version: "X8.11.4"\n'
        '      Build: "12345"\n'
        "    Hardware:\n"
        '      Version: "1.0"\n'
        "*s/end\n"
        "OK\n"
    )
    files = _unpacked(
        unpack,
        "b.tar.gz",
        {"loggingsnapshot_vcs_2024.txt": EXPC_SNAPSHOT, "xstat_dump_vcs_2024.txt": xstat},
    )

    node = identify_node(files, "b.tar.gz")

    # the label "TANDBERG VCS" tells no side; Traffic Server verifying UC certificates does
    assert (node.product, node.version, node.confidence) == ("Expressway-C", "X8.11.4", "medium")
    said = " ".join(item["says"] for item in node.evidence)
    assert "TANDBERG VCS" in said and "VCS Control behaves as Expressway-C" in said


def test_xstat_flat_lines_are_understood(unpack: Unpack) -> None:
    xstat = (
        '*s SystemUnit Product: "Cisco Expressway-E"\n'
        '*s SystemUnit Software Version: "X14.3.0"\n'
        '*s Ethernet 1 Speed: "1000full"\n'
    )
    files = _unpacked(unpack, "b.tar.gz", {"xstat_dump_expe_2024-05-02.txt": xstat})

    node = identify_node(files, "b.tar.gz")

    assert (node.hostname, node.product, node.version) == ("expe", "Expressway-E", "X14.3.0")


def test_xstat_xml_form_is_understood(unpack: Unpack) -> None:
    xml = (
        '<?xml version="1.0"?>\n<Status>\n  <SystemUnit item="1">\n'
        '    <Product item="1">Cisco Expressway-C</Product>\n'
        '    <Software item="1"><Version item="1">X15.0.1</Version></Software>\n'
        "  </SystemUnit>\n</Status>\n"
    )
    files = _unpacked(unpack, "b.tar.gz", {"xstat_dump_expc_2024-05-02.xml": xml})

    node = identify_node(files, "b.tar.gz")

    assert (node.product, node.version) == ("Expressway-C", "X15.0.1")


def test_generic_expressway_product_is_refined_by_log_hints(unpack: Unpack) -> None:
    xstat = '*s SystemUnit: /\n    Product: "Cisco Expressway"\n*s/end\n'
    snapshot = _line(
        "expe",
        'tvcs: Module="developer.sip.leg" Detail="Zone details"'
        "ZONETYPE_TRAVERSALSERVERuc_traversal",
    )
    files = _unpacked(
        unpack,
        "b.tar.gz",
        {"xstat_dump_expe_2024.txt": xstat, "loggingsnapshot_expe_2024.txt": snapshot},
    )

    assert identify_node(files, "b.tar.gz").product == "Expressway-E"


def test_conflicting_hints_leave_the_product_unknown(unpack: Unpack) -> None:
    snapshot = _line("exp", 'tvcs: Detail="x" ZONETYPE_TRAVERSALSERVER') + _line(
        "exp",
        'edgeconfigprovisioning: Module="developer.edgeconfigprovisioning.server" '
        'Detail="Failed to authenticate user against server" Username="jdoe" '
        "Server=\"('https', 'cucm.example.com', 8443)\"",
    )
    files = _unpacked(unpack, "b.tar.gz", {"loggingsnapshot_exp_2024.txt": snapshot})

    assert identify_node(files, "b.tar.gz").product is None


def test_hostname_from_content_beats_the_file_name(unpack: Unpack) -> None:
    snapshot = "".join(_line("real-host", 'tvcs: Detail="x"') for _ in range(3))
    files = _unpacked(unpack, "b.tar.gz", {"loggingsnapshot_renamed_2024-05-02.txt": snapshot})

    node = identify_node(files, "b.tar.gz")

    assert node.hostname == "real-host"
    says = [item["says"] for item in node.evidence]
    assert "the file names say renamed, the content real-host: content wins (renamed files)" in says


def test_hostname_falls_back_to_file_names(unpack: Unpack) -> None:
    files = _unpacked(
        unpack,
        "b.tar.gz",
        {
            "xstat_dump_exp-e1_20240502T100000.txt": "*s Foo: /\n*s/end\n",
            "ca_exp-e1_20240502T100000.pem": "-----BEGIN CERTIFICATE-----\n",
        },
    )

    assert identify_node(files, "b.tar.gz").hostname == "exp-e1"


def test_no_evidence_means_nothing_is_guessed(unpack: Unpack) -> None:
    files = _unpacked(unpack, "b.tar.gz", {"notes.txt": "TANDBERG Expressway maybe\n"})

    node = identify_node(files, "b.tar.gz")

    assert (node.hostname, node.product, node.version) == (None, None, None)


def test_endpoint_and_received_headers_give_no_version(unpack: Unpack) -> None:
    snapshot = _received_sip(
        "expe", "SIP/2.0 100 Trying", "Server: TANDBERG/4136 (X15.0.2)"
    ) + _sent_sip("expe", "INVITE sip:1@x SIP/2.0", "User-Agent: TANDBERG/529 (ce9.2.0.5c47770)")
    files = _unpacked(unpack, "b.tar.gz", {"loggingsnapshot_expe_2024.txt": snapshot})

    assert identify_node(files, "b.tar.gz").version is None


def test_files_of_other_bundles_are_ignored(unpack: Unpack) -> None:
    files = _unpacked(unpack, "c.tar.gz", {"loggingsnapshot_expc01_2024.txt": EXPC_SNAPSHOT})

    node = identify_node(files, "e.tar.gz")

    assert (node.bundle, node.hostname, node.version) == ("e.tar.gz", None, None)


@pytest.mark.skipif(not REAL_DATA.is_dir(), reason="the ../shared data dir is absent")
def test_real_expressway_e_log() -> None:
    path = (REAL_DATA / "expressway-e_mra_call.txt").resolve()
    name = "expressway-e_mra_call.txt"
    kind = detect_kind(path, name)
    file = BundleFile(path, name, path.stat().st_size, kind, name)

    node = identify_node([file], name)

    assert kind is FileKind.LOG
    assert node.hostname == "vm-bluck-fed-vcse1"
    # Its own "SIP/2.0 100 Trying" carries "Server: TANDBERG/4136 (X8.11PreAlpha10)".
    assert node.version == "X8.11PreAlpha10"
    assert node.product == "Expressway-E"  # local zone type ZONETYPE_TRAVERSALSERVER
