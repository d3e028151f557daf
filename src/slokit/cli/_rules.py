"""``slokit rules``: the Prometheus rule file (and its promtool tests) from the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from slokit.cli._app import SpecArg, app
from slokit.cli._common import err, fail, out
from slokit.errors import SlokitError, UsageError
from slokit.rules import (
    budget_json,
    budget_report,
    export_openslo,
    import_openslo,
    render_alertmanager,
    render_budget,
    render_dashboard,
    render_finops_tests,
    render_rules,
    render_tests,
    render_threshold_tests,
)
from slokit.rules._thresholds import all_threshold_alerts
from slokit.spec import load_spec


def _buckets(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(
            f"--buckets {text!r}: give the histogram's bucket edges in seconds, e.g. "
            "0.05,0.1,0.25,0.5,1"
        ) from None


@app.command()
def rules(
    spec: SpecArg,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the rule file here (default: standard output)."),
    ] = None,
    test: Annotated[
        bool,
        typer.Option(
            "--test",
            help="Also write promtool unit tests next to the rule file (needs --out): "
            "run `promtool test rules FILE.test.yml`.",
        ),
    ] = False,
    alertmanager: Annotated[
        Path | None,
        typer.Option(
            "--alertmanager",
            help="Also write an Alertmanager configuration for these alerts here (routes by "
            "severity to the spec's alertmanager: receivers); check it with amtool check-config.",
        ),
    ] = None,
    buckets: Annotated[
        str | None,
        typer.Option(
            "--buckets",
            help="Bucket edges (seconds, comma-separated) of a histogram that is not slokit's: "
            "each latency threshold must be one of them.",
        ),
    ] = None,
) -> None:
    """Write Prometheus recording rules and burn-rate alerts for the SLOs in SPEC, and the
    spend, projection and week-over-week alerts of its budgets."""
    try:
        loaded = load_spec(spec)
        if not (loaded.slos or loaded.jobs or loaded.budgets or all_threshold_alerts(loaded)):
            raise UsageError(
                f"{spec} has no SLOs, alerts or budgets: add some under `slos:`, `alerts:` or "
                "`budgets:` to get rules"
            )
        if test and out_file is None:
            raise UsageError("--test writes a file next to the rule file: give --out FILE too")
        text = render_rules(loaded, _buckets(buckets), source=str(spec))
        routing = None
        if alertmanager is not None:
            routing = render_alertmanager(loaded, source=str(spec))
            alertmanager.parent.mkdir(parents=True, exist_ok=True)
            alertmanager.write_text(routing, encoding="utf-8")
        if out_file is None:
            typer.echo(text, nl=False)
            if alertmanager is not None:
                err.print(f"wrote {alertmanager}")
            return
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text, encoding="utf-8")
        written = [out_file] + ([alertmanager] if alertmanager is not None else [])
        if test:
            notes: list[str] = []
            # Files of their own: the budget tests' month of series is evaluated every 30
            # minutes, the burn tests' minutes every minute.
            suites = (
                (
                    ".test.yml",
                    render_tests(loaded, out_file.name) if loaded.slos or loaded.jobs else None,
                ),
                (".alerts.test.yml", render_threshold_tests(loaded, out_file.name)),
                (".budgets.test.yml", render_finops_tests(loaded, out_file.name)),
            )
            for suffix, rendered in suites:
                if rendered is None:
                    continue
                tests, found = rendered
                test_file = out_file.with_name(out_file.stem + suffix)
                test_file.write_text(tests, encoding="utf-8")
                written.append(test_file)
                notes += found
            for note in notes:
                err.print(f"[yellow]note:[/] {note}")
    except SlokitError as exc:
        fail(exc)
    out.print("wrote " + ", ".join(str(p) for p in written))


@app.command()
def grafana(
    spec: SpecArg,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the dashboard JSON here (default: stdout)."),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Dashboard title.")] = None,
) -> None:
    """Write a Grafana dashboard for the SLOs in SPEC (load `slokit rules` output too)."""
    try:
        text = render_dashboard(load_spec(spec), title=title)
    except SlokitError as exc:
        fail(exc)
    _emit(text, out_file)


openslo_app = typer.Typer(help="Convert between slokit specs and OpenSLO v1 documents.")
app.add_typer(openslo_app, name="openslo")


@openslo_app.command("export")
def openslo_export(
    spec: SpecArg,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the YAML here (default: stdout).")
    ] = None,
) -> None:
    """Write the SLOs of SPEC as OpenSLO v1 documents."""
    try:
        text = export_openslo(load_spec(spec))
    except SlokitError as exc:
        fail(exc)
    _emit(text, out_file)


@openslo_app.command("import")
def openslo_import(
    source: Annotated[Path, typer.Argument(help="OpenSLO v1 YAML file.", show_default=False)],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the slokit spec here (default: stdout)."),
    ] = None,
) -> None:
    """Turn OpenSLO v1 documents into a slokit spec, saying what could not be mapped."""
    try:
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {source}: {exc}") from None
        spec_text, notes = import_openslo(text)
    except SlokitError as exc:
        fail(exc)
    for note in notes:
        err.print(f"[yellow]not mapped:[/] {note}", soft_wrap=True)
    _emit(spec_text, out_file)


def _emit(text: str, out_file: Path | None) -> None:
    if out_file is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text, encoding="utf-8")
    out.print(f"wrote {out_file}")


@app.command()
def budget(
    spec: SpecArg,
    prometheus: Annotated[
        str,
        typer.Option("--prometheus", "-p", help="Prometheus base URL, e.g. http://127.0.0.1:9090"),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per query.")] = 10.0,
) -> None:
    """Error budget of every SLO in SPEC from a live Prometheus; exit 1 when one is spent."""
    import json

    try:
        reports = budget_report(load_spec(spec), prometheus, timeout=timeout)
    except SlokitError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(budget_json(reports), indent=2))
    else:
        render_budget(reports, out)
    if any(r.exhausted for r in reports):
        raise typer.Exit(1)
