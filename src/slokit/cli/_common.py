"""What every command shares: consoles, error printing and exit codes."""

from __future__ import annotations

import logging
import os
from typing import NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from slokit.errors import RunError, SlokitError, SpecError, UsageError

__all__ = [
    "EXIT_ABORTED",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "err",
    "fail",
    "out",
    "setup_logging",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ABORTED = 3


def _console(stderr: bool = False) -> Console:
    # Rich falls back to 80 columns when output is not a terminal: far too narrow for the
    # results table in a CI log. COLUMNS still wins when set.
    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, width=140)
    return console


out = _console()
err = _console(stderr=True)


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_time=False, show_path=False)],
    )


def fail(exc: SlokitError) -> NoReturn:
    """Print an error for a person and exit with the code CI expects."""
    if isinstance(exc, SpecError):
        err.print(f"[red]error:[/] {escape(exc.source or 'spec')} is not valid:")
        for problem in exc.problems:
            # One line per problem, never wrapped: people grep CI logs for field paths.
            err.print(f"  {escape(str(problem))}", soft_wrap=True)
        raise typer.Exit(EXIT_USAGE)
    if isinstance(exc, RunError):
        err.print(f"[red]run aborted:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_ABORTED)
    code = EXIT_USAGE if isinstance(exc, UsageError) else EXIT_ABORTED
    err.print(f"[red]error:[/] {escape(str(exc))}")
    raise typer.Exit(code)
