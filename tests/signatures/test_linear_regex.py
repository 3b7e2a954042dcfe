"""The linear-time regex layer (RE2), and the library lint that keeps every pattern runnable."""

from __future__ import annotations

import copy
import pickle
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.errors import SignatureError
from app.parsing import linear_regex
from app.parsing.linear_regex import RegexError, compile_linear, deferred_linear
from app.signatures import load_library
from tests.signatures.helpers import minimal_signature, write_library


def test_named_groups_come_back_as_text_and_absent_ones_as_none() -> None:
    regex = compile_linear(r"peer=(?P<peer>\S+)(?: code=(?P<code>\d+))?")
    found = regex.search("x peer=éxpé-1 y")
    assert found is not None
    assert found.groupdict() == {"peer": "éxpé-1", "code": None}
    assert found["peer"] == "éxpé-1" and found.group(0) == "peer=éxpé-1"
    assert regex.groupindex == {"peer": 1, "code": 2}


def test_match_is_anchored_and_end_counts_characters() -> None:
    regex = compile_linear(r"[^:]+:")
    assert regex.match("ünïcode: rest") is not None
    assert regex.match("ünïcode: rest").end() == len("ünïcode:")  # type: ignore[union-attr]
    assert compile_linear("rest").match("ünïcode: rest") is None


def test_finditer_finds_every_match_and_survives_empty_ones() -> None:
    pairs = compile_linear(r'(?P<k>\w+)="(?P<v>[^"]*)"')
    found = [(m["k"], m["v"]) for m in pairs.finditer('a="1" é b="" c="x y"')]
    assert found == [("a", "1"), ("b", ""), ("c", "x y")]
    assert [m.group(0) for m in compile_linear("x*").finditer("éxé")] == ["", "x", "", ""]


def test_a_plain_text_pattern_is_a_substring_test() -> None:
    raised = compile_linear("Alarm Raised")
    assert raised.search("é Alarm Raised x")[0] == "Alarm Raised"  # type: ignore[index]
    assert raised.search("Alarm raised") is None
    assert raised.match("Alarm Raised é").end() == len("Alarm Raised")  # type: ignore[union-attr]
    assert raised.match("x Alarm Raised") is None
    assert compile_linear("a.c").search("abc") is not None  # a metacharacter: RE2


def test_compiled_patterns_survive_pickling() -> None:
    regex = pickle.loads(pickle.dumps(compile_linear(r"(?P<a>a+)")))
    assert regex.search("baa")["a"] == "aa"  # type: ignore[index]


def test_a_deferred_pattern_matches_as_a_compiled_one_once_compiled_on_first_use() -> None:
    pattern = r"peer=(?P<peer>\S+)(?: code=(?P<code>\d+))?"
    eager = compile_linear(pattern)
    deferred = deferred_linear(pattern, eager.groupindex)
    assert not deferred.compiled and deferred.groupindex == {"peer": 1, "code": 2}
    assert deferred.search("no peer here") is None
    assert deferred.compiled
    lines = ["x peer=éxpé-1 code=7", "peer=a peer=b", "nothing"]
    for line in lines:
        assert [m.groupdict() for m in deferred.finditer(line)] == [
            m.groupdict() for m in eager.finditer(line)
        ]
    assert deferred == eager and hash(deferred) == hash(eager)


def test_a_deferred_pattern_is_compiled_once_when_threads_match_it_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiles: list[str] = []
    real = linear_regex._compile

    def counting(pattern: str) -> object:
        compiles.append(pattern)
        time.sleep(0.01)  # widen the window in which a second thread could compile too
        return real(pattern)

    monkeypatch.setattr(linear_regex, "_compile", counting)
    regex = deferred_linear(r"code=(?P<code>\d+)", {"code": 1})
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda n: regex.search(f"x code={n}"), range(64)))
    assert [m["code"] for m in found] == [str(n) for n in range(64)]  # type: ignore[index]
    assert compiles == [r"code=(?P<code>\d+)"]


def test_a_deferred_pattern_stays_deferred_through_pickling() -> None:
    regex = pickle.loads(pickle.dumps(deferred_linear(r"(?P<a>a+)", {"a": 1})))
    assert not regex.compiled and regex.groupindex == {"a": 1}
    assert regex.search("baa")["a"] == "aa"  # type: ignore[index]


@pytest.mark.parametrize("pattern", [r"(?<=x)y", r"(a)\1", r"a++", r"end\Z"])
def test_what_cannot_run_in_linear_time_is_refused(pattern: str) -> None:
    with pytest.raises(RegexError):
        compile_linear(pattern)


def test_a_backtracking_killer_runs_in_linear_time() -> None:
    regex = compile_linear(r"A.*?B.*?C.*?D")
    line = "A B C " * 40_000  # 240 KB, no D: cubic for a backtracking engine
    started = time.perf_counter()
    assert regex.search(line) is None
    assert time.perf_counter() - started < 0.5


def _with_regex(regex: str) -> dict[str, object]:
    doc = copy.deepcopy(minimal_signature())
    doc["match"]["patterns"][0]["regex"] = regex
    return doc


def test_lint_names_the_file_and_says_why_re2_refuses(tmp_path: Path) -> None:
    write_library(tmp_path, _with_regex(r"DEMO-FAIL code=(?P<code>\d+) peer=(?P<peer>\S+)(?!x)"))
    with pytest.raises(SignatureError) as caught:
        load_library(tmp_path)
    assert caught.value.file == "expressway/demo-sig.yaml"
    assert caught.value.field == "match.patterns[0].regex"
    message = str(caught.value)
    assert "linear time" in message and "lookaround" in message and "RE2" in message


def test_cli_lint_fails_on_a_pattern_re2_refuses(tmp_path: Path) -> None:
    write_library(tmp_path, _with_regex(r"DEMO-FAIL code=(?P<code>\d+) peer=(?P<peer>\S+)\Z"))
    result = CliRunner().invoke(app, ["signatures", "lint", str(tmp_path)])
    assert result.exit_code == 1
    assert "demo-sig.yaml" in result.output and "cannot run in linear time" in result.output


def test_a_broken_regex_is_still_reported_as_not_compiling(tmp_path: Path) -> None:
    write_library(tmp_path, _with_regex(r"DEMO-FAIL (?P<code>"))
    with pytest.raises(SignatureError, match="does not compile"):
        load_library(tmp_path)
