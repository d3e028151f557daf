"""Latency and error drift over a soak: the first fifth of the steady phase against the last.

A service that slows as it runs (a growing cache scan, a fragmenting heap, a filling table)
passes every percentile gate over the whole run and still gets worse by the hour. Comparing
the first and last fifth of the measured seconds (warm-up left out), each merged exactly from
its per-second histograms, says by how much, in the words a runbook uses: "p95 20 % higher
at the end".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slokit._records import load_record, plain_record
from slokit.results._stats import RequestStats
from slokit.results._trends import fifths

__all__ = ["DRIFT_KEYS", "MIN_DRIFT_SECONDS", "Drift", "DriftWindow", "drift_of"]

MIN_DRIFT_SECONDS = 10
"""Measured seconds a scenario needs for a drift (two seconds per fifth)."""

DRIFT_KEYS = ("p50", "p95", "p99", "error_rate")


@dataclass(frozen=True, slots=True)
class DriftWindow:
    start_s: int
    end_s: int
    """Seconds since the scenario started: ``[start_s, end_s]``, both included."""
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    error_rate: float

    def to_dict(self) -> dict[str, Any]:
        return plain_record(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftWindow:
        return load_record(cls, data)


@dataclass(frozen=True, slots=True)
class Drift:
    first: DriftWindow
    last: DriftWindow

    def change(self, key: str) -> float | None:
        """Latency: the last fifth's percentile over the first's, minus 1 (0.2 = 20 % higher).
        ``error_rate``: the difference of the two rates (0.01 = one point more), since a
        relative change from no errors at all means nothing. None if undefined."""
        if key == "error_rate":
            return self.last.error_rate - self.first.error_rate
        before = float(getattr(self.first, f"{key}_ms"))
        after = float(getattr(self.last, f"{key}_ms"))
        return after / before - 1.0 if before > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first.to_dict(),
            "last": self.last.to_dict(),
            "change": {key: _rounded(self.change(key)) for key in DRIFT_KEYS},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Drift:
        return cls(DriftWindow.from_dict(data["first"]), DriftWindow.from_dict(data["last"]))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _window(seconds: list[tuple[int, RequestStats]]) -> DriftWindow:
    merged = RequestStats("fifth", "-", "-")
    for _, stats in seconds:
        merged.merge(stats)
    p50, p95, p99 = merged.latency.percentiles([50.0, 95.0, 99.0])
    return DriftWindow(
        start_s=seconds[0][0],
        end_s=seconds[-1][0],
        requests=merged.count,
        p50_ms=round(p50 / 1000.0, 3),
        p95_ms=round(p95 / 1000.0, 3),
        p99_ms=round(p99 / 1000.0, 3),
        error_rate=merged.failed / merged.count if merged.count else 0.0,
    )


def drift_of(seconds: Mapping[int, RequestStats], warmup_s: float) -> Drift | None:
    """The drift of the seconds from ``warmup_s`` on, or None with fewer than
    :data:`MIN_DRIFT_SECONDS` of them or a fifth without a response."""
    steady = sorted((s, stats) for s, stats in seconds.items() if s >= warmup_s)
    if len(steady) < MIN_DRIFT_SECONDS:
        return None
    first, last = fifths([(float(s), (s, stats)) for s, stats in steady])
    if not first or not last or first == last:
        return None
    windows = _window(first), _window(last)
    if not windows[0].requests or not windows[1].requests:
        return None
    return Drift(*windows)
