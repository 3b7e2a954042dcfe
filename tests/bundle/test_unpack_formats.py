"""Each supported upload type unpacks to the right names; broken input fails with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bundle.unpack import sniff_upload_type
from app.errors import CorruptArchive
from app.report import BundleFile, FileKind
from tests.factories import (
    Unpack,
    assert_contained,
    make_gz,
    make_nested_bundle,
    make_tar,
    make_truncated_tar_gz,
    make_zip,
    random_bytes,
)

LOG_LINE = '2024-05-02T10:00:00.123+02:00 expe tvcs: UTCTime="2024-05-02 08:00:00,123" Module="x"\n'
PCAP_HEADER = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(8) + b"\xff\xff\x00\x00\x01\x00\x00\x00"


def _by_name(files: list[BundleFile]) -> dict[str, BundleFile]:
    return {file.name: file for file in files}


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("diag.tar.gz", lambda m: make_tar(m, compress=True)),
        ("diag.tgz", lambda m: make_tar(m, compress=True)),
        ("diag.tar", lambda m: make_tar(m, compress=False)),
        ("diag.zip", make_zip),
    ],
)
def test_archive_members_are_named_after_the_upload(
    unpack: Unpack, tmp_path: Path, work_dir: Path, name: str, build: object
) -> None:
    members = {"diagnostic_log/loggingsnapshot_expe_2024-05-02.txt": LOG_LINE, "n.txt": "n\n"}

    result = unpack(name, build(members))  # type: ignore[operator]

    assert sorted(file.name for file in result.files) == [
        f"{name}/diagnostic_log/loggingsnapshot_expe_2024-05-02.txt",
        f"{name}/n.txt",
    ]
    snapshot = next(f for f in result.files if "loggingsnapshot" in f.name)
    assert snapshot.kind is FileKind.LOGGINGSNAPSHOT
    assert snapshot.bundle == name
    assert snapshot.path.read_text() == LOG_LINE
    assert snapshot.size == len(LOG_LINE)
    assert result.warnings == []
    assert_contained(tmp_path, work_dir)


def test_archive_recognised_by_content_whatever_its_name(unpack: Unpack) -> None:
    result = unpack("bundle.zip", make_tar({"a.txt": "a\n"}, compress=True))

    assert [file.name for file in result.files] == ["bundle.zip/a.txt"]


def test_nested_archives_become_path_segments(unpack: Unpack) -> None:
    result = unpack("diag.tar.gz", make_nested_bundle({"logs/deep.txt": LOG_LINE}))

    assert sorted(file.name for file in result.files) == [
        "diag.tar.gz/middle.zip/inner.tar.gz/logs/deep.txt",
        "diag.tar.gz/middle.zip/middle-note.txt",
        "diag.tar.gz/outer-note.txt",
    ]
    deep = next(f for f in result.files if f.name.endswith("deep.txt"))
    assert deep.path.read_text() == LOG_LINE
    assert deep.kind is FileKind.LOG
    assert not list(deep.path.parents[3].glob(".loupe-spool-*")), "spool files must be removed"


def test_rotated_gz_logs_inside_a_tar_are_decompressed(unpack: Unpack) -> None:
    rotated = {f"log/messages.{n}.gz": make_gz(LOG_LINE * n) for n in (1, 2)}
    result = unpack("diag.tar.gz", make_tar({"log/messages": LOG_LINE * 3, **rotated}))

    files = _by_name(result.files)
    assert sorted(files) == [
        "diag.tar.gz/log/messages",
        "diag.tar.gz/log/messages.1",
        "diag.tar.gz/log/messages.2",
    ]
    assert files["diag.tar.gz/log/messages.2"].path.read_text() == LOG_LINE * 2
    assert all(f.kind is FileKind.LOG for f in result.files)


def test_single_gz_upload_is_decompressed(unpack: Unpack) -> None:
    result = unpack("loggingsnapshot_expe_2024.txt.gz", make_gz(LOG_LINE))

    (file,) = result.files
    assert file.name == "loggingsnapshot_expe_2024.txt.gz/loggingsnapshot_expe_2024.txt"
    assert file.kind is FileKind.LOGGINGSNAPSHOT
    assert file.path.read_text() == LOG_LINE


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("expe.log", LOG_LINE, FileKind.LOG),
        ("server_expe_2024.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n", FileKind.PEM),
        ("capture.pcap", PCAP_HEADER, FileKind.PCAP),
    ],
)
def test_plain_uploads_are_copied_as_they_are(
    unpack: Unpack, work_dir: Path, name: str, data: str | bytes, kind: FileKind
) -> None:
    result = unpack(name, data)

    (file,) = result.files
    assert (file.name, file.bundle, file.kind) == (name, name, kind)
    raw = data.encode() if isinstance(data, str) else data
    assert file.path.read_bytes() == raw
    assert file.path.parent == work_dir.resolve()


def test_zip_cut_before_its_first_file_is_reported(unpack: Unpack) -> None:
    data = make_zip({"a.txt": random_bytes(10_000)})[:20]  # inside the first header

    with pytest.raises(CorruptArchive, match=r"diag\.zip: the zip archive is truncated"):
        unpack("diag.zip", data)


@pytest.mark.parametrize("name", ["diag.tar.gz", "diag.zip", "diag.tar", "diag.gz"])
def test_random_bytes_named_as_an_archive_are_refused(unpack: Unpack, name: str) -> None:
    with pytest.raises(CorruptArchive, match="re-download"):
        unpack(name, random_bytes(4000))


def test_gzip_with_garbage_inside_is_reported(unpack: Unpack) -> None:
    good = make_gz(random_bytes(20_000))
    broken = good[:10] + bytes(b ^ 0x5A for b in good[10:200]) + good[200:]

    with pytest.raises(CorruptArchive, match=r"diag\.tar\.gz: .*gzip"):
        unpack("diag.tar.gz", broken)


def test_corrupt_archive_inside_a_good_one_is_a_warning(unpack: Unpack) -> None:
    broken = make_truncated_tar_gz({"x.bin": random_bytes(100_000)})
    result = unpack("diag.zip", make_zip({"inner.tar.gz": broken, "ok.txt": "ok\n"}))

    # the member the inner archive breaks off in is kept as far as it was read
    assert [file.name for file in result.files] == [
        "diag.zip/inner.tar.gz/x.bin",
        "diag.zip/ok.txt",
    ]
    assert any(
        w.startswith("diag.zip/inner.tar.gz: ") and "truncated" in w for w in result.warnings
    )


@pytest.mark.parametrize(
    ("name", "data"),
    [("diag.zip", make_zip({})), ("diag.tar.gz", make_tar({})), ("diag.tar", make_tar({}, False))],
)
def test_empty_archive_gives_no_files_and_says_so(unpack: Unpack, name: str, data: bytes) -> None:
    result = unpack(name, data)

    assert result.files == []
    assert result.warnings == [f"{name}: the archive holds no files."]


def test_empty_upload_gives_no_files_and_says_so(unpack: Unpack) -> None:
    result = unpack("empty.txt", b"")

    assert result.files == []
    assert "empty" in result.warnings[0]


def test_unknown_binary_upload_is_kept_as_unknown_with_a_warning(unpack: Unpack) -> None:
    result = unpack("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(100))

    (file,) = result.files
    assert file.kind is FileKind.UNKNOWN
    assert "not a format logloupe reads" in result.warnings[0]


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (make_tar({"a.txt": "a"}, compress=False)[:4096], "x.tar", "tar"),
        (make_tar({"a.txt": "a"}, compress=True)[:4096], "x.tar.gz", "gzip"),
        (make_gz("a")[:4096], "x.gz", "gzip"),
        (make_zip({"a.txt": "a"})[:4096], "x.zip", "zip"),
        (make_zip({})[:4096], "empty.zip", "zip"),
        (PCAP_HEADER, "x.pcap", "pcap"),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a", "x.pcapng", "pcapng"),
        (LOG_LINE.encode(), "whatever.bin", "text"),
        ("Zürich café ☕ log\n".encode(), "x.txt", "text"),
        (b"-----BEGIN CERTIFICATE-----\nMIIB\n", "ca.pem", "text"),
        (b"\x7fELF\x02\x01\x01" + bytes(60), "x.txt", None),
        (b"\x89PNG\r\n\x1a\n" + bytes(60), "x.png", None),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", "x.pdf", None),
        (random_bytes(4096), "x.bin", None),
        (b"", "x.txt", None),
    ],
)
def test_sniff_upload_type(head: bytes, name: str, expected: str | None) -> None:
    assert sniff_upload_type(head, name) == expected


def test_sniff_accepts_latin1_text_only_when_named_as_text() -> None:
    latin1 = "Système arrêté à Genève, éèàùç".encode("latin-1") * 3

    assert sniff_upload_type(latin1, "notes.txt") == "text"
    assert sniff_upload_type(latin1, "notes.bin") is None


def test_zip_member_with_an_unknown_compression_is_skipped_and_the_rest_kept(
    unpack: Unpack,
) -> None:
    data = bytearray(make_zip({"a.log": "kept\n", "b.log": "unreadable\n"}))
    # zip method 98 (PPMd), unknown to zipfile: patch b.log's local and central headers
    local = data.index(b"PK\x03\x04", 4)  # the second member's local header
    central = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)
    data[local + 8 : local + 10] = (98).to_bytes(2, "little")
    data[central + 10 : central + 12] = (98).to_bytes(2, "little")
    result = unpack("diag.zip", bytes(data))
    assert [f.name for f in result.files] == ["diag.zip/a.log"]
    assert any(
        "diag.zip/b.log" in w and "compression logloupe cannot read" in w for w in result.warnings
    )
