"""``slokit chaos``: a chaos experiment judged by the spec's SLOs; writes journal.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from slokit.cli._app import app
from slokit.cli._common import err, fail, out, setup_logging
from slokit.errors import SlokitError


def _event(t: float, text: str) -> None:
    when = "      " if math.isnan(t) else f"{t:5.1f}s"
    err.print(f"[dim]{when}[/] {escape(text)}")


def run_and_report(
    path: Path,
    *,
    target: str | None,
    proxy_api: str | None,
    workers: int | None,
    out_dir: Path,
    fault_token: str | None = None,
) -> int:
    """Run the experiment at ``path``, print the summary, write the journal; the exit code."""
    from slokit.chaos import ChaosOptions, load_experiment, run_experiment, summarize

    experiment = load_experiment(path)
    err.print(f"experiment: {escape(experiment.title)} ({len(experiment.method)} faults)")
    options = ChaosOptions(
        target=target,
        proxy_api=proxy_api,
        fault_token=fault_token,
        workers=workers,
        on_event=_event,
    )
    journal = run_experiment(experiment, options)
    journal.source = str(path)
    for line in summarize(journal):
        out.print(escape(line), soft_wrap=True, highlight=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = out_dir / "journal.json"
    written.write_text(json.dumps(journal.to_dict(), indent=2) + "\n", encoding="utf-8")
    out.print(f"journal: {written}")
    return journal.exit_code


@app.command()
def chaos(
    experiment: Annotated[
        Path, typer.Argument(help="The experiment file, e.g. chaos/redis-latency.yaml.")
    ],
    target: Annotated[
        str | None,
        typer.Option("--target", "-H", "--host", help="Base URL of the service under test."),
    ] = None,
    proxy_api: Annotated[
        str | None,
        typer.Option("--proxy-api", help="The fault proxy's API (slokit proxy or Toxiproxy)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Load worker processes.")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where journal.json goes.")] = Path(
        "slokit-chaos"
    ),
) -> None:
    """Inject the experiment's faults while its load runs; judge the service by its SLOs.

    Exit codes: 0 hypothesis held, 1 deviated, 2 bad input, 3 aborted.
    """
    setup_logging()
    try:
        code = run_and_report(
            experiment, target=target, proxy_api=proxy_api, workers=workers, out_dir=out_dir
        )
    except SlokitError as exc:
        fail(exc)
    raise typer.Exit(code)
