"""Help that reads like a person wrote it: ``--json`` not ``--json <bool>``, ``SPEC`` not
``{spec}``, ``--workers N`` not ``<int>``, and no default printed twice.

Typer derives those labels from the annotations; :func:`tidy` rewrites them on the built
Click command, once, before it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["ProjectOption", "ServiceOption", "StoreOption", "tidy"]

ProjectOption = Annotated[
    Path,
    typer.Option("--project", help="Directory of the spec whose .slokit/runs.db to read."),
]
ServiceOption = Annotated[
    str | None, typer.Option("--service", help="Only this service's runs.", show_default=False)
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Run history: postgresql://user@host/db or a SQLite file; default $SLOKIT_STORE, "
        "else .slokit/runs.db in the project (the spec's directory, --project, or the current "
        "one for demo).",
        show_default=False,
    ),
]

_METAVARS = {
    "scenario": "NAME",
    "scenarios": "NAME",
    "workers": "N",
    "duration": "DURATION",
    "target": "URL",
    "vus": "N",
    "rate": "RATE",
    "iterations": "N",
    "env": "KEY=VALUE",
    "label": "KEY=VALUE",
    "out_dir": "DIR",
    "store": "URL",
    "port": "PORT",
    "fail_after": "N",
    "baseline": "RUN",
    "max_regression": "LIMITS",
    "threshold": "PERCENT",
    "p95_tolerance": "PERCENT",
    "month": "YYYY-MM",
    "out_file": "FILE",
    "url": "URL",
    "config": "FILE",
    "spec": "SPEC",
    "dependency": "NAME",
    "timeout": "SECONDS",
    "alertmanager": "FILE",
}


def tidy(command: Any) -> None:
    """Rewrite the help labels of ``command`` and its subcommands in place."""
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
    made = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = made(ctx)
        if option is not None:
            option.metavar = ""  # --help is a flag: no "<bool>"
        return option

    command.get_help_option = help_option
    for param in getattr(command, "params", []):
        if param.param_type_name == "argument":
            name = param.metavar = param.metavar or param.name.upper()
            # Typer writes a required argument {SPEC} and repeats its type: SPEC says it.
            label = name if param.required else f"[{name}]"
            param._usage_display_name = lambda label=label: label
            param.display_type_rich = lambda ctx: None
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = _METAVARS.get(param.name, param.name.upper())
        if "default" in (param.help or "").lower():
            param.show_default = False  # the help says it in words already
