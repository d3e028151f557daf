"""``slokit chaos``: inject faults while a spec's scenario runs, judge by the spec's SLOs.

:func:`run_experiment` checks the experiment against its spec, sets up proxies and endpoints,
runs the load in this thread (so Ctrl-C reaches the engine, which ends the run cleanly) while
an :class:`~slokit.chaos._orchestrator.Orchestrator` thread applies the faults on time and
scrapes the service, then always rolls back, and returns the :class:`Journal`.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from slokit.chaos._actions import Actuator
from slokit.chaos._analysis import budget_burned, detect, recover, window_breaches
from slokit.chaos._experiment import Experiment
from slokit.chaos._journal import Journal, PhaseStats, SLOOutcome, Timings
from slokit.chaos._observe import Sample, SLICounter
from slokit.chaos._orchestrator import Budget, Orchestrator
from slokit.errors import UsageError
from slokit.results import ScenarioResults
from slokit.spec import Spec, load_spec
from slokit.spec._base import suggest

__all__ = ["ChaosOptions", "run_experiment"]


@dataclass(frozen=True)
class ChaosOptions:
    target: str | None = None
    """Base URL of the service (default: the experiment's, then the spec's)."""
    proxy_api: str | None = None
    """The fault proxy's API (default: the experiment's ``proxy.api``)."""
    fault_token: str | None = None
    """Token of the service's fault endpoint (default: the experiment's, then the
    SLOKIT_FAULT_TOKEN environment variable)."""
    workers: int | None = None
    on_event: Callable[[float, str], None] | None = None
    """Told what happens as it happens: ``(seconds after the load started, text)``."""


@dataclass(frozen=True)
class _Plan:
    spec: Spec
    scenario: str
    target: str
    load_seconds: float
    objectives: dict[str, float]
    budgets: dict[str, Budget]
    counters: list[SLICounter]
    metrics_url: str
    expected: dict[str, str]
    """Per SLO: hold, or breach (the service fails closed)."""


def _unknown(kind: str, name: str, known: list[str]) -> str:
    hint = suggest(name, known)
    more = f"did you mean {hint!r}?" if hint else f"the spec has: {', '.join(known) or 'none'}"
    return f"{kind} {name!r} is not in the spec; {more}"


def _plan(experiment: Experiment, options: ChaosOptions) -> _Plan:
    spec = load_spec(experiment.spec_path())
    problems: list[str] = []
    names = list(experiment.hypothesis.slos or spec.slos)
    for name in names:
        if name not in spec.slos:
            problems.append(_unknown("hypothesis SLO", name, list(spec.slos)))
    for condition in experiment.abort:
        if condition.slo is not None and condition.slo not in names:
            problems.append(f"abort condition on {condition.slo!r}, which is not in the hypothesis")
    scenario = experiment.load.scenario
    if scenario not in spec.scenarios:
        problems.append(_unknown("load scenario", scenario, list(spec.scenarios)))
    if problems:
        raise UsageError("the experiment does not fit its spec:\n  " + "\n  ".join(problems))
    sc = spec.scenario(scenario)
    load_seconds = experiment.load.duration or sc.duration
    quiet = load_seconds - experiment.faults_end
    if quiet < experiment.hypothesis.sustain:
        raise UsageError(
            f"the load ends {quiet:g}s after the last fault, too soon to see recovery "
            f"(hypothesis.sustain is {experiment.hypothesis.sustain:g}s); make load.duration "
            f"at least {experiment.faults_end + experiment.hypothesis.sustain + 5:g}s"
        )
    target = options.target or experiment.target or sc.target or spec.target
    if target is None:
        raise UsageError("no target: give --target, `target:` in the experiment or the spec")
    target = target.rstrip("/")
    objectives, budgets, counters = {}, {}, []
    expected: dict[str, str] = {}
    labels = _labels(spec)
    for name in names:
        slo = spec.slos[name]
        own = (experiment.hypothesis.slos or {}).get(name)
        objectives[name] = own.objective if own and own.objective is not None else slo.objective
        expected[name] = own.expect if own is not None else "hold"
        budgets[name] = Budget(slo.objective, slo.window)
        counters.append(SLICounter.of(name, slo, labels))
    path = experiment.observe.metrics
    metrics_url = path if path.startswith(("http://", "https://")) else f"{target}{path}"
    return _Plan(
        spec, scenario, target, load_seconds, objectives, budgets, counters, metrics_url, expected
    )


def _labels(spec: Spec) -> dict[str, str]:
    from slokit.rules._sli import _equalities

    return _equalities(spec.prometheus.selector)


def run_experiment(experiment: Experiment, options: ChaosOptions = ChaosOptions()) -> Journal:
    """Run ``experiment``; rollbacks always run. Raises SlokitError for a bad set-up."""
    from slokit.load import RunOptions, run_scenario

    plan = _plan(experiment, options)
    journal = Journal(
        title=experiment.title,
        source=experiment.base_dir,
        service=plan.spec.service,
        scenario=plan.scenario,
        target=plan.target,
        hypothesis={
            "slos": {
                n: {"objective": o, "expect": plan.expected[n]} for n, o in plan.objectives.items()
            },
            "window": experiment.hypothesis.window,
            "sustain": experiment.hypothesis.sustain,
        },
    )
    actuator = Actuator(experiment, plan.target, options.proxy_api, options.fault_token)
    orch = Orchestrator(
        experiment,
        actuator,
        plan.metrics_url,
        plan.counters,
        plan.budgets,
        plan.load_seconds,
        options.on_event,
    )
    results: ScenarioResults | None = None
    try:
        orch.prepare()
        run_options = RunOptions(
            workers=options.workers,
            duration=plan.load_seconds,
            target=plan.target,
            on_start=orch.load_started,
            should_stop=orch.should_stop,
        )
        results = run_scenario(plan.spec, plan.scenario, run_options)
    finally:
        with _rollback_shield(options.on_event):
            orch.finish()
        journal.actions = orch.records
        journal.ended = datetime.now(UTC)
    _judge(journal, experiment, plan, orch, results)
    return journal


@contextlib.contextmanager
def _rollback_shield(on_event: Callable[[float, str], None] | None) -> Iterator[None]:
    """A Ctrl-C while rolling back is noted, not obeyed: leaving faults behind is worse."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(_signum: int, _frame: FrameType | None) -> None:
        if on_event is not None:
            on_event(math.nan, "rolling back; the experiment stops when that is done")

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _judge(
    journal: Journal,
    experiment: Experiment,
    plan: _Plan,
    orch: Orchestrator,
    results: ScenarioResults | None,
) -> None:
    samples = orch.samples
    faults = [r for r in orch.records if r.phase == "method"]
    applied = [r.started for r in faults if r.started is not None]
    removed = [r.ended for r in faults if r.ended is not None and r.planned_end is not None]
    t_inject = min(applied) if applied else None
    t_remove = max(removed) if removed and len(removed) == len(applied) else None
    hypothesis = experiment.hypothesis
    detected = recovery = None
    if t_inject is not None:
        detected = detect(samples, plan.objectives, hypothesis.window, t_inject)
    if t_remove is not None:
        recovery = recover(samples, plan.objectives, t_remove, hypothesis.sustain)
    journal.timings = Timings(
        t_inject=t_inject,
        t_detect=detected[0] if detected else None,
        detected_by=detected[1] if detected else None,
        t_remove=t_remove,
        t_recover=recovery,
    )
    journal.slos = _outcomes(samples, plan, hypothesis.window, t_inject)
    journal.timeline = [_point(prev, s, plan) for prev, s in itertools.pairwise(samples)]
    if results is not None:
        journal.phases = _phases(results, t_inject, t_remove)
        journal.load = {
            "duration_s": round(results.duration_s, 3),
            "warmup_s": results.warmup_s,
            "partial": results.partial,
            "abort_reason": results.abort_reason,
            "total": results.total.summary(results.measured_s),
            "timeline": [p.to_dict() for p in results.timeline],
        }
    _verdict(journal, orch, results, samples, plan, hypothesis.window, t_inject)


