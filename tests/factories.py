"""Build test archives and uploads (friendly and hostile) from `{member path: content}` maps.

Everything is built in memory or under a pytest `tmp_path`; nothing touches the real tree.
"""

from __future__ import annotations

import io
import os
import random
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

from isal import igzip

from app.bundle.unpack import UnpackResult

Content = bytes | str
Members = Mapping[str, Content]

Unpack = Callable[..., UnpackResult]
"""The type of the bundle tests' `unpack(name, data, limits=None)` fixture."""

_MTIME = 1_700_000_000


def _as_bytes(content: Content) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _file_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = _MTIME
    return info


def _finish_tar(buffer: io.BytesIO, compress: bool) -> bytes:
    data = buffer.getvalue()
    return make_gz(data) if compress else data


def make_tar(members: Members, compress: bool = True) -> bytes:
    """A tar (gzip-compressed when `compress`) holding `members` as regular files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in members.items():
            data = _as_bytes(content)
            archive.addfile(_file_info(name, len(data)), io.BytesIO(data))
    return _finish_tar(buffer, compress)


def make_zip(members: Members) -> bytes:
    """A deflated zip holding `members` as regular files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, _as_bytes(content))
    return buffer.getvalue()


def make_gz(data: Content) -> bytes:
    """`data` gzip-compressed (a single-member gzip stream)."""
    compressed: bytes = igzip.compress(_as_bytes(data), mtime=0)
    return compressed


def write_upload(tmp_path: Path, name: str, data: Content) -> Path:
    """Write `data` as an upload file under `tmp_path/uploads/` and return its path."""
    folder = tmp_path / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name.replace("/", "_")
    path.write_bytes(_as_bytes(data))
    return path


# ---- hostile archives ---------------------------------------------------------------------


def make_tar_with_special(
    specials: list[tarfile.TarInfo], members: Members | None = None, compress: bool = True
) -> bytes:
    """A tar holding the given raw TarInfo entries (links, devices...) plus regular `members`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info in specials:
            archive.addfile(info)
        for name, content in (members or {}).items():
            data = _as_bytes(content)
            archive.addfile(_file_info(name, len(data)), io.BytesIO(data))
    return _finish_tar(buffer, compress)


def symlink_member(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mtime = _MTIME
    return info


def hardlink_member(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    info.mtime = _MTIME
    return info


def fifo_member(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.FIFOTYPE
    info.mtime = _MTIME
    return info


def device_member(name: str, block: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.BLKTYPE if block else tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3  # /dev/null
    info.mtime = _MTIME
    return info


def make_traversal_tar(compress: bool = True) -> bytes:
    """A tar whose members try to leave the extraction dir, plus one honest member."""
    return make_tar(
        {
            "../escaped.txt": "relative escape\n",
            "logs/../../escaped2.txt": "nested escape\n",
            "/etc/escaped3.txt": "absolute path\n",
            "ok.txt": "fine\n",
        },
        compress,
    )


def make_traversal_zip() -> bytes:
    """A zip whose members try to leave the extraction dir (both slash styles), plus one honest."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in ("../escaped.txt", "/etc/escaped3.txt", "ok.txt"):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), b"x\n")
        sneaky = zipfile.ZipInfo("placeholder", date_time=(2024, 1, 1, 0, 0, 0))
        sneaky.filename = "..\\escaped4.txt"
        archive.writestr(sneaky, b"x\n")
    return buffer.getvalue()


def make_symlink_zip() -> bytes:
    """A zip holding a member marked as a symbolic link to /etc/passwd, plus one honest member."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("passwd-link", date_time=(2024, 1, 1, 0, 0, 0))
        link.external_attr = (0o120777 << 16) | 0x20
        archive.writestr(link, b"/etc/passwd")
        archive.writestr("ok.txt", b"fine\n")
    return buffer.getvalue()


class _Zeros(io.RawIOBase):
    """`size` zero bytes, produced on demand (never held in memory at once)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def make_gzip_bomb(unpacked_bytes: int, member: str = "zeros.log") -> bytes:
    """A tar.gz with one member of `unpacked_bytes` zeros, compressed by streaming.

    Zeros deflate about 1000:1, so a few MB are enough to trip a test-sized `Limits`.
    """
    out = io.BytesIO()
    with (
        igzip.IGzipFile(fileobj=out, mode="wb", mtime=0) as gz,  # type: ignore[no-untyped-call]
        tarfile.open(fileobj=gz, mode="w|") as archive,
    ):
        archive.addfile(_file_info(member, unpacked_bytes), _Zeros(unpacked_bytes))
    return out.getvalue()


def make_zip_bomb(unpacked_bytes: int) -> bytes:
    """A zip with one deflated member of `unpacked_bytes` zeros (honest declared sizes)."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("zeros.log", "w", force_zip64=True) as member,
    ):
        left = unpacked_bytes
        block = bytes(2**20)
        while left:
            chunk = block[: min(left, len(block))]
            member.write(chunk)
            left -= len(chunk)
    return buffer.getvalue()


def make_truncated_tar_gz(members: Members, keep: float = 0.6) -> bytes:
    """A tar.gz cut after `keep` of its bytes, like an interrupted download."""
    data = make_tar(members, compress=True)
    return data[: max(10, int(len(data) * keep))]


def make_nested_bundle(innermost: Members) -> bytes:
    """outer.tar.gz > middle.zip > inner.tar.gz > `innermost` (three archives deep)."""
    inner = make_tar(innermost, compress=True)
    middle = make_zip({"inner.tar.gz": inner, "middle-note.txt": "in the zip\n"})
    return make_tar({"middle.zip": middle, "outer-note.txt": "in the outer tar\n"}, compress=True)


def make_deep_nesting(levels: int, leaf: Members) -> bytes:
    """`levels` tar.gz archives inside each other (level1.tar.gz holds level2.tar.gz...)."""
    data = make_tar(leaf, compress=True)
    for level in range(levels, 1, -1):
        data = make_tar({f"level{level}.tar.gz": data}, compress=True)
    return data


def random_bytes(size: int, seed: int = 7) -> bytes:
    """Deterministic incompressible bytes that are no known format."""
    data = random.Random(seed).randbytes(size)
    return b"\x13\x37" + data[2:]


def assert_contained(tmp_path: Path, work_dir: Path, *also_allowed: Path) -> None:
    """Nothing exists under tmp_path but the uploads, work_dir's content and `also_allowed`
    (files the test made itself); and no links anywhere."""
    allowed = (tmp_path / "uploads", work_dir, *also_allowed)
    for root, dirs, files in os.walk(tmp_path):
        for entry in dirs + files:
            path = Path(root) / entry
            assert not path.is_symlink(), f"{path} is a link"
            if path in allowed:
                continue
            assert any(parent in path.parents for parent in allowed), f"{path} is outside"
