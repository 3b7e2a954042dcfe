"""Damaged uploads: what was read before the damage is kept and named; nothing read: refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from app.bundle.stored import open_stored
from app.bundle.unpack import Limits, unpack_upload
from app.errors import CorruptArchive
from app.report import BundleFile
from app.signatures import load_library
from app.worker.pipeline import Input, analyze
from tests.corpus import seed_scenario_lines
from tests.factories import Unpack, make_gz, make_tar, make_zip, random_bytes, write_upload

LOG = "".join(
    f'2024-05-02T10:00:{n % 60:02d}.123+02:00 expe tvcs: UTCTime="2024-05-02 08:00:00,123" '
    f'Module="network.sip" Level="INFO": Detail="line {n}"\n'
    for n in range(4000)
)


def _by_name(files: list[BundleFile]) -> dict[str, BundleFile]:
    return {file.name: file for file in files}


@pytest.mark.parametrize("threads", [0, 1])
def test_a_tar_gz_cut_in_the_middle_keeps_every_byte_before_the_cut(
    tmp_path: Path, threads: int
) -> None:
    noise = random_bytes(300_000)
    whole = make_tar({"first.txt": LOG, "second.bin": noise, "third.txt": LOG})
    src = write_upload(tmp_path, "diag.tar.gz", whole[: int(len(whole) * 0.7)])

    result = unpack_upload(src, "diag.tar.gz", tmp_path / "work", inflate_threads=threads)

    files = _by_name(result.files)
    assert files["diag.tar.gz/first.txt"].path.read_text() == LOG
    cut = files["diag.tar.gz/second.bin"].path.read_bytes()
    assert 0 < len(cut) < len(noise) and noise.startswith(cut)
    assert "diag.tar.gz/third.txt" not in files
    assert result.warnings == [
        f"diag.tar.gz/second.bin: truncated at byte {len(cut):,}: the archive breaks off "
        f"inside this file; the {len(cut) / 1024:.1f} KB before the break were kept and "
        "analysed.",
        "diag.tar.gz: the gzip-compressed file is truncated (it ends in the middle). "
        "Everything read before the damage was analysed; what comes after it could not be "
        "read, so findings may be missing. Re-download the bundle from the Expressway and "
        "upload it again for a complete analysis.",
    ]


def test_a_plain_tar_cut_short_keeps_the_member_it_breaks_off_in(unpack: Unpack) -> None:
    data = random_bytes(50_000)
    result = unpack("diag.tar", make_tar({"a.bin": data}, compress=False)[:20_000])

    (file,) = result.files
    assert data.startswith(file.path.read_bytes()) and file.size == 20_000 - 512
    assert "diag.tar: the tar archive is truncated" in result.warnings[-1]


def test_a_short_member_cut_inside_its_first_block_is_kept(unpack: Unpack) -> None:
    # The member is shorter than the sniffing head: the cut must not lose what was read.
    small = LOG[:3000]
    whole = make_tar({"small.txt": small, "big.bin": random_bytes(100_000)}, compress=False)
    result = unpack("diag.tar", whole[: 512 + 2000])

    (file,) = result.files
    assert file.path.read_text() == small[:2000]
    assert "truncated at byte 2,000" in result.warnings[0]


def test_an_upload_cut_before_any_file_is_refused_and_leaves_nothing(
    unpack: Unpack, work_dir: Path
) -> None:
    whole = make_tar({"a.txt": LOG})
    with pytest.raises(CorruptArchive, match=r"diag\.tar\.gz: .*truncated.*re-download"):
        unpack("diag.tar.gz", whole[:30])
    assert not [p for p in work_dir.rglob("*") if p.is_file()]


def test_a_bad_gzip_checksum_keeps_the_whole_tar_and_says_so(unpack: Unpack) -> None:
    whole = bytearray(make_tar({"a.txt": LOG, "b.txt": LOG + "end\n"}))
    whole[-8] ^= 0xFF  # the CRC-32 in the gzip trailer

    result = unpack("diag.tar.gz", bytes(whole))

    assert [file.path.read_text() for file in result.files] == [LOG, LOG + "end\n"]
    (warning,) = result.warnings
    assert warning.startswith("diag.tar.gz: the gzip-compressed file is damaged")
    assert "Everything read before the damage was analysed" in warning


def test_a_single_gz_log_cut_short_keeps_its_lines(unpack: Unpack) -> None:
    whole = make_gz(LOG * 10)
    result = unpack("messages.log.gz", whole[: len(whole) // 2])

    (file,) = result.files
    with open_stored(file.path) as stream:  # kept compressed: over 1 MiB
        kept = stream.read().decode()
    assert 0 < len(kept) < len(LOG) * 10 and (LOG * 10).startswith(kept)
    assert result.warnings[0].startswith("messages.log.gz/messages.log: truncated at byte")


def test_a_zip_member_with_a_bad_checksum_is_named_and_the_others_are_read(
    unpack: Unpack,
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("a.txt", b"A" * 1000)
        archive.writestr("b.txt", LOG)
    data = bytearray(buffer.getvalue())
    data[data.index(b"A" * 1000) + 500] = ord("B")

    result = unpack("diag.zip", bytes(data))

    assert [file.name for file in result.files] == ["diag.zip/b.txt"]
    (warning,) = result.warnings
    assert warning.startswith("diag.zip/a.txt: could not be read (Bad CRC-32")
    assert "the zip's other files were still read" in warning


def test_a_cut_archive_nested_in_a_good_one_gives_what_it_holds(unpack: Unpack) -> None:
    inner = make_tar({"inner.txt": LOG, "rest.bin": random_bytes(100_000)})
    outer = make_zip({"inner.tar.gz": inner[: len(inner) // 2], "ok.txt": "ok\n"})

    result = unpack("diag.zip", outer)

    files = _by_name(result.files)
    assert files["diag.zip/inner.tar.gz/inner.txt"].path.read_text() == LOG
    assert "diag.zip/ok.txt" in files
    assert any(w.startswith("diag.zip/inner.tar.gz: the gzip-compressed") for w in result.warnings)


def test_an_outer_archive_cut_inside_a_nested_one_keeps_the_nested_files(
    unpack: Unpack,
) -> None:
    inner = make_tar({"inner.txt": LOG, "rest.bin": random_bytes(200_000)}, compress=False)
    outer = make_tar({"inner.tar": inner}, compress=False)

    result = unpack("diag.tar", outer[: 512 + 512 + len(LOG) + 512 + 100_000])

    files = _by_name(result.files)
    assert files["diag.tar/inner.tar/inner.txt"].path.read_text() == LOG
    assert files["diag.tar/inner.tar/rest.bin"].size < 100_000
    assert any(w.startswith("diag.tar: the tar archive is truncated") for w in result.warnings)


def test_limits_still_hold_for_a_damaged_upload(unpack: Unpack) -> None:
    whole = make_tar({"a.txt": "fine\n", "b.bin": random_bytes(50_000)})
    result = unpack("diag.tar.gz", whole[:-100], Limits(max_member_bytes=1000))
    assert [file.name for file in result.files] == ["diag.tar.gz/a.txt"]
    assert result.warnings[0].startswith("diag.tar.gz/b.bin: skipped, it is larger than")


def _zip(members: dict[str, bytes], *, streamed: bool = False) -> bytes:
    """A deflated zip; `streamed`: sizes written after each member's data, as by a pipe."""
    buffer = _Unseekable() if streamed else io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            with archive.open(name, "w") as member:
                member.write(data)
    return buffer.getvalue()


