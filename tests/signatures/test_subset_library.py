"""A library holding some of the packaged files loads, though a signature there refines one that
is not there: it then reports its lines on its own. In the packaged library such a `refines` is a
typo, refused by the loader and by `loupe signatures lint`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from app.errors import SignatureError
from app.signatures import LIBRARY_DIR, load_library, loader, scan_lines

SEED = "mra-traffic-server-cert-verification"
CATCH_ALL = "mra-traffic-server-verification-failed"
runner = CliRunner()


def _seed_line() -> str:
    seed = load_library().get(SEED)
    return next(e for e in seed.examples if e.positive).lines[0]


def _subset(tmp_path: Path, *ids: str) -> Path:
    root = tmp_path / "subset"
    root.mkdir()
    for sig_id in ids:
        shutil.copy(LIBRARY_DIR / "expressway" / f"{sig_id}.yaml", root / f"{sig_id}.yaml")
    return root


def test_a_subset_without_the_refined_signature_loads_and_reports_alone(tmp_path: Path) -> None:
    library = load_library(_subset(tmp_path, SEED))
    assert [s.id for s in library.signatures] == [SEED]
    assert library.detached == ((SEED, CATCH_ALL),)
    found = scan_lines(library.signatures, [_seed_line()])
    assert [f.signature_id for f in found] == [SEED]


def test_the_full_library_reports_the_seed_line_once_by_the_refining_signature() -> None:
    found = scan_lines(load_library().signatures, [_seed_line()])
    assert [f.signature_id for f in found] == [SEED]


def test_the_catch_all_alone_reports_the_seed_line(tmp_path: Path) -> None:
    found = scan_lines(load_library(_subset(tmp_path, CATCH_ALL)).signatures, [_seed_line()])
    assert [f.signature_id for f in found] == [CATCH_ALL]


def test_a_subset_refining_a_name_found_nowhere_is_a_typo(tmp_path: Path) -> None:
    root = _subset(tmp_path, SEED)
    path = root / f"{SEED}.yaml"
    path.write_text(
        re.sub(r"(?m)^refines:.*$", "refines: mra-trafic-server-typo", path.read_text())
    )
    with pytest.raises(SignatureError) as caught:
        load_library(root)
    assert caught.value.field == "refines[0]"
    assert "mra-trafic-server-typo" in caught.value.problem


def test_lint_of_a_subset_passes_and_says_who_reports_alone(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["signatures", "lint", str(_subset(tmp_path, SEED))])
    assert result.exit_code == 0, result.output
    assert f"{SEED} refines {CATCH_ALL}, which is not in this library" in result.output
    assert "1 signatures ok" in result.output


@pytest.fixture
def packaged_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the packaged library standing in for it, so a typo can be put in it."""
    root = tmp_path / "packaged"
    shutil.copytree(LIBRARY_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    monkeypatch.setattr(loader, "PACKAGED_LIBRARY", root)
    loader.packaged_ids.cache_clear()
    yield root
    loader.packaged_ids.cache_clear()


def test_in_the_packaged_library_a_dangling_refines_is_refused(packaged_copy: Path) -> None:
    path = packaged_copy / "expressway" / f"{SEED}.yaml"
    typo = CATCH_ALL.replace("failed", "faild")
    path.write_text(re.sub(r"(?m)^refines:.*$", f"refines: {typo}", path.read_text()))
    with pytest.raises(SignatureError) as caught:
        load_library(packaged_copy)
    assert caught.value.field == "refines[0]"
    assert caught.value.file.endswith(path.name)
    assert caught.value.problem == f"no signature '{typo}' in the library"
    result = runner.invoke(cli, ["signatures", "lint", str(packaged_copy)])
    assert result.exit_code != 0
    assert "refines[0]" in result.output and typo in result.output
