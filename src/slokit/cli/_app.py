"""The Typer application: argument parsing only; the work happens in public APIs."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from slokit import __version__
from slokit.cli._common import EXIT_USAGE, err, fail, out, setup_logging
from slokit.cli._foreign import ForeignFlags, k6_output
from slokit.cli._help import StoreOption
from slokit.cli._history import RunHistory
from slokit.cli._live import LiveProgress
from slokit.errors import SlokitError, UsageError
from slokit.load import RunOptions, check_spec, run_spec
from slokit.report import render_terminal, write_reports
from slokit.results import RunResults
from slokit.spec import (
    STARTER_SPEC,
    LoadOverrides,
    Spec,
    json_schema,
    load_spec,
    override_load,
    parse_duration,
)

if TYPE_CHECKING:
    from slokit.load._ray import RayCluster

__all__ = ["app", "execute"]

app = typer.Typer(
    name="slokit",
    help="SLO-driven load tests, gates and guards from one spec file (slokit.yaml).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

HTTP_DEBUG_REQUESTS = 10
"""Exchanges ``--http-debug`` prints per worker: the first iterations, not the whole run."""

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
    raise KeyboardInterrupt("SIGTERM")  # the engine names it in the abort reason


def execute(
    spec: Spec,
    *,
    scenarios: list[str] | None,
    options: RunOptions,
    out_dir: Path | None,
    quiet: bool = False,
    history: RunHistory | None = None,
) -> RunResults:
    """Run, print the verdicts, write reports: shared by ``run`` and ``demo``.

    With a ``history``, the stored runs add their gates (regressions, ``--fail-after``)
    before the report, and the run is recorded after the reports are written.
    """
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        with LiveProgress(err, enabled=not quiet) as live:
            results = run_spec(spec, scenarios, options, live)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if history is not None:
        history.judge(results)
    render_terminal(results, out)
    if out_dir is not None:
        written = write_reports(results, out_dir)
        out.print("reports: " + ", ".join(str(p) for p in written))
    if history is not None:
        history.record(results)
    return results


def _duration(text: str | None) -> float | None:
    if text is None:
        return None
    if "://" in text:
        raise UsageError(
            f"--duration/-t is the run time (as Locust's -t), got the URL {text!r}: "
            "give the target with -H/--host URL or --target URL"
        )
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None


def set_env(pairs: list[str]) -> None:
    """``-e KEY=VALUE``: set before the spec is read, so ``${KEY}`` sees it, and inherited by
    the workers, so journeys read it from ``os.environ`` (k6's ``__ENV``)."""
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not _ENV_NAME.fullmatch(key):
            raise UsageError(
                f"--env expects KEY=VALUE with KEY a variable name (letters, digits, _), "
                f"got {pair!r}"
            )
        os.environ[key] = value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target", "-H", "--host", help="Override the base URL (Locust's -H/--host).",
        show_default=False,
    ),
]  # fmt: skip