def _outcomes(
    samples: list[Sample], plan: _Plan, window: float, t_inject: float | None
) -> list[SLOOutcome]:
    since = t_inject if t_inject is not None else 0.0
    breaches = window_breaches(samples, plan.objectives, window, since)
    ok = [s for s in samples if s.error is None and s.t >= since - 1e-6]
    outcomes = []
    for name, objective in plan.objectives.items():
        found = breaches[name]
        worst = min(found, key=lambda b: b.ratio) if found else None
        good = total = 0.0
        if len(ok) >= 2:
            g0, t0 = ok[0].counts.get(name, (0.0, 0.0))
            g1, t1 = ok[-1].counts.get(name, (0.0, 0.0))
            good, total = max(g1 - g0, 0.0), max(t1 - t0, 0.0)
        budget = plan.budgets[name]
        burned, rate, _ = budget_burned(samples, name, budget.objective, budget.window, since)
        outcomes.append(
            SLOOutcome(
                name=name,
                objective=objective,
                held=not found,
                windows_breached=len(found),
                worst_ratio=round(worst.ratio, 6) if worst else None,
                worst_at=round(worst.at, 3) if worst else None,
                good=int(good),
                total=int(total),
                budget_burned=burned,
                burn_rate=round(rate, 3),
                expected="breach" if plan.expected.get(name) == "breach" else "hold",
            )
        )
    return outcomes


