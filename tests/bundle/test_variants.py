"""Every way a bundle reaches us (re-zipped, renamed, CRLF, remote syslog) gives the same findings.

The canonical bundle is the Expressway's own tar.gz (colons in its names, LF lines) holding a
loggingsnapshot with the seed article's lines and a positive example line of every line
signature of the library, and an xstat dump. Each variant is built from the same members the way
a customer or a tool changes them, and must give the same (signature, count, node) set.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from app.bundle.sources import PRODUCT_LOG_BY_SOURCE
from app.bundle.unpack import Limits
from app.report import Report
from app.signatures import load_library
from app.worker.pipeline import Input, analyze
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_tar, make_zip, write_upload

LIBRARY = load_library()
STAMP = "2022-07-11_17:33:18"
HOST = "vcsc"
Members = dict[str, str]
Build = Callable[[Members], tuple[str, bytes]]

_HEADER = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\S+) (?P<host>\S+) (?P<tag>(?P<name>[A-Za-z_][\w.\-/]*)(?:\[\d+\])?:)"
    r"(?P<rest>.*)$"
)


def _example_lines() -> list[str]:
    """One positive example of each line signature of the library over the Expressway's own logs
    (header lines only): lines of other products' logs (a Jabber log, an IM and Presence syslog)
    are not in an Expressway loggingsnapshot."""
    lines: list[str] = []
    for signature in LIBRARY.signatures:
        if signature.analyzer is not None or signature.source in PRODUCT_LOG_BY_SOURCE:
            continue
        example = next(example for example in signature.examples if example.positive)
        lines.extend(_on_this_host(line) for line in example.lines)
    return lines


def _on_this_host(line: str) -> str:
    """An example line as this node logged it (examples quote other hosts: with 400 of them a
    foreign host would outvote the node's own lines when its name is read from the log)."""
    header = _HEADER.match(line)
    if header is None:
        return line
    return f"{header['ts']} {HOST} {header['tag']}{header['rest']}"


def _members() -> Members:
    healthy = healthy_expressway_c_loggingsnapshot(HOST, n_lines=400).splitlines()
    problems = [
        line
        for kind in ("self_signed", "unknown_ca", "sni_mismatch")
        for line in seed_scenario_lines(kind)
    ]
    log = healthy[:200] + problems + _example_lines() + healthy[200:]
    return {
        f"loggingsnapshot_{HOST}_{STAMP}.txt": "\n".join(log) + "\n",
        f"xstat_dump_{HOST}_{STAMP}.txt": xstat_dump(HOST, "Expressway-C", "X14.2.1"),
    }


def _canonical(members: Members) -> tuple[str, bytes]:
    return f"diagnostic_log_{HOST}_{STAMP}.tar.gz", make_tar(members)


def _underscores(members: Members) -> tuple[str, bytes]:
    renamed = {name.replace(":", "_"): text for name, text in members.items()}
    return f"diagnostic_log_{HOST}_{STAMP}.tar.gz".replace(":", "_"), make_tar(renamed)


def _rezipped_with_folder(members: Members) -> tuple[str, bytes]:
    folder = f"diagnostic_log_{HOST}_{STAMP}".replace(":", "_")
    return f"{folder}.zip", make_zip({f"{folder}/{name}": text for name, text in members.items()})


def _tar_in_a_zip(members: Members) -> tuple[str, bytes]:
    name, bundle = _canonical(members)
    return "bundle.zip", make_zip({name.replace(":", "_"): bundle})


def _folder_inside_the_tar(members: Members) -> tuple[str, bytes]:
    return _canonical({f"diagnostic_log/{name}": text for name, text in members.items()})


def _crlf(members: Members) -> tuple[str, bytes]:
    return _canonical({name: text.replace("\n", "\r\n") for name, text in members.items()})


def _cr_only(members: Members) -> tuple[str, bytes]:
    return _canonical({name: text.replace("\n", "\r") for name, text in members.items()})


def _remote_syslog(members: Members) -> tuple[str, bytes]:
    """The loggingsnapshot as a syslog server receives it: `<166>` and the tag doubled."""

    def relayed(line: str) -> str:
        match = _HEADER.match(line)
        if match is None:
            return line
        return f"<166>{match['ts']} {match['host']} {match['tag']} {match['name']}:{match['rest']}"

    changed = {
        name: "\n".join(relayed(line) for line in text.split("\n"))
        if name.startswith("loggingsnapshot")
        else text
        for name, text in members.items()
    }
    return _canonical(changed)


def _bsd(stamp: str) -> str:
    """An ISO syslog timestamp as a syslog server's traditional format writes it (local time,
    no year, no zone, the day padded with a space): `Jul 11 19:33:06`."""
    moment = datetime.fromisoformat(stamp)
    return f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S}"


_UNTAGGED = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\dT\S+) (?P<host>\S+) (?P<rest>[A-Za-z]+=.*)$")


def _relayed_as(
    form: Callable[[re.Match[str]], str],
    crlf: bool = False,
    every: int = 1,
    untagged: Callable[[re.Match[str]], str] | None = None,
) -> Build:
    """The loggingsnapshot's header lines rewritten by `form` (every `every`-th one: a mixed
    file), as a syslog server writes them, lines without a process tag by `untagged`; the rest
    as it was."""

    def build(members: Members) -> tuple[str, bytes]:
        def relayed(number: int, line: str) -> str:
            if number % every:
                return line
            match = _HEADER.match(line)
            if match is not None:
                return form(match)
            bare = _UNTAGGED.match(line) if untagged is not None else None
            return untagged(bare) if untagged is not None and bare is not None else line

        changed = {
            name: "\n".join(relayed(n, line) for n, line in enumerate(text.split("\n")))
            if name.startswith("loggingsnapshot")
            else text
            for name, text in members.items()
        }
        if crlf:
            changed = {name: text.replace("\n", "\r\n") for name, text in changed.items()}
        return _canonical(changed)

    return build


