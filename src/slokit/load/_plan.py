"""A whole run: the chosen scenarios one after another, and those that start together side
by side (k6's ``startTime``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from slokit.errors import UsageError
from slokit.load._controller import Progress, RunOptions, run_scenario
from slokit.load._together import run_together
from slokit.results import RunResults, ScenarioResults
from slokit.spec import Spec

__all__ = ["plan", "run_spec"]


def plan(spec: Spec, names: list[str], parallel: bool = False) -> list[list[str]]:
    """The run's steps in order, each the scenarios that run at the same time.

    The scenarios that set ``start_time`` (all of them with ``parallel``) are one step, at the
    place of the first of them; the others are steps of their own, in the order given. A
    ``start_time`` alone has nothing to be relative to, so one such scenario runs as any other.
    """
    together = [n for n in names if parallel or spec.scenario(n).start_time is not None]
    if len(together) < 2:
        return [[n] for n in names]
    steps: list[list[str]] = []
    for n in names:
        if n not in together:
            steps.append([n])
        elif n == together[0]:
            steps.append(together)
    return steps


def run_spec(
    spec: Spec,
    scenarios: list[str] | None = None,
    options: RunOptions = RunOptions(),
    progress: Progress | None = None,
) -> RunResults:
    """Run the named scenarios (default: all, in spec order); stop after an aborted step."""
    names = scenarios or list(spec.scenarios)
    if not names:
        raise UsageError(
            "the spec has no scenarios: add one under `scenarios:` (see `slokit init`)"
        )
    for n in names:
        spec.scenario(n)  # unknown names fail before anything runs
    started = datetime.now(UTC)
    t_start = time.perf_counter()
    done: list[ScenarioResults] = []
    for step in plan(spec, names, options.parallel):
        if len(step) == 1:
            ran = [run_scenario(spec, step[0], options, progress)]
        else:
            ran = run_together(spec, step, options, progress, run=run_scenario)
        done.extend(ran)
        if len(ran) < len(step) or any(r.partial for r in ran):
            break
    first = spec.scenario(names[0])
    return RunResults(
        service=spec.service,
        target=options.target or first.target or spec.target,
        started=started,
        duration_s=time.perf_counter() - t_start,
        partial=any(r.partial for r in done) or len(done) < len(names),
        scenarios=done,
    )
