"""`loupe analyze` and `loupe signatures`: what a TAC engineer's terminal and scripts see."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import EXIT_FINDINGS, EXIT_UNUSABLE, app
from tests.corpus import healthy_expressway_c_loggingsnapshot, xstat_dump
from tests.factories import make_tar
from tests.test_api import seed_bundle

runner = CliRunner()


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUPE_CACHE_DIR", str(tmp_path / "cache"))
    from app.config import get_settings

    get_settings.cache_clear()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_json_report_of_a_bundle_with_the_seed_problem(tmp_path: Path) -> None:
    bundle = _write(tmp_path, "diagnostic_log_vcsc.tar.gz", seed_bundle("self_signed"))
    result = runner.invoke(app, ["analyze", "--json", str(bundle)])
    assert result.exit_code == EXIT_FINDINGS, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "done"
    assert report["files"] == [
        {
            "name": bundle.name,
            "size": bundle.stat().st_size,
            "sha256": hashlib.sha256(bundle.read_bytes()).hexdigest(),
            "product": None,
        }
    ]
    assert [n["version"] for n in report["nodes"]] == ["X14.2.1"]
    assert [(n["product"], n["confidence"]) for n in report["nodes"]] == [("Expressway-C", "high")]
    assert report["nodes"][0]["evidence"]
    seed = [f for f in report["findings"] if f["signature"]["id"].startswith("mra-")]
    assert seed and seed[0]["facts"]["reason"] == "self_signed"
    assert seed[0]["snippets"][0]["line"] > 300  # after the 300 healthy lines
    assert "certificates" in report and "server_certificates" in report


def test_product_option_chooses_each_bundles_product(tmp_path: Path) -> None:
    bundle = _write(tmp_path, "diagnostic_log_vcsc.tar.gz", seed_bundle("self_signed"))

    chosen = runner.invoke(app, ["analyze", "--json", "--product", "expressway-e", str(bundle)])
    too_many = runner.invoke(app, ["analyze", "--product", "VCS", "--product", "VCS", str(bundle)])
    unknown = runner.invoke(app, ["analyze", "--product", "Expressway", str(bundle)])

    report = json.loads(chosen.stdout)
    assert report["files"][0]["product"] == "Expressway-E"
    assert report["nodes"][0]["evidence"][0]["source"] == "user"
    assert report["nodes"][0]["product"] == "Expressway-E"
    assert too_many.exit_code == unknown.exit_code == EXIT_UNUSABLE
    assert "2 --product options for 1 bundle(s)" in too_many.output
    assert "'Expressway' is not a product" in unknown.output


def test_one_job_and_all_cores_report_the_same(tmp_path: Path) -> None:
    bundle = _write(tmp_path, "diagnostic_log_vcsc.tar.gz", seed_bundle("unknown_ca"))
    reports = []
    for jobs in ("1", "2"):
        result = runner.invoke(app, ["analyze", "--json", "--jobs", jobs, str(bundle)])
        assert result.exit_code == EXIT_FINDINGS, result.output
        reports.append(json.loads(result.stdout)["findings"])
    assert reports[0] == reports[1]


def test_a_healthy_bundle_exits_zero_with_a_readable_report(tmp_path: Path) -> None:
    healthy = make_tar(
        {
            "loggingsnapshot_vcsc_2022-07-11_17_33_18.txt": healthy_expressway_c_loggingsnapshot(
                "vcsc", n_lines=500
            ),
            "xstat_dump_vcsc_2022-07-11_17_33_18.txt": xstat_dump(
                "vcsc", "Expressway-C", "X14.2.1"
            ),
        }
    )
    bundle = _write(tmp_path, "diagnostic_log_vcsc.tar.gz", healthy)
    result = runner.invoke(app, ["analyze", str(bundle)])
    assert result.exit_code == 0, result.output
    assert "No known problem found" in result.stdout
    assert "node vcsc: Expressway-C (high confidence), X14.2.1" in result.stdout
    assert 'SystemUnit Product reads "Expressway-C"' in result.stdout


def test_two_peers_become_two_nodes(tmp_path: Path) -> None:
    first = _write(tmp_path, "diag_a.tar.gz", seed_bundle("self_signed", host="expc1"))
    second = _write(tmp_path, "diag_b.tar.gz", seed_bundle("sni_mismatch", host="expc2"))
    result = runner.invoke(app, ["analyze", "--json", str(first), str(second)])
    assert result.exit_code == EXIT_FINDINGS, result.output
    report = json.loads(result.stdout)
    assert sorted(n["hostname"] for n in report["nodes"]) == ["expc1", "expc2"]
    reasons = {
        (f["node"], f["facts"]["reason"])
        for f in report["findings"]
        if f["signature"]["id"].startswith("mra-")
    }
    assert {("expc1", "self_signed"), ("expc2", "sni_mismatch")} <= reasons


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("picture.png", b"\x89PNG\r\n\x1a\n" + bytes(200), "not a bundle"),
        ("empty.tar.gz", b"", "empty"),
    ],
)
def test_unusable_input_exits_two_with_a_reason(
    tmp_path: Path, name: str, data: bytes, said: str
) -> None:
    result = runner.invoke(app, ["analyze", str(_write(tmp_path, name, data))])
    assert result.exit_code == EXIT_UNUSABLE
    assert said in result.output


def test_a_missing_file_exits_two(tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyze", str(tmp_path / "nowhere.tar.gz")])
    assert result.exit_code == EXIT_UNUSABLE
    assert "no such file" in result.output


def test_garbage_collection_is_back_on_after_an_analysis_whatever_its_end(tmp_path: Path) -> None:
    # start-up runs without collections; a process that goes on (tests, scripts) must not
    log = tmp_path / "w.log"
    log.write_text("2026-11-20T10:15:33.120+01:00 expc1 tvcs: warm-up\n")
    broken = tmp_path / "library"
    broken.mkdir()
    (broken / "x.yaml").write_text("id: x\n")
    for args, code in (
        (["analyze", "--json", str(log)], 0),
        (["analyze", str(tmp_path / "nowhere.tar.gz")], EXIT_UNUSABLE),  # before the library
        (["analyze", "--library", str(broken), str(log)], EXIT_UNUSABLE),  # not usable
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == code, result.output
        assert gc.isenabled()


def test_the_report_is_frozen_out_of_the_collector_before_it_runs_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the analysis made lives until exit: frozen (gc.freeze) while the collector is still
    paused, since its first pass after the analysis walked all of it (~50 ms of a 1 GiB one)."""
    import app.cli as cli
    from app.worker import pipeline

    events: list[str] = []
    analyze = pipeline.analyze

    def watched(*args: object, **kwargs: object) -> object:
        events.append("analysed")
        return analyze(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "analyze", watched)
    monkeypatch.setattr(
        cli.gc, "freeze", lambda: events.append("frozen, collector " + str(gc.isenabled()))
    )
    bundle = _write(tmp_path, "diagnostic_log_vcsc.tar.gz", seed_bundle("self_signed"))
    result = runner.invoke(app, ["analyze", "--json", str(bundle)])
    assert result.exit_code == EXIT_FINDINGS, result.output
    assert events[-2:] == ["analysed", "frozen, collector False"]
    assert gc.isenabled()


