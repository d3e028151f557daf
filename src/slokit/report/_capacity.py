"""A capacity search as every report shows it: the answer in one line, then a row per step."""

from __future__ import annotations

from dataclasses import dataclass

from slokit.results import (
    CapacityResult,
    ScenarioResults,
    format_count,
    format_ms,
    format_percent,
    format_resource,
)
from slokit.spec import BUILTIN_RESOURCES

__all__ = ["CapacityRow", "capacity_rows", "capacity_summary"]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{format_count(round(value, 1))}/s"


@dataclass(frozen=True, slots=True)
class CapacityRow:
    rate: str
    phase: str
    result: str
    """``PASS`` or ``FAIL``."""
    achieved: str
    p50: str
    p95: str
    p99: str
    errors: str
    dropped: str
    generator: str
    """The share of arrivals launched late, ``-`` when unknown."""
    resources: str
    broke: str


def capacity_rows(sc: ScenarioResults) -> list[CapacityRow]:
    capacity = sc.capacity
    if capacity is None:
        return []
    rows = []
    for step in capacity.steps:
        maxima = ", ".join(
            f"{name} {format_resource(BUILTIN_RESOURCES.get(name, 'value'), value)}"
            for name, value in step.resources.items()
        )
        rows.append(
            CapacityRow(
                rate=_rate(step.rate),
                phase=step.phase,
                result="PASS" if step.passed else "FAIL",
                achieved=_rate(step.achieved),
                p50=format_ms(step.p50_ms),
                p95=format_ms(step.p95_ms),
                p99=format_ms(step.p99_ms),
                errors=format_percent(step.error_rate) if step.requests else "-",
                dropped=format_count(step.dropped),
                generator="-" if step.generator_late is None else f"{step.generator_late:.0%} late",
                resources=maxima or "-",
                broke=", ".join(step.broke),
            )
        )
    return rows


def capacity_summary(capacity: CapacityResult) -> list[str]:
    """The answer in sentences: sustainable and breaking rate, whose limit, knees, recovery."""
    lines = []
    if capacity.sustainable is None:
        lines.append(f"no step held: {capacity.limit_detail}")
    else:
        lines.append(f"sustainable rate: {_rate(capacity.sustainable)}")
    if capacity.breaking is not None:
        lines.append(
            f"breaking rate: {_rate(capacity.breaking)}, first broke: "
            f"{', '.join(capacity.broke_first)}"
        )
    lines.append(f"limit: {capacity.limit} ({capacity.limit_detail})")
    throughput, latency = capacity.knees
    if throughput is not None or latency is not None:
        lines.append(
            f"knees: throughput stops following the offered rate at {_rate(throughput)}, "
            f"p95 leaves its flat region at {_rate(latency)}"
        )
    recovery = capacity.recovery
    if recovery is not None:
        if recovery.recovered_after_s is None:
            lines.append(
                f"recovery at {_rate(recovery.rate)}: not recovered within "
                f"{recovery.duration_s:g}s ({', '.join(recovery.failing_at_drop) or 'no rule'} "
                "still failing)"
            )
        else:
            lines.append(
                f"recovery at {_rate(recovery.rate)}: healthy after "
                f"{recovery.recovered_after_s:g}s and for {recovery.hold_s:g}s after that "
                f"(rules: {', '.join(recovery.rules)})"
            )
    return lines
