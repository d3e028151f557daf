"""Spikes: how bad it got while the load was high, and how long recovery took after it fell.

A ramping scenario whose stages rise and then fall back (by a quarter or more) is a spike.
Its degradation is the worst second's p95 and error rate against the seconds before the rise;
its recovery is the seconds from the end of the fall until the first healthy second that stays
healthy for ``hold`` seconds (see :mod:`slokit.results._health`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slokit._records import load_record, plain_record
from slokit.results._health import Health
from slokit.results._stats import RequestStats
from slokit.results._trends import recovery_time

__all__ = ["Spike", "measure_spike", "spike_shape"]

_DROP = 0.75
"""A fall to at most this share of the peak level is a spike's end."""


@dataclass(frozen=True, slots=True)
class Shape:
    rise_s: float
    """When the load starts rising to its peak (seconds since the scenario started)."""
    drop_s: float
    """When the load is back down: the end of the last falling stage."""
    peak: float
    low: float
    """The level it fell back to."""


def spike_shape(start: float, stages: Sequence[tuple[float, float]]) -> Shape | None:
    """The spike in ``stages`` (``(to, over)`` from level ``start``), or None when the load
    never falls back to three quarters of its peak or less."""
    t, level, peak = 0.0, start, start
    climb, rise, rising = 0.0, 0.0, False
    shape: Shape | None = None
    for to, over in stages:
        if to > level and not rising:
            climb = t  # a climb starts here; the one that reaches the peak is the spike's
        if to > peak:
            peak, rise = to, climb
        if to < level and to <= _DROP * peak:
            shape = Shape(rise_s=rise, drop_s=t + over, peak=peak, low=to)
        rising = to > level
        level = to
        t += over
    return shape


@dataclass(frozen=True, slots=True)
class Spike:
    rise_s: float
    drop_s: float
    peak: float
    low: float
    unit: str
    """``VUs`` or ``/s``: what the levels count."""
    baseline_p95_ms: float | None
    peak_p95_ms: float | None
    baseline_error_rate: float | None
    peak_error_rate: float
    hold_s: float
    recovered_after_s: float | None
    """Seconds from ``drop_s`` until healthy for ``hold_s``; None: not within the run."""
    rules: list[str]
    failing_at_drop: list[str]

    def to_dict(self) -> dict[str, Any]:
        return plain_record(self, recovered=self.recovered_after_s is not None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Spike:
        return load_record(cls, data)


def _p95(stats: RequestStats) -> float | None:
    return stats.latency.percentile(95.0) / 1000.0 if stats.latency.count else None


def _merged(seconds: list[RequestStats]) -> RequestStats:
    merged = RequestStats("window", "-", "-")
    for stats in seconds:
        merged.merge(stats)
    return merged


def measure_spike(
    shape: Shape,
    unit: str,
    seconds: Mapping[int, RequestStats],
    *,
    warmup_s: float,
    health: Health,
    hold_s: float,
) -> Spike:
    """The spike's degradation and recovery, from the run's per-second counts."""
    before = [s for t, s in seconds.items() if warmup_s <= t < shape.rise_s]
    during = [s for t, s in seconds.items() if t >= shape.rise_s]
    baseline = _merged(before)
    worst_p95 = max((p for s in during if (p := _p95(s)) is not None), default=None)
    worst_errors = max((s.failed / s.count for s in during if s.count), default=0.0)
    after = sorted((t, s) for t, s in seconds.items() if t >= shape.drop_s)
    points = [(float(t) - shape.drop_s, health(s)) for t, s in after]
    first = after[0][1] if after else RequestStats("none")
    return Spike(
        rise_s=shape.rise_s,
        drop_s=shape.drop_s,
        peak=shape.peak,
        low=shape.low,
        unit=unit,
        baseline_p95_ms=None if not before else _p95(baseline),
        peak_p95_ms=worst_p95,
        baseline_error_rate=baseline.failed / baseline.count if baseline.count else None,
        peak_error_rate=worst_errors,
        hold_s=hold_s,
        recovered_after_s=recovery_time(points, after=0.0, hold=hold_s) if health.rules else None,
        rules=health.names,
        failing_at_drop=health.failing(first),
    )
