"""Which node each file of an upload belongs to, from the host its path names."""

from __future__ import annotations

from pathlib import Path

from app.bundle.hosts import node_keys, split_by_host
from app.report import BundleFile, FileKind

TS = "2024-05-02_10_00_00"


def files(upload: str, *members: str) -> list[BundleFile]:
    return [
        BundleFile(Path(f"/w/{n}"), f"{upload}/{member}", 1, FileKind.LOG, upload)
        for n, member in enumerate(members)
    ]


def keys(split: list[BundleFile]) -> list[tuple[str, str]]:
    return [(file.name.split("/", 1)[1], file.bundle) for file in split]


def test_one_host_is_left_as_it_is() -> None:
    given = files(
        "diagnostic_log_expc1_2024-05-02.tar.gz",
        f"loggingsnapshot_expc1_{TS}.txt",
        f"xstat_dump_expc1_{TS}.txt",
        "alternatesnapshot.txt",
        "xstat_dump_vcs_2024.txt",  # no timestamp: names no host
    )
    assert split_by_host(given, "diagnostic_log_expc1_2024-05-02.tar.gz") == given


def test_nested_bundles_are_nodes_and_loose_files_join_their_hosts_bundle() -> None:
    given = files(
        "pair.zip",
        f"diagnostic_log_expc1_{TS}.tar.gz/loggingsnapshot_expc1_{TS}.txt",
        f"diagnostic_log_EXPE1_{TS}/logs/loggingsnapshot_expe1_{TS}.txt",
        f"server_expe1_{TS}.pem",
        "readme.txt",
    )
    assert keys(split_by_host(given, "pair.zip")) == [
        (f"diagnostic_log_expc1_{TS}.tar.gz/loggingsnapshot_expc1_{TS}.txt", "pair.zip (expc1)"),
        (f"diagnostic_log_EXPE1_{TS}/logs/loggingsnapshot_expe1_{TS}.txt", "pair.zip (EXPE1)"),
        (f"server_expe1_{TS}.pem", "pair.zip (EXPE1)"),
        ("readme.txt", "pair.zip"),  # of no host: the upload's own node, as before
    ]
    assert node_keys(split_by_host(given, "pair.zip")) == [
        "pair.zip (expc1)",
        "pair.zip (EXPE1)",
        "pair.zip",
    ]


def test_two_bundles_of_one_host_stay_two_nodes() -> None:
    given = files(
        "two.zip",
        f"diagnostic_log_expc1_{TS}.tar.gz/loggingsnapshot_expc1_{TS}.txt",
        "diagnostic_log_expc1_2024-05-03_10_00_00.tar.gz/loggingsnapshot_expc1_x.txt",
        f"loggingsnapshot_expc1_{TS}.txt",  # which of the two? neither: a node of its own
    )
    assert [file.bundle for file in split_by_host(given, "two.zip")] == [
        "two.zip (expc1)",
        "two.zip (expc1 #2)",
        "two.zip (expc1 #3)",
    ]


def test_loose_files_of_two_hosts_are_two_nodes() -> None:
    given = files(
        "logs.tar",
        f"loggingsnapshot_expc1_{TS}.txt",
        f"xconf_dump_expc1_{TS}.xml",
        f"eth0_diagnostic_logging_tcpdump00_expe1_{TS}.pcap",
        f"loggingsnapshot_expe1_{TS}.txt",
    )
    assert [file.bundle for file in split_by_host(given, "logs.tar")] == [
        "logs.tar (expc1)",
        "logs.tar (expc1)",
        "logs.tar (expe1)",
        "logs.tar (expe1)",
    ]
