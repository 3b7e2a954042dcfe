"""Hostile archives: nothing may land outside the work dir, links and devices are refused."""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

from app.report import BundleFile
from tests.factories import (
    Unpack,
    assert_contained,
    device_member,
    fifo_member,
    hardlink_member,
    make_symlink_zip,
    make_tar,
    make_tar_with_special,
    make_traversal_tar,
    make_traversal_zip,
    symlink_member,
)


def _names(files: list[BundleFile]) -> list[str]:
    return [file.name for file in files]


def test_tar_path_traversal_and_absolute_members_are_skipped(
    unpack: Unpack, tmp_path: Path, work_dir: Path
) -> None:
    result = unpack("diag.tar.gz", make_traversal_tar())

    assert _names(result.files) == ["diag.tar.gz/ok.txt"]
    assert any("../escaped.txt" in w and "'..'" in w for w in result.warnings)
    assert any("/etc/escaped3.txt" in w and "absolute" in w for w in result.warnings)
    assert not (tmp_path / "escaped.txt").exists()
    assert_contained(tmp_path, work_dir)


def test_zip_path_traversal_with_either_slash_is_skipped(
    unpack: Unpack, tmp_path: Path, work_dir: Path
) -> None:
    result = unpack("diag.zip", make_traversal_zip())

    assert _names(result.files) == ["diag.zip/ok.txt"]
    assert len(result.warnings) == 3
    assert any("escaped4.txt" in w for w in result.warnings)
    assert_contained(tmp_path, work_dir)


def test_tar_symlink_and_hardlink_are_never_followed(
    unpack: Unpack, tmp_path: Path, work_dir: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy me\n")
    specials = [symlink_member("link", str(secret)), hardlink_member("hard", str(secret))]
    data = make_tar_with_special(specials, {"ok.txt": "fine\n"})

    result = unpack("diag.tar.gz", data)

    assert _names(result.files) == ["diag.tar.gz/ok.txt"]
    assert any("link: skipped" in w and "symbolic link" in w for w in result.warnings)
    assert any("hard: skipped" in w and "hard link" in w for w in result.warnings)
    for file in result.files:
        assert "do not copy me" not in file.path.read_text()
    assert_contained(tmp_path, work_dir, secret)


def test_tar_symlink_then_file_through_it_cannot_escape(
    unpack: Unpack, tmp_path: Path, work_dir: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = make_tar_with_special([symlink_member("logs", str(outside))], {"logs/x.txt": "x\n"})

    result = unpack("diag.tar.gz", data)

    assert list(outside.iterdir()) == []
    assert _names(result.files) == ["diag.tar.gz/logs/x.txt"]
    assert result.files[0].path.is_relative_to(work_dir.resolve())
    assert_contained(tmp_path, work_dir, outside)


def test_zip_symlink_member_is_skipped(unpack: Unpack, tmp_path: Path, work_dir: Path) -> None:
    result = unpack("diag.zip", make_symlink_zip())

    assert _names(result.files) == ["diag.zip/ok.txt"]
    assert any("passwd-link" in w and "symbolic link" in w for w in result.warnings)
    assert_contained(tmp_path, work_dir)


def test_device_and_fifo_members_are_skipped(
    unpack: Unpack, tmp_path: Path, work_dir: Path
) -> None:
    specials = [device_member("null"), device_member("disk", block=True), fifo_member("pipe")]
    data = make_tar_with_special(specials, {"ok.txt": "fine\n"}, compress=False)

    result = unpack("diag.tar", data)

    assert _names(result.files) == ["diag.tar/ok.txt"]
    assert sum("device file" in w for w in result.warnings) == 2
    assert any("pipe: skipped" in w and "FIFO" in w for w in result.warnings)
    for path in work_dir.rglob("*"):
        mode = path.lstat().st_mode
        assert stat.S_ISREG(mode) or stat.S_ISDIR(mode)
    assert_contained(tmp_path, work_dir)


def _tar_with_pax_path(path: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("placeholder.txt")
        info.size = 3
        info.pax_headers = {"path": path}
        archive.addfile(info, io.BytesIO(b"hi\n"))
        good = tarfile.TarInfo("ok.txt")
        good.size = 3
        archive.addfile(good, io.BytesIO(b"ok\n"))
    return buffer.getvalue()


def test_member_name_with_nul_is_skipped(unpack: Unpack) -> None:
    result = unpack("diag.tar", _tar_with_pax_path("evil\x00.txt"))

    assert _names(result.files) == ["diag.tar/ok.txt"]
    assert any("NUL" in w for w in result.warnings)


def test_member_with_empty_name_is_skipped(unpack: Unpack) -> None:
    result = unpack("diag.tar", _tar_with_pax_path("./"))

    assert _names(result.files) == ["diag.tar/ok.txt"]
    assert any("name is empty" in w for w in result.warnings)


def test_control_characters_in_names_are_replaced(unpack: Unpack) -> None:
    result = unpack("diag.tar.gz", make_tar({"logs/bad\x01name:12.txt": "x\n"}))

    assert _names(result.files) == ["diag.tar.gz/logs/bad_name:12.txt"]
    assert result.files[0].path.name == "bad_name:12.txt"


def test_duplicate_member_keeps_the_first_copy(unpack: Unpack) -> None:
    first = make_tar({"a.txt": "first\n"}, compress=False)
    second = make_tar({"a.txt": "second\n"}, compress=False)
    doubled = _concat_tars(first, second)

    result = unpack("diag.tar", doubled)

    assert _names(result.files) == ["diag.tar/a.txt"]
    assert result.files[0].path.read_text() == "first\n"
    assert any("already unpacked" in w for w in result.warnings)


def _concat_tars(first: bytes, second: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for data in (first, second):
            with tarfile.open(fileobj=io.BytesIO(data)) as source:
                for member in source.getmembers():
                    archive.addfile(member, source.extractfile(member))
    return buffer.getvalue()


def test_files_are_created_with_mode_644_inside_the_work_dir(unpack: Unpack) -> None:
    result = unpack("diag.tar.gz", make_tar({"a/b/c.txt": "x\n"}))

    (file,) = result.files
    assert stat.S_IMODE(file.path.stat().st_mode) == 0o644
    assert file.path.is_absolute()
