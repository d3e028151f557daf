"""What the system under test used while a scenario ran, and what its trend says.

The controller's sampler fills a :class:`ResourceTimeline` (seconds since the scenario
started, one dict of values per sample); the summaries here are what gates, reports and the
store read: the maximum and mean after the warm-up, and a Theil-Sen trend per hour with its
confidence interval, so one garbage-collection spike cannot pass for a leak.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slokit.results._trends import Trend, significant, theil_sen
from slokit.spec import BUILTIN_RESOURCES

__all__ = ["MIN_TREND_SAMPLES", "ResourceSummary", "ResourceTimeline"]

MIN_TREND_SAMPLES = 10
"""Fewer samples than this after the warm-up give no trend: a slope of three points is noise."""

_DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class ResourceSummary:
    """One value over the measured part of a scenario (warm-up left out)."""

    name: str
    unit: str
    """``bytes``, ``cores``, ``count`` or, for a user's series, ``value``."""
    samples: int
    max: float
    mean: float
    first: float
    last: float
    trend: Trend | None
    """None with fewer than :data:`MIN_TREND_SAMPLES` samples, and for ``cpu``."""

    @property
    def growing(self) -> bool:
        """The trend rises and its confidence interval excludes zero."""
        return self.trend is not None and significant(self.trend) and self.trend.slope > 0

    def projected(self, seconds: float = _DAY_S) -> float | None:
        """The value ``seconds`` after the scenario started if the trend holds (a day)."""
        return None if self.trend is None else self.trend.at(seconds)

    def to_dict(self) -> dict[str, Any]:
        trend = self.trend
        return {
            "unit": self.unit,
            "samples": self.samples,
            "max": self.max,
            "mean": round(self.mean, 6),
            "first": self.first,
            "last": self.last,
            "slope_per_hour": None if trend is None else round(trend.slope_per_hour, 6),
            "slope_low_per_hour": None if trend is None else round(trend.low_per_hour, 6),
            "slope_high_per_hour": None if trend is None else round(trend.high_per_hour, 6),
            "confidence": None if trend is None else trend.confidence,
            "projected_24h": None if trend is None else round(trend.at(_DAY_S), 3),
            "growing": self.growing,
        }


@dataclass
class ResourceTimeline:
    """Every sample of one scenario: ``(t, {name: value})`` with t in seconds since start."""

    interval: float
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Sources that could not be read, each said once (the run went on without them)."""
    sources: list[str] = field(default_factory=list)
    """What was sampled, in words: ``pid 4242 and its children``, a URL, a database."""

    def names(self) -> list[str]:
        """Every value name that has at least one sample, built-in names first."""
        seen = {name for _, values in self.samples for name in values}
        builtin = [n for n in BUILTIN_RESOURCES if n in seen]
        return builtin + sorted(seen - set(builtin))

    def series(self, name: str, since: float = 0.0) -> list[tuple[float, float]]:
        """``(t, value)`` of one name from ``since`` on; samples without it are skipped."""
        return [(t, v[name]) for t, v in self.samples if t >= since and name in v]

    def summary(self, name: str, since: float = 0.0) -> ResourceSummary | None:
        """``name`` over the samples from ``since`` on; None when there are none."""
        points = self.series(name, since)
        if not points:
            return None
        values = [v for _, v in points]
        # CPU follows the load, not the process's health: its "trend" is the load profile.
        wanted = name != "cpu" and len(points) >= MIN_TREND_SAMPLES
        trend = theil_sen(points) if wanted else None
        return ResourceSummary(
            name=name,
            unit=BUILTIN_RESOURCES.get(name, "value"),
            samples=len(points),
            max=max(values),
            mean=sum(values) / len(values),
            first=values[0],
            last=values[-1],
            trend=trend,
        )

    def summaries(self, since: float = 0.0) -> dict[str, ResourceSummary]:
        found = {name: self.summary(name, since) for name in self.names()}
        return {name: s for name, s in found.items() if s is not None}

    def to_dict(self, since: float = 0.0) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "sources": list(self.sources),
            "notes": list(self.notes),
            "summary": {n: s.to_dict() for n, s in self.summaries(since).items()},
            "samples": [
                {"t": round(t, 3), **{k: _plain(v) for k, v in values.items()}}
                for t, values in self.samples
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceTimeline:
        samples = []
        for row in data.get("samples", []):
            values = {
                str(k): float(v)
                for k, v in row.items()
                if k != "t" and isinstance(v, int | float) and not isinstance(v, bool)
            }
            samples.append((float(row["t"]), values))
        return cls(
            interval=float(data.get("interval", 1.0)),
            samples=samples,
            notes=[str(n) for n in data.get("notes", [])],
            sources=[str(s) for s in data.get("sources", [])],
        )


def _plain(value: float) -> float | int:
    # Bytes and counts read as integers in results.json; shares of a core stay floats.
    value = float(value)
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return round(value, 6)
