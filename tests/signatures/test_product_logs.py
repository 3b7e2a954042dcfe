"""Signatures over other products' logs (endpoint, Jabber, Unified CM, IM and Presence, Meeting
Server) pass only when such a log was uploaded: Expressway lines never earn them a pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.bundle.sources import PRODUCT_LOG_BY_SOURCE, PRODUCT_LOGS, SOURCES
from app.cli import EXIT_FINDINGS, app
from app.errors import SignatureError
from app.report import BundleFile, Coverage, FileKind, NodeInfo
from app.serialize import coverage_out, verdict_out
from app.signatures import coverage, load_library, run_library
from app.signatures.coverage import coverage_of
from app.signatures.engine import FileStats
from app.signatures.verdict import CLEAR, examined_lines, skip_lines
from tests.corpus import healthy_expressway_c_loggingsnapshot
from tests.signatures.helpers import minimal_signature, write_library

LIBRARY = load_library()
ELSEWHERE = [s for s in LIBRARY.signatures if s.source in PRODUCT_LOG_BY_SOURCE]
NODE = NodeInfo("b1", "expc1", "Expressway-C", "X14.2.1")
REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"

JABBER_XAUTH = "mra-jabber-xauth-cookie-invalid"
JABBER_PROXY = "mra-jabber-http-proxy-refused"
ENDPOINT_RESOLVE = "mra-endpoint-collab-edge-unresolvable"
# a Jabber log line of the form doc 212081 shows, another request that went well
JABBER_HEALTHY = (
    "2017-04-19 16:30:35,912 INFO [0x000013b0] [ls\\src\\http\\BasicHttpClientImpl.cpp(452)] "
    "[csf.httpclient] [csf::http::executeImpl] - *-----* HTTP response code 200 for request #19"
)


def _expressway_log(tmp_path: Path) -> BundleFile:
    path = tmp_path / "loggingsnapshot_expc1.txt"
    path.write_text(healthy_expressway_c_loggingsnapshot("expc1", n_lines=300))
    size = path.stat().st_size
    return BundleFile(path, "b1/loggingsnapshot_expc1.txt", size, FileKind.LOGGINGSNAPSHOT, "b1")


def _plain_log(tmp_path: Path, name: str, lines: list[str]) -> BundleFile:
    """A plain log uploaded next to the bundle: its own upload, so its own 'bundle'."""
    path = tmp_path / name
    path.write_text("".join(f"{line}\n" for line in lines))
    return BundleFile(path, name, path.stat().st_size, FileKind.LOG, name)


def _coverage(files: list[BundleFile]) -> tuple[dict[str, Coverage], list[Coverage], dict]:
    nodes = {"b1": NODE} if any(file.bundle == "b1" for file in files) else {}
    stats: dict[str, FileStats] = {}
    findings = run_library(LIBRARY, files, nodes, stats=stats)
    result = coverage_of(LIBRARY.signatures, files, nodes, findings, stats=stats)
    return {c.signature_id: c for c in result}, result, {"findings": findings, "stats": stats}


def test_the_library_has_signatures_over_each_product_log() -> None:
    assert {s.source for s in ELSEWHERE} == set(PRODUCT_LOG_BY_SOURCE)
    assert len(ELSEWHERE) == 15  # endpoint, Jabber, UCM, IM&P, CMS lines


def test_an_expressway_only_upload_skips_them_with_what_to_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_second_read(*args: object, **kwargs: object) -> bool:
        raise AssertionError("the scan's FileStats answer for a scanned log")

    monkeypatch.setattr(coverage, "file_contains", no_second_read)
    by_id, _, _ = _coverage([_expressway_log(tmp_path)])
    for signature in ELSEWHERE:
        entry = by_id[signature.id]
        log = PRODUCT_LOG_BY_SOURCE[signature.source]
        assert entry.outcome == "skipped", signature.id
        assert entry.reason == f"no {log.name} in the upload: {log.hint}"
    jabber = by_id[JABBER_XAUTH].reason or ""
    assert jabber.startswith("no Jabber log in the upload: upload the jabber.log")
    endpoint = by_id[ENDPOINT_RESOLVE].reason or ""
    assert endpoint.startswith("no TC/CE endpoint log in the upload: upload the endpoint's all.log")
    assert by_id["tls-inbound-untrusted-ca"].outcome == "passed"  # the Expressway's own still look


def test_an_uploaded_jabber_log_earns_a_pass_and_a_match_for_the_jabber_signatures(
    tmp_path: Path,
) -> None:
    bundle = _expressway_log(tmp_path)
    healthy = _plain_log(tmp_path, "jabber.log", [JABBER_HEALTHY] * 3)
    by_id, _, _ = _coverage([bundle, healthy])
    for signature in ELSEWHERE:
        expected = "passed" if signature.source == "jabber_log" else "skipped"
        assert by_id[signature.id].outcome == expected, signature.id
    assert by_id[JABBER_XAUTH].reason is None
    # the jabber.log is no Expressway node without log lines: the others looked everywhere
    own = by_id["tls-inbound-untrusted-ca"]
    assert (own.outcome, own.reason) == ("passed", None)
    assert by_id["cert-expired"].reason is not None
    assert "jabber.log" not in by_id["cert-expired"].reason

    failing = _plain_log(
        tmp_path,
        "jabber-failing.log",
        [JABBER_HEALTHY, LIBRARY.get(JABBER_XAUTH).examples[0].lines[0]],
    )
    by_id, _, run = _coverage([bundle, failing])
    assert by_id[JABBER_XAUTH].outcome == "matched"
    assert by_id[JABBER_PROXY].outcome == "passed"
    assert {f.signature_id for f in run["findings"]} == {JABBER_XAUTH}


def test_an_uploaded_endpoint_log_is_read_and_matched(tmp_path: Path) -> None:
    line = LIBRARY.get(ENDPOINT_RESOLVE).examples[0].lines[0]
    endpoint = _plain_log(tmp_path, "all.log", [line])
    by_id, _, _ = _coverage([_expressway_log(tmp_path), endpoint])
    assert by_id[ENDPOINT_RESOLVE].outcome == "matched"
    assert by_id["tls-inbound-untrusted-ca"].reason is None
    assert by_id["mra-endpoint-edge-ca-untrusted"].outcome == "passed"
    assert by_id[JABBER_XAUTH].outcome == "skipped"


def test_a_product_log_alone_leaves_the_expressway_signatures_without_lines(
    tmp_path: Path,
) -> None:
    by_id, _, _ = _coverage([_plain_log(tmp_path, "jabber.log", [JABBER_HEALTHY])])
    assert by_id[JABBER_XAUTH].outcome == "passed"
    own = by_id["tls-inbound-untrusted-ca"]
    assert own.outcome == "skipped" and (own.reason or "").startswith("no Expressway log lines")


def test_expressway_logs_hold_no_presence_literal() -> None:
    texts = [healthy_expressway_c_loggingsnapshot("expc1", n_lines=3000)]
    texts += [path.read_text(errors="replace") for path in sorted(REAL.glob("*.txt"))]
    for log in PRODUCT_LOGS:
        for literal in log.literals:
            assert not any(literal in text for text in texts), (log.source, literal)


def test_each_product_log_signature_has_a_positive_example_its_log_would_show() -> None:
    """The presence literals agree with the line forms the tech notes quote."""
    for signature in ELSEWHERE:
        literals = PRODUCT_LOG_BY_SOURCE[signature.source].literals
        positive = [line for ex in signature.examples if ex.positive for line in ex.lines]
        assert any(lit in line for line in positive for lit in literals), signature.id


def test_the_verdict_of_an_expressway_upload_stays_clear_and_groups_those_skips(
    tmp_path: Path,
) -> None:
    files = [_expressway_log(tmp_path)]
    _, result, run = _coverage(files)
    examined = examined_lines(files, {"b1": NODE}, run["stats"])
    verdict, detail = verdict_out({}, [coverage_out(c) for c in result], examined)
    assert verdict == CLEAR
    skipped = sum(1 for c in result if c.outcome == "skipped")
    assert detail.signatures_could_not == skipped
    assert detail.summary.endswith(
        f"{skipped:,} could not ({len(ELSEWHERE)} of them read logs of other products, "
        "not uploaded)."
    )


def test_the_schema_names_every_source_and_the_loader_refuses_others(tmp_path: Path) -> None:
    schema = json.loads((Path(coverage.__file__).parent / "schema.json").read_text("utf-8"))
    line_match = schema["$defs"]["signature"]["properties"]["match"]["oneOf"][0]
    assert set(line_match["properties"]["source"]["enum"]) == set(SOURCES)

    accepted = write_library(tmp_path / "ok", _over("jabber_log"))
    assert load_library(accepted).get("demo-sig").source == "jabber_log"
    refused = write_library(tmp_path / "typo", _over("jabber_logs"))
    with pytest.raises(SignatureError) as caught:
        load_library(refused)
    assert caught.value.field == "match.source" and "jabber_log" in str(caught.value)
    linted = CliRunner().invoke(app, ["signatures", "lint", str(refused)])
    assert linted.exit_code == EXIT_FINDINGS and "unknown source 'jabber_logs'" in linted.output


def _over(source: str) -> dict[str, object]:
    doc = minimal_signature()
    doc["match"]["source"] = source  # type: ignore[index]
    return doc


def test_the_cli_list_says_which_log_a_signature_reads() -> None:
    runner = CliRunner()
    text = runner.invoke(app, ["signatures", "list"]).output
    assert f"{JABBER_XAUTH}" in text and "(reads the Jabber log)" in text
    assert f"{len(ELSEWHERE)} read another product's log" in text
    listed = runner.invoke(app, ["signatures", "list", "--json"])
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert rows[ENDPOINT_RESOLVE]["reads"] == "TC/CE endpoint log"
    assert rows["tls-inbound-untrusted-ca"]["reads"] == "Expressway log"


def test_the_report_lists_those_skips_once_per_missing_log(tmp_path: Path) -> None:
    _, result, _ = _coverage([_expressway_log(tmp_path)])
    skipped = [(c.signature_id, c.reason) for c in result if c.outcome == "skipped"]
    lines = skip_lines(skipped)
    jabber = [line for line in lines if "no Jabber log in the upload" in line]
    assert jabber == [
        "mra-jabber-http-proxy-refused, mra-jabber-xauth-cookie-invalid, "
        f"ucm-jabber-oauth-refresh-token-failed: {PRODUCT_LOG_BY_SOURCE['jabber_log'].absent}: "
        f"{PRODUCT_LOG_BY_SOURCE['jabber_log'].hint}"
    ]
    others = len(skipped) - len(ELSEWHERE)
    assert len(lines) == others + len(PRODUCT_LOGS)
    assert any(line.startswith("cert-expired: no PEM or capture") for line in lines)
