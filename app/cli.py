"""`loupe`: serve the app, run workers and migrations, analyse bundles offline, test signatures."""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from app.config import Settings, get_settings
from app.display import show_bidi
from app.launch import early_sha256, sha256_of
from app.worker.collection import collection_paused

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.report import Report
    from app.signatures import Library
    from app.worker.pipeline import Input

app = typer.Typer(
    help="logloupe: find known problems in Cisco Expressway diagnostic bundles.",
    no_args_is_help=True,
    add_completion=False,
)
signatures_app = typer.Typer(
    help="List, test and lint the signature library.", no_args_is_help=True
)
app.add_typer(signatures_app, name="signatures")
users_app = typer.Typer(help="Accounts for LOUPE_AUTH=local.", no_args_is_help=True)
app.add_typer(users_app, name="users")
tokens_app = typer.Typer(help="API tokens for scripts.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")

EXIT_FINDINGS = 1
EXIT_UNUSABLE = 2
EXIT_INCONCLUSIVE = 3


class ReportFormat(StrEnum):
    """What `loupe analyze` prints."""

    text = "text"
    md = "md"
    json = "json"


def _echo(text: str = "", err: bool = False, *, raw: bool = False) -> None:
    """Print for people: bidirectional controls from names shown as <U+202E> (app.display);
    `raw` for JSON, which keeps the text as it is."""
    typer.echo(text if raw else show_bidi(text), err=err)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (LOUPE_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (LOUPE_PORT)")] = None,
    web_workers: Annotated[
        int, typer.Option("--web-workers", help="uvicorn processes (needs LOUPE_BROKER_URL)")
    ] = 1,
) -> None:
    """Serve the web app and API (with the embedded worker unless LOUPE_BROKER_URL is set)."""
    import os

    import uvicorn

    from app.web.server import uvicorn_options

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    refusal = open_without_login(settings, host)
    if refusal:
        _echo(refusal, err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    _require_schema(settings)
    # share links and the cross-site check name the address actually served
    settings = settings.model_copy(update={"host": host, "port": port})
    options = uvicorn_options(settings)
    if web_workers > 1:
        if not settings.broker_url:
            _echo(
                "--web-workers > 1 needs LOUPE_BROKER_URL (Celery workers run the analyses).",
                err=True,
            )
            raise typer.Exit(EXIT_UNUSABLE)
        os.environ["LOUPE_HOST"], os.environ["LOUPE_PORT"] = host, str(port)  # for each worker
        options["http"] = "app.web.server:HeaderDeadlineH11Protocol"
        uvicorn.run(
            "app.main:create_served_app",
            factory=True,
            host=host,
            port=port,
            workers=web_workers,
            **options,
        )
        return
    from app.main import create_app

    _echo(f"logloupe on http://{host}:{port}  (data dir {settings.resolved_data_dir})")
    uvicorn.run(
        create_app(settings, served=True), host=host, port=port, log_level="info", **options
    )


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: reachable from this machine only."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_without_login(settings: Settings, host: str) -> str | None:
    """Why `loupe serve` refuses to listen on `host`, or None when it may."""
    if settings.auth != "none" or settings.allow_open or is_loopback(host):
        return None
    return (
        f"error: refusing to listen on {host} with LOUPE_AUTH=none: anyone who can reach it "
        "would read every analysis (customer logs) without logging in. Set LOUPE_AUTH=local "
        "and add users (`loupe users add NAME --admin`), or listen on 127.0.0.1, or set "
        "LOUPE_ALLOW_OPEN=true if the network in front of it is trusted."
    )


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Analyses run at once by this worker")] = 1,
) -> None:
    """Run a Celery worker for analyses (needs LOUPE_BROKER_URL and a shared data dir)."""
    settings = get_settings()
    if not settings.broker_url:
        _echo(
            "error: set LOUPE_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run a worker", err=True
        )
        raise typer.Exit(EXIT_UNUSABLE)
    _require_schema(settings)

    from app.jobs.celery_app import QUEUE, celery_app
    from app.jobs.embedded import MALLOC_TUNING

    for key, value in MALLOC_TUNING.items():
        os.environ.setdefault(key, value)
    celery_app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            f"--queues={QUEUE}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def _require_schema(settings: Settings) -> None:
    """Exit with a clear error when the database is not at this version's schema (serve and
    worker would otherwise fail on their first query, with a traceback)."""
    from app.migrate import schema_problem

    problem = schema_problem(settings.sqlalchemy_url)
    if problem is not None:
        advice = (
            "Check LOUPE_DATABASE_URL (or LOUPE_DATA_DIR) and that the database server is up."
            if problem.startswith("it cannot be read")
            else "Run `loupe migrate` first (`make run` and docker compose do)."
        )
        _echo(
            f"error: the database at {_database_shown(settings)} is not ready: {problem}. {advice}",
            err=True,
        )
        raise typer.Exit(EXIT_UNUSABLE)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (SQLite file or LOUPE_DATABASE_URL)."""
    from app.migrate import upgrade

    settings = get_settings()
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    _echo(f"database at {_database_shown(settings)} is up to date")


def _database_shown(settings: Settings) -> str:
    """The database's URL as messages show it: host and name, no user or password."""
    return settings.sqlalchemy_url.split("@")[-1]


