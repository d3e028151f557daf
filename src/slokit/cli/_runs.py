"""``slokit runs``: the run history, listed, shown and compared."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from slokit.cli._app import app
from slokit.cli._common import fail, out
from slokit.cli._help import ProjectOption, ServiceOption, StoreOption
from slokit.errors import SlokitError
from slokit.results import format_count, format_ms, format_percent

if TYPE_CHECKING:
    from slokit.store import MetricChange, RunStore, RunSummary

runs_app = typer.Typer(
    help="The run history every `slokit run` records: list, show and compare runs.",
    no_args_is_help=True,
)
app.add_typer(runs_app, name="runs")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
RunArg = Annotated[
    str,
    typer.Argument(
        help="A run id (12 or r-12), or last, last-pass, last-fail.", show_default=False
    ),
]


def _open(store: str | None, project: Path) -> RunStore:
    from slokit.store import open_store

    return open_store(store, project_dir=project, create=False)


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


_STATUS = {
    "pass": "[green]pass[/]",
    "fail": "[bold red]FAIL[/]",
    "held": "[yellow]fail (held)[/]",
    "aborted": "[yellow]aborted[/]",
}


def _list_table(runs: list[RunSummary]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    # Ids, times and results are what people scan and type: never wrap them.
    for header in ("id", "started (UTC)", "service", "scenarios", "result"):
        table.add_column(
            header, overflow="fold", no_wrap=header in ("id", "started (UTC)", "result")
        )
    for header in ("requests", "errors", "req/s", "p50", "p95", "p99"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("git", overflow="fold")
    table.add_column("labels", overflow="fold")
    for run in runs:
        t = run.total
        git = "" if run.git is None else run.git.commit[:8]
        if run.git is not None and run.git.branch:
            git += f" {run.git.branch}"
        table.add_row(
            str(run.id),
            run.started.strftime("%Y-%m-%d %H:%M"),
            escape(run.service),
            escape(",".join(run.scenarios)),
            _STATUS[run.status],
            format_count(t.count),
            format_percent(t.failed / t.count) if t.count else "-",  # exact counts
            format_count(round(t.rps, 1)),
            *(format_ms(v) if t.count else "-" for v in (t.p50_ms, t.p95_ms, t.p99_ms)),
            escape(git),
            escape(" ".join(f"{k}={v}" for k, v in run.labels.items())),
        )
    return table


@runs_app.command("list")
def runs_list(
    store: StoreOption = None,
    project: ProjectOption = Path("."),
    service: ServiceOption = None,
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", "-s", help="Only runs of this scenario.", show_default=False),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(
            "--label", help="Only runs labelled KEY=VALUE (or just KEY).", show_default=False
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most N runs.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Recorded runs, newest first: result, totals and where they came from."""
    try:
        with _open(store, project) as history:
            runs = history.list(service, scenario, label, limit)
            where = history.where
    except SlokitError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in runs], indent=2))
    elif not runs:
        out.print(f"no runs recorded in {escape(where)} match")
    else:
        out.print(_list_table(runs))


@runs_app.command("show")
def runs_show(
    run: RunArg,
    store: StoreOption = None,
    project: ProjectOption = Path("."),
    service: ServiceOption = None,
    as_json: JsonOption = False,
    results: Annotated[
        bool,
        typer.Option("--results", help="Print the run's results.json document as it was written."),
    ] = False,
) -> None:
    """One run: where it came from, its requests and its verdicts."""
    from slokit.report import render_terminal

    try:
        with _open(store, project) as history:
            record = history.get(run, service=service)
    except SlokitError as exc:
        fail(exc)
    if results:
        typer.echo(json.dumps(record.document, indent=2))
        return
    if as_json:
        typer.echo(json.dumps(record.to_dict(), indent=2))
        return
    status = _STATUS[record.status]
    out.print(
        f"[bold]run {record.id}[/]  {escape(record.service)}  "
        f"{escape(','.join(record.scenarios))}  {status} (exit code {record.exit_code})"
    )
    lines = [f"started {_when(record.started)} UTC, {record.duration_s:.1f}s"]
    if record.target:
        lines[0] += f", target {record.target}"
    if record.git is not None:
        branch = f" ({record.git.branch})" if record.git.branch else ""
        lines.append(f"git {record.git.commit}{branch}")
    if record.labels:
        lines.append("labels " + " ".join(f"{k}={v}" for k, v in record.labels.items()))
    lines.append(f"spec sha256 {record.spec_hash[:16]}")
    if record.abort_reason:
        lines.append(f"ended early: {record.abort_reason}")
    for line in lines:
        out.print(escape(line), soft_wrap=True)
    out.print()
    render_terminal(record.results(), out)