def test_a_truncated_bundle_gives_a_failed_json_report(tmp_path: Path) -> None:
    whole = seed_bundle("self_signed")
    bundle = _write(tmp_path, "diagnostic_log_vcsc.tar.gz", whole[:40])  # before any file
    result = runner.invoke(app, ["analyze", "--json", str(bundle)])
    assert result.exit_code == EXIT_UNUSABLE
    report = json.loads(result.stdout)
    assert report["status"] == "failed"
    assert "truncated" in report["error"]
    assert report["findings"] == []


def test_the_library_cache_is_filled_once_and_used(tmp_path: Path) -> None:
    bundle = _write(tmp_path, "diagnostic_log_vcsc.tar.gz", seed_bundle("self_signed"))
    outputs = []
    for _ in range(2):
        result = runner.invoke(app, ["analyze", "--json", str(bundle)])
        outputs.append(json.loads(result.stdout)["findings"])
    assert len(list((tmp_path / "cache").glob("library-*.marshal"))) == 1
    assert outputs[0] == outputs[1]


def test_signature_commands(tmp_path: Path) -> None:
    listed = runner.invoke(app, ["signatures", "list", "--json"])
    assert listed.exit_code == 0
    ids = [row["id"] for row in json.loads(listed.stdout)]
    assert "mra-traffic-server-cert-verification" in ids
    families = {row["id"]: row["family"] for row in json.loads(listed.stdout)}
    assert families["tls-negotiation-error"] == "tls"
    assert families["expressway-alarm-20004"] == "alarm"
    text = runner.invoke(app, ["signatures", "list"]).output
    assert "  tls: " in text and " stable" in text
    assert runner.invoke(app, ["signatures", "lint"]).exit_code == 0
    tested = runner.invoke(app, ["signatures", "test", "mra-traffic-server-cert-verification"])
    assert tested.exit_code == 0, tested.output


