"""A re-run of the same files keeps the calls and sign-ins an earlier run extracted (they do not
depend on the signature library), and extracts them anew when anything they depend on changed:
the files, the nodes' products, the extraction code (app/calls/reuse.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.bundle import stored
from app.bundle.budget import Limits
from app.bundle.manifest import read_manifest, write_manifest
from app.calls import reuse
from app.calls.reuse import KnownCalls
from app.report import Report, Unpacked
from app.signatures import LIBRARY_DIR, Library, load_library
from app.worker import pipeline
from app.worker.pipeline import Input, analyze, calls_key
from tests.calls.scenarios import two_node_logs
from tests.calls.signinlog import START, ts_request, ts_response
from tests.corpus import xstat_dump
from tests.factories import make_tar


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library(LIBRARY_DIR)


def node_bundle(host: str, product: str, lines: list[str]) -> bytes:
    stamp = "2018-01-01_17_56_00"
    return make_tar(
        {
            f"loggingsnapshot_{host}_{stamp}.txt": "\n".join(lines) + "\n",
            f"xstat_dump_{host}_{stamp}.txt": xstat_dump(host, product, "X14.2.1"),
        }
    )


def sign_in(host: str) -> list[str]:
    """An edge-config request the Expressway-E answered 401."""
    return ts_request(
        host, START, "/ZXhhbXBsZS5jb20/get_edge_config/", txn=11, tracking="t-1",
        dst="127.0.0.1", port=8443, client="198.51.100.20", agent="Jabber/14.1",
    ) + ts_response(
        host, START + timedelta(milliseconds=400), 401, "Unauthorized", txn=11,
        dst="198.51.100.20", port=50314,
    )  # fmt: skip


@pytest.fixture
def first_run(tmp_path: Path, library: Library) -> tuple[Report, Path, Unpacked]:
    """Two nodes with SIP calls and a sign-in, analysed from the uploads; the work dir kept and
    compressed as the worker keeps it, the uploads removed."""
    expe, expc = two_node_logs()
    uploads = {
        "diagnostic_log_expe1.tar.gz": node_bundle(
            "expe1", "Expressway-E", expe.text().splitlines() + sign_in("expe1")
        ),
        "diagnostic_log_expc1.tar.gz": node_bundle(
            "expc1", "Expressway-C", expc.text().splitlines()
        ),
    }
    inputs = []
    for name, body in uploads.items():
        path = tmp_path / "uploads" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(body)
        inputs.append(Input(path=path, name=name))
    work = tmp_path / "work"
    first = analyze(inputs, work, library, Limits(), jobs=2, extract_calls=True)
    assert first.unpacked is not None
    write_manifest(tmp_path / "unpacked.json", first.unpacked, work)
    assert stored.compress_tree(work, plain_below=1024).files
    for item in inputs:
        item.path.unlink()
    again = read_manifest(tmp_path / "unpacked.json", work)
    assert again is not None
    return first, work, again


def rerun(
    first: tuple[Report, Path, Unpacked],
    library: Library,
    known: KnownCalls | None,
    products: tuple[str | None, str | None] = (None, None),
) -> Report:
    report, work, unpacked = first
    inputs = [
        Input(path=work / "gone", name=upload.name, product=product)
        for upload, product in zip(unpacked.uploads, products, strict=True)
    ]
    return analyze(
        inputs, work, library, Limits(), jobs=2, extract_calls=True, stored=unpacked,
        known_calls=known,
    )  # fmt: skip


def known(report: Report) -> KnownCalls:
    """What the worker keeps of a run that extracted its calls."""
    assert report.calls is not None and report.calls_key is None  # (the worker keys them)
    return KnownCalls(calls_key(report), tuple(report.call_warnings))


def no_extraction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any SIP or sign-in reading from here on fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the re-run extracted calls it was to keep")

    monkeypatch.setattr(pipeline, "Collector", refuse)
    monkeypatch.setattr(pipeline, "SigninCollector", refuse)


def test_a_rerun_of_the_same_files_keeps_the_calls_without_reading_a_sip_line(
    first_run: tuple[Report, Path, Unpacked], library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = first_run[0]
    assert first.calls and first.signins is not None and first.signins.attempts
    assert not first.calls_kept
    no_extraction(monkeypatch)
    kept = known(first)
    again = rerun(first_run, library, kept)
    assert again.calls_kept and again.calls_key == kept.key
    assert again.calls is None and again.signins is None  # the stored ones stay as they are
    assert again.warnings == first.warnings
    assert [f.signature_id for f in again.findings] == [f.signature_id for f in first.findings]


def test_the_warnings_of_the_extraction_come_back_with_the_calls_kept(
    first_run: tuple[Report, Path, Unpacked], library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    warned = KnownCalls(known(first_run[0]).key, ("Call flows: 7 SIP messages past the first 5",))
    no_extraction(monkeypatch)
    again = rerun(first_run, library, warned)
    assert again.call_warnings == list(warned.warnings)
    assert warned.warnings[0] in again.warnings


def test_calls_are_extracted_anew_when_the_key_differs(
    first_run: tuple[Report, Path, Unpacked], library: Library
) -> None:
    first = first_run[0]
    again = rerun(first_run, library, KnownCalls("another key"))
    assert not again.calls_kept and calls_key(again) == known(first).key
    assert again.calls == first.calls and again.signins == first.signins


def test_calls_are_extracted_anew_after_a_change_of_product(
    first_run: tuple[Report, Path, Unpacked], library: Library
) -> None:
    """The sign-ins' columns are labelled with the products: another product, another key."""
    first = first_run[0]
    kept = known(first)
    again = rerun(first_run, library, kept, products=("Expressway-C", None))
    assert not again.calls_kept and again.calls is not None
    assert calls_key(again) != kept.key


def test_calls_are_extracted_anew_by_other_extraction_code(
    first_run: tuple[Report, Path, Unpacked], library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = first_run[0]
    kept = known(first)  # stored by this release
    monkeypatch.setattr(reuse, "code_identity", lambda: "the extractor of a later release")
    again = rerun(first_run, library, kept)
    assert not again.calls_kept and again.calls == first.calls
    assert calls_key(again) != kept.key


def test_nothing_is_kept_or_extracted_with_call_flows_off(
    first_run: tuple[Report, Path, Unpacked], library: Library
) -> None:
    report, work, unpacked = first_run
    inputs = [Input(path=work / "gone", name=upload.name) for upload in unpacked.uploads]
    off = analyze(
        inputs, work, library, Limits(), jobs=2, stored=unpacked, known_calls=known(report)
    )
    assert off.calls is None and off.calls_key is None and not off.calls_kept


def test_the_code_identity_follows_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "app"
    (package / "calls").mkdir(parents=True)
    (package / "calls" / "extract.py").write_text("MAX = 1\n")
    monkeypatch.setattr(reuse, "_PACKAGE", package)
    reuse.code_identity.cache_clear()
    try:
        before = reuse.code_identity()
        (package / "calls" / "extract.py").write_text("MAX = 2\n")
        reuse.code_identity.cache_clear()
        assert reuse.code_identity() != before
    finally:
        reuse.code_identity.cache_clear()