def _reading(m: MetricChange) -> str:
    text = m.reading
    if m.small_sample:
        text += " (small sample)"
    if m.metric == "error_rate" and m.reading == "likely a real change":
        return f"[bold]{text}[/]"
    return text


@runs_app.command("compare")
def runs_compare(
    a: Annotated[str, typer.Argument(help="The baseline run (id or last, last-pass, ...).")],
    b: Annotated[str, typer.Argument(help="The run to judge against it.")],
    store: StoreOption = None,
    project: ProjectOption = Path("."),
    service: ServiceOption = None,
    as_json: JsonOption = False,
) -> None:
    """How run B differs from run A, per request name (matched by name) and in total.

    p50/p95/p99, error rate and req/s: both values, the change and the relative change.

    The wording does not over-claim. Error rate: a two-sided test of two proportions
    (Fisher's exact test; a z-test for thousands of failures): p < 0.01 reads "likely a real
    change", otherwise "within noise"; fewer than 30 requests in either run reads "too few
    requests to tell". Latency percentiles and req/s: one run each cannot show their spread,
    so they only read "changed by X%", flagged "small sample" when either run has fewer than
    10 responses beyond the percentile (p95: 200, p99: 1,000) or fewer than 100 in all.

    Priced runs (a spec with a cost: block) end with the cost verdict of `slokit cost
    compare` at its defaults: switch when B is 15 % cheaper per request at a p95 within 5 %.
    """
    from slokit.cli._cost import print_decisions
    from slokit.store import compare, compare_costs

    try:
        with _open(store, project) as history:
            base, new = history.get(a, service=service), history.get(b, service=service)
    except SlokitError as exc:
        fail(exc)
    base_results, new_results = base.results(), new.results()
    comparison = compare(base_results, new_results)
    costs = compare_costs(base_results, new_results)
    if as_json:
        data: dict[str, Any] = {"base": base.to_dict(), "new": new.to_dict()}
        for key in ("base", "new"):
            del data[key]["verdicts"], data[key]["requests"]
        data.update(comparison.to_dict())
        data["cost"] = [d.to_dict() for d in costs]
        typer.echo(json.dumps(data, indent=2))
        return
    out.print(
        f"run {base.id} ({_when(base.started)}) -> run {new.id} ({_when(new.started)}), "
        f"{escape(new.service)}"
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("request", overflow="fold")
    table.add_column("metric")
    table.add_column(f"run {base.id}", justify="right")
    table.add_column(f"run {new.id}", justify="right")
    table.add_column("change", justify="right")
    table.add_column("reading")
    for row in comparison.requests:
        for i, m in enumerate(row.metrics):
            name = f"{row.name} ({format_count(row.base_count)} -> {format_count(row.new_count)})"
            table.add_row(
                escape(name) if i == 0 else "",
                m.metric,
                m.shown("base"),
                m.shown("new"),
                m.shown_change(),
                _reading(m),
                end_section=i == len(row.metrics) - 1,
            )
    for scenario, m in comparison.capacity:
        table.add_row(
            escape(f"{scenario} (capacity search)"),
            "sustainable",
            m.shown("base"),
            m.shown("new"),
            m.shown_change(),
            _reading(m),
            end_section=True,
        )
    out.print(table)
    for names, only in ((comparison.only_base, base.id), (comparison.only_new, new.id)):
        if names:
            out.print(f"only in run {only}: " + escape(", ".join(names)))
    # Priced runs answer seed 004's question too (thresholds: slokit cost compare's defaults).
    print_decisions(costs)
