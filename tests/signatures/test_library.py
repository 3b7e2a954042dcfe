"""The packaged library is valid, every inline example passes, and bad files are refused clearly."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from app.errors import NotFound, SignatureError
from app.signatures import load_library, run_examples
from app.signatures.testing import check_example
from tests.signatures.helpers import minimal_signature, write_library

LIBRARY = load_library()
EXAMPLES = [
    pytest.param(sig, ex, id=f"{sig.id}-{ex.name}")
    for sig in LIBRARY.signatures
    for ex in sig.examples
]


@pytest.mark.parametrize(("signature", "example"), EXAMPLES)
def test_example(signature: Any, example: Any) -> None:
    failure = check_example(signature, example)
    assert failure is None, str(failure)


def test_library_has_the_seed_signature_and_a_version() -> None:
    seed = LIBRARY.get("mra-traffic-server-cert-verification")
    assert seed.bug_ids == ("CSCwc69661", "CSCwa25108")
    assert len(LIBRARY.version) == 12
    with pytest.raises(NotFound):
        LIBRARY.get("no-such-signature")


def test_a_failing_example_is_reported(tmp_path: Path) -> None:
    doc = minimal_signature()
    doc["examples"][0]["expect"] = {"code": 8}
    library = load_library(write_library(tmp_path, doc))
    failures = run_examples(library.signatures[0])
    assert [f.example for f in failures] == ["hit"]
    assert "code" in failures[0].problem


def test_version_changes_when_a_file_changes(tmp_path: Path) -> None:
    root = write_library(tmp_path, minimal_signature())
    before = load_library(root).version
    doc = minimal_signature(title="Demo failure, renamed")
    write_library(root, doc)
    assert load_library(root).version != before


def test_deprecated_signatures_are_not_loaded_by_default(tmp_path: Path) -> None:
    root = write_library(tmp_path, minimal_signature(status="deprecated"))
    assert load_library(root).signatures == ()
    assert [s.id for s in load_library(root, include_deprecated=True).signatures] == ["demo-sig"]


def _broken(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(minimal_signature())
    change(doc)
    return doc


BROKEN = [
    ("missing field", lambda d: d.pop("title"), "title"),
    ("bad severity", lambda d: d.update(severity="fatal"), "severity"),
    ("bad status", lambda d: d.update(status="beta"), "status"),
    (
        "regex does not compile",
        lambda d: d["match"]["patterns"][0].update(regex="DEMO-FAIL (?P<code>"),
        "match.patterns[0].regex",
    ),
    (
        "fact group no pattern defines",
        lambda d: d["facts"].update(port={"from": "port"}),
        "facts.port.from",
    ),
    ("contains missing", lambda d: d["match"].pop("contains"), "match.contains"),
    ("contains too short", lambda d: d["match"].update(contains=["DEMO"]), "match.contains[0]"),
    (
        "contains is a bare field name",
        lambda d: d["match"].update(contains=['Level="']),
        "match.contains[0]",
    ),
    (
        "named group no fact uses",
        lambda d: d["match"]["patterns"][0].update(
            regex=r"DEMO-FAIL code=(?P<code>\d+) peer=(?P<peer>\S+)(?P<rest>.*)"
        ),
        "match.patterns[0].regex",
    ),
    (
        "example without the literal",
        lambda d: d["examples"][1].update(line="nothing relevant here"),
        "examples[1].line",
    ),
    ("no negative example", lambda d: d["examples"].pop(1), "examples"),
    ("group_by unknown", lambda d: d.update(group_by=["node", "colour"]), "group_by"),
    ("bad template", lambda d: d["text"].update(action="{% if %}"), "text.action"),
    ("unknown source", lambda d: d["match"].update(source="nowhere"), "match.source"),
    (
        "bad min_version",
        lambda d: d.update(applies_to={"min_version": "latest"}),
        "applies_to.min_version",
    ),
]


@pytest.mark.parametrize(("change", "field"), [pytest.param(c, f, id=n) for n, c, f in BROKEN])
def test_loader_error_names_file_and_field(tmp_path: Path, change: Any, field: str) -> None:
    write_library(tmp_path, _broken(change))
    with pytest.raises(SignatureError) as caught:
        load_library(tmp_path)
    assert caught.value.file == "expressway/demo-sig.yaml"
    assert caught.value.field == field
    assert "demo-sig.yaml" in str(caught.value) and field in str(caught.value)


def test_id_must_equal_file_stem(tmp_path: Path) -> None:
    write_library(tmp_path, minimal_signature(), names=["other-name.yaml"])
    with pytest.raises(SignatureError) as caught:
        load_library(tmp_path)
    assert (caught.value.file, caught.value.field) == ("expressway/other-name.yaml", "id")


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    write_library(tmp_path, minimal_signature())
    sub = tmp_path / "expressway" / "more"
    sub.mkdir()
    (sub / "demo-sig.yaml").write_text(
        (tmp_path / "expressway" / "demo-sig.yaml").read_text(), encoding="utf-8"
    )
    with pytest.raises(SignatureError) as caught:
        load_library(tmp_path)
    assert caught.value.field == "id" and "duplicate" in caught.value.problem


STABLE = [s for s in LIBRARY.signatures if s.status == "stable"]


def test_the_library_has_forty_stable_referenced_signatures() -> None:
    assert len([s for s in STABLE if s.references]) >= 40
    assert len([s for s in STABLE if not s.id.startswith("expressway-alarm-")]) >= 15


@pytest.mark.parametrize("signature", LIBRARY.signatures, ids=lambda s: s.id)
def test_every_signature_is_actionable_and_honest(signature: Any) -> None:
    assert signature.references and signature.text.action.strip()
    assert signature.text.condition.strip()
    assert all(len(literal) >= 5 for literal in signature.contains)
    if signature.status == "experimental":
        assert "inferred" in signature.text.condition.lower()
