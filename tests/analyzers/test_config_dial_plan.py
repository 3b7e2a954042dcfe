"""Dial plan and Webex Hybrid Call zone checks over the xconf dumps (doc 212475): a catch-all
search rule with Stop before other rules, the Hybrid DNS zone without Modify DNS request or
with a mistyped subject name, and the Hybrid traversal zones with Preloaded SIP routes or SIP
parameter preservation Off."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.analyzers.certificates import CertificateScan
from app.analyzers.config_findings import config_findings
from app.analyzers.xconf import ConfigScan, scan_config, scan_config_paths
from app.report import BundleFile, FileKind
from app.signatures import load_library

LIBRARY = load_library()
FIXTURES = Path(LIBRARY.path) / "expressway" / "fixtures"
STAMP = "2024-03-01_10_00_00"
RULES = LIBRARY.get("config-search-rule-stop-hides-later-rules")
OVERRIDE = LIBRARY.get("config-dns-zone-webex-dns-override-off")
PRELOADED = LIBRARY.get("config-hybrid-traversal-preloaded-routes-off")
PRESERVATION = LIBRARY.get("config-hybrid-traversal-parameter-preservation-off")
TYPO = LIBRARY.get("config-dns-zone-webex-subject-name-typo")
EXPE = (FIXTURES / f"xconf_dump_amerexp_{STAMP}.txt").read_text(encoding="utf-8")
EXPC = (FIXTURES / f"xconf_dump_rtpvcsc_{STAMP}.txt").read_text(encoding="utf-8")
NO_CERTS = CertificateScan([], [])


def _scan(tmp_path: Path, **dumps: str) -> ConfigScan:
    files = []
    for bundle, text in dumps.items():
        path = tmp_path / bundle / f"xconf_dump_{bundle}_{STAMP}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        files.append(
            BundleFile(path, f"{bundle}/{path.name}", path.stat().st_size, FileKind.XCONF, bundle)
        )
    return scan_config(files, {})


def _rule(number: int, name: str, priority: int, **settings: str) -> str:
    values = {
        "Authentication": "No",
        "Mode": "AliasPatternMatch",
        "Name": name,
        "Pattern String": ".*@.*\\.ciscospark\\.com",
        "Pattern Type": "Regex",
        "Priority": str(priority),
        "Progress": "Stop",
        "Protocol": "Any",
        "SIPTrafficType": "Any",
        "Source Mode": "Any",
        "State": "Enabled",
        "Target Name": "DNS",
    }
    values.update({key.replace("_", " "): value for key, value in settings.items()})
    prefix = f"*c xConfiguration Zones Policy SearchRules Rule {number}"
    return "".join(f'{prefix} {key}: "{value}"\n' for key, value in values.items())


CATCH_ALL = _rule(1, "to DNS", 100, Pattern_String="(?!.*@%localdomains%.*$).*")


# ---- search rules ------------------------------------------------------------------------------


def test_catch_all_rule_names_the_rules_it_hides_and_points_at_its_lines(tmp_path: Path) -> None:
    scan = _scan(tmp_path, expe=CATCH_ALL + _rule(2, "Webex", 101) + _rule(3, "Later", 300))
    [finding] = config_findings(RULES, scan, NO_CERTS)[0]
    assert finding.facts["hidden_count"] == 2
    assert "'Webex' (priority 101)" in finding.facts["hidden"]
    assert finding.facts["scope"] == "every non-local alias"
    texts = " ".join(s.text for s in finding.snippets)
    assert 'Rule 1 Progress: "Stop"' in texts and 'Rule 2 Priority: "101"' in texts


@pytest.mark.parametrize(
    ("later", "hidden"),
    [
        (_rule(2, "same priority", 100), False),  # searched together with the catch-all
        (_rule(2, "earlier", 99), False),
        (_rule(2, "disabled", 101, State="Disabled"), False),
        (_rule(2, "local", 101, Target_Name="LocalZone"), False),
        (_rule(2, "local domains", 101, Pattern_String=".*@%localdomains%"), False),
        (_rule(2, "later", 101), True),
        (_rule(2, "any alias later", 101, Mode="AnyAlias"), True),
    ],
)
def test_only_enabled_rules_tried_after_the_catch_all_are_hidden(
    tmp_path: Path, later: str, hidden: bool
) -> None:
    findings, _ = config_findings(RULES, _scan(tmp_path, expe=CATCH_ALL + later), NO_CERTS)
    assert bool(findings) is hidden


@pytest.mark.parametrize(
    ("first", "hidden"),
    [
        (_rule(1, "continue", 100, Progress="Continue", Pattern_String=".*"), False),
        (_rule(1, "named source", 100, Source_Mode="Named", Pattern_String=".*"), False),
        (_rule(1, "authenticated only", 100, Authentication="Yes", Pattern_String=".*"), False),
        (_rule(1, "specific", 100), False),
        (_rule(1, "h323 only", 100, Protocol="H323", Pattern_String=".*"), False),
        (_rule(1, "everything", 100, Pattern_String=".*"), True),
        (_rule(1, "lookahead", 100, Pattern_String="(?!.*@%localdomains%).*"), True),
        (_rule(1, "any alias", 100, Mode="AnyAlias"), True),
    ],
)
def test_a_rule_hides_others_only_when_it_stops_for_every_alias_from_any_source(
    tmp_path: Path, first: str, hidden: bool
) -> None:
    later = _rule(2, "sip later", 101, Protocol="SIP")
    findings, _ = config_findings(RULES, _scan(tmp_path, expe=first + later), NO_CERTS)
    assert bool(findings) is hidden


# ---- Webex Hybrid Call DNS zone ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (("", ""), True),
        (('DnsOverride Override: "Off"', 'DnsOverride Override: "On"'), False),
        (("callservice.ciscospark.com", "partner.example.com"), False),  # not the Hybrid zone
        (("callservice.ciscospark.com", "callservice.webex.com"), True),
    ],
)
def test_hybrid_dns_zone_needs_modify_dns_request(
    tmp_path: Path, change: tuple[str, str], found: bool
) -> None:
    text = EXPE.replace(*change) if change[0] else EXPE
    findings, _ = config_findings(OVERRIDE, _scan(tmp_path, expe=text), NO_CERTS)
    assert bool(findings) is found
    if found:
        assert 'DnsOverride Override: "Off"' in findings[0].snippets[0].text


# ---- Webex Hybrid Call traversal zones ---------------------------------------------------------


def test_expressway_c_zone_is_linked_to_the_hybrid_path_by_the_expressway_e_port(
    tmp_path: Path,
) -> None:
    [finding] = config_findings(PRELOADED, _scan(tmp_path, expe=EXPE, expc=EXPC), NO_CERTS)[0]
    assert finding.node == "expc"
    assert "SIP port 7003" in finding.facts["linked_by"]
    # without the Expressway-E's dump nothing says the zone carries Webex calls
    assert config_findings(PRELOADED, _scan(tmp_path / "c", expc=EXPC), NO_CERTS)[0] == []
    # another port: another traversal zone
    other = EXPC.replace('SIP Port: "7003"', 'SIP Port: "7001"')
    assert (
        config_findings(PRELOADED, _scan(tmp_path / "o", expe=EXPE, expc=other), NO_CERTS)[0] == []
    )


def test_hybrid_zone_is_the_one_a_rule_links_to_the_webex_dns_zone(tmp_path: Path) -> None:
    [finding] = config_findings(PRESERVATION, _scan(tmp_path, expe=EXPE), NO_CERTS)[0]
    assert finding.facts["zone"] == 7 and finding.facts["role"] == "server"
    assert "search rule 3" in finding.facts["linked_by"]
    unlinked = EXPE.replace('Source Name: "Hybrid Call Services DNS"', 'Source Name: "Other"')
    unlinked = unlinked.replace('Source Name: "Hybrid Call Service Traversal"', 'Source Name: "X"')
    unlinked = unlinked.replace('Target Name: "Hybrid Call Services DNS"', 'Target Name: "DNS"')
    assert config_findings(PRESERVATION, _scan(tmp_path / "u", expe=unlinked), NO_CERTS)[0] == []


def test_loose_dumps_of_two_hosts_are_two_nodes() -> None:
    e = FIXTURES / f"xconf_dump_amerexp_{STAMP}.txt"
    c = FIXTURES / f"xconf_dump_rtpvcsc_{STAMP}.txt"
    assert [n.label for n in scan_config_paths([e, c]).nodes] == ["amerexp", "rtpvcsc"]
    assert [n.label for n in scan_config_paths([e]).nodes] == ["example"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("calllservice.ciscospark.com", "callservice.ciscospark.com"),  # doc 212475 Issue 2
        ("callservice.ciscospak.com", "callservice.ciscospark.com"),
        ("callservice.webex.co", "callservice.webex.com"),
        ("callservice.ciscospark.com", None),
        ("callservice.webex.com", None),
        ("partner.example.com", None),
        ("call.ciscospark.com", None),  # too far from a Webex name to be a typo of one
    ],
)
def test_subject_name_one_or_two_edits_from_a_webex_name_is_a_typo(
    tmp_path: Path, name: str, expected: str | None
) -> None:
    text = (
        '*c xConfiguration Zones Zone 6 DNS SIP TLS Verify Mode: "On"\n'
        f'*c xConfiguration Zones Zone 6 DNS SIP TLS Verify Subject Name: "{name}"\n'
    )
    findings, _ = config_findings(TYPO, _scan(tmp_path, expe=text), NO_CERTS)
    assert [f.facts["expected"] for f in findings] == ([expected] if expected else [])