def _rfc5424(match: re.Match[str], tag_in_message: bool = False) -> str:
    """`<PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID STRUCTURED-DATA MSG` (RFC 5424 §6)."""
    pid = re.search(r"\[(\d+)\]", match["tag"])
    message = match["rest"].removeprefix(" ")
    if tag_in_message:
        message = f"{match['tag']} {message}"
    procid = pid[1] if pid else "-"
    return f"<166>1 {match['ts']} {match['host']} {match['name']} {procid} - - {message}"


SYSLOG_FORMS: dict[str, Build] = {
    "bsd-timestamp": _relayed_as(
        lambda m: f"{_bsd(m['ts'])} {m['host']} {m['tag']}{m['rest']}",
        untagged=lambda m: f"{_bsd(m['ts'])} {m['host']} {m['rest']}",
    ),
    "bsd-pri-and-tag-twice": _relayed_as(
        lambda m: f"<166>{_bsd(m['ts'])} {m['host']} {m['tag']} {m['name']}:{m['rest']}"
    ),
    "bsd-no-host-tag-three-times": _relayed_as(
        lambda m: f"{_bsd(m['ts'])} {m['tag']} {m['name']}: {m['name']}:{m['rest']}",
        untagged=lambda m: f"{_bsd(m['ts'])} {m['rest']}",
    ),
    "bsd-crlf": _relayed_as(
        lambda m: f"<166>{_bsd(m['ts'])} {m['host']} {m['tag']} {m['name']}:{m['rest']}",
        crlf=True,
    ),
    "bsd-mixed-with-plain-lines": _relayed_as(
        lambda m: f"{_bsd(m['ts'])} {m['host']} {m['tag']}{m['rest']}", every=2
    ),
    "rfc5424": _relayed_as(_rfc5424),
    "rfc5424-tag-in-message-crlf": _relayed_as(
        lambda m: _rfc5424(m, tag_in_message=True), crlf=True
    ),
}


def _upper_case_extensions(members: Members) -> tuple[str, bytes]:
    renamed = {name.removesuffix(".txt") + ".TXT": text for name, text in members.items()}
    return f"DIAGNOSTIC_LOG_{HOST}_{STAMP}.TAR.GZ".replace(":", "_"), make_tar(renamed)


VARIANTS: dict[str, Build] = {
    "colons-as-underscores": _underscores,
    "rezipped-with-a-top-folder": _rezipped_with_folder,
    "tar-gz-inside-a-zip": _tar_in_a_zip,
    "folder-inside-the-tar": _folder_inside_the_tar,
    "crlf": _crlf,
    "cr-only": _cr_only,
    "remote-syslog": _remote_syslog,
    "upper-case-extensions": _upper_case_extensions,
    **SYSLOG_FORMS,
}


def _findings(tmp_path: Path, build: Build, tag: str) -> set[tuple[str, int, str | None]]:
    name, data = build(_members())
    upload = write_upload(tmp_path / tag, name, data)
    report: Report = analyze(
        [Input(upload, name)], tmp_path / f"work-{tag}", LIBRARY, Limits(), jobs=1
    )
    assert [node.hostname for node in report.nodes] == [HOST]
    return {(f.signature_id, f.count, f.node) for f in report.findings}


@pytest.fixture(scope="module")
def canonical(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, int, str | None]]:
    found = _findings(tmp_path_factory.mktemp("canonical"), _canonical, "canonical")
    seed = "mra-traffic-server-cert-verification"
    assert {finding[0] for finding in found} >= {seed}  # the canonical bundle is not empty
    assert len(found) >= 10
    return found


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_bundle_variant_gives_the_canonical_findings(
    tmp_path: Path, canonical: set[tuple[str, int, str | None]], variant: str
) -> None:
    assert _findings(tmp_path, VARIANTS[variant], variant) == canonical


def _bsd_export(members: Members) -> tuple[str, bytes]:
    """Only the loggingsnapshot, as a syslog server's file of BSD-timestamped lines: no bundle,
    and a name that says nothing (its kind and its node come from the lines)."""
    _, relayed = SYSLOG_FORMS["bsd-timestamp"](members)
    log = next(text for name, text in _untar(relayed).items() if name.startswith("logging"))
    return f"syslog-{HOST}-export", log.encode()


def _untar(data: bytes) -> dict[str, str]:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {
            member.name: archive.extractfile(member).read().decode()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def test_a_bare_file_of_bsd_syslog_lines_gives_the_canonical_findings(
    tmp_path: Path, canonical: set[tuple[str, int, str | None]]
) -> None:
    name, data = _bsd_export(_members())
    assert not any(line[:4].isdigit() for line in data.decode().splitlines())  # no ISO left
    upload = write_upload(tmp_path, name, data)
    report = analyze([Input(upload, name)], tmp_path / "work", LIBRARY, Limits(), jobs=1)
    assert [str(file.kind) for file in report.files] == ["log"]
    assert [node.hostname for node in report.nodes] == [HOST]  # the syslog host field
    assert {(f.signature_id, f.count, f.node) for f in report.findings} == canonical
    assert [e.expressway for e in report.examined] == [True]
