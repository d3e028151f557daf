"""Reading resource, drift and capacity gates: ``max(rss) < 512MiB``, ``rss_slope < 10MiB/h``,
``p95_drift < 20%``, ``capacity >= 400/s``.

Each answer is either a reading (the observed value in the gate's unit, and how it reads) or
the reason it cannot be judged: no ``resources:`` for this scenario, a source that never
answered, a run too short for a trend or a drift. An unjudged gate is reported as such,
never as a silent pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from slokit.results._capacity import CapacityResult
from slokit.results._drift import MIN_DRIFT_SECONDS, Drift
from slokit.results._format import format_count, format_ms, format_percent, format_resource
from slokit.results._resources import MIN_TREND_SAMPLES, ResourceTimeline
from slokit.results._spike import Spike
from slokit.spec import Gate

__all__ = [
    "NotJudged",
    "Reading",
    "Unmet",
    "read_capacity_gate",
    "read_drift_gate",
    "read_resource_gate",
]


@dataclass(frozen=True, slots=True)
class Reading:
    observed: float
    text: str


@dataclass(frozen=True, slots=True)
class NotJudged:
    why: str


@dataclass(frozen=True, slots=True)
class Unmet:
    """Measured, and failed without a number: the target never recovered."""

    why: str


def read_resource_gate(
    gate: Gate, resources: ResourceTimeline | None, warmup_s: float
) -> Reading | NotJudged:
    name = gate.resource
    assert name is not None
    if resources is None:
        return NotJudged("this scenario samples no resources (add a resources: block)")
    summary = resources.summary(name, since=warmup_s)
    if summary is None:
        why = f"no {name} samples"
        if resources.notes:
            why += f" ({'; '.join(resources.notes)})"
        elif name not in _offered(resources):
            why += " (no source of this resources: block gives it)"
        return NotJudged(why)
    unit = summary.unit
    if gate.metric == "max":
        return Reading(summary.max, f"max {format_resource(unit, summary.max)}")
    if gate.metric == "mean":
        return Reading(summary.mean, f"mean {format_resource(unit, summary.mean)}")
    trend = summary.trend
    if trend is None:
        return NotJudged(
            f"{summary.samples} {name} samples after the warm-up; a trend needs at least "
            f"{MIN_TREND_SAMPLES} (run longer or sample more often)"
        )
    per_hour, low, high = trend.slope_per_hour, trend.low_per_hour, trend.high_per_hour

    def show(value: float) -> str:
        return ("+" if value > 0 else "") + format_resource(unit, value) + "/h"

    ci = f"{round(trend.confidence * 100):d}% CI {show(low)} to {show(high)}"
    text = (
        f"{show(per_hour)} ({ci}; {format_resource(unit, summary.first)} -> "
        f"{format_resource(unit, summary.last)} over {summary.samples} samples)"
    )
    # Judged on the whole interval: noise on a short soak must neither pass for a leak nor
    # hide one. With the interval on one side, the slope (inside it) is on that side too.
    if gate.op != "==" and gate.compare(low) != gate.compare(high):
        return NotJudged(
            f"inconclusive: {text} straddles {show(gate.threshold)}; run longer or sample "
            "more often to narrow it"
        )
    return Reading(per_hour, text)


def _offered(resources: ResourceTimeline) -> set[str]:
    return {name for _, values in resources.samples for name in values}


def read_drift_gate(gate: Gate, drift: Drift | None) -> Reading | NotJudged:
    if drift is None:
        return NotJudged(
            f"a drift needs at least {MIN_DRIFT_SECONDS} measured seconds with responses in "
            "the first and last fifth"
        )
    key = gate.metric.removesuffix("_drift")
    change = drift.change(key)
    if change is None:
        return NotJudged(f"the first fifth has no {key} to compare with")
    first, last = drift.first, drift.last
    if key == "error_rate":
        return Reading(
            change,
            f"{format_percent(first.error_rate)} -> {format_percent(last.error_rate)} "
            f"(seconds {first.start_s}-{first.end_s} vs {last.start_s}-{last.end_s})",
        )
    before, after = getattr(first, f"{key}_ms"), getattr(last, f"{key}_ms")
    sign = "+" if change > 0 else ""
    return Reading(
        change,
        f"{sign}{format_percent(change)}: {key} {format_ms(before)} -> {format_ms(after)} "
        f"(seconds {first.start_s}-{first.end_s} vs {last.start_s}-{last.end_s})",
    )


def _per_s(rate: float) -> str:
    return f"{format_count(round(rate, 1))}/s"


def read_capacity_gate(gate: Gate, capacity: CapacityResult | None) -> Reading | NotJudged:
    if capacity is None:
        return NotJudged("not a capacity search (executor: capacity)")
    if capacity.limit == "none":
        return NotJudged(f"the search did not finish: {capacity.limit_detail}")
    if capacity.sustainable is None:
        first = capacity.steps[0].rate if capacity.steps else 0.0
        return Reading(
            0.0,
            f"no step held: the first ({_per_s(first)}) already broke on "
            f"{', '.join(capacity.broke_first) or 'its verdicts'}",
        )
    text = f"sustained {_per_s(capacity.sustainable)}"
    if capacity.breaking is not None:
        text += f", broke at {_per_s(capacity.breaking)} on {', '.join(capacity.broke_first)}"
    else:
        text += " (the ceiling: nothing broke)"
    if capacity.limit == "generator":
        # The target's capacity is unknown above this: the verdict says so, not a number.
        return NotJudged(f"{text}; {capacity.limit_detail}")
    return Reading(capacity.sustainable, text)


def read_recovery_gate(
    gate: Gate, capacity: CapacityResult | None, spike: Spike | None
) -> Reading | NotJudged | Unmet:
    """``recovery < 30s``: after a spike's drop, or a capacity search's heaviest overload."""
    if capacity is not None and capacity.recovery is not None:
        r = capacity.recovery
        after, hold, rules, window = r.recovered_after_s, r.hold_s, r.rules, r.duration_s
        where = f"back at {format_count(round(r.rate, 1))}/s after the overload"
    elif spike is not None:
        after, hold, rules = spike.recovered_after_s, spike.hold_s, spike.rules
        window = None
        where = f"after the load fell back at {spike.drop_s:g}s"
    else:
        why = "no spike (stages that rise and fall back) and no capacity search with recovery:"
        return NotJudged(why)
    if not rules:
        return NotJudged("no SLO and no whole-run pNN or error_rate gate says what healthy is")
    if after is None:
        within = f" within {window:g}s" if window is not None else " before the run ended"
        return Unmet(f"did not recover{within} {where} ({', '.join(rules)} still failing)")
    return Reading(
        after,
        f"healthy {after:g}s {where}, and for {hold:g}s after that ({', '.join(rules)})",
    )
