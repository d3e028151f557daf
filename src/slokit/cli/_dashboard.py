"""``slokit dashboard``: the run history in a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from slokit.cli._app import app
from slokit.cli._common import EXIT_USAGE, err, fail, setup_logging
from slokit.cli._help import StoreOption
from slokit.errors import SlokitError, StoreError, UsageError


def _spec(spec: Path | None, prometheus: str | None, project: Path | None) -> Path | None:
    """The spec to report budgets for: --spec, else slokit.yaml of the project (or here)."""
    if spec is not None or prometheus is None:
        return spec
    default = (project or Path(".")) / "slokit.yaml"
    if not default.is_file():
        raise UsageError(
            f"--prometheus reports the error budgets of a spec's SLOs: give --spec SPEC "
            f"(there is no {default})"
        )
    return default


@app.command()
def dashboard(
    port: Annotated[
        int, typer.Option("--port", "-p", help="Port to serve on (0 picks a free one).")
    ] = 8787,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to serve on; loopback only unless --allow-remote."),
    ] = "127.0.0.1",
    store: StoreOption = None,
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            help="Directory whose .slokit/runs.db to read; default: the spec's directory "
            "with --spec, else the current one.",
            show_default=False,
        ),
    ] = None,
    prometheus: Annotated[
        str | None,
        typer.Option(
            "--prometheus",
            help="Prometheus base URL: the overview shows each SLO's error budget.",
            show_default=False,
        ),
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option(
            "--spec",
            help="The spec whose SLOs' budgets --prometheus reports (default ./slokit.yaml).",
            show_default=False,
        ),
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Serve on an address that is not loopback: everyone who reaches it can read "
            "the run history (there is no login).",
        ),
    ] = False,
) -> None:
    """Serve the run history as web pages: SLO status, trends, runs, comparisons.

    Exit code 2 when the store cannot be opened or an option is wrong.
    """
    from slokit.dashboard import serve

    setup_logging()
    try:
        budget_spec = _spec(spec, prometheus, project)
        project_dir = project or (spec.resolve().parent if spec is not None else Path("."))
        serve(
            store,
            project_dir=project_dir,
            host=host,
            port=port,
            prometheus=prometheus,
            spec=budget_spec,
            allow_remote=allow_remote,
            started=lambda url: typer.echo(f"slokit dashboard on {url} (Ctrl-C stops)"),
        )
    except StoreError as exc:  # a store that cannot be opened is a usage problem here
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    except SlokitError as exc:
        fail(exc)
