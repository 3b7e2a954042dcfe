"""applies_to qualifies a finding, never hides it; only `only_on_product` keeps one from running."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import SignatureError
from app.report import BundleFile, FileKind, NodeInfo
from app.signatures import Library, load_library, run_library
from app.signatures.coverage import coverage_of
from tests.signatures.helpers import SOURCES, minimal_signature, write_library

LINE = "2023-03-02T10:00:00.000+01:00 expe1 tvcs: DEMO-FAIL code=5 peer=alpha\n"


def _library(tmp_path: Path, **applies: object) -> Library:
    return load_library(write_library(tmp_path / "lib", minimal_signature(applies_to=applies)))


def _file(tmp_path: Path) -> BundleFile:
    path = tmp_path / "loggingsnapshot_expe1.txt"
    path.write_text(LINE)
    return BundleFile(
        path, "b1/loggingsnapshot_expe1.txt", path.stat().st_size, FileKind.LOGGINGSNAPSHOT, "b1"
    )


@pytest.mark.parametrize(
    ("product", "ran", "applies"),
    [
        ("Expressway-E", True, "yes"),
        ("VCS", True, "yes"),  # the platform name: either role
        ("VCS Expressway", True, "yes"),
        (None, True, "unknown"),
        ("Expressway-C", False, None),  # known to be another product: not run
    ],
)
def test_only_on_product_is_the_one_way_to_not_run(
    tmp_path: Path, product: str | None, ran: bool, applies: str | None
) -> None:
    library = _library(tmp_path, products=["Expressway-E"], only_on_product=True)
    file = _file(tmp_path)
    nodes = {"b1": NodeInfo("b1", "expe1", product, "X14.2.1")}
    findings = run_library(library, [file], nodes, sources=SOURCES)
    assert bool(findings) is ran
    if ran:
        assert findings[0].facts["applies"] == applies
    (entry,) = coverage_of(library.signatures, [file], nodes, findings)
    if ran:
        assert entry.outcome == "matched"
    else:
        assert entry.outcome == "skipped"
        assert entry.reason is not None
        assert "only for Expressway-E" in entry.reason
        assert "node expe1 was detected as Expressway-C" in entry.reason


def test_without_only_on_product_another_product_is_shown_with_a_note(tmp_path: Path) -> None:
    library = _library(tmp_path, products=["Expressway-E"], min_version="X12.5")
    file = _file(tmp_path)
    nodes = {"b1": NodeInfo("b1", "expc1", "Expressway-C", "X8.11")}
    (finding,) = run_library(library, [file], nodes, sources=SOURCES)
    assert finding.facts["applies"] == "disagrees"
    assert finding.condition.startswith("Any version.")
    assert (
        "documented for Expressway-E X12.5+; node expc1 was detected as Expressway-C X8.11"
        in finding.condition
    )
    (entry,) = coverage_of(library.signatures, [file], nodes, [finding])
    assert (entry.outcome, entry.reason) == ("matched", None)


@pytest.mark.parametrize(
    ("applies", "field"),
    [
        ({"only_on_product": True}, "applies_to.only_on_product"),  # needs products
        ({"products": ["Expressway-E"], "only_on_product": "yes"}, "applies_to.only_on_product"),
    ],
)
def test_loader_checks_only_on_product(
    tmp_path: Path, applies: dict[str, object], field: str
) -> None:
    with pytest.raises(SignatureError) as raised:
        _library(tmp_path, **applies)
    assert field in str(raised.value)


def test_no_library_signature_is_limited_to_its_product() -> None:
    """None is, on purpose (see library/README.md): every product reading is a guess."""
    assert not [s.id for s in load_library().signatures if s.applies_to.only_on_product]
