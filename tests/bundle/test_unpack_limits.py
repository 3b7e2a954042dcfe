"""Limits: bombs and oversize bundles are refused whole; big members and deep nesting skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bundle.unpack import Limits
from app.errors import LimitExceeded
from app.report import FileKind
from tests.factories import (
    Unpack,
    assert_contained,
    make_deep_nesting,
    make_gz,
    make_gzip_bomb,
    make_tar,
    make_tar_with_special,
    make_zip,
    make_zip_bomb,
    symlink_member,
)

SMALL = Limits(
    max_total_bytes=4 * 2**20,
    max_members=50,
    max_member_bytes=2**20,
    max_ratio=50.0,
    max_depth=3,
    ratio_grace_bytes=256 * 2**10,
)


def _leftover_files(work_dir: Path) -> list[Path]:
    return [path for path in work_dir.rglob("*") if path.is_file()] if work_dir.exists() else []


def test_gzip_bomb_is_refused_and_nothing_is_left_behind(
    unpack: Unpack, tmp_path: Path, work_dir: Path
) -> None:
    bomb = make_gzip_bomb(20 * 2**20)  # 20 MB of zeros in ~20 KB
    limits = Limits(max_ratio=50.0, ratio_grace_bytes=2**20)

    with pytest.raises(LimitExceeded, match="decompression bomb"):
        unpack("diag.tar.gz", bomb, limits)

    assert _leftover_files(work_dir) == []
    assert_contained(tmp_path, work_dir)


def test_zip_bomb_is_refused_from_its_declared_sizes(unpack: Unpack, work_dir: Path) -> None:
    bomb = make_zip_bomb(8 * 2**20)

    with pytest.raises(LimitExceeded, match=r"diag\.zip/zeros\.log.*decompression bomb"):
        unpack("diag.zip", bomb, Limits(ratio_grace_bytes=2**20))

    assert _leftover_files(work_dir) == []


def test_bomb_nested_in_a_zip_is_refused(unpack: Unpack) -> None:
    data = make_zip({"inner.tar.gz": make_gzip_bomb(8 * 2**20)})

    with pytest.raises(LimitExceeded, match=r"inner\.tar\.gz.*decompression bomb"):
        unpack("diag.zip", data, Limits(ratio_grace_bytes=2**20))


def test_compressible_files_below_the_grace_size_are_fine(unpack: Unpack) -> None:
    data = make_tar({"quiet.log": "2024-01-01T00:00:00+00:00 h tvcs: same\n" * 5000})

    result = unpack("diag.tar.gz", data, SMALL)

    assert [file.name for file in result.files] == ["diag.tar.gz/quiet.log"]


def test_too_many_members_refuses_the_bundle(unpack: Unpack, work_dir: Path) -> None:
    members = {f"f{index}.txt": "x\n" for index in range(60)}

    with pytest.raises(LimitExceeded, match="more than 50 files"):
        unpack("diag.tar.gz", make_tar(members), SMALL)

    assert _leftover_files(work_dir) == []


def test_member_count_includes_nested_archives(unpack: Unpack) -> None:
    inner = make_zip({f"f{index}.txt": "x\n" for index in range(40)})
    outer = make_tar({"inner.zip": inner, **{f"g{index}.txt": "y\n" for index in range(15)}})

    with pytest.raises(LimitExceeded, match="files and folders"):
        unpack("diag.tar.gz", outer, SMALL)


def test_total_unpacked_bytes_limit_refuses_the_bundle(unpack: Unpack, work_dir: Path) -> None:
    chunk = bytes(range(256)) * 3000  # 768 KB each, incompressible enough for the ratio
    members = {f"part{index}.bin": chunk for index in range(8)}  # ~6 MB > 4 MB

    with pytest.raises(LimitExceeded, match="unpacks to more than 4.0 MB"):
        unpack("diag.tar", make_tar(members, compress=False), SMALL)

    assert _leftover_files(work_dir) == []


def test_oversize_member_is_skipped_and_the_rest_kept(unpack: Unpack, work_dir: Path) -> None:
    big = bytes(range(256)) * 6000  # 1.5 MB > 1 MB per-file limit
    data = make_zip({"big.pcap": big, "small.txt": "kept\n"})

    result = unpack("diag.zip", data, SMALL)

    assert [file.name for file in result.files] == ["diag.zip/small.txt"]
    assert any("big.pcap: skipped" in w and "larger than" in w for w in result.warnings)
    assert not (work_dir / "diag.zip" / "big.pcap").exists()


def test_oversize_single_gz_member_is_skipped_after_counting_real_bytes(unpack: Unpack) -> None:
    # The tar header says the .gz is small; only the decompressed bytes reveal the size.
    rotated = make_gz(bytes(range(256)) * 6000)
    data = make_tar({"messages.1.gz": rotated, "ok.txt": "x\n"}, compress=False)

    result = unpack("diag.tar", data, Limits(max_member_bytes=2**20))

    assert [file.name for file in result.files] == ["diag.tar/ok.txt"]
    assert any("messages.1.gz: skipped" in w and "larger than" in w for w in result.warnings)


def test_archives_nested_deeper_than_the_limit_are_kept_unopened(unpack: Unpack) -> None:
    data = make_deep_nesting(5, {"deep.txt": "deep\n"})

    result = unpack("diag.tar.gz", data, SMALL)

    (kept,) = result.files
    assert kept.name == ("diag.tar.gz/level2.tar.gz/level3.tar.gz/level4.tar.gz/level5.tar.gz")
    assert kept.kind is FileKind.UNKNOWN
    assert any("nested more than 3 deep" in w for w in result.warnings)


def test_archives_within_the_depth_limit_are_opened(unpack: Unpack) -> None:
    data = make_deep_nesting(4, {"deep.txt": "deep\n"})

    result = unpack("diag.tar.gz", data, SMALL)

    assert [file.name for file in result.files] == [
        "diag.tar.gz/level2.tar.gz/level3.tar.gz/level4.tar.gz/deep.txt"
    ]
    assert result.warnings == []


@pytest.mark.parametrize(
    ("name", "data"),
    [("big.log", "x" * 3000), ("big.log.gz", make_gz("x" * 3000))],
)
def test_oversize_single_file_upload_is_skipped_with_a_warning(
    unpack: Unpack, work_dir: Path, name: str, data: str | bytes
) -> None:
    result = unpack(name, data, Limits(max_member_bytes=1000))

    assert result.files == []
    assert result.warnings[0].startswith(f"{name}: skipped, it is larger than")
    assert _leftover_files(work_dir) == []


def test_zip_of_many_small_bombs_is_caught_by_the_actual_bytes(
    unpack: Unpack, work_dir: Path
) -> None:
    # Each member stays under the grace size, so only the running total reveals the bomb.
    members = {f"part{index}.log": bytes(2**20) for index in range(12)}

    with pytest.raises(LimitExceeded, match=r"diag\.zip: refused as a decompression bomb"):
        unpack("diag.zip", make_zip(members), Limits(ratio_grace_bytes=4 * 2**20))

    assert _leftover_files(work_dir) == []


def test_warnings_about_single_members_are_listed_up_to_a_bound(unpack: Unpack) -> None:
    links = [symlink_member(f"link{n}", "/etc/passwd") for n in range(250)]
    whole = make_tar_with_special(links, {"ok.txt": "fine\n"})
    result = unpack("diag.tar.gz", whole[:-8])  # no gzip trailer: its own warning still shows

    assert [file.name for file in result.files] == ["diag.tar.gz/ok.txt"]
    assert result.warnings[:2] == [
        "diag.tar.gz/link0: skipped, it is a symbolic link to '/etc/passwd' (never followed).",
        "diag.tar.gz/link1: skipped, it is a symbolic link to '/etc/passwd' (never followed).",
    ]
    assert len(result.warnings) == 100 + 2
    assert result.warnings[-2].startswith("diag.tar.gz: the gzip-compressed file is truncated")
    assert result.warnings[-1] == (
        "diag.tar.gz: 150 more warnings about single files are not listed (the first 100 are)."
    )
