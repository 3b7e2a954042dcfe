"""`loupe calls` and `loupe ladder`: the SIP calls of bundles, offline (no server, no database)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from app.calls.model import BackgroundRow, Call
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
    """What `?q=` of the server matches: URIs, Call-IDs, addresses and nodes (any case)."""
    from app.services.calls import search_text

    return not needle or needle in search_text(call)


def _find(calls: list[Call], key: str) -> Call | None:
    """The call `key` names: its number, or one of its Call-IDs (exact, then any case)."""
    text = key.strip()
    if text.isascii() and text.isdigit():
        numbered = next((c for c in calls if c.number == int(text)), None)
        if numbered is not None:
            return numbered
    exact = next((c for c in calls if text in c.call_ids), None)  # some Call-IDs are digits
    if exact is not None or not text:
        return exact
    lower = text.lower()
    return next((c for c in calls if lower in (cid.lower() for cid in c.call_ids)), None)


def _background_kept(row: BackgroundRow, needle: str, failed: bool) -> bool:
    if failed and not row.failures:
        return False
    return not needle or any(needle in value.lower() for value in (row.node, row.peer, row.method))


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
        """List the SIP calls the logs show (one bundle per node: calls are joined across them),
        then the keep-alive traffic (OPTIONS, REGISTER, SUBSCRIBE/NOTIFY) counted per peer."""
        from app.calls.codec import background_summary, call_summary

        report = _analyse(bundles, jobs)
        found = report.calls or []
        needle = query.strip().lower()
        chosen = [c for c in found if (c.failed or not failed) and _matches(c, needle)]
        background = [b for b in report.call_background if _background_kept(b, needle, failed)]
        if as_json:
            summaries = []
            for call in chosen:
                summary = call_summary(call)
                summary["messages"] = len(call.messages) + call.omitted  # as the API counts
                summaries.append(summary)
            body = {
                "total": len(chosen),
                "calls": summaries,
                "background": [background_summary(b) for b in background],
            }
            typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
            return
        from app.calls.render import printable

        for call in chosen:
            started = call.started_at.isoformat(sep=" ")[:23] if call.started_at else "?"
            status = call.final_status or "no final response logged"
            joined = f"  joined by {call.joined_by}" if call.joined_by else ""
            count = len(call.messages) + call.omitted
            ending = f"  {call.end_reason}" if call.end_reason else ""
            line = (
                f"{call.number:>5}  {started}  {call.method:<8} {call.from_uri} → {call.to_uri}"
                f"  [{status}]{ending}  {count} message{'s' if count != 1 else ''}"
                f"  {', '.join(call.nodes)}{joined}"
            )
            typer.echo(printable(line))  # a log's ESC must not drive the terminal
        typer.echo(f"\n{len(chosen)} call(s) of {len(found)}")
        if background:
            typer.echo("\nKeep-alive and background traffic (per node, peer and method):")
            for row in background:
                codes = " ".join(f"{code}×{n}" for code, n in sorted(row.statuses.items()))
                typer.echo(
                    printable(
                        f"  {row.node}  {row.peer}  {row.method:<9} {row.count} messages, "
                        f"{row.failures} failed  {codes}".rstrip()
                    )
                )

    @app.command()
    def ladder(
        bundles: Bundles,
        call: Annotated[
            str,
            typer.Option("--call", help="The call's number (`loupe calls`) or one of its Call-IDs"),
        ],
        output_format: Annotated[str, typer.Option("--format", help="txt or svg")] = "txt",
        jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="CPU cores")] = None,
    ) -> None:
        """Draw one call's ladder diagram as text (for case notes) or SVG."""
        from app.calls.ladder import lay_out
        from app.calls.render import to_svg, to_text

        output_format = output_format.strip().lower()
        if output_format not in ("txt", "svg"):
            typer.echo("error: --format is txt or svg", err=True)
            raise typer.Exit(EXIT_UNUSABLE)
        report = _analyse(bundles, jobs)
        calls = report.calls or []
        found = _find(calls, call)
        if found is None:
            typer.echo(
                f"error: no call {call}: give a number `loupe calls` lists (the logs show "
                f"{len(calls)} call{'s' if len(calls) != 1 else ''}) or one of a call's Call-IDs",
                err=True,
            )
            raise typer.Exit(EXIT_UNUSABLE)
        products = {(n.hostname or n.bundle): n.product for n in report.nodes}
        drawn = lay_out(found.messages, products)
        typer.echo(
            to_svg(drawn, link=False) if output_format == "svg" else to_text(drawn), nl=False
        )
