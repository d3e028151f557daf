"""The capacity search: open-model steps of rising rate until the scenario breaks.

Each step is a constant-arrival-rate run of its own (settle time as its warm-up), judged on
the scenario's SLOs and gates exactly as any run is; a step that drops arrivals fails too,
since an open model that cannot start its arrivals is saturated somewhere. Whose limit it is
comes from how late the workers launched arrivals (a worker that falls behind its schedule
is saturated; its CPU says nothing, it spins before each arrival) and from Little's law (in
flight = rate x latency, against ``max_vus``): a saturated generator is never reported as
the target's capacity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from slokit.results import (
    LATE_SHARE,
    CapacityResult,
    CapacityStep,
    Recovery,
    RequestStats,
    ScenarioResults,
    format_count,
    health_of,
    merge_stats,
    recovery_time,
)
from slokit.spec import Capacity, ConstantArrivalRate, Scenario, Spec

if TYPE_CHECKING:
    from slokit.load._controller import Progress, RunOptions
    from slokit.results._capacity import Limit

__all__ = ["run_capacity"]

_BASE_FIELDS = (
    "flow",
    "script",
    "think",
    "timeout",
    "target",
    "data",
    "gate",
    "follow_redirects",
    "headers",
    "slos",
    "resources",
)

RunStep = Callable[..., ScenarioResults]
_WHOLE_SEARCH = frozenset({"capacity", "recovery", "cost_per_million"})
"""Gates on the search's result: a step never breaks on one (a step's cost is not its SLO)."""


def _step(sc: Capacity, rate: float, seconds: float, warmup: float) -> ConstantArrivalRate:
    fields = {name: getattr(sc, name) for name in _BASE_FIELDS}
    return ConstantArrivalRate(
        **fields,
        executor="constant-arrival-rate",
        rate=rate,
        duration=seconds,
        warmup=warmup,
        max_vus=sc.max_vus,
        # The capacity and recovery gates judge the whole search, not a step.
        gates=[g for g in sc.gates if g.metric not in _WHOLE_SEARCH],
    )


def _achieved(results: ScenarioResults) -> float:
    """Responses per second over the whole seconds after the settle time. The last second is
    left out: it also holds what the workers drained or cancelled when the step ended, which
    would make a saturated target look faster than it is."""
    end = int(results.duration_s)
    judged = [s for second, s in results.seconds.items() if results.warmup_s <= second < end]
    if not judged:
        seconds = results.measured_s
        return results.total.latency.count / seconds if seconds > 0 else 0.0
    return sum(s.latency.count for s in judged) / len(judged)


class _Search:
    def __init__(
        self,
        spec: Spec,
        name: str,
        sc: Capacity,
        options: RunOptions,
        progress: Progress | None,
        run_step: RunStep,
    ) -> None:
        self.spec, self.name, self.sc, self.progress = spec, name, sc, progress
        # The search sets each step's duration itself; -d was already applied to the steps.
        self.options = dataclasses.replace(options, duration=None)
        self.run_step = run_step
        self.runs: list[ScenarioResults] = []
        self.steps: list[CapacityStep] = []
        self.notes: list[str] = []
        self.offset = 0

    def run(self, scenario: Scenario) -> tuple[ScenarioResults, float | None]:
        results = self.run_step(self.spec, self.name, scenario, self.options, self.progress)
        self.runs.append(results)
        return results, results.generator_late

    def step(self, rate: float, phase: str) -> CapacityStep:
        sc = self.sc
        results, busy = self.run(_step(sc, rate, sc.settle + sc.step_duration, sc.settle))
        total = results.total
        whole = {g.text for g in self.spec.gates if g.metric in _WHOLE_SEARCH}
        broke = [
            v.name
            for v in results.verdicts
            if v.judged and not v.passed and not (v.kind == "gate" and v.name in whole)
        ]
        if total.dropped:
            broke.append("dropped arrivals")
        if results.partial:
            broke.append(f"aborted: {results.abort_reason}")
        p50, p95, p99 = (v / 1000.0 for v in total.latency.percentiles([50.0, 95.0, 99.0]))
        maxima = {}
        if results.resources is not None:
            for key, summary in results.resources.summaries(since=results.warmup_s).items():
                maxima[key] = summary.max
        step = CapacityStep(
            rate=rate,
            phase="refine" if phase == "refine" else "search",
            passed=not broke,
            achieved=_achieved(results),
            requests=total.count,
            failed=total.failed,
            dropped=total.dropped,
            p50_ms=round(p50, 3),
            p95_ms=round(p95, 3),
            p99_ms=round(p99, 3),
            broke=broke,
            generator_late=busy,
            resources=maxima,
            start_s=self.offset,
        )
        self.offset += len(results.timeline)
        self.steps.append(step)
        return step

    def search(self) -> tuple[float | None, CapacityStep | None, bool]:
        """(highest passing rate, first confirmed failing step, aborted)."""
        sc = self.sc
        passing: float | None = None
        failing: list[CapacityStep] = []
        for rate in sc.rates():
            step = self.step(rate, "search")
            if self.runs[-1].partial:
                return passing, None, True
            if step.passed:
                passing, failing = rate, []
            else:
                failing.append(step)
                if len(failing) > sc.confirm:
                    break
        breaking = failing[0] if len(failing) > sc.confirm else None
        if breaking is None and failing:
            breaking = failing[0]  # the ceiling came before the confirmations: still broken
        return passing, breaking, False

    def refine(self, low: float, high: float) -> tuple[float, float, bool]:
        for _ in range(self.sc.refine):
            if high - low < max(1.0, low * 0.02):
                break  # closer than 2 %: another step measures noise
            middle = (low + high) / 2
            step = self.step(middle, "refine")
            if self.runs[-1].partial:
                return low, high, True
            low, high = (middle, high) if step.passed else (low, middle)
        return low, high, False

    def recovery(self) -> Recovery | None:
        sc = self.sc
        if not sc.recovery:
            return None
        health = health_of(self.spec, sc)
        if not health.rules:
            self.notes.append(
                "recovery not measured: no SLO and no whole-run pNN or error_rate gate says "
                "what a healthy second is"
            )
            return None
        start = self.offset
        results, _ = self.run(_step(sc, sc.start_rate, sc.recovery, 0.0))
        self.offset += len(results.timeline)
        seconds = sorted(results.seconds.items())
        points = [(float(s), health(stats)) for s, stats in seconds]
        first = seconds[0][1] if seconds else RequestStats("total")
        return Recovery(
            rate=sc.start_rate,
            duration_s=sc.recovery,
            hold_s=sc.recovery_hold,
            recovered_after_s=recovery_time(points, after=0.0, hold=sc.recovery_hold),
            rules=health.names,
            failing_at_drop=health.failing(first),
            start_s=start,
        )


def _rate(value: float) -> str:
    return f"{format_count(round(value, 1))}/s"


def _limit(sc: Capacity, breaking: CapacityStep | None, aborted: bool) -> tuple[Limit, str]:
    if aborted:
        return "none", "the search was interrupted before it found the breaking point"
    if breaking is None:
        return (
            "ceiling",
            f"nothing broke up to max_rate {_rate(sc.max_rate)}: raise it to go further",
        )
    late = breaking.generator_late
    if late is not None and late >= LATE_SHARE:
        return "generator", (
            f"the load generator was saturated at {_rate(breaking.rate)} ({late:.0%} of its "
            "arrivals started over 10 ms late): the target's limit is at least the sustained "
            "rate; add workers (-w) or machines to find it"
        )
    in_flight = breaking.achieved * breaking.p95_ms / 1000.0
    if breaking.dropped and in_flight < 0.5 * sc.max_vus and not breaking.failed:
        return "generator", (
            f"arrivals were dropped at {_rate(breaking.rate)} with only ~{in_flight:.0f} of "
            f"{sc.max_vus} VUs needed by the target's latency: the generator could not start "
            "them in time; add workers (-w)"
        )
    return "target", f"the target broke at {_rate(breaking.rate)}: {', '.join(breaking.broke)}"


def _merged(search: _Search, name: str) -> ScenarioResults:
    """One ScenarioResults for the whole search: every step's requests, timelines end to end."""
    runs = search.runs
    first = runs[0]
    requests: dict[str, RequestStats] = {}
    timeline, seconds, offset = [], {}, 0
    for run in runs:
        for key, stats in run.requests.items():
            requests[key] = merge_stats(key, [requests[key], stats]) if key in requests else stats
        for point in run.timeline:
            timeline.append(dataclasses.replace(point, second=point.second + offset))
        for second, stats in run.seconds.items():
            seconds[second + offset] = stats
        offset += len(run.timeline)
    merged = ScenarioResults(
        name=name,
        executor="capacity",
        requests=requests,
        timeline=timeline,
        duration_s=sum(r.duration_s for r in runs),
        warmup_s=0.0,
        workers=first.workers,
        partial=any(r.partial for r in runs),
        abort_reason=next((r.abort_reason for r in runs if r.abort_reason), None),
        started=first.started,
        seconds=seconds,
    )
    for run in runs:
        merged.notes.extend(n for n in run.notes if n not in merged.notes)
    return merged


