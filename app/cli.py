"""`loupe`: serve the app, run workers and migrations, analyse bundles offline, test signatures."""

from __future__ import annotations

import gc
import hashlib
import json
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.config import Settings, get_settings

if TYPE_CHECKING:
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

EXIT_FINDINGS = 1
EXIT_UNUSABLE = 2


def _echo(text: str = "", err: bool = False) -> None:
    typer.echo(text, err=err)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (LOUPE_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (LOUPE_PORT)")] = None,
    web_workers: Annotated[
        int, typer.Option("--web-workers", help="uvicorn processes (needs LOUPE_BROKER_URL)")
    ] = 1,
) -> None:
    """Serve the web app and API (with the embedded worker unless LOUPE_BROKER_URL is set)."""
    import uvicorn

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    if web_workers > 1:
        if not settings.broker_url:
            _echo(
                "--web-workers > 1 needs LOUPE_BROKER_URL (Celery workers run the analyses).",
                err=True,
            )
            raise typer.Exit(EXIT_UNUSABLE)
        uvicorn.run("app.main:create_app", factory=True, host=host, port=port, workers=web_workers)
        return
    from app.main import create_app

    _echo(f"logloupe on http://{host}:{port}  (data dir {settings.resolved_data_dir})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


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
    import os

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


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (SQLite file or LOUPE_DATABASE_URL)."""
    from app.migrate import upgrade

    settings = get_settings()
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    _echo(f"database at {settings.sqlalchemy_url.split('@')[-1]} is up to date")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@app.command()
def analyze(
    bundles: Annotated[
        list[Path], typer.Argument(help="Bundles, logs or captures (one bundle per node)")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON object")] = False,
    title: Annotated[str | None, typer.Option(help="A title for the report")] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", min=1, help="CPU cores to use (default: all available)"),
    ] = None,
    library_dir: Annotated[
        Path | None,
        typer.Option("--library", help="Signature library directory (default: the packaged one)"),
    ] = None,
) -> None:
    """Analyse bundles offline (no server, no database).

    Exit code 1 when a finding of severity error or critical is present, 2 for unusable input.
    """
    from app import serialize
    from app.errors import BundleError, SignatureError
    from app.ids import new_id
    from app.report import Report
    from app.schemas import FileOut, OfflineAnalysisOut
    from app.signatures import load_library
    from app.worker.malloc import tune_malloc
    from app.worker.pipeline import Input

    tune_malloc()
    settings = get_settings()
    check_inputs(bundles)
    try:
        library = load_library(library_dir, cache_dir=settings.cache_dir)
    except (SignatureError, OSError) as exc:
        _echo(f"error: {library_dir}: not a usable signature library ({exc})", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    gc.freeze()  # what start-up built lives until exit: keep it out of every collection
    started = datetime.now(UTC)
    inputs = [Input(path=b.resolve(), name=b.name) for b in bundles]
    with ThreadPoolExecutor(1, thread_name_prefix="sha256") as hashing:  # hashlib frees the GIL
        digests = hashing.map(_sha256, bundles)  # hashed while the pipeline runs
        error: BundleError | None = None
        with tempfile.TemporaryDirectory(prefix="loupe-") as tmp:
            try:
                report = _run_pipeline_with_progress(
                    inputs,
                    Path(tmp) / "work",
                    library,
                    settings,
                    jobs or settings.jobs,
                    show=not as_json,
                )
            except BundleError as exc:
                report, error = Report(ruleset_version=library.version), exc
        files = [
            FileOut(name=b.name, size=b.stat().st_size, sha256=digest)
            for b, digest in zip(bundles, digests, strict=True)
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
            _echo(out.model_dump_json(indent=2))
        else:
            _echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from error
    if as_json:  # the API's analysis object, plus the chains of GET …/{id}/certificates
        body = OfflineAnalysisOut.model_construct(
            **dict(out),
            certificates=report.certificates,
            server_certificates=report.server_certificates,
        )
        _echo(body.model_dump_json(indent=2))
    else:
        from app.textreport import render_text

        _echo(render_text(out))
    if any(f.signature.severity in ("critical", "error") for f in out.findings):
        raise typer.Exit(EXIT_FINDINGS)


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
    from app.worker.pipeline import limits_from

    if not show:
        return run_pipeline(inputs, workdir, library, limits_from(settings), jobs=jobs)
    with typer.progressbar(length=100, label="analysing", file=sys.stderr) as bar:
        last = 0

        def progress(fraction: float) -> None:
            nonlocal last
            now = int(fraction * 100)
            if now > last:
                bar.update(now - last)
                last = now

        return run_pipeline(inputs, workdir, library, limits_from(settings), progress, jobs)


@signatures_app.command("list")
def signatures_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List the signatures of the library."""
    from app.signatures import load_library

    library = load_library()
    rows = [
        {
            "id": s.id,
            "title": s.title,
            "severity": s.severity,
            "status": s.status,
            "product": s.product,
            "bug_ids": list(s.bug_ids),
            "references": list(s.references),
            "examples": len(s.examples),
        }
        for s in library.signatures
    ]
    if as_json:
        _echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        bugs = ", ".join(row["bug_ids"]) if row["bug_ids"] else "-"  # type: ignore[arg-type]
        _echo(f"{row['id']:<55} {row['severity']:<8} {row['status']:<12} {bugs}")
    _echo(f"\n{len(rows)} signatures, ruleset {library.version}")


@signatures_app.command("test")
def signatures_test(
    signature_id: Annotated[str | None, typer.Argument(help="Only this signature")] = None,
) -> None:
    """Run the inline examples of every signature (or one)."""
    from app.signatures import load_library
    from app.signatures.testing import run_examples

    library = load_library()
    selected = [s for s in library.signatures if signature_id in (None, s.id)]
    if not selected:
        _echo(f"error: no signature '{signature_id}'", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    failures = 0
    for sig in selected:
        problems = run_examples(sig)
        failures += len(problems)
        status = "ok" if not problems else f"{len(problems)} failing"
        _echo(f"{sig.id}: {len(sig.examples)} examples, {status}")
        for problem in problems:
            _echo(f"  - {problem}")
    if failures:
        raise typer.Exit(EXIT_FINDINGS)


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
    failures = [f"{s.id}: {p}" for s in library.signatures for p in run_examples(s)]
    for failure in failures:
        _echo(failure, err=True)
    if failures:
        raise typer.Exit(EXIT_FINDINGS)
    _echo(f"{len(library.signatures)} signatures ok (ruleset {library.version})")


from app.cli_calls import register as _register_calls  # noqa: E402  (after `app` exists)

_register_calls(app)


def main() -> None:
    app()
