"""Unpack limits hold across nesting levels and across all uploads of one analysis.

The hostile inputs of issue 11 (nested gzip bomb, huge PAX header, many tiny members spread
over several uploads) are generated here, small on disk, and must stop at the limit with a
reason a person understands, in bounded memory; a normal bundle right after still analyses.
"""

from __future__ import annotations

import io
import struct
import tarfile
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from app.bundle.budget import Limits, LocalTotals, UnpackBudget
from app.bundle.unpack import BLOCK_BYTES, unpack_upload
from app.errors import LimitExceeded
from app.signatures import load_library
from app.worker.pipeline import Input, analyze
from tests.corpus import seed_scenario_lines, xstat_dump
from tests.factories import make_gz, make_tar, write_upload

LIBRARY = load_library()


def _nested_gzip_bomb(unpacked_gib: int) -> bytes:
    """A tar.gz holding logs.gz.gz: gzip of `unpacked_gib` GiB of zeros as 1 MiB gzip members
    (a multi-member gzip), compressed once more. About 20 KB per GiB on disk."""
    one_mib = make_gz(bytes(2**20))
    inner = one_mib * (unpacked_gib * 1024)
    return make_tar({"logs.gz.gz": make_gz(inner)})


def _gzip_member_with_comment(data: bytes, comment: bytes) -> bytes:
    """One gzip member (RFC 1952) whose header carries `comment` (FCOMMENT)."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflater.compress(data) + deflater.flush()
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return b"\x1f\x8b\x08\x10" + bytes(4) + b"\x00\xff" + comment + b"\x00" + body + trailer


def _comment_padded_bomb() -> bytes:
    """The issue's case: a multi-member gzip whose members are padded with comments (so the
    archive the inner level inflates from is large, and a per-level ratio forgives a lot),
    compressed again: a few KB uploaded."""
    member = _gzip_member_with_comment(bytes(2**20), b"A" * 16 * 2**10)
    return make_tar({"logs.gz.gz": make_gz(member * 512)})  # 512 MiB from 8.5 MB of members


def _seed_bundle() -> bytes:
    log = "\n".join(seed_scenario_lines("self_signed")) + "\n"
    return make_tar(
        {
            "loggingsnapshot_vcsc_2022-07-11_17_33_18.txt": log,
            "xstat_dump_vcsc_2022-07-11_17_33_18.txt": xstat_dump("vcsc"),
        }
    )


def _assert_a_normal_bundle_still_analyses(tmp_path: Path) -> None:
    upload = write_upload(tmp_path / "after", "diagnostic_log_vcsc.tar.gz", _seed_bundle())
    report = analyze([Input(upload, upload.name)], tmp_path / "work-after", LIBRARY, Limits())
    assert "mra-traffic-server-cert-verification" in {f.signature_id for f in report.findings}


@pytest.mark.parametrize(
    "build",
    [lambda: _nested_gzip_bomb(2), _comment_padded_bomb],
    ids=["multi-member-gzip-in-gzip", "comment-padded-members"],
)
def test_a_nested_gzip_bomb_stops_at_the_budget_of_the_uploaded_bytes(
    tmp_path: Path, build: Callable[[], bytes]
) -> None:
    bomb = build()  # 0.5-2 GiB two levels down, a few KB uploaded
    src = write_upload(tmp_path, "bomb.tar.gz", bomb)
    limits = Limits()  # the defaults: grace 16 MiB once, ratio 200
    totals = LocalTotals()
    budget = UnpackBudget(limits, len(bomb), totals)

    with pytest.raises(LimitExceeded) as refused:
        unpack_upload(src, "bomb.tar.gz", tmp_path / "work", limits, budget=budget)

    allowed = limits.ratio_grace_bytes + 200 * len(bomb)
    assert str(refused.value).startswith(
        "bomb.tar.gz/logs.gz: refused as a decompression bomb: the bundle unpacks to more "
        f"than {allowed / 2**20:.1f} MB (ratio 200 to the {len(bomb) / 1024:.1f} KB uploaded"
    )
    unpacked = totals.add_bytes(0)  # every level counted: no 16 MiB forgiven per level
    assert allowed < unpacked <= allowed + BLOCK_BYTES
    assert not [p for p in (tmp_path / "work").rglob("*") if p.is_file()]
    _assert_a_normal_bundle_still_analyses(tmp_path)


def test_the_budget_is_shared_by_every_nesting_level() -> None:
    limits = Limits(ratio_grace_bytes=1000, max_ratio=10)
    budget = UnpackBudget(limits, uploaded_bytes=100)
    budget.add_bytes(1500, "outer.tar.gz/a.gz")  # one level
    budget.add_bytes(500, "outer.tar.gz/a.gz/b.gz")  # the next one: 2000 in all, the limit
    with pytest.raises(LimitExceeded, match=r"more than 2\.0 KB \(ratio 10 to the 100 bytes"):
        budget.add_bytes(1, "outer.tar.gz/a.gz/b.gz/c")


def test_the_total_cap_is_named_when_it_is_lower_than_the_ratio() -> None:
    budget = UnpackBudget(Limits(max_total_bytes=2**20), uploaded_bytes=2**30)
    with pytest.raises(LimitExceeded, match=r"more than 1\.0 MB \(the most one analysis may"):
        budget.add_bytes(2**20 + 1, "big.tar.gz/x.log")


def _tar_with_huge_header(kind: bytes, claimed: int) -> bytes:
    """A tar.gz: one good member, then a PAX ('x') or GNU long-name ('L') header claiming
    `claimed` bytes, all present (multi-member gzip of 1 MiB pieces), then a last member."""
    good = tarfile.TarInfo("good.txt")
    good_data = b"kept\n"
    good.size = len(good_data)
    header = tarfile.TarInfo("././@LongHeader")
    header.type = kind
    header.size = claimed
    head = good.tobuf(tarfile.USTAR_FORMAT) + good_data.ljust(512, b"\0")
    head += header.tobuf(tarfile.GNU_FORMAT if kind == tarfile.GNUTYPE_LONGNAME else 0)
    filler = make_gz(b"a" * 2**20)
    return make_gz(head) + filler * (claimed // 2**20)


@pytest.mark.parametrize(
    "kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME], ids=["pax-header", "gnu-long-name"]
)
def test_a_huge_tar_header_is_refused_before_it_is_read_into_memory(
    tmp_path: Path, kind: bytes
) -> None:
    claimed = 256 * 2**20
    src = write_upload(tmp_path, "diag.tar.gz", _tar_with_huge_header(kind, claimed))
    assert src.stat().st_size < 2 * 2**20

    tracemalloc.start()
    try:
        result = unpack_upload(src, "diag.tar.gz", tmp_path / "work", inflate_threads=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 32 * 2**20  # tarfile would have read the 256 MiB header whole
    assert [file.name for file in result.files] == ["diag.tar.gz/good.txt"]
    assert result.warnings == [
        "diag.tar.gz: the tar archive cannot be read further: a member's tar headers (PAX "
        "extended header, GNU long name or sparse map) claim 268,435,456 bytes, more than the "
        "1,048,576 bytes allowed. Everything read before the damage was analysed; what comes "
        "after it could not be read, so findings may be missing. Re-download the bundle from "
        "the Expressway and upload it again for a complete analysis."
    ]
    _assert_a_normal_bundle_still_analyses(tmp_path)


def test_ordinary_pax_headers_are_read(tmp_path: Path) -> None:
    long_name = "logs/" + "/".join(["d" * 60] * 5) + "/a.txt"  # needs a PAX path record
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(long_name)
        info.size = 3
        info.pax_headers = {"comment": "c" * 10_000}
        archive.addfile(info, io.BytesIO(b"ok\n"))
    src = write_upload(tmp_path, "diag.tar", buffer.getvalue())

    result = unpack_upload(src, "diag.tar", tmp_path / "work")

    assert [file.name for file in result.files] == [f"diag.tar/{long_name}"]
    assert result.warnings == []


def _many_members(count: int, tag: int) -> bytes:
    return make_tar({f"f{tag}-{index}.txt": f"{index}\n" for index in range(count)})


@pytest.mark.parametrize("jobs", [1, 4], ids=["in-turn", "in-processes"])
def test_many_tiny_members_spread_over_uploads_count_against_one_limit(
    tmp_path: Path, jobs: int
) -> None:
    limits = Limits(max_members=100)
    uploads = [
        write_upload(tmp_path, f"peer{tag}.tar.gz", _many_members(60, tag)) for tag in range(2)
    ]
    inputs = [Input(path, path.name) for path in uploads]

    with pytest.raises(LimitExceeded) as refused:  # 120 files, each upload only 60
        analyze(inputs, tmp_path / "work", LIBRARY, limits, jobs=jobs)

    assert "refused, the upload holds more than 100 files and folders (all uploads" in str(
        refused.value
    )
    _assert_a_normal_bundle_still_analyses(tmp_path)


def test_uploads_within_the_limits_together_are_analysed(tmp_path: Path) -> None:
    limits = Limits(max_members=100)
    uploads = [
        write_upload(tmp_path, f"peer{tag}.tar.gz", _many_members(30, tag)) for tag in range(3)
    ]
    report = analyze(
        [Input(path, path.name) for path in uploads], tmp_path / "work", LIBRARY, limits
    )
    assert len(report.files) == 90