def _sha256(path: Path) -> str:
    """The bundle's SHA-256: the one app.launch made while the command started up, else made
    now (app.launch.sha256_of)."""
    return early_sha256(path) or sha256_of(path)


@app.command()
def analyze(
    bundles: Annotated[
        list[Path], typer.Argument(help="Bundles, logs or captures (one bundle per node)")
    ],
    output_format: Annotated[
        ReportFormat,
        typer.Option(
            "--format",
            help="text (readable), md (the Markdown report for case notes) or json (the API's "
            "object)",
        ),
    ] = ReportFormat.text,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json")] = False,
    coverage: Annotated[
        bool, typer.Option("--coverage", help="List every signature's outcome (text format)")
    ] = False,
    title: Annotated[str | None, typer.Option(help="A title for the report")] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", min=1, help="CPU cores to use (default: all available)"),
    ] = None,
    library_dir: Annotated[
        Path | None,
        typer.Option("--library", help="Signature library directory (default: the packaged one)"),
    ] = None,
    products: Annotated[
        list[str] | None,
        typer.Option(
            "--product",
            help="Product of each bundle, in their order: Expressway-C | Expressway-E | VCS | "
            "auto (repeat the option; a missing one is auto, detected from the evidence)",
        ),
    ] = None,
) -> None:
    """Analyse bundles offline (no server, no database).

    Exit code 1 when a finding of severity error or critical is present, 2 for unusable input,
    3 when the verdict is inconclusive (nothing an Expressway signature could read).
    """
    global _quick_exit
    _quick_exit = True  # the process may end without tearing down its heap (main)
    with collection_paused():  # start-up: imports and the library (analyze pauses it too)
        from app.worker.malloc import tune_malloc

        tune_malloc()
        chosen = _chosen_products(products or [], len(bundles))
        check_inputs(bundles)
        # hashed while the imports below and the library load (one core is free then), unless
        # app.launch started it with the process: then only its digests are taken here
        hashing = ThreadPoolExecutor(1, thread_name_prefix="sha256")
        digests = hashing.map(_sha256, bundles)

        from app import serialize
        from app.errors import BundleError, SignatureError
        from app.ids import new_id
        from app.report import Report
        from app.schemas import FileOut, OfflineAnalysisOut
        from app.signatures import load_library
        from app.signatures.matchers import databases_kept_in
        from app.worker.pipeline import Input

        if as_json:
            output_format = ReportFormat.json
        as_json = output_format is ReportFormat.json
        settings = get_settings()
        try:
            library = load_library(library_dir, cache_dir=settings.cache_dir)
        except (SignatureError, OSError) as exc:
            hashing.shutdown(cancel_futures=True)
            _echo(f"error: {library_dir}: not a usable signature library ({exc})", err=True)
            raise typer.Exit(EXIT_UNUSABLE) from exc
        gc.freeze()  # what start-up built lives until exit: keep it out of every collection
    started = datetime.now(UTC)
    inputs = [
        Input(path=b.resolve(), name=b.name, product=product)
        for b, product in zip(bundles, chosen, strict=True)
    ]
    # Hyperscan databases compiled once for this library, then loaded (matchers.py)
    with hashing, databases_kept_in(settings.cache_dir):
        error: BundleError | None = None
        with tempfile.TemporaryDirectory(prefix="loupe-") as tmp, collection_paused():
            try:
                report = _run_pipeline_with_progress(
                    inputs,
                    Path(tmp) / "work",
                    library,
                    settings,
                    jobs or settings.jobs,
                    show=output_format is ReportFormat.text,
                )
            except BundleError as exc:
                report, error = Report(ruleset_version=library.version), exc
            # the report lives until exit: out of every collection, before the collector runs
            # again (its first pass walked everything the analysis allocated, ~50 ms)
            gc.freeze()
        files = [
            FileOut(name=b.name, size=b.stat().st_size, sha256=digest, product=product)
            for b, digest, product in zip(bundles, digests, chosen, strict=True)
        ]
    out = serialize.report_out(
        report,
        analysis_id=new_id(),
        files=files,
        title=title,
        created_at=started,
        started_at=started,
        finished_at=datetime.now(UTC),
        error=str(error) if error is not None else None,
    )
    if error is not None:
        if as_json:
            _echo(out.model_dump_json(indent=2), raw=True)
        else:
            _echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from error
    if as_json:  # the API's analysis object, plus the chains of GET …/{id}/certificates
        body = OfflineAnalysisOut.model_construct(
            **dict(out),
            certificates=report.certificates,
            server_certificates=report.server_certificates,
        )
        _echo(body.model_dump_json(indent=2), raw=True)
    elif output_format is ReportFormat.md:
        from app.reporting import document
        from app.reporting.markdown import render_markdown

        failed = [c for c in report.calls or () if c.failed]  # extracted: LOUPE_CALL_FLOWS
        doc = document.build(
            out.model_dump(mode="json"),
            certificates=report.certificates,
            server_certificates=report.server_certificates,
            calls=[
                {
                    "number": c.number,
                    "started_at": c.started_at,
                    "from_uri": c.from_uri,
                    "to_uri": c.to_uri,
                    "final_status": c.final_status,
                    "failed": c.failed,
                    "end_reason": c.end_reason,
                }
                for c in failed[: document.MAX_REPORT_CALLS]
            ],
            failed_calls=len(failed),
        )
        _echo(render_markdown(doc).rstrip("\n"), raw=True)
    else:
        from app.textreport import render_text

        _echo(render_text(out, full_coverage=coverage))
    if any(f.signature.severity in ("critical", "error") for f in out.findings):
        raise typer.Exit(EXIT_FINDINGS)
    if out.verdict == "inconclusive":
        raise typer.Exit(EXIT_INCONCLUSIVE)


