"""app.launch: `loupe analyze` hashes its bundles from the process' first moment, and the
report's digest is that of the bytes analysed whatever happened to the file meanwhile."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import launch
from tests.test_api import seed_bundle


@pytest.fixture(autouse=True)
def _no_early_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch, "_early", None)


def test_the_first_file_analyze_names_is_hashed_early(tmp_path: Path) -> None:
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.log"
    first.write_bytes(b"one" * 100_000)
    second.write_bytes(b"two")
    launch.start_hashing(["analyze", "--json", "--product", "auto", str(first), str(second)])
    assert launch.early_sha256(first) == hashlib.sha256(first.read_bytes()).hexdigest()
    assert launch.early_sha256(second) is None  # (hashed by app.cli beside the analysis)
    assert launch.early_sha256(tmp_path / "other") is None  # (not named: nothing to give)


def test_another_command_hashes_nothing(tmp_path: Path) -> None:
    bundle = tmp_path / "a.tar.gz"
    bundle.write_bytes(b"x")
    launch.start_hashing(["calls", str(bundle)])
    assert launch.early_sha256(bundle) is None


def test_a_file_changed_after_it_was_hashed_is_not_given_its_old_digest(tmp_path: Path) -> None:
    bundle = tmp_path / "a.tar.gz"
    bundle.write_bytes(b"before")
    launch.start_hashing(["analyze", str(bundle)])
    assert launch.early_sha256(bundle) == hashlib.sha256(b"before").hexdigest()
    bundle.write_bytes(b"after, longer")
    assert launch.early_sha256(bundle) is None  # (app.cli hashes it again)


def test_the_installed_command_reports_the_digest_of_the_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "diagnostic_log_vcsc.tar.gz"
    bundle.write_bytes(seed_bundle("self_signed"))
    run = "import sys; sys.argv[0] = 'loupe'; from app.launch import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", run, "analyze", "--json", str(bundle)],
        capture_output=True,
        text=True,
        env={**os.environ, "LOUPE_CACHE_DIR": str(tmp_path / "cache")},
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )
    assert done.stdout, done.stderr
    files = json.loads(done.stdout)["files"]
    assert [f["sha256"] for f in files] == [hashlib.sha256(bundle.read_bytes()).hexdigest()]