SEED_WARNING = (
    "2022-07-11T19:33:06.740+02:00 vcsd traffic_server[3936]: [ET_NET 0] WARNING: Core server "
    "certificate verification failed for (10.48.36.215). Action:Terminate Error=ssl signed "
    "certificate in certificate chain server=10.48.36.215(10.48.36.215) depth=1"
)


def test_signatures_try_shows_matches_and_why_not(tmp_path: Path) -> None:
    log = tmp_path / "plain.log"
    log.write_text(
        "\n".join(
            [
                "an unrelated line",
                SEED_WARNING,
                SEED_WARNING.replace("Action:Terminate", "Action=Continue"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["signatures", "try", "mra-traffic-server-cert-verification", str(log)]
    )
    assert result.exit_code == 0, result.output
    assert f"{log}:2: match:" in result.output
    assert "server='10.48.36.215'" in result.output and "reason='unknown_ca'" in result.output
    assert f"{log}:3: why not:" in result.output
    assert "'certificate verification failed'" in result.output
    assert "1 line(s) matched, 1 held a literal without a match" in result.output


def test_signatures_try_refuses_an_unknown_signature_or_file(tmp_path: Path) -> None:
    log = tmp_path / "plain.log"
    log.write_text("x\n", encoding="utf-8")
    unknown = runner.invoke(app, ["signatures", "try", "no-such-signature", str(log)])
    assert unknown.exit_code == EXIT_UNUSABLE and "no-such-signature" in unknown.output
    missing = runner.invoke(
        app, ["signatures", "try", "cluster-database-inconsistent", str(tmp_path / "gone.log")]
    )
    assert missing.exit_code == EXIT_UNUSABLE and "gone.log" in missing.output


def test_signatures_test_runs_the_real_log_baseline_for_one_signature(tmp_path: Path) -> None:
    healthy = tmp_path / "real"
    healthy.mkdir()
    (healthy / "quiet.txt").write_text("a healthy line\n", encoding="utf-8")
    args = ["signatures", "test", "mra-traffic-server-cert-verification"]
    quiet = runner.invoke(app, [*args, "--real-logs", str(healthy)])
    assert quiet.exit_code == 0, quiet.output
    assert "quiet over 1 real log(s), ok" in quiet.output
    (healthy / "noisy.log").write_text(f"{SEED_WARNING}\n", encoding="utf-8")
    noisy = runner.invoke(app, [*args, "--real-logs", str(healthy)])
    assert noisy.exit_code == EXIT_FINDINGS
    assert f"baseline: matches the healthy log {healthy / 'noisy.log'}:1" in noisy.output


def test_signatures_try_refuses_a_bundle_rather_than_finding_nothing_in_it(
    tmp_path: Path,
) -> None:
    line = (
        '2022-07-11T19:33:06+02:00 expe tvcs: Event="Alarm Raised" Id="20004" Severity="warning"\n'
    )
    bundle = tmp_path / "diagnostic_log_expe.tar.gz"
    bundle.write_bytes(make_tar({"loggingsnapshot_expe.txt": line}))
    plain = tmp_path / "loggingsnapshot_expe.txt"
    plain.write_text(line, encoding="utf-8")
    refused = runner.invoke(app, ["signatures", "try", "expressway-alarm-20004", str(bundle)])
    assert refused.exit_code == EXIT_UNUSABLE
    assert "is a gzip archive" in refused.output and "unpack it" in refused.output
    read = runner.invoke(app, ["signatures", "try", "expressway-alarm-20004", str(plain)])
    assert read.exit_code == 0 and "1 line(s) matched" in read.output


@pytest.mark.parametrize("size", [0, 1, 4096, 4097, 4096 * 3 + 511])
def test_the_bundles_sha256_is_that_of_every_byte_whatever_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """The digest the report gives a bundle is read through one reused buffer: sizes around
    the buffer's (made small here) are hashed whole, nothing left over from a read before."""
    from app import cli, launch

    monkeypatch.setattr(launch, "SHA256_READ_BYTES", 4096)
    data = bytes((n * 7 + n // 4096) % 251 for n in range(size))
    path = _write(tmp_path, "bundle.bin", data)
    assert cli._sha256(path) == hashlib.sha256(data).hexdigest()


_RUN_MAIN = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('python cleaned up\\n'))\n"
    "from app.cli import main\n"
    "sys.argv = ['loupe', *sys.argv[1:]]\n"
    "main()\n"
)


def _loupe(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOUPE_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, "-c", _RUN_MAIN, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )


def test_loupe_analyze_ends_at_once_with_its_whole_report_and_exit_code(tmp_path: Path) -> None:
    # the process ends without Python's clean-up (its heap is not freed object by object),
    # after everything it printed is out, with the code the command gave
    bundle = _write(tmp_path, "diagnostic_log_vcsc.tar.gz", seed_bundle("self_signed"))
    done = _loupe(tmp_path, "analyze", "--json", str(bundle))
    assert done.returncode == EXIT_FINDINGS, done.stderr
    assert json.loads(done.stdout)["status"] == "done"
    assert "python cleaned up" not in done.stderr
    healthy = make_tar(
        {
            "loggingsnapshot_vcsc_2022-07-11_17_33_18.txt": healthy_expressway_c_loggingsnapshot(
                "vcsc", n_lines=500
            ),
            "xstat_dump_vcsc_2022-07-11_17_33_18.txt": xstat_dump(
                "vcsc", "Expressway-C", "X14.2.1"
            ),
        }
    )
    done = _loupe(tmp_path, "analyze", str(_write(tmp_path, "diagnostic_log_ok.tar.gz", healthy)))
    assert done.returncode == 0 and "No known problem found" in done.stdout, done.stderr
    assert "python cleaned up" not in done.stderr
    missing = _loupe(tmp_path, "analyze", str(tmp_path / "nothing.tar.gz"))
    assert missing.returncode == EXIT_UNUSABLE and "no such file" in missing.stderr
    assert "python cleaned up" not in missing.stderr


def test_other_commands_end_as_python_does(tmp_path: Path) -> None:
    done = _loupe(tmp_path, "signatures", "list")
    assert done.returncode == 0 and done.stdout
    assert "python cleaned up" in done.stderr


@pytest.mark.parametrize("command", [["serve"], ["worker"]])
def test_serve_and_worker_refuse_a_database_never_migrated_with_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    import uvicorn

    monkeypatch.setenv("LOUPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOUPE_BROKER_URL", "redis://127.0.0.1:1/0")  # (worker: never reached)
    monkeypatch.delenv("LOUPE_DATABASE_URL", raising=False)
    from app.jobs.celery_app import celery_app

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("served without a schema"))
    monkeypatch.setattr(celery_app, "worker_main", lambda *a: pytest.fail("worked without one"))
    from app.config import get_settings

    get_settings.cache_clear()
    try:
        result = runner.invoke(app, command)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == EXIT_UNUSABLE, result.output
    assert "is not ready: it does not exist yet. Run `loupe migrate` first" in result.output
    assert not (tmp_path / "data" / "loupe.db").exists()