def _chosen_products(products: list[str], count: int) -> list[str | None]:
    """The product chosen for each of `count` bundles; exits 2 on a bad `--product`."""
    from app.bundle.identity.choice import read_choice

    if len(products) > count:
        _echo(f"error: {len(products)} --product options for {count} bundle(s)", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    try:
        chosen = [read_choice(value) for value in products]
    except ValueError as exc:
        _echo(f"error: --product: {exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    return chosen + [None] * (count - len(chosen))


def check_inputs(bundles: list[Path]) -> None:
    """Exit (EXIT_UNUSABLE, with the reason) unless each path is a bundle, log or capture."""
    from app.bundle.unpack import sniff_upload_type

    for bundle in bundles:
        if not bundle.is_file():
            _echo(f"error: {bundle}: no such file", err=True)
            raise typer.Exit(EXIT_UNUSABLE)
        with bundle.open("rb") as handle:
            head = handle.read(4096)
        if not head:
            _echo(f"error: {bundle}: the file is empty", err=True)
            raise typer.Exit(EXIT_UNUSABLE)
        if sniff_upload_type(head, bundle.name) is None:
            _echo(f"error: {bundle}: not a bundle, log or capture logloupe can read", err=True)
            raise typer.Exit(EXIT_UNUSABLE)


def _run_pipeline_with_progress(
    inputs: list[Input],
    workdir: Path,
    library: Library,
    settings: Settings,
    jobs: int | None,
    *,
    show: bool,
) -> Report:
    """The offline pipeline, with a progress bar on stderr when `show`."""
    from app.worker.pipeline import analyze as run_pipeline
    from app.worker.pipeline import limits_from, output_limits_from

    output = output_limits_from(settings)
    if not show:
        return run_pipeline(
            inputs,
            workdir,
            library,
            limits_from(settings, keep_files=False),
            jobs=jobs,
            output=output,
            extract_calls=settings.call_flows,
        )
    with typer.progressbar(length=100, label="analysing", file=sys.stderr) as bar:
        last = 0

        def progress(fraction: float) -> None:
            nonlocal last
            now = int(fraction * 100)
            if now > last:
                bar.update(now - last)
                last = now

        return run_pipeline(
            inputs,
            workdir,
            library,
            limits_from(settings, keep_files=False),
            progress,
            jobs,
            output=output,
            extract_calls=settings.call_flows,
        )


@signatures_app.command("list")
def signatures_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List the signatures of the library, and which log each reads when not the Expressway's."""
    from app.bundle.sources import PRODUCT_LOG_BY_SOURCE, source_words
    from app.signatures import load_library

    library = load_library()
    rows = [
        {
            "id": s.id,
            "title": s.title,
            "severity": s.severity,
            "status": s.status,
            "product": s.product,
            "family": s.family,
            "source": s.source,
            "reads": source_words(s.source),
            "bug_ids": list(s.bug_ids),
            "references": list(s.references),
            "examples": len(s.examples),
        }
        for s in library.signatures
    ]
    if as_json:
        _echo(json.dumps(rows, indent=2), raw=True)
        return
    elsewhere: dict[str, int] = {}
    for row in rows:
        bugs = ", ".join(row["bug_ids"]) if row["bug_ids"] else "-"  # type: ignore[arg-type]
        line = f"{row['id']:<55} {row['severity']:<8} {row['status']:<12} {bugs}"
        if row["source"] in PRODUCT_LOG_BY_SOURCE:
            line += f"  (reads the {row['reads']})"
            elsewhere[str(row["reads"])] = elsewhere.get(str(row["reads"]), 0) + 1
        _echo(line)
    _echo(f"\n{len(rows)} signatures, ruleset {library.version}")
    families: dict[str, dict[str, int]] = {}
    for sig in library.signatures:
        by_status = families.setdefault(sig.family, {})
        by_status[sig.status] = by_status.get(sig.status, 0) + 1
    for family, by_status in sorted(families.items()):
        counts = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
        _echo(f"  {family}: {counts}")
    if elsewhere:
        logs = ", ".join(f"{n} the {name}" for name, n in elsewhere.items())
        _echo(
            f"{sum(elsewhere.values())} read another product's log, uploaded as a plain log "
            f"next to the bundles: {logs}"
        )


@signatures_app.command("test")
def signatures_test(
    signature_id: Annotated[str | None, typer.Argument(help="Only this signature")] = None,
    real_logs: Annotated[
        Path | None,
        typer.Option(help="Folder of healthy real logs (default: ../shared/data/real if present)"),
    ] = None,
) -> None:
    """Run the inline examples of every signature (or one), then the baseline: the healthy real
    logs must give no match."""
    from app.signatures import load_library
    from app.signatures.testing import run_examples
    from app.signatures.trial import REAL_LOGS, baseline_hits
    from app.signatures.trial import real_logs as find_real_logs

    library = load_library()
    selected = [s for s in library.signatures if signature_id in (None, s.id)]
    if not selected:
        _echo(f"error: no signature '{signature_id}'", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    healthy = find_real_logs(real_logs or REAL_LOGS)
    failures = 0
    for sig in selected:
        problems = [str(problem) for problem in run_examples(sig)]
        problems += [
            f"{sig.id} / baseline: matches the healthy log {hit.file}:{hit.number}"
            for hit in baseline_hits(sig, healthy)
        ]
        failures += len(problems)
        status = "ok" if not problems else f"{len(problems)} failing"
        quiet = (
            f", quiet over {len(healthy)} real log(s)" if healthy and sig.analyzer is None else ""
        )
        _echo(f"{sig.id}: {len(sig.examples)} examples{quiet}, {status}")
        for problem in problems:
            _echo(f"  - {problem}")
    if not healthy:
        _echo(f"(no real logs in {real_logs or REAL_LOGS}: baseline not run)")
    if failures:
        raise typer.Exit(EXIT_FINDINGS)


MAX_WHY_NOT = 20
"""`signatures try` shows this many lines that held a literal but no pattern matched."""


def _not_plain_log(path: Path) -> str | None:
    """Why `signatures try` cannot read `path` as a plain log (an archive, a capture), or None:
    read as lines, such a file gives no match, reported as if the log had been looked at."""
    from app.bundle.magic import SNIFF_BYTES, sniff_format

    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror or exc})"
    kind = sniff_format(head)
    if kind in ("gzip", "zip", "tar"):
        return (
            f"{path} is a {kind} archive: `signatures try` reads plain log files; unpack it "
            "and name the logs inside, or run `loupe analyze` on the bundle"
        )
    if kind in ("pcap", "pcapng"):
        return f"{path} is a packet capture ({kind}): `signatures try` reads plain log files"
    return None  # text, or bytes no format claims: read as a log (junk lines match nothing)


@signatures_app.command("try")
def signatures_try(
    signature_id: Annotated[str, typer.Argument(help="The signature to run")],
    files: Annotated[list[Path], typer.Argument(help="Plain log files (no bundle)")],
) -> None:
    """Run one signature over plain log files: the lines it matches (line number, facts) and,
    for lines holding its prefilter literal that no pattern matched, why not."""
    from app.errors import NotFound
    from app.signatures import load_library
    from app.signatures.trial import trial

    library = load_library()
    try:
        signature = library.get(signature_id)
    except NotFound as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    if signature.analyzer is not None:
        reads = "the configuration (xconf)" if signature.source == "xconf" else "certificates"
        _echo(f"error: {signature_id} reads {reads}, not log lines", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        _echo(f"error: not a file: {', '.join(missing)}", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    unread = [problem for path in files if (problem := _not_plain_log(path))]
    if unread:
        for problem in unread:
            _echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    matched = why_not = 0
    for path in files:
        for line in trial(signature, path):
            where = f"{line.file}:{line.number}"
            if line.facts is not None:
                matched += 1
                facts = ", ".join(f"{k}={v!r}" for k, v in line.facts.items()) or "(no facts)"
                _echo(f"{where}: match: {facts}")
                continue
            why_not += 1
            if why_not <= MAX_WHY_NOT:
                _echo(
                    f"{where}: why not: the line holds the literal {line.literal!r}, "
                    "but no pattern of the signature matched it"
                )
    if why_not > MAX_WHY_NOT:
        _echo(f"... and {why_not - MAX_WHY_NOT} more line(s) with a literal but no match")
    _echo(
        f"{signature_id}: {matched} line(s) matched, {why_not} held a literal without a match, "
        f"in {len(files)} file(s)"
    )


@signatures_app.command("lint")
def signatures_lint(
    path: Annotated[
        Path | None, typer.Argument(help="Library directory (default: packaged)")
    ] = None,
) -> None:
    """Validate the library: schema, unique ids, regexes, named groups, examples."""
    from app.errors import SignatureError
    from app.signatures import load_library
    from app.signatures.testing import run_examples

    try:
        library = load_library(path)
    except SignatureError as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_FINDINGS) from exc
    for refining, refined in library.detached:
        _echo(
            f"note: {refining} refines {refined}, which is not in this library: "
            f"{refining} reports those lines on its own"
        )
    failures = [f"{s.id}: {p}" for s in library.signatures for p in run_examples(s)]
    for failure in failures:
        _echo(failure, err=True)
    if failures:
        raise typer.Exit(EXIT_FINDINGS)
    _echo(f"{len(library.signatures)} signatures ok (ruleset {library.version})")


@app.command()
def compact() -> None:
    """Keep the large unpacked files of finished analyses compressed (those of analyses made
    before logloupe compressed them). Safe while the server runs: pages read either form."""
    from sqlalchemy import select

    from app.bundle.budget import human_size
    from app.bundle.stored import compress_tree
    from app.errors import StoredFileDamaged
    from app.models import Analysis
    from app.services import storage
    from app.services.analyses import ACTIVE

    settings = get_settings()
    threshold = settings.unpack_compress_from_kib * 1024
    if not threshold:
        _echo("LOUPE_UNPACK_COMPRESS_FROM_KIB is 0: unpacked files are kept plain")
        return
    with _database() as session:
        ids = session.scalars(select(Analysis.id).where(Analysis.status.not_in(ACTIVE))).all()
    files = before = after = touched = 0
    for analysis_id in ids:
        try:
            with storage.analysis_lock(settings.resolved_data_dir, analysis_id):  # not mid-run
                done = compress_tree(
                    storage.work_dir(settings.resolved_data_dir, analysis_id),
                    plain_below=threshold,
                    level=settings.store_level,
                )
        except (OSError, StoredFileDamaged) as exc:  # e.g. re-run meanwhile: its files go anew
            _echo(f"warning: analysis {analysis_id}: not compressed ({exc})", err=True)
            continue
        touched += 1 if done.files else 0
        files, before, after = files + done.files, before + done.before, after + done.after
    _echo(
        f"{files} files of {touched} analyses compressed: "
        f"{human_size(before)} now take {human_size(after)}"
    )


@contextmanager
def _database() -> Iterator[Session]:
    """A session on the migrated database of the settings."""
    from app.db import Database
    from app.migrate import upgrade

    settings = get_settings()
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    db = Database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            yield session
    finally:
        db.dispose()


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name")],
    team: Annotated[
        str | None, typer.Option(help="Team: its members see each other's work")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="May see and manage everything")] = False,
) -> None:
    """Add an account; the password is read from standard input (one line)."""
    from app.auth import users
    from app.errors import LoupeError

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {name}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        with _database() as session:
            users.add(session, name, password, team=team, admin=admin)
    except LoupeError as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    _echo(
        f"user {name} added" + (f" to team {team}" if team else "") + (" (admin)" if admin else "")
    )


