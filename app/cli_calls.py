"""`loupe calls` and `loupe ladder`: the SIP calls of bundles, offline (no server, no database)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from app.calls.model import Call
    from app.report import Report

EXIT_UNUSABLE = 2

Bundles = Annotated[list[Path], typer.Argument(help="Bundles or logs (one bundle per node)")]


def _analyse(bundles: list[Path], jobs: int | None) -> Report:
    """Run the offline pipeline over `bundles`; exits with a reason on unusable input."""
    from app.cli import check_inputs
    from app.config import get_settings
    from app.errors import BundleError, SignatureError
    from app.signatures import load_library
    from app.worker.pipeline import Input, analyze, limits_from, output_limits_from

    check_inputs(bundles)
    settings = get_settings()
    try:
        library = load_library(cache_dir=settings.cache_dir)
    except (SignatureError, OSError) as exc:
        typer.echo(f"error: the signature library cannot be loaded ({exc})", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    inputs = [Input(path=b.resolve(), name=b.name) for b in bundles]
    with tempfile.TemporaryDirectory(prefix="loupe-") as tmp:
        try:
            return analyze(  # the user asked for calls: extracted whatever LOUPE_CALL_FLOWS says
                inputs,
                Path(tmp) / "work",
                library,
                limits_from(settings),
                jobs=jobs,
                output=output_limits_from(settings),
                extract_calls=True,
            )
        except BundleError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_UNUSABLE) from exc


def _matches(call: Call, needle: str) -> bool:
    if not needle:
        return True
    haystack = [call.from_uri, call.to_uri, *call.call_ids]
    for message in call.messages:
        haystack += [message.request_uri, message.local, message.remote, message.node]
    return any(needle in value.lower() for value in haystack)


def register(app: typer.Typer) -> None:
    """Add the `calls` and `ladder` commands to the `loupe` app."""

    @app.command()
    def calls(
        bundles: Bundles,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print JSON (the API's shape)")
        ] = False,
        failed: Annotated[bool, typer.Option("--failed", help="Only failed calls")] = False,
        query: Annotated[
            str, typer.Option("-q", "--query", help="Number, URI, Call-ID or address")
        ] = "",
        jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="CPU cores")] = None,
    ) -> None:
        """List the SIP calls the logs show (one bundle per node: calls are joined across them)."""
        from app.calls.codec import call_summary

        found = _analyse(bundles, jobs).calls or []
        needle = query.strip().lower()
        chosen = [c for c in found if (c.failed or not failed) and _matches(c, needle)]
        if as_json:
            body = {"total": len(chosen), "calls": [call_summary(c) for c in chosen]}
            typer.echo(json.dumps(body, indent=2))
            return
        for call in chosen:
            started = call.started_at.isoformat(sep=" ")[:23] if call.started_at else "?"
            status = call.final_status or "no final response logged"
            joined = f"  joined by {call.joined_by}" if call.joined_by else ""
            typer.echo(
                f"{call.number:>5}  {started}  {call.method:<8} {call.from_uri} → {call.to_uri}"
                f"  [{status}]  {len(call.messages)} messages  {', '.join(call.nodes)}{joined}"
            )
        typer.echo(f"\n{len(chosen)} call(s) of {len(found)}")

    @app.command()
    def ladder(
        bundles: Bundles,
        call: Annotated[
            int, typer.Option("--call", min=1, help="The call's number (`loupe calls`)")
        ],
        output_format: Annotated[str, typer.Option("--format", help="txt or svg")] = "txt",
        jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="CPU cores")] = None,
    ) -> None:
        """Draw one call's ladder diagram as text (for case notes) or SVG."""
        from app.calls.ladder import lay_out
        from app.calls.render import to_svg, to_text

        if output_format not in ("txt", "svg"):
            typer.echo("error: --format is txt or svg", err=True)
            raise typer.Exit(EXIT_UNUSABLE)
        report = _analyse(bundles, jobs)
        calls = report.calls or []
        found = next((c for c in calls if c.number == call), None)
        if found is None:
            typer.echo(f"error: no call {call} (the logs show {len(calls)})", err=True)
            raise typer.Exit(EXIT_UNUSABLE)
        products = {(n.hostname or n.bundle): n.product for n in report.nodes}
        drawn = lay_out(found.messages, products)
        typer.echo(
            to_svg(drawn, link=False) if output_format == "svg" else to_text(drawn), nl=False
        )
