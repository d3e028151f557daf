"""``slokit cost``: is B cheaper per request at the same p95, and the monthly FinOps report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from slokit.cli._app import app
from slokit.cli._common import fail, out
from slokit.cli._help import ProjectOption, ServiceOption, StoreOption
from slokit.errors import SlokitError, UsageError

if TYPE_CHECKING:
    from slokit.results import RunResults
    from slokit.store import CostDecision

cost_app = typer.Typer(
    help="Cost per million requests: compare two runs or targets, and the monthly report.",
    no_args_is_help=True,
)
app.add_typer(cost_app, name="cost")

ThresholdOption = Annotated[
    str,
    typer.Option(
        "--threshold", help="The saving per request that says switch (seed 004's rule: 15%)."
    ),
]
ToleranceOption = Annotated[
    str,
    typer.Option(
        "--p95-tolerance",
        help="How much worse B's p95 may be and still count as equal; beyond it no verdict.",
    ),
]


def _share(text: str, option: str) -> float:
    """``15%``: a share >= 0 (a p95 tolerance may pass 100 %)."""
    number = text.strip().removesuffix("%")
    try:
        share = float(number) / 100 if text.strip().endswith("%") else float("nan")
    except ValueError:
        share = float("nan")
    if not share >= 0 or share == float("inf"):
        raise UsageError(f"{option} {text!r}: expected a percentage such as 15%")
    return share


def _results(ref: str, store: str | None, project: Path, service: str | None) -> RunResults:
    """A results.json path, or a run of the store (id, last, last-pass, ...)."""
    from slokit.results import RunResults
    from slokit.store import open_store

    path = Path(ref)
    if ref.endswith(".json") or path.is_file():
        try:
            return RunResults.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"{ref}: not a readable results.json ({exc})") from None
    with open_store(store, project_dir=project) as history:
        return history.get(ref, service=service).results()


def print_decisions(decisions: list[CostDecision]) -> None:
    """One line per priced pair, the verdict first."""
    style = {"switch": "bold green", "stay": "yellow", "not comparable": "red"}
    for d in decisions:
        out.print(f"[{style[d.decision]}]{d.decision}[/]: {escape(d.text)}", soft_wrap=True)


@cost_app.command("compare")
def cost_compare(
    a: Annotated[str, typer.Argument(help="Baseline: a run (id, last, ...) or a results.json.")],
    b: Annotated[str, typer.Argument(help="The candidate, the same way.")],
    threshold: ThresholdOption = "15%",
    p95_tolerance: ToleranceOption = "5%",
    store: StoreOption = None,
    project: ProjectOption = Path("."),
    service: ServiceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Does B serve the same p95 at a lower cost per request than A?

    Each priced scenario of B is set against A's of the same name (or the only priced one of
    each: x86 in one run, ARM in the other). Cost per million is read at SLO when a capacity
    search found the rate, else at the served rate. "switch" when B is cheaper by at least
    --threshold, "stay" otherwise, "not comparable" when B's p95 is worse than A's beyond
    --p95-tolerance, the currencies differ or one is not priced.
    Exit codes: 0 compared, 2 bad input or nothing priced in both.
    """
    from slokit.store import compare_costs

    try:
        limit = _share(threshold, "--threshold")
        tolerance = _share(p95_tolerance, "--p95-tolerance")
        base = _results(a, store, project, service)
        new = _results(b, store, project, service)
        decisions = compare_costs(base, new, threshold=limit, p95_tolerance=tolerance)
        if not decisions:
            raise UsageError(
                f"nothing to compare: {a} and {b} have no priced scenario in common (a spec's "
                "cost: block prices its scenarios)"
            )
    except SlokitError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps([d.to_dict() for d in decisions], indent=2))
        return
    print_decisions(decisions)


@cost_app.command("report")
def cost_report(
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM (UTC).")],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the Markdown here (default: print it)."),
    ] = None,
    store: StoreOption = None,
    project: ProjectOption = Path("."),
    service: ServiceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """The month's cost per million requests per service, scenario and target, from the run
    store, with the change against the month before and the inputs of every figure."""
    from slokit.store import finops_markdown, finops_rows, open_store

    try:
        with open_store(store, project_dir=project) as history:
            if as_json:
                rows = finops_rows(history, month, service=service)
                typer.echo(json.dumps([r.to_dict() for r in rows], indent=2))
                return
            text = finops_markdown(history, month, service=service)
    except SlokitError as exc:
        fail(exc)
    if out_file is None:
        typer.echo(text)
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text + "\n", encoding="utf-8")
    out.print(f"wrote {escape(str(out_file))}")