@users_app.command("list")
def users_list() -> None:
    """List the accounts."""
    from app.auth import users

    with _database() as session:
        rows = users.list_all(session)
    for user in rows:
        flags = ", ".join(
            flag for flag, on in (("admin", user.admin), ("disabled", user.disabled)) if on
        )
        _echo(f"{user.name:<30} {user.team or '-':<20} {flags}")
    if not rows:
        _echo("no users yet: add one with `loupe users add NAME --admin`")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="Login name")]) -> None:
    """Disable an account: its logins, sessions and API tokens stop working at once."""
    from app.auth import users
    from app.errors import LoupeError

    try:
        with _database() as session:
            users.disable(session, name)
    except LoupeError as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    _echo(f"user {name} disabled")


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. nightly-upload")],
    user: Annotated[
        str | None, typer.Option(help="Whose token it is (default: the only admin)")
    ] = None,
    expires: Annotated[
        int | None, typer.Option(help="Days until it expires (default: never)", min=1)
    ] = None,
) -> None:
    """Create an API token; prints only the token (shown once) on standard output."""
    from app.auth import api_tokens, audit, users
    from app.errors import LoupeError

    try:
        with _database() as session:
            owner = users.get(session, user) if user else users.only_admin(session)
            made = api_tokens.create(session, owner, name, expires)
            audit.record(
                session,
                "token_created",
                actor=owner.name,
                detail=f"token {made.row.id} '{name}' (command line)",
            )
    except LoupeError as exc:
        _echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    _echo(made.secret)


from app.cli_calls import register as _register_calls  # noqa: E402  (after `app` exists)

_register_calls(app)


_quick_exit = False
"""True once `loupe analyze` has started: its process then ends without tearing down its heap
(see `main`)."""


def main() -> None:
    """The `loupe` command.

    A process that ran `loupe analyze` ends as soon as the command has (`os._exit`, after its
    output is flushed and logging shut down): Python's own exit freed the analysis' objects one
    by one (its messages, every regex's automata, the report), 45-50 ms of the 1 GiB bench
    bundle's analysis (`perf`: the run's last 60 ms were deallocations) for nothing anyone
    reads. Everything the command wrote is closed by then (its work directory removed, its
    threads joined); only commands run through `main` (the installed `loupe`, `python -m
    app`) end this way, never one invoked in-process (tests).
    """
    try:
        app()
    except SystemExit as done:
        if _quick_exit:
            _end_now(done.code)
        raise


def _end_now(code: object) -> NoReturn:
    """End the process with `code` as SystemExit would, without Python's clean-up."""
    if code is not None and not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):  # (a closed pipe: nothing more can be said)
            stream.flush()
    logging.shutdown()
    os._exit(code or 0)