class _Unseekable(io.BytesIO):
    def seekable(self) -> bool:
        return False

    def seek(self, *args: object) -> int:
        raise io.UnsupportedOperation("not seekable")


@pytest.mark.parametrize("streamed", [False, True], ids=["sizes-in-headers", "data-descriptors"])
def test_a_zip_cut_before_its_table_of_contents_is_read_by_its_local_headers(
    unpack: Unpack, streamed: bool
) -> None:
    noise = random_bytes(300_000)
    whole = _zip(
        {"first.txt": LOG.encode(), "second.bin": noise, "third.txt": b"x\n"}, streamed=streamed
    )
    result = unpack("diag.zip", whole[: len(whole) * 2 // 3])

    files = _by_name(result.files)
    assert files["diag.zip/first.txt"].path.read_text() == LOG
    cut = files["diag.zip/second.bin"].path.read_bytes()
    assert 0 < len(cut) < len(noise) and noise.startswith(cut)
    assert "diag.zip/third.txt" not in files
    assert result.warnings[-1].startswith("diag.zip: the zip archive is truncated")
    assert "Everything read before the damage was analysed" in result.warnings[-1]


def test_a_zip_missing_only_its_table_of_contents_gives_every_member(unpack: Unpack) -> None:
    whole = _zip({"a.txt": LOG.encode(), "b.txt": b"bee\n", "c.bin": random_bytes(5000)})
    toc = whole.index(b"PK\x01\x02")

    result = unpack("diag.zip", whole[:toc])

    assert [file.name for file in result.files] == [
        "diag.zip/a.txt",
        "diag.zip/b.txt",
        "diag.zip/c.bin",
    ]
    assert result.files[0].path.read_text() == LOG
    (warning,) = result.warnings
    assert warning.startswith("diag.zip: the zip archive has no table of contents")


def test_a_cut_zip_still_refuses_unsafe_names(unpack: Unpack, work_dir: Path) -> None:
    whole = _zip({"../escape.txt": b"out\n", "ok.txt": LOG.encode()})
    result = unpack("diag.zip", whole[: whole.index(b"PK\x01\x02")])

    assert [file.name for file in result.files] == ["diag.zip/ok.txt"]
    assert result.warnings[0] == "diag.zip/../escape.txt: skipped, its path contains '..'."
    assert not (work_dir.parent / "escape.txt").exists()


@pytest.mark.parametrize("prescan", [True, False], ids=["while-unpacking", "read-back"])
def test_the_lines_of_a_member_cut_off_are_analysed(tmp_path: Path, prescan: bool) -> None:
    seed = "\n".join(seed_scenario_lines("self_signed")) + "\n"
    log = LOG[:200_000] + seed + LOG + LOG  # the problem early, the cut later in the log
    whole = make_tar({"loggingsnapshot_vcsc_2022-07-11_17_33_18.txt": log}, compress=False)
    upload = write_upload(tmp_path, "diag.tar", whole[:600_000])

    report = analyze(
        [Input(upload, "diag.tar")],
        tmp_path / "work",
        load_library(),
        Limits(),
        jobs=2,
        scan_while_unpacking=prescan,
    )

    (finding,) = [
        f for f in report.findings if f.signature_id == "mra-traffic-server-cert-verification"
    ]
    assert finding.snippets[0].line == LOG[:200_000].count("\n") + 1
    assert report.warnings[0].startswith(
        "diag.tar/loggingsnapshot_vcsc_2022-07-11_17_33_18.txt: truncated at byte 599,488"
    )
