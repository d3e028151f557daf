"""``slokit demo``: the embedded demo service, loaded and judged by its own spec."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Annotated

import typer

from slokit.cli._app import _duration, app, execute
from slokit.cli._common import err, fail, out, setup_logging
from slokit.cli._help import StoreOption
from slokit.cli._history import RunHistory
from slokit.errors import SlokitError
from slokit.load import RunOptions
from slokit.spec import load_spec


@app.command()
def demo(
    broken: Annotated[
        bool,
        typer.Option(
            "--break",
            help="Give the provider a 10 s outage 5 s into the run: its breaker opens, stale "
            "answers keep the service up, the checks gate fails (exit 1). With --serve: "
            "broken for good.",
        ),
    ] = False,
    serve: Annotated[
        bool, typer.Option("--serve", help="Only run the demo service, in the foreground.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Port for --serve.")] = 8000,
    duration: Annotated[
        str | None, typer.Option("--duration", "-d", help="Run length (default 30s).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Worker processes.")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Report directory.")] = Path(
        "slokit-report"
    ),
    store: StoreOption = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not record the run in the run history.")
    ] = False,
    scenarios: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            "-s",
            help="Scenario of the demo spec to run (repeatable; default: mixed, then events).",
        ),
    ] = None,
    chaos: Annotated[
        str | None,
        typer.Option(
            "--chaos",
            help="Run a bundled chaos experiment instead: provider-latency, provider-cutoff, "
            "provider-5xx, provider-429 or quotes-503 (the journal goes to --out).",
        ),
    ] = None,
) -> None:
    """Start the demo service, load it, print the verdicts, write ./slokit-report/.

    The run is recorded in ./.slokit/runs.db: see it with `slokit dashboard`."""
    from slokit.demo import DemoServer, spec_path
    from slokit.demo import serve as serve_demo

    setup_logging()
    if chaos is not None:
        _chaos_demo(chaos, workers, out_dir)
    if serve:
        err.print(f"demo service on http://127.0.0.1:{port} (Ctrl-C stops it); spec: {spec_path()}")
        serve_demo(port=port, broken=broken)
        return
    outage = OUTAGE if broken else None
    try:
        spec = load_spec(spec_path())
        # The demo's spec lives inside the package: its history belongs where it is run.
        history = RunHistory.from_options(
            spec_path(),
            store=store,
            no_store=no_store,
            labels=[] if no_store else ["source=demo", *(["break=yes"] if broken else [])],
            baseline=None,
            max_regression=None,
            fail_after=1,
            project=Path.cwd(),
        )
        with DemoServer(outage=outage) as server:
            note = f" (provider outage from {OUTAGE[0]:g} s to {OUTAGE[1]:g} s)" if broken else ""
            err.print(f"demo service up at {server.url}{note}")
            options = RunOptions(workers=workers, duration=_duration(duration), target=server.url)
            results = execute(
                spec,
                scenarios=scenarios or list(DEMO_SCENARIOS),
                options=options,
                out_dir=out_dir,
                history=history,
            )
            _provider_summary(server.url)
        if history is not None:
            err.print("every recorded run, in a browser: slokit dashboard")
    except SlokitError as exc:
        fail(exc)
    raise typer.Exit(results.exit_code)


DEMO_SCENARIOS = ("mixed", "events")
"""What ``slokit demo`` runs: the mixed API load, then seed 004's real-time clients."""

OUTAGE = (5.0, 15.0)
"""Seconds after the provider's first call: long enough to see the breaker open and the
stale answers, short enough to see it recover within the default 30 s run."""


def _provider_summary(url: str) -> None:
    """What the service's resilience did during the run, from its /api/provider."""
    try:
        with urllib.request.urlopen(f"{url}/api/provider", timeout=5) as response:
            status = json.loads(response.read())
    except (OSError, ValueError):
        return  # the summary is a courtesy; the verdicts above are the result
    breaker = status["breaker"]
    out.print(
        f"provider: {status['calls']:,} calls, {status['failures']:,} failed; breaker "
        f"'pricing-provider' opened {breaker['opened']}x and is {breaker['state']}, refused "
        f"{breaker['not_permitted']:,} calls; {status['stale_served']:,} stale answers served"
    )


def _chaos_demo(name: str, workers: int | None, out_dir: Path) -> None:
    """Provider, proxy and demo up; the bundled experiment ``name`` run against them."""
    from slokit.cli._chaos import run_and_report
    from slokit.demo import DemoChaosStack, experiments

    bundled = experiments()
    if name not in bundled:
        err.print(f"[red]error:[/] no bundled experiment {name!r}; try: {', '.join(bundled)}")
        raise typer.Exit(2)
    try:
        with DemoChaosStack() as stack:
            err.print(f"demo at {stack.url}, its provider behind slokit proxy {stack.proxy_api}")
            # The provider's own fault endpoint, for experiments that make it answer 5xx/429.
            os.environ["SLOKIT_PROVIDER_URL"] = stack.provider_url
            code = run_and_report(
                bundled[name],
                target=stack.url,
                proxy_api=stack.proxy_api,
                workers=workers,
                out_dir=out_dir,
                fault_token=stack.fault_token,
            )
    except SlokitError as exc:
        fail(exc)
    raise typer.Exit(code)
