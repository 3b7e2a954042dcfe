"""The same file twice in one upload, or the same upload twice, is analysed once, with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest
import xxhash

from app.bundle.duplicates import HASH_PIECE_BYTES, hash_into, new_hasher
from app.bundle.unpack import Limits, unpack_upload
from app.report import Report
from app.signatures import load_library
from app.worker.pipeline import Input, analyze
from tests.corpus import healthy_expressway_c_loggingsnapshot, seed_scenario_lines, xstat_dump
from tests.factories import make_tar, make_zip, write_upload

LIBRARY = load_library()
LOG_NAME = "loggingsnapshot_vcsc_2022-07-11_17:33:18.txt"
XSTAT_NAME = "xstat_dump_vcsc_2022-07-11_17:33:18.txt"


def _members() -> dict[str, str]:
    log = healthy_expressway_c_loggingsnapshot("vcsc", n_lines=200)
    log += "\n".join(seed_scenario_lines("self_signed") * 3) + "\n"
    return {LOG_NAME: log, XSTAT_NAME: xstat_dump("vcsc")}


def _counts(report: Report) -> set[tuple[str, int, str | None]]:
    return {(f.signature_id, f.count, f.node) for f in report.findings}


def _analyze(tmp_path: Path, uploads: dict[str, bytes], tag: str) -> Report:
    inputs = [
        Input(write_upload(tmp_path / tag / str(n), name, data), name)
        for n, (name, data) in enumerate(uploads.items())
    ]
    return analyze(inputs, tmp_path / f"work-{tag}", LIBRARY, Limits(), jobs=1)


def test_a_rezipped_bundle_with_its_unpacked_folder_counts_each_line_once(
    tmp_path: Path,
) -> None:
    members = _members()
    bundle = make_tar(members)
    folder = {
        f"diagnostic_log_vcsc/{name.replace(':', '_')}": text for name, text in members.items()
    }
    rezipped = make_zip({"diagnostic_log_vcsc.tar.gz": bundle, **folder})

    canonical = _analyze(tmp_path, {"diagnostic_log_vcsc.tar.gz": bundle}, "canonical")
    report = _analyze(tmp_path, {"diag.zip": rezipped}, "rezipped")

    assert _counts(report) == _counts(canonical)
    assert ("mra-traffic-server-cert-verification", 3, "vcsc") in _counts(report)
    assert [file.name for file in report.files] == [
        f"diag.zip/diagnostic_log_vcsc.tar.gz/{LOG_NAME}",
        f"diag.zip/diagnostic_log_vcsc.tar.gz/{XSTAT_NAME}",
    ]
    first = f"diag.zip/diagnostic_log_vcsc.tar.gz/{LOG_NAME}"
    copy = "diag.zip/diagnostic_log_vcsc/loggingsnapshot_vcsc_2022-07-11_17_33_18.txt"
    assert (
        f"{copy}: the same content as {first} (the same file twice in one upload); analysed "
        f"once, as {first}."
    ) in report.warnings
    assert not list((tmp_path / "work-rezipped").rglob("*_17_33_18.txt"))  # copies removed


def test_the_same_bundle_uploaded_twice_in_one_request_is_analysed_once(tmp_path: Path) -> None:
    bundle = make_tar(_members())
    single = _analyze(tmp_path, {"diagnostic_log_vcsc.tar.gz": bundle}, "single")

    inputs = [
        Input(write_upload(tmp_path / "twice" / str(n), "diagnostic_log_vcsc.tar.gz", bundle), name)
        for n, name in enumerate(["diagnostic_log_vcsc.tar.gz", "diagnostic_log_vcsc.tar.gz"])
    ]
    twice = analyze(inputs, tmp_path / "work-twice", LIBRARY, Limits(), jobs=1)

    assert _counts(twice) == _counts(single)
    assert [node.bundle for node in twice.nodes] == ["diagnostic_log_vcsc.tar.gz"]
    assert twice.warnings[0] == (
        "diagnostic_log_vcsc.tar.gz (2): the same file as diagnostic_log_vcsc.tar.gz "
        "(identical content, uploaded twice); analysed once, as diagnostic_log_vcsc.tar.gz."
    )


def test_two_peers_with_an_identical_file_keep_it_each(tmp_path: Path) -> None:
    shared = {"ca_trust.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}
    peer1 = make_tar({**shared, "a.txt": "peer one\n"})
    peer2 = make_tar({**shared, "a.txt": "peer two\n"})

    report = _analyze(tmp_path, {"peer1.tar.gz": peer1, "peer2.tar.gz": peer2}, "peers")

    assert sorted(f.name for f in report.files if f.name.endswith(".pem")) == [
        "peer1.tar.gz/ca_trust.pem",
        "peer2.tar.gz/ca_trust.pem",
    ]
    assert not [w for w in report.warnings if "same" in w]


def test_same_content_in_a_different_part_is_kept(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    data = make_tar({"ca_node.pem": pem, "server_node.pem": pem, "a.log": "x\n", "b.log": "x\n"})
    src = write_upload(tmp_path, "diag.tar.gz", data)

    result = unpack_upload(src, "diag.tar.gz", tmp_path / "work")

    assert [file.name for file in result.files] == [
        "diag.tar.gz/ca_node.pem",
        "diag.tar.gz/server_node.pem",
        "diag.tar.gz/a.log",
    ]
    assert result.warnings == [
        "diag.tar.gz/b.log: the same content as diag.tar.gz/a.log (the same file twice in one "
        "upload); analysed once, as diag.tar.gz/a.log."
    ]
    assert not (tmp_path / "work" / "diag.tar.gz" / "b.log").exists()


def test_empty_files_are_not_duplicates(tmp_path: Path) -> None:
    src = write_upload(tmp_path, "diag.tar.gz", make_tar({"a.log": "", "b.log": ""}))
    result = unpack_upload(src, "diag.tar.gz", tmp_path / "work")
    assert len(result.files) == 2 and result.warnings == []


def test_same_size_different_content_is_not_a_duplicate(tmp_path: Path) -> None:
    src = write_upload(tmp_path, "diag.tar.gz", make_tar({"a.log": "one\n", "b.log": "two\n"}))
    result = unpack_upload(src, "diag.tar.gz", tmp_path / "work")
    assert len(result.files) == 2 and result.warnings == []


@pytest.mark.parametrize(
    "size", [0, 1, HASH_PIECE_BYTES - 1, HASH_PIECE_BYTES, HASH_PIECE_BYTES + 1, 4 * 2**20 + 3]
)
def test_a_block_hashed_in_pieces_has_the_digest_of_the_whole(size: int) -> None:
    """Blocks go to xxhash in pieces of at most HASH_PIECE_BYTES (a whole block of the
    unpacker: one call without the GIL); the digest is the whole's."""
    block = bytes(range(256)) * (size // 256) + bytes(size % 256)
    given: list[int] = []

    class Recording:
        def __init__(self) -> None:
            self.inner = new_hasher()

        def update(self, piece: bytes | memoryview) -> None:
            given.append(len(piece))
            self.inner.update(piece)

    hasher = Recording()
    hash_into(hasher, block)  # type: ignore[arg-type]
    assert hasher.inner.digest() == xxhash.xxh3_128(block).digest()
    assert sum(given) == size
    assert max(given) <= HASH_PIECE_BYTES
