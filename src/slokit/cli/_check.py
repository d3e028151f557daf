"""``slokit check``: checks for CI that need no load: ``migrations`` (schema drift)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from slokit.cli._app import app
from slokit.cli._common import err, fail, out
from slokit.errors import SlokitError, UsageError

check_app = typer.Typer(help="Checks for CI that send no load.", no_args_is_help=True)
app.add_typer(check_app, name="check")


def _from_spec(spec: Path, name: str | None) -> tuple[str, str]:
    """The URL and alembic.ini of the spec's alembic dependency (``name``, or its only one)."""
    from slokit.spec import load_spec

    loaded = load_spec(spec)
    found = {n: d for n, d in loaded.dependencies.items() if d.kind == "alembic"}
    if name is not None and name not in found:
        raise UsageError(f"{spec} has no alembic dependency {name!r}; it has: "
                         f"{', '.join(found) or 'none'}")  # fmt: skip
    if name is None and len(found) != 1:
        raise UsageError(
            f"{spec} has {len(found)} alembic dependencies: name one with --dependency"
            if found
            else f"{spec} has no dependency of kind alembic: give --url and --config"
        )
    dep = found[name] if name is not None else next(iter(found.values()))
    assert dep.config is not None  # the spec refuses an alembic dependency without one
    return dep.url, os.path.join(loaded.base_dir, dep.config)


@check_app.command("migrations")
def migrations(
    url: Annotated[
        str | None,
        typer.Option("--url", help="The database, postgresql://user@host:port/db."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="The project's alembic.ini.")
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option("--spec", help="Read --url and --config from this spec's alembic dependency."),
    ] = None,
    dependency: Annotated[
        str | None, typer.Option("--dependency", help="Which alembic dependency of --spec.")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds for the database.")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Is the database at the alembic heads of the scripts? Seed 001's CI migration check.

    Exit codes: 0 at head, 1 drift (behind, at an unknown revision, never migrated), 2 bad
    input or the database unreachable.
    """
    from slokit.asgi._migrations import migration_state

    try:
        if spec is not None:
            if url is not None or config is not None:
                raise UsageError("give --spec, or --url and --config, not both")
            url, ini = _from_spec(spec, dependency)
        elif url is None or config is None:
            raise UsageError("give --url and --config (or --spec with an alembic dependency)")
        else:
            ini = str(config)
        try:
            state = asyncio.run(migration_state(url, ini, timeout))
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"cannot reach the database: {exc}") from None
        except Exception as exc:
            if type(exc).__module__.startswith("asyncpg"):
                raise UsageError(f"cannot read alembic_version: {exc}") from None
            raise
    except SlokitError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(state.to_dict(), indent=2))
    elif state.current:
        out.print(f"migrations: {escape(state.detail)}")
    else:
        err.print(f"[red]migrations:[/] {escape(state.detail)}", soft_wrap=True)
    raise typer.Exit(0 if state.current else 1)
