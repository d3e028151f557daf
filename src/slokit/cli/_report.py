"""``slokit report``: rebuild report.html and the CSVs from a results.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from slokit.cli._app import app
from slokit.cli._common import fail, out
from slokit.errors import SlokitError, UsageError
from slokit.report import read_results, write_reports

REBUILT = ("report.html", "stats.csv", "history.csv")


@app.command()
def report(
    results: Annotated[
        Path,
        typer.Argument(
            help="A results.json written by `slokit run --out DIR`.",
            show_default=False,
        ),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write report.html, stats.csv and history.csv here (default: next to RESULTS).",
        ),
    ] = None,
) -> None:
    """Rebuild report.html, stats.csv and history.csv from a results.json (exit 2 on bad input)."""
    try:
        loaded = read_results(results)
        written = write_reports(
            loaded, out_dir if out_dir is not None else results.parent, only=REBUILT
        )
    except SlokitError as exc:
        fail(exc)
    except OSError as exc:
        fail(UsageError(f"cannot write the reports: {exc}"))
    out.print("reports: " + ", ".join(str(p) for p in written))