@app.command(cls=ForeignFlags)
def run(
    spec: SpecArg,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario", "-s", help="Scenario to run (repeatable); default: all, in order."
        ),
    ] = None,
    parallel: Annotated[
        bool,
        typer.Option(
            "--parallel",
            "-p",
            help="Run the chosen scenarios at the same time, each after its start_time (k6's "
            "scenarios); default: those that set start_time together, the rest in order.",
        ),
    ] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Worker processes; default one per core.")
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(
            "--duration",
            "-d",
            "--run-time",
            "-t",
            help="Override durations, e.g. 30s (ramps scale; Locust's -t/--run-time).",
            show_default=False,
        ),
    ] = None,
    target: TargetOpt = None,
    vus: Annotated[
        int | None,
        typer.Option(
            "--vus",
            "-u",
            help="Virtual users of closed-model scenarios (a ramping-vus peak is scaled to it).",
            show_default=False,
        ),
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option(
            "--rate",
            help="Arrival rate of open-model scenarios, e.g. 200 or 200/s (a ramp's peak).",
            show_default=False,
        ),
    ] = None,
    iterations: Annotated[
        int | None,
        typer.Option(
            "--iterations",
            "-i",
            help="Iterations per VU of per-vu-iterations scenarios.",
            show_default=False,
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            "-e",
            help="Set KEY=VALUE for ${KEY} in the spec and os.environ in journeys (repeatable).",
            show_default=False,
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure-skip-tls-verify",
            help="Do not verify TLS certificates (self-signed staging; k6's flag).",
        ),
    ] = False,
    http_debug: Annotated[
        bool,
        typer.Option(
            "--http-debug",
            help=f"Print the first {HTTP_DEBUG_REQUESTS} requests and responses of each "
            "worker to stderr (heads, and bodies up to 1 KiB).",
        ),
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write results.json, junit.xml, summary.md, report.html, stats.csv and "
            "history.csv here.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress.")] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Run the workers as actors on a Ray cluster: auto (this machine's cluster, "
            "or RAY_ADDRESS), HOST:PORT or ray://HOST:10001. Needs slokit\\[ray].",
            show_default=False,
        ),
    ] = None,
    ray_resource: Annotated[
        str | None,
        typer.Option(
            "--ray-resource",
            metavar="NAME",
            help="With --ray: place workers only on nodes offering this custom resource "
            "(ray start --resources '{\"generator\": 1}').",
            show_default=False,
        ),
    ] = None,
    workers_per_node: Annotated[
        int | None,
        typer.Option(
            "--workers-per-node",
            metavar="N",
            help="With --ray: this many workers on each generator node (default: one per "
            "CPU the cluster offers, less the controller's).",
            show_default=False,
        ),
    ] = None,
    fail_on_worker_loss: Annotated[
        bool,
        typer.Option(
            "--fail-on-worker-loss",
            help="With --ray: a lost worker or node ends the run (partial, exit 3) instead "
            "of the others going on.",
        ),
    ] = False,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", help="Label the recorded run KEY=VALUE (repeatable)."),
    ] = None,
    store: StoreOption = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not record this run (no history gates).")
    ] = False,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="Run that --max-regression compares with: last-pass (default), last, or an id.",
        ),
    ] = None,
    max_regression: Annotated[
        str | None,
        typer.Option(
            "--max-regression",
            help="Gate on the baseline per request and total, e.g. p95=10%,rps=5%: p50, p90, "
            "p95, p99 at most N% slower, rps at most N% lower, error_rate at most N points up.",
        ),
    ] = None,
    fail_after: Annotated[
        int,
        typer.Option(
            "--fail-after",
            min=1,
            help="Fail a gate only when it failed N runs in a row (this run and the N-1 "
            "stored before it, same service and scenarios); earlier failures only warn.",
        ),
    ] = 1,
) -> None:
    """Drive load from SPEC and gate on its SLOs; record the run in the run history.

    Exit codes: 0 all gates pass, 1 a gate failed, 2 bad input, 3 run aborted (partial results).
    """
    setup_logging()
    cluster: RayCluster | None = None
    try:
        set_env(env or [])
        loaded = load_spec(spec)
        seconds = _duration(duration)
        _check_workers(workers)
        if out_dir is not None and (why := k6_output(str(out_dir))) is not None:
            raise UsageError(why)
        loaded, applied = override_load(
            loaded, scenario, LoadOverrides(vus=vus, rate=rate, iterations=iterations)
        )
        for line in applied:
            err.print(line)
        # Everything a worker would refuse, refused here: before the target is probed.
        check_spec(loaded, scenario, target, duration=seconds, source=str(spec))
        cluster = _cluster(
            ray_address, ray_resource, workers_per_node, spec, fail_on_worker_loss, env or []
        )
        if cluster is not None and workers is None:
            workers = cluster.default_workers()
        options = RunOptions(
            workers=workers,
            duration=seconds,
            target=target,
            insecure=insecure,
            http_debug=HTTP_DEBUG_REQUESTS if http_debug else 0,
            parallel=parallel,
            backend=None if cluster is None else cluster.backend,
            fail_on_worker_loss=fail_on_worker_loss,
        )
        history = RunHistory.from_options(
            spec,
            store=store,
            no_store=no_store,
            labels=label or [],
            baseline=baseline,
            max_regression=max_regression,
            fail_after=fail_after,
        )
        results = execute(
            loaded,
            scenarios=scenario,
            options=options,
            out_dir=out_dir,
            quiet=quiet,
            history=history,
        )
    except SlokitError as exc:
        fail(exc)
    finally:
        if cluster is not None:
            cluster.shutdown()
    raise typer.Exit(results.exit_code)