def run_capacity(
    spec: Spec,
    name: str,
    sc: Capacity,
    options: RunOptions,
    progress: Progress | None,
    *,
    run_step: RunStep,
) -> ScenarioResults:
    """Search ``sc``'s breaking point; ``run_step`` runs (and judges) one step."""
    search = _Search(spec, name, sc, options, progress, run_step)
    passing, breaking, aborted = search.search()
    low, high = passing, breaking.rate if breaking is not None else None
    # Right after the heaviest overload, before bisection lets the target rest.
    recovery = None if aborted or breaking is None else search.recovery()
    if recovery is not None and search.runs[-1].partial:
        aborted = True
    if not aborted and low is not None and high is not None:
        low, high, aborted = search.refine(low, high)
    if high is not None:
        broken = [s for s in search.steps if not s.passed and s.rate == high]
        first_break = broken[0] if broken else breaking
    else:
        first_break = None
    limit, detail = _limit(sc, first_break, aborted)
    merged = _merged(search, name)
    merged.notes.extend(search.notes)
    merged.capacity = CapacityResult(
        steps=search.steps,
        sustainable=None if aborted and low is None else low,
        breaking=high,
        broke_first=list(first_break.broke) if first_break is not None else [],
        limit=limit,
        limit_detail=detail,
        recovery=recovery,
    )
    return merged
