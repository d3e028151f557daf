"""The Typer application: argument parsing only; the work happens in public APIs."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from slokit import __version__
from slokit.cli._common import EXIT_USAGE, err, fail, out, setup_logging
from slokit.cli._live import LiveProgress
from slokit.errors import SlokitError, UsageError
from slokit.load import RunOptions, run_spec
from slokit.report import render_terminal, write_reports
from slokit.results import RunResults
from slokit.spec import STARTER_SPEC, Spec, json_schema, load_spec, parse_duration

__all__ = ["app", "execute"]

app = typer.Typer(
    name="slokit",
    help="SLO-driven load tests, gates and guards from one spec file (slokit.yaml).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

SpecArg = Annotated[
    Path, typer.Argument(help="The spec file, e.g. slokit.yaml.", show_default=False)
]


def _version(value: bool) -> None:
    if value:
        out.print(f"slokit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """slokit: one spec for load tests with SLO gates.

    Exit codes: 0 all gates pass, 1 a gate failed, 2 bad input, 3 run aborted.
    """


def _sigterm_as_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def execute(
    spec: Spec,
    *,
    scenarios: list[str] | None,
    options: RunOptions,
    out_dir: Path | None,
    quiet: bool = False,
) -> RunResults:
    """Run, print the verdicts, write reports: shared by ``run`` and ``demo``."""
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        with LiveProgress(err, enabled=not quiet) as live:
            results = run_spec(spec, scenarios, options, live)
    finally:
        signal.signal(signal.SIGTERM, previous)
    render_terminal(results, out)
    if out_dir is not None:
        written = write_reports(results, out_dir)
        out.print("reports: " + ", ".join(str(p) for p in written))
    return results


def _duration(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None


@app.command()
def run(
    spec: SpecArg,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario", "-s", help="Scenario to run (repeatable); default: all, in order."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Worker processes; default one per core.")
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option("--duration", "-d", help="Override durations, e.g. 30s (ramps scale)."),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", "-t", help="Override the base URL.")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write results.json, junit.xml, summary.md here."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress.")] = False,
) -> None:
    """Drive load from SPEC and gate on its SLOs.

    Exit codes: 0 all gates pass, 1 a gate failed, 2 bad input, 3 run aborted (partial results).
    """
    setup_logging()
    try:
        loaded = load_spec(spec)
        options = RunOptions(workers=workers, duration=_duration(duration), target=target)
        results = execute(loaded, scenarios=scenario, options=options, out_dir=out_dir, quiet=quiet)
    except SlokitError as exc:
        fail(exc)
    raise typer.Exit(results.exit_code)


@app.command()
def validate(spec: SpecArg) -> None:
    """Check SPEC and print every problem with its line (exit 2 when invalid)."""
    try:
        loaded = load_spec(spec)
    except SlokitError as exc:
        fail(exc)
    out.print(
        f"[green]ok[/] {spec}: service {loaded.service!r}, {len(loaded.slos)} SLOs, "
        f"{len(loaded.gates)} gates, {len(loaded.scenarios)} scenarios"
    )


@app.command()
def schema() -> None:
    """Print the spec's JSON Schema (for editor completion and validation)."""
    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the starter spec.")] = Path(
        "slokit.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter spec."""
    if path.exists() and not force:
        err.print(f"[red]error:[/] {path} exists; use --force to overwrite it")
        raise typer.Exit(EXIT_USAGE)
    path.write_text(STARTER_SPEC, encoding="utf-8")
    out.print(f"wrote {path}: edit the target and SLOs, then `slokit run {path}`")


# Importing these registers their commands on app.
from slokit.cli import _chaos as _chaos  # noqa: E402
from slokit.cli import _demo as _demo  # noqa: E402
from slokit.cli import _proxy as _proxy  # noqa: E402
from slokit.cli import _report as _report  # noqa: E402
from slokit.cli import _rules as _rules  # noqa: E402
