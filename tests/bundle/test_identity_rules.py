"""Product identity is weighed evidence: labels never decide the side, facts and hints do.

The dumps here are variants written for these tests (flat and block text, XML, with and
without a product label), not the shapes the rules were written from; see
app/bundle/identity/product.py for the rules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bundle.detect import detect_kind
from app.bundle.nodes import identify_node
from app.report import BundleFile, NodeInfo

BUNDLE = "diagnostic_log_exp1.tar.gz"
TS = "2024-05-02T10:00:00.100+02:00"


def node_of(tmp_path: Path, members: dict[str, str], chosen: str | None = None) -> NodeInfo:
    files = []
    for name, text in members.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        shown = f"{BUNDLE}/{name}"
        files.append(BundleFile(path, shown, path.stat().st_size, detect_kind(path, shown), BUNDLE))
    return identify_node(files, BUNDLE, chosen)


def said(node: NodeInfo) -> str:
    return "\n".join(f"{item['source']}: {item['says']}" for item in node.evidence)


def xstat_block(product: str | None, *, extra: str = "") -> str:
    product_line = f'    Product: "{product}"\n' if product else ""
    return (
        "*s SystemUnit: /\n"
        f"{product_line}"
        "    Uptime: 3600\n"
        "    Software:\n"
        '      Version: "X14.2.1"\n'
        '      Build: "14.2.1"\n'
        f"{extra}"
        "*s/end\n\nOK\n"
    )


def xconf_text(zone_type: str) -> str:
    return (
        '*c xConfiguration IP DNS Hostname: "exp1"\n'
        '*c xConfiguration Zones Zone 1 Name: "DefaultZone"\n'
        '*c xConfiguration Zones Zone 2 Name: "UC traversal"\n'
        f'*c xConfiguration Zones Zone 2 Type: "{zone_type}"\n'
        '*c xConfiguration Zones Zone 2 H323 Mode: "Off"\n'
    )


def log_lines(*details: str) -> str:
    return "".join(f'{TS} exp1 tvcs: Module="developer.sip.leg" Detail="{d}"\n' for d in details)


TS_VERIFY = (
    f"{TS} exp1 traffic_server[3936]: [ET_NET 0] WARNING: Core server certificate verification "
    "failed for (cucm.example.com). Action=Terminate Error=self-signed certificate "
    "server=cucm.example.com(192.0.2.10) depth=0\n"
)


def test_tandberg_vcs_label_with_a_traversal_client_zone_is_expressway_c(tmp_path: Path) -> None:
    node = node_of(
        tmp_path,
        {
            "xstat_dump_exp1_2024-05-02.txt": xstat_block("TANDBERG VCS"),
            "xconf_dump_exp1_2024-05-02.txt": xconf_text("TraversalClient"),
        },
    )

    assert (node.product, node.confidence) == ("Expressway-C", "high")
    assert (node.hostname, node.version) == ("exp1", "X14.2.1")
    text = said(node)
    assert "xconf_dump_exp1_2024-05-02.txt: zone 2: the local system is a traversal client" in text
    assert 'SystemUnit Product reads "TANDBERG VCS"' in text
    assert "VCS Control behaves as Expressway-C" in text


def test_xml_dumps_with_a_traversal_server_zone_are_expressway_e(tmp_path: Path) -> None:
    xstat = (
        '<?xml version="1.0"?>\n<Status product="TANDBERG VCS" version="X14.2.1">\n'
        '  <SystemUnit item="1"><Uptime item="1">12</Uptime>\n'
        '    <Software item="1"><Version item="1">X14.2.1</Version></Software>\n'
        "  </SystemUnit>\n</Status>\n"
    )
    xconf = (
        '<?xml version="1.0"?>\n<Configuration>\n  <Zones item="1">\n'
        '    <Zone item="7"><Name item="1">To ExpC</Name>'
        '<Type item="1">TraversalServer</Type></Zone>\n'
        "  </Zones>\n</Configuration>\n"
    )
    node = node_of(tmp_path, {"xstat_dump_exp1_2024.xml": xstat, "xconf_dump_exp1_2024.xml": xconf})

    assert (node.product, node.confidence, node.version) == ("Expressway-E", "high", "X14.2.1")
    assert "zone 7: the local system is a traversal server" in said(node)
    assert 'Status product attribute reads "TANDBERG VCS"' in said(node)


def test_vcs_labelled_bundle_with_a_traversal_server_subtree_is_expressway_e(
    tmp_path: Path,
) -> None:
    xconf = (
        '*c xConfiguration Zones Zone 4 Name: "Traversal from ExpC"\n'
        '*c xConfiguration Zones Zone 4 TraversalServer Authentication UserName: "expc"\n'
        '*c xConfiguration Zones Zone 4 TraversalServer SIP Port: "7001"\n'
    )
    node = node_of(
        tmp_path,
        {
            "xstat_dump_vcs_2024.txt": xstat_block("TANDBERG Video Communication Server"),
            "xconf_dump_vcs_2024.txt": xconf,
        },
    )

    assert (node.product, node.confidence) == ("Expressway-E", "high")
    assert "VCS Expressway behaves as Expressway-E" in said(node)


def test_cisco_expressway_label_alone_does_not_tell_the_side(tmp_path: Path) -> None:
    node = node_of(tmp_path, {"xstat_dump_exp1_2024.txt": xstat_block("Cisco Expressway")})

    assert (node.product, node.confidence) == (None, "low")
    assert "an Expressway, not which side" in said(node)


def test_cisco_expressway_label_with_log_hints_takes_the_side_from_the_log(
    tmp_path: Path,
) -> None:
    node = node_of(
        tmp_path,
        {
            "xstat_dump_exp1_2024.txt": xstat_block("Cisco Expressway"),
            "loggingsnapshot_exp1_2024.txt": TS_VERIFY * 2,
        },
    )

    assert (node.product, node.confidence) == ("Expressway-C", "medium")
    assert "Traffic Server verifying a UC server's certificate" in said(node)


@pytest.mark.parametrize(
    ("label", "product"),
    [
        ("Expressway-C", "Expressway-C"),
        ("Cisco Expressway C", "Expressway-C"),
        ("TANDBERG VCS Control", "Expressway-C"),
        ("Cisco Expressway-E", "Expressway-E"),
        ("Cisco TelePresence VCS Expressway", "Expressway-E"),
        ("Cisco Expressway Collaboration Edition", None),  # no role word in it
    ],
)
def test_a_label_naming_the_role_is_a_fact(tmp_path: Path, label: str, product: str | None) -> None:
    node = node_of(tmp_path, {"xstat_dump_exp1_2024.txt": xstat_block(label)})

    assert (node.product, node.confidence) == (product, "high" if product else "low")


def test_vcs_label_and_nothing_else_is_vcs_with_low_confidence(tmp_path: Path) -> None:
    node = node_of(tmp_path, {"xstat_dump_exp1_2024.txt": xstat_block("TANDBERG VCS")})

    assert (node.product, node.confidence) == ("VCS", "low")
    assert "does not tell them apart" in said(node)


def test_no_xstat_no_xconf_log_hints_only(tmp_path: Path) -> None:
    log = log_lines("x", "Need to route media: traversalType=TYPE_ASSENTSERVER", "y")
    node = node_of(tmp_path, {"loggingsnapshot_exp1_2024.txt": log})

    assert (node.product, node.confidence, node.hostname) == ("Expressway-E", "medium", "exp1")
    assert "line 2" in said(node)  # the evidence names the line


def test_nothing_known_is_none_and_low(tmp_path: Path) -> None:
    node = node_of(tmp_path, {"loggingsnapshot_exp1_2024.txt": log_lines("a", "b")})

    assert (node.product, node.confidence) == (None, "low")
    assert "hostname exp1" in said(node)


def test_traversal_option_key_in_xstatus_means_expressway_e(tmp_path: Path) -> None:
    xstat = xstat_block("TANDBERG VCS") + (
        '*s Options Option 1 Key: "116341T00-1-AB12CD34"\n'
        '*s Options Option 1 Description: "Traversal Server"\n'
    )
    node = node_of(tmp_path, {"xstat_dump_exp1_2024.txt": xstat})

    assert (node.product, node.confidence) == ("Expressway-E", "high")
    assert "Traversal Server option key 116341T00-1-AB…" in said(node)


def test_software_configuration_expressway_flag_means_expressway_e(tmp_path: Path) -> None:
    extra = "      Configuration:\n        Encryption: True\n        Expressway: True\n"
    node = node_of(tmp_path, {"xstat_dump_exp1_2024.txt": xstat_block("TANDBERG VCS", extra=extra)})

    assert (node.product, node.confidence) == ("Expressway-E", "high")
    assert "SystemUnit Software Configuration Expressway" in said(node)


def test_facts_outweigh_log_hints_and_the_conflict_is_listed(tmp_path: Path) -> None:
    node = node_of(
        tmp_path,
        {
            "xconf_dump_exp1_2024.txt": xconf_text("TraversalClient"),
            "loggingsnapshot_exp1_2024.txt": log_lines("ZONETYPE_TRAVERSALSERVER"),
        },
    )

    assert (node.product, node.confidence) == ("Expressway-C", "high")
    assert "conflicting evidence: 1 clue(s) point to Expressway-E" in said(node)


def test_facts_for_both_sides_in_equal_number_leave_the_side_unknown(tmp_path: Path) -> None:
    node = node_of(
        tmp_path,
        {
            "xstat_dump_exp1_2024.txt": xstat_block("Cisco Expressway-E"),
            "xconf_dump_exp1_2024.txt": xconf_text("TraversalClient"),
        },
    )

    assert (node.product, node.confidence) == (None, "low")
    assert "conflicting facts: 1 for" in said(node)


def test_the_users_choice_wins_and_says_what_the_bundle_showed(tmp_path: Path) -> None:
    node = node_of(
        tmp_path, {"xconf_dump_exp1_2024.txt": xconf_text("TraversalClient")}, "Expressway-E"
    )

    assert (node.product, node.confidence) == ("Expressway-E", "high")
    assert node.evidence[0] == {
        "source": "user",
        "says": "product chosen as Expressway-E at upload",
    }
    assert "the bundle's evidence pointed to Expressway-C" in said(node)


def test_evidence_stays_short_however_much_the_bundle_shows(tmp_path: Path) -> None:
    zones = "".join(
        f'*c xConfiguration Zones Zone {n} Type: "TraversalClient"\n' for n in range(1, 200)
    )
    logs = {f"log{n}.log": TS_VERIFY + log_lines("TYPE_ASSENTCLIENT") for n in range(8)}
    node = node_of(tmp_path, {"xconf_dump_exp1_2024.txt": zones, **logs})

    assert node.product == "Expressway-C"
    assert len(node.evidence) <= 20
    assert "zones 1, 2, 3, 4, 5 …" in said(node)


def test_edge_config_lines_count_only_when_they_ask_a_uc_server(tmp_path: Path) -> None:
    relayed = (
        f'{TS} exp1 edgeconfigprovisioning: Module="network.http.edgeconfigprovisioning" '
        'Level="DEBUG": Detail="Receive Request" Method="GET"\n'
    )
    asking = (
        f'{TS} exp1 edgeconfigprovisioning: Module="developer.edgeconfigprovisioning.server" '
        'Level="INFO": Detail="Failed to authenticate user against server" Username="jdoe" '
        "Server=\"('https', 'cucm.example.com', 8443)\"\n"
    )

    only_relayed = node_of(tmp_path, {"loggingsnapshot_exp1_2024.txt": relayed * 3})
    with_uc_server = node_of(tmp_path, {"loggingsnapshot_exp1_2024.txt": relayed + asking})

    assert only_relayed.product is None
    assert (with_uc_server.product, with_uc_server.confidence) == ("Expressway-C", "medium")
    assert "edge configuration provisioning asking a UC server" in said(with_uc_server)


def test_crlf_and_cr_only_line_ends_are_read_alike(tmp_path: Path) -> None:
    xconf = xconf_text("TraversalServer")
    log = log_lines("TYPE_ASSENTSERVER", "x")
    crlf = node_of(
        tmp_path,
        {
            "xconf_dump_exp1_2024.txt": xconf.replace("\n", "\r\n"),
            "loggingsnapshot_exp1_2024.txt": log.replace("\n", "\r\n"),
        },
    )
    cr_only = node_of(
        tmp_path,
        {
            "xconf_dump_exp1_2024.txt": xconf.replace("\n", "\r"),
            "loggingsnapshot_exp1_2024.txt": log.replace("\n", "\r"),
        },
    )

    for node in (crlf, cr_only):
        assert (node.product, node.confidence, node.hostname) == ("Expressway-E", "high", "exp1")
        assert "line 1" in said(node)


def _reference_clues(text: str) -> list[tuple[str, str, str | None]]:
    """The clues of `text` fed line by line, every marker tested on every line (as before
    LogClues.look_for), with lines cut as app.bundle.nodes cuts them."""
    from app.bundle.identity.product import LogClues
    from app.bundle.nodes import MAX_LINE

    clues = LogClues("log")
    start, number = 0, 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        number += 1
        clues.feed(number, text[start : min(end, start + MAX_LINE)])
        start = end + 1
    return [(c.says, c.weight, c.role) for c in clues.clues()]


@pytest.mark.parametrize("seed", range(6))
def test_a_log_heads_clues_are_those_of_every_line_tested_for_every_marker(seed: int) -> None:
    import random

    from app.bundle.identity.product import LogClues
    from app.bundle.nodes import MAX_LINE, _lines

    rng = random.Random(seed)
    pieces = [
        "ZONETYPE_TRAVERSALSERVER", "TYPE_ASSENTSERVER", "ZONETYPE_TRAVERSALCLIENT",
        "TYPE_ASSENTCLIENT", "traffic_server", "Core server certificate verification failed",
        "SNI (", "not in certificate", "edgeconfigprovisioning", "Server=\"('", "plain text",
    ]  # fmt: skip
    lines = []
    for _ in range(400):
        chosen = rng.sample(pieces, rng.randint(0, 3)) if rng.random() < 0.3 else ["log line"]
        line = " ".join(chosen)
        if rng.random() < 0.05:  # a marker past the cut of a long line: in the text, not the line
            line = "x" * (MAX_LINE + rng.randint(-30, 30)) + line
        lines.append(line)
    text = "\n".join(lines) + rng.choice(["", "\n", "\n\n"])
    clues = LogClues("log")
    clues.look_for(text)
    for number, line in enumerate(_lines(text), 1):
        clues.feed(number, line)
    assert [(c.says, c.weight, c.role) for c in clues.clues()] == _reference_clues(text)
