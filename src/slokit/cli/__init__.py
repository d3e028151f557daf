"""The ``slokit`` command. Each command is a short function over a public API."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    try:
        from slokit.cli._app import app
    except ImportError as exc:  # the base install is only the spec; the CLI is an extra
        print(
            f"slokit: the command line needs the 'load' extra ({exc.name} is missing).\n"
            "Install it with:  pip install -e '.[load]'  (in a clone; or "
            "'slokit[load] @ git+URL', or the wheel with [load])",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    from typer.main import get_command

    from slokit.cli._help import tidy

    command = get_command(app)
    tidy(command)
    command(prog_name="slokit")
