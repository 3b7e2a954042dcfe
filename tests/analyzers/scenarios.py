"""The seed article's scenarios as diagnostic bundles: log lines + the matching capture + PEMs."""

from __future__ import annotations

import re

from tests.analyzers import captures
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_tar

HOST = "vcsc"
STAMP = "2022-07-11_16_55_44"
CAPTURES = {"self_signed": "article.pcap", "unknown_ca": "unknown_ca.pcap"}
CAPTURES["sni_mismatch"] = "sni_ip.pcap"
TOMCAT = "CN=cucm-ms.steven.lab,OU=TAC,O=Cisco,L=Diegem,ST=Belgium,C=BE"
TOMCAT_EC = "CN=cucm-EC.steven.lab,OU=TAC,O=Cisco,L=Diegem,ST=Belgium,C=BE"
STEVEN_CA = "CN=steven-DC-CA,DC=steven,DC=lab"


def scenario_bundle(kind: str, *, trust_store: bool = True, capture: str | None = None) -> bytes:
    """A tar.gz of one Expressway-C: healthy log + the seed lines of `kind`, capture, PEMs."""
    lines = [re.sub(r"^(\S+) \S+ ", rf"\1 {HOST} ", line) for line in seed_scenario_lines(kind)]
    log = healthy_expressway_c_loggingsnapshot(HOST, n_lines=300) + "\n".join(lines) + "\n"
    members: dict[str, str | bytes] = {
        f"loggingsnapshot_{HOST}_{STAMP}.txt": log,
        f"xstat_dump_{HOST}_{STAMP}.txt": xstat_dump(HOST, "Expressway-C", "X14.2.1"),
        f"eth0_diagnostic_logging_tcpdump00_{HOST}_{STAMP}.pcap": (
            captures.DATA / (capture or CAPTURES[kind])
        ).read_bytes(),
        f"server_{HOST}_{STAMP}.pem": (captures.DATA / f"server_vcsc_{STAMP}.pem").read_bytes(),
    }
    if trust_store:
        members[f"ca_{HOST}_{STAMP}.pem"] = (captures.DATA / f"ca_vcsc_{STAMP}.pem").read_bytes()
    return make_tar(members)
