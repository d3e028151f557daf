"""``slokit demo``: the embedded demo service, loaded and judged by its own spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from slokit.cli._app import _duration, app, execute
from slokit.cli._common import err, fail, setup_logging
from slokit.errors import SlokitError
from slokit.load import RunOptions
from slokit.spec import load_spec


@app.command()
def demo(
    broken: Annotated[
        bool, typer.Option("--break", help="Make the provider misbehave: the gates fail (exit 1).")
    ] = False,
    serve: Annotated[
        bool, typer.Option("--serve", help="Only run the demo service, in the foreground.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Port for --serve (default 8000).")] = 8000,
    duration: Annotated[
        str | None, typer.Option("--duration", "-d", help="Run length (default 30s).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Worker processes.")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Report directory.")] = Path(
        "slokit-report"
    ),
) -> None:
    """Start the demo service, load it for ~30 s, print the verdicts, write ./slokit-report/."""
    from slokit.demo import DemoServer, spec_path
    from slokit.demo import serve as serve_demo

    setup_logging()
    if serve:
        err.print(f"demo service on http://127.0.0.1:{port} (Ctrl-C stops it); spec: {spec_path()}")
        serve_demo(port=port, broken=broken)
        return
    try:
        spec = load_spec(spec_path())
        with DemoServer(broken=broken) as server:
            err.print(f"demo service up at {server.url}" + (" (broken provider)" if broken else ""))
            options = RunOptions(workers=workers, duration=_duration(duration), target=server.url)
            results = execute(spec, scenarios=["mixed"], options=options, out_dir=out_dir)
    except SlokitError as exc:
        fail(exc)
    raise typer.Exit(results.exit_code)
