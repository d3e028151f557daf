"""Judging an experiment from the service's scrapes: breaches, detection, recovery, budget.

Definitions (README.md, "Chaos experiments", says the same for users):

- An SLO is judged over every rolling ``window`` of scrapes: good/total of the requests
  between the scrape at the window's start and the one at its end, event-weighted.
- T_detect: seconds from the first injected fault to the first scrape at which a window
  breaches an SLO, a circuit breaker has opened, or the metrics cannot be read.
- A second is *steady* when its scrape worked, every SLO's requests of that second meet the
  objective, and every breaker is closed and did not open. T_recover: seconds from the last
  fault's removal to the start of the first run of steady seconds lasting ``sustain``.
- Budget burned: the SLO's bad requests during the experiment as a share of what its whole
  window's error budget allows at the experiment's request rate.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slokit.chaos._observe import Sample

__all__ = [
    "Breach",
    "budget_burned",
    "detect",
    "interval_ratio",
    "recover",
    "steady",
    "window_breaches",
]

_EPS = 1e-6


@dataclass(frozen=True)
class Breach:
    slo: str
    at: float
    """Seconds after the load started (the window's end)."""
    ratio: float
    objective: float
    good: float
    total: float


def _delta(a: Sample, b: Sample, name: str) -> tuple[float, float]:
    g0, t0 = a.counts.get(name, (0.0, 0.0))
    g1, t1 = b.counts.get(name, (0.0, 0.0))
    # A restarted service starts its counters at zero again: count from there.
    if t1 < t0 or g1 < g0:
        return g1, t1
    return g1 - g0, t1 - t0


def interval_ratio(a: Sample, b: Sample, name: str) -> float | None:
    good, total = _delta(a, b, name)
    return good / total if total > 0 else None


def _ok(samples: Sequence[Sample]) -> list[Sample]:
    return [s for s in samples if s.error is None]


def window_breaches(
    samples: Sequence[Sample], objectives: Mapping[str, float], window: float, since: float
) -> dict[str, list[Breach]]:
    """Every full rolling window ending at or after ``since`` that misses its objective."""
    ok = _ok(samples)
    found: dict[str, list[Breach]] = {name: [] for name in objectives}
    start = 0
    for end, last in enumerate(ok):
        # The window starts at the scrape nearest ``window`` seconds back: scrapes drift by
        # milliseconds, so half a second either way still makes a full window.
        while start + 1 < end and ok[start + 1].t <= last.t - window + 0.5:
            start += 1
        first = ok[start]
        # Only full windows: a half-filled one would judge a few requests as if they were many.
        if last.t < since or last.t - first.t < window - 0.5 or first is last:
            continue
        for name, objective in objectives.items():
            good, total = _delta(first, last, name)
            if total > 0 and good / total < objective - _EPS:
                found[name].append(Breach(name, last.t, good / total, objective, good, total))
    return found


def _breaker_trouble(prev: Sample, sample: Sample) -> str | None:
    for name, state in sorted(sample.breakers.items()):
        if state != "closed":
            return f"breaker {name} {state.replace('_', '-')}"
    for name, count in sorted(sample.opened.items()):
        if count > prev.opened.get(name, count):
            return f"breaker {name} opened"
    return None


def steady(prev: Sample, sample: Sample, objectives: Mapping[str, float]) -> str | None:
    """None when the second ending at ``sample`` was steady, else why not."""
    if sample.error is not None:
        return f"metrics unreadable ({sample.error})"
    if prev.error is not None:
        return "metrics unreadable the second before"
    for name, objective in objectives.items():
        ratio = interval_ratio(prev, sample, name)
        if ratio is not None and ratio < objective - _EPS:
            return f"{name} at {ratio:.2%} (objective {objective:.2%})"
    return _breaker_trouble(prev, sample)


def detect(
    samples: Sequence[Sample],
    objectives: Mapping[str, float],
    window: float,
    t_inject: float,
) -> tuple[float, str] | None:
    """``(seconds after t_inject, what was seen)`` for the first sign of trouble, or None."""
    first_breach: tuple[float, str] | None = None
    for name, breaches in window_breaches(samples, objectives, window, t_inject).items():
        if breaches and (first_breach is None or breaches[0].at < first_breach[0]):
            b = breaches[0]
            first_breach = (b.at, f"{name} at {b.ratio:.2%} over {window:g}s (< {b.objective:.2%})")
    seen: tuple[float, str] | None = None
    for prev, sample in itertools.pairwise(samples):
        if sample.t < t_inject:
            continue
        why = (
            f"metrics unreadable ({sample.error})"
            if sample.error is not None
            else (None if prev.error is not None else _breaker_trouble(prev, sample))
        )
        if why is not None:
            seen = (sample.t, why)
            break
    candidates = [c for c in (first_breach, seen) if c is not None]
    if not candidates:
        return None
    at, why = min(candidates)
    return max(at - t_inject, 0.0), why


def recover(
    samples: Sequence[Sample],
    objectives: Mapping[str, float],
    t_remove: float,
    sustain: float,
) -> float | None:
    """Seconds after ``t_remove`` until a steady run of ``sustain`` seconds began, or None."""
    run_start: float | None = None
    for prev, sample in itertools.pairwise(samples):
        if sample.t <= t_remove:
            continue
        if steady(prev, sample, objectives) is not None:
            run_start = None
            continue
        if run_start is None:
            run_start = max(prev.t, t_remove)
        if sample.t - run_start >= sustain - _EPS:
            return run_start - t_remove
    return None


def budget_burned(
    samples: Sequence[Sample], name: str, objective: float, window: float, since: float
) -> tuple[float, float, float]:
    """``(share of the window's budget burned, burn rate, bad requests)`` from ``since`` on."""
    ok = [s for s in _ok(samples) if s.t >= since - _EPS]
    if len(ok) < 2:
        return 0.0, 0.0, 0.0
    good, total = _delta(ok[0], ok[-1], name)
    bad = total - good
    elapsed = ok[-1].t - ok[0].t
    if total <= 0 or elapsed <= 0:
        return 0.0, 0.0, 0.0
    allowed_ratio = 1.0 - objective
    burn_rate = bad / total / allowed_ratio if allowed_ratio > 0 else float("inf") if bad else 0.0
    allowed = allowed_ratio * (total / elapsed) * window
    burned = bad / allowed if allowed > 0 else (float("inf") if bad else 0.0)
    return burned, burn_rate, bad