def _point(prev: Sample, sample: Sample, plan: _Plan) -> dict[str, Any]:
    from slokit.chaos._analysis import interval_ratio

    point: dict[str, Any] = {"t": round(sample.t, 3)}
    if sample.error is not None:
        point["error"] = sample.error
        return point
    point["slis"] = {
        name: None if (r := interval_ratio(prev, sample, name)) is None else round(r, 6)
        for name in plan.objectives
    }
    point["breakers"] = dict(sorted(sample.breakers.items()))
    return point


def _phases(
    results: ScenarioResults, t_inject: float | None, t_remove: float | None
) -> list[PhaseStats]:
    end = float(math.floor(results.duration_s))
    warm = float(math.ceil(results.warmup_s))
    if t_inject is None:
        return [PhaseStats.of("before", warm, end, results.between(warm, end))]
    # Whole seconds only: the second a fault arrives in belongs to neither side.
    inject_floor, inject_ceil = float(math.floor(t_inject)), float(math.ceil(t_inject))
    phases = [PhaseStats.of("before", warm, inject_floor, results.between(warm, inject_floor))]
    stop = float(math.floor(t_remove)) if t_remove is not None else end
    phases.append(PhaseStats.of("during", inject_ceil, stop, results.between(inject_ceil, stop)))
    if t_remove is not None:
        after = float(math.ceil(t_remove))
        phases.append(PhaseStats.of("after", after, end, results.between(after, end)))
    return phases


def _verdict(
    journal: Journal,
    orch: Orchestrator,
    results: ScenarioResults | None,
    samples: list[Sample],
    plan: _Plan,
    window: float,
    t_inject: float | None,
) -> None:
    reasons = journal.reasons
    if orch.abort_reason is not None:
        journal.status, journal.aborted_by = "aborted", orch.aborted_by
        reasons.append(orch.abort_reason)
    elif results is None or results.partial:
        journal.status = "aborted"
        reasons.append(results.abort_reason or "the load stopped early" if results else
                       "the load did not run")  # fmt: skip
    elif t_inject is None:
        journal.status = "aborted"
        reasons.append("no fault was applied")
    if journal.status == "aborted":
        return
    assert t_inject is not None
    before = window_breaches([s for s in samples if s.t <= t_inject], plan.objectives, window, 0.0)
    for name, found in before.items():
        if found:
            reasons.append(f"{name} was already under its objective before the faults")
    for outcome in journal.slos:
        if outcome.total == 0:
            reasons.append(f"{outcome.name} saw no requests, so it could not be judged")
        elif outcome.expected == "breach":
            if outcome.held:
                reasons.append(
                    f"{outcome.name} was expected to fall under {outcome.objective:.2%} while "
                    "the faults ran (the service fails closed), but it held"
                )
            elif journal.timings.t_recover is None:
                reasons.append(
                    f"{outcome.name} fell as expected but did not recover within the run"
                )
        elif not outcome.held:
            reasons.append(
                f"{outcome.name} fell to {outcome.worst_ratio:.2%} at t={outcome.worst_at:g}s "
                f"(objective {outcome.objective:.2%} over {window:g}s windows)"
            )
    journal.status = "deviated" if reasons else "held"
