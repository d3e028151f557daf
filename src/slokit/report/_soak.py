"""Resource and drift rows as every report shows them: the terminal, summary.md, report.html
and the dashboard read these, so a leak reads the same everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from slokit.results import (
    LAGGED_SHARE,
    STALL_MS,
    ScenarioResults,
    format_ms,
    format_percent,
    format_resource,
)

__all__ = [
    "DriftRow",
    "ResourceRow",
    "drift_rows",
    "generator_line",
    "generator_note",
    "resource_rows",
    "spike_lines",
]


def spike_lines(sc: ScenarioResults) -> list[str]:
    """A spike in words: when the load fell, how bad it got, how fast it recovered."""
    spike = sc.spike
    if spike is None:
        return []

    def level(value: float) -> str:
        return f"{value:g} VUs" if spike.unit == "VUs" else f"{value:g}/s"

    lines = [
        f"spike: the load rose at {spike.rise_s:g}s to {level(spike.peak)} and fell back to "
        f"{level(spike.low)} at {spike.drop_s:g}s"
    ]
    if spike.peak_p95_ms is not None:
        base = (
            f" (before the rise: {format_ms(spike.baseline_p95_ms)})"
            if spike.baseline_p95_ms is not None
            else ""
        )
        lines.append(
            f"worst second: p95 {format_ms(spike.peak_p95_ms)}{base}, errors "
            f"{format_percent(spike.peak_error_rate)}"
        )
    if not spike.rules:
        lines.append("recovery not measured: no SLO or pNN/error_rate gate says what healthy is")
    elif spike.recovered_after_s is None:
        lines.append(
            f"not recovered before the run ended ({', '.join(spike.failing_at_drop) or 'rules'} "
            "failing)"
        )
    else:
        lines.append(
            f"recovered {spike.recovered_after_s:g}s after the load fell, healthy for "
            f"{spike.hold_s:g}s after that (rules: {', '.join(spike.rules)})"
        )
    return lines


def generator_note(sc: ScenarioResults) -> str | None:
    """A warning when the load generator, not the target, set the figures: it was saturated
    (CPU, or an open model's arrivals late), or its event loop stalled in a measured second."""
    parts = []
    lagged, watched = sc.lagged_seconds
    if sc.generator_saturated:
        if lagged > LAGGED_SHARE * watched:
            why = (
                f"its event loop ran {format_ms(STALL_MS)} or more late in {lagged} of {watched} s"
            )
        elif sc.generator_late is not None:
            why = f"{sc.generator_late:.0%} of its arrivals started over 10 ms late"
        else:
            why = f"its busiest worker was {sc.generator_busy or 0:.0%} busy"
        parts.append(
            f"the load generator was saturated ({why}): these figures are partly the "
            "generator's limit; add workers with -w, or machines"
        )
    stall = sc.loop_stall
    if sc.generator_stalled and stall is not None:
        parts.append(
            f"the load generator's event loop stalled for {format_ms(stall[0])} at +{stall[1]}s: "
            "latencies measured across it include that delay"
        )
    return "; ".join(parts) if parts else None


def generator_line(sc: ScenarioResults) -> str | None:
    """What the load generator measured of itself, in one line (None: it was not watched)."""
    g = sc.generator_summary()
    if g["busy"] is None and g["cpu_max"] is None and g["schedule_lag_ms"] is None:
        return None
    parts = []
    if g["busy"] is not None:
        parts.append(f"busiest worker {g['busy']:.0%} CPU over the run")
    if g["cpu_max"] is not None:
        parts.append(f"{g['cpu_max']:.0%} in its busiest second")
    if g["late"] is not None and parts:
        # The open model spins before each arrival: its CPU is no measure of its load.
        parts[-1] += " (spinning before arrivals counts)"
    if g["loop_lag_max_ms"] is not None:
        parts.append(f"event-loop lag up to {format_ms(g['loop_lag_max_ms'])}")
    schedule = g["schedule_lag_ms"]
    if schedule is not None:
        parts.append(
            f"arrivals sent p50 {format_ms(schedule['p50'])} / p99 {format_ms(schedule['p99'])} "
            "after their intended time"
        )
    return "load generator: " + ", ".join(parts)


@dataclass(frozen=True, slots=True)
class ResourceRow:
    name: str
    max: str
    mean: str
    change: str
    """First and last value after the warm-up: ``32MiB -> 48MiB``."""
    trend: str
    """Per hour with its confidence interval, or ``-`` with too few samples."""
    projected: str
    """The value a day after the start if the trend holds, or ``-``."""
    growing: bool


def _signed(unit: str, value: float) -> str:
    return ("+" if value > 0 else "") + format_resource(unit, value)


def resource_rows(sc: ScenarioResults) -> list[ResourceRow]:
    if sc.resources is None:
        return []
    rows = []
    for name, s in sc.resources.summaries(since=sc.warmup_s).items():
        t = s.trend
        trend = "-"
        if t is not None:
            trend = (
                f"{_signed(s.unit, t.slope_per_hour)}/h "
                f"({_signed(s.unit, t.low_per_hour)} to {_signed(s.unit, t.high_per_hour)})"
            )
        projected = s.projected()
        rows.append(
            ResourceRow(
                name=name,
                max=format_resource(s.unit, s.max),
                mean=format_resource(s.unit, s.mean),
                change=f"{format_resource(s.unit, s.first)} -> {format_resource(s.unit, s.last)}",
                trend=trend,
                projected="-" if projected is None else format_resource(s.unit, projected),
                growing=s.growing,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class DriftRow:
    metric: str
    first: str
    last: str
    change: str


def drift_rows(sc: ScenarioResults) -> list[DriftRow]:
    drift = sc.drift
    if drift is None:
        return []
    rows = []
    for key in ("p50", "p95", "p99"):
        change = drift.change(key)
        rows.append(
            DriftRow(
                key,
                format_ms(getattr(drift.first, f"{key}_ms")),
                format_ms(getattr(drift.last, f"{key}_ms")),
                "-" if change is None else ("+" if change > 0 else "") + format_percent(change),
            )
        )
    change = drift.change("error_rate") or 0.0
    rows.append(
        DriftRow(
            "error rate",
            format_percent(drift.first.error_rate),
            format_percent(drift.last.error_rate),
            ("+" if change > 0 else "") + format_percent(change).replace("%", " pts"),
        )
    )
    return rows