def _cluster(
    address: str | None,
    resource: str | None,
    per_node: int | None,
    spec: Path,
    fail_on_loss: bool,
    env: list[str],
) -> RayCluster | None:
    if per_node is not None and per_node < 1:
        raise UsageError(f"--workers-per-node must be at least 1, got {per_node}")
    if address is None:
        given = [
            flag
            for flag, value in (
                ("--ray-resource", resource),
                ("--workers-per-node", per_node),
                ("--fail-on-worker-loss", fail_on_loss or None),
            )
            if value is not None
        ]
        if given:
            raise UsageError(f"{', '.join(given)} only apply with --ray ADDRESS")
        return None
    from slokit.load._ray import RayCluster  # says how to install Ray when it is missing

    return RayCluster(
        address,
        spec_dir=str(spec.absolute().parent),
        resource=resource,
        per_node=per_node,
        env=dict(pair.partition("=")[::2] for pair in env),
    )


MAX_WORKERS = 1024
"""Worker processes per run: each is a Python process with its own event loop."""


def _check_workers(workers: int | None) -> None:
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise UsageError(
            f"--workers must be between 1 and {MAX_WORKERS} (one process each; the default is "
            f"one per core), got {workers}"
        )


@app.command(cls=ForeignFlags)
def validate(
    spec: SpecArg,
    scenario: Annotated[
        list[str] | None,
        typer.Option("--scenario", "-s", help="Check only these scenarios, as `run -s` would."),
    ] = None,
    target: TargetOpt = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env", "-e", help="Set KEY=VALUE for ${KEY}, as `run -e` would.", show_default=False
        ),
    ] = None,
) -> None:
    """Check SPEC as `slokit run` would before any load: every problem with its line; data
    files, scripts and JSON paths included (exit 2 when invalid). Never connects."""
    try:
        set_env(env or [])
        loaded = load_spec(spec)
        if loaded.scenarios or scenario:
            check_spec(loaded, scenario, target, need_target=False, source=str(spec))
    except SlokitError as exc:
        fail(exc)
    own = sum(len(sc.gates) for sc in loaded.scenarios.values())
    out.print(
        f"[green]ok[/] {spec}: service {loaded.service!r}, {len(loaded.slos)} SLOs, "
        f"{len(loaded.gates)} gates, {len(loaded.scenarios)} scenarios"
        + (f" (with {own} gates of their own)" if own else "")
        + ("" if loaded.scenarios else " (nothing for `slokit run` to run)")
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
from slokit.cli import _check as _check  # noqa: E402
from slokit.cli import _cost as _cost  # noqa: E402
from slokit.cli import _dashboard as _dashboard  # noqa: E402
from slokit.cli import _demo as _demo  # noqa: E402
from slokit.cli import _drill as _drill  # noqa: E402
from slokit.cli import _proxy as _proxy  # noqa: E402
from slokit.cli import _report as _report  # noqa: E402
from slokit.cli import _rules as _rules  # noqa: E402
from slokit.cli import _runs as _runs  # noqa: E402
