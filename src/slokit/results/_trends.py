"""Trends over a run's timeline: is memory leaking, where is the knee, how fast did it recover.

Soak, stress and spike runs each ask one question of a time series, and each question has a
classic robust answer that fits in the standard library:

* :func:`theil_sen` -- does a resource (RSS, open connections, p99) drift over a soak? The
  Theil-Sen slope is the median of all pairwise slopes, so one GC pause spike or a
  stop-the-world blip cannot fake a leak the way it drags an ordinary least-squares fit; Sen's
  confidence interval says whether the drift is distinguishable from zero
  (:func:`significant`).
* :func:`fifths` and :func:`relative_change` -- the plain-language companion: "the last fifth
  of the run is 12 % above the first fifth".
* :func:`knee` -- where a stress ramp stops scaling (Kneedle, Satopää et al. 2011): the rate
  at which achieved throughput stops following the offered rate, or latency leaves its flat
  region.
* :func:`recovery_time` -- after a spike drops, how long until the service is healthy and
  stays healthy.

Everything here is a pure function of its arguments: no I/O, no clock, no randomness, so the
report, the CLI and the tests get the same answer from the same timeline.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

__all__ = [
    "MAX_POINTS",
    "Trend",
    "fifths",
    "knee",
    "recovery_time",
    "relative_change",
    "significant",
    "theil_sen",
]

T = TypeVar("T")

MAX_POINTS = 400
"""Above this many points :func:`theil_sen` first reduces the series to this many bucket
medians: 400 points are ~80 000 pairwise slopes (milliseconds in pure Python), whereas a 1 h
soak sampled every second would be 6.5 million."""

_SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Trend:
    """A robust linear trend ``y ~ intercept + slope * x`` with a confidence interval.

    ``slope``, ``low`` and ``high`` are in y units per x unit; with x in seconds (the
    timeline's unit) the ``*_per_hour`` properties give the number a soak report shows.
    ``n`` is the number of points given to :func:`theil_sen`, before any reduction.
    """

    slope: float
    low: float
    high: float
    intercept: float
    n: int
    confidence: float

    def at(self, x: float) -> float:
        """The fitted value at ``x``."""
        return self.intercept + self.slope * x

    @property
    def slope_per_hour(self) -> float:
        """``slope`` per hour, for x in seconds."""
        return self.slope * _SECONDS_PER_HOUR

    @property
    def low_per_hour(self) -> float:
        """``low`` per hour, for x in seconds."""
        return self.low * _SECONDS_PER_HOUR

    @property
    def high_per_hour(self) -> float:
        """``high`` per hour, for x in seconds."""
        return self.high * _SECONDS_PER_HOUR


def _check_finite(name: str, values: Sequence[float]) -> None:
    # A NaN sorts inconsistently and would silently poison every median downstream.
    for v in values:
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v!r}")


def _median_sorted(values: Sequence[float]) -> float:
    mid = len(values) // 2
    if len(values) % 2:
        return values[mid]
    return (values[mid - 1] + values[mid]) / 2.0


def _reduce(points: Sequence[tuple[float, float]], size: int) -> list[tuple[float, float]]:
    """``size`` points: per bucket of consecutive x (equal counts, +-1), the median x and the
    median y."""
    ordered = sorted(points)
    n = len(ordered)
    reduced: list[tuple[float, float]] = []
    for i in range(size):
        bucket = ordered[i * n // size : (i + 1) * n // size]
        # Buckets by count rather than by x width: a gap in sampling then cannot leave a
        # bucket empty, and every reduced point stands for the same number of samples.
        reduced.append(
            (
                statistics.median(x for x, _ in bucket),
                statistics.median(y for _, y in bucket),
            )
        )
    return reduced


def theil_sen(points: Sequence[tuple[float, float]], confidence: float = 0.95) -> Trend | None:
    """The Theil-Sen trend of ``(x, y)`` points, with Sen's confidence interval for the slope.

    The slope is the median of the slopes of all pairs of points with different x; the
    intercept is the median of ``y - slope * x``. The interval is Sen's (1968) rank method:
    with ``N`` pairwise slopes sorted ascending and ``C = z * sqrt(n(n-1)(2n+5)/18)`` (the
    spread of Kendall's S, without tie correction; ``z`` the two-sided normal quantile of
    ``confidence``), ``low`` is the slope at 0-based index ``floor((N - C) / 2)`` and ``high``
    the one at ``ceil((N + C) / 2)``, both clamped to the list.

    More than :data:`MAX_POINTS` points are first reduced to that many: the points are sorted
    by x, cut into consecutive buckets of equal count, and each bucket becomes (median x,
    median y). This keeps a one-hour, one-sample-a-second soak fast, and a bucket's median is
    as robust to a spike as the full computation. The slope then estimates the same trend,
    but ``low``/``high`` describe the reduced series (``n`` in the variance is the reduced
    count), which is smoother than the raw samples.

    With very few points ``C`` exceeds ``N`` (3 points at 95 %) and the interval is clamped
    to the range of all pairwise slopes, which cannot reach the asked confidence: below ten
    or so points, :func:`significant` means little.

    The interval assumes independent noise around the line. A periodic pattern (a
    garbage-collector sawtooth) is not noise in that sense: with many periods in the window
    its slope comes out near zero, but with only a handful the median of pairwise slopes
    leans toward the ramp's and the interval can be tight around that. Judge the slope's
    size against what would matter, not only the sign of the interval.

    Returns ``None`` for fewer than 3 points or when all x are equal (no slope exists).
    Raises ``ValueError`` for a non-finite coordinate or ``confidence`` outside (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    n_given = len(points)
    if n_given < 3:
        return None
    _check_finite("x", [x for x, _ in points])
    _check_finite("y", [y for _, y in points])
    used = _reduce(points, MAX_POINTS) if n_given > MAX_POINTS else list(points)

    slopes: list[float] = []
    for i, (xi, yi) in enumerate(used):
        for xj, yj in used[i + 1 :]:
            dx = xj - xi
            if dx != 0.0:
                slopes.append((yj - yi) / dx)
    if not slopes:
        return None
    slopes.sort()
    slope = _median_sorted(slopes)
    intercept = statistics.median(y - slope * x for x, y in used)

    n = len(used)
    pairs = len(slopes)
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2.0)
    c = z * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    # c > 0, so both indexes straddle the median and low <= slope <= high always holds.
    lower_index = int(max(0.0, math.floor((pairs - c) / 2.0)))
    upper_index = min(pairs - 1, math.ceil((pairs + c) / 2.0))
    return Trend(
        slope=slope,
        low=slopes[lower_index],
        high=slopes[upper_index],
        intercept=intercept,
        n=n_given,
        confidence=confidence,
    )


def significant(trend: Trend) -> bool:
    """True when the slope's confidence interval excludes zero (a real drift, either way)."""
    return trend.low > 0.0 or trend.high < 0.0


def fifths(points: Sequence[tuple[float, T]]) -> tuple[list[T], list[T]]:
    """The items whose x lies in the first and in the last fifth of the x range.

    With ``lo, hi`` the smallest and largest x and ``w = (hi - lo) / 5``, the first fifth is
    ``lo <= x <= lo + w`` and the last ``hi - w <= x <= hi`` (both inclusive). Items keep
    their input order. Fifths of the x range, not of the point count, so a gap in sampling
    does not shift them. No points give two empty lists; when every x is equal the range is
    a single instant and every item is in both.
    """
    if not points:
        return [], []
    lo = min(x for x, _ in points)
    hi = max(x for x, _ in points)
    width = (hi - lo) / 5.0
    first = [item for x, item in points if x <= lo + width]
    last = [item for x, item in points if x >= hi - width]
    return first, last


def relative_change(before: float, after: float) -> float | None:
    """``after / before - 1`` (``0.12`` is +12 %); ``None`` when ``before <= 0``, where a
    ratio means nothing (and a negative baseline would flip its sign)."""
    if before <= 0.0:
        return None
    return after / before - 1.0


def knee(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    curve: Literal["concave", "convex"],
    threshold: float = 0.05,
) -> int | None:
    """The index of the knee of an increasing curve (Kneedle, Satopää et al. 2011).

    ``curve`` names the shape, both increasing in x:

    * ``"concave"``: rises, then flattens -- achieved throughput against offered rate. The
      knee is the last point that still follows the rise: the highest rate fully served.
    * ``"convex"``: flat, then shoots up -- latency against rate. The knee is the last point
      of the flat region, before latency takes off.

    x and y are normalised to [0, 1]; the knee is where the normalised curve is farthest from
    the straight line joining its ends: the maximum of ``y - x`` (concave) or ``x - y``
    (convex). This is Kneedle without its smoothing and online detection: one global
    maximum suits a whole finished ramp of a few dozen steps. The first index wins a tie.
    The points need not be sorted (the distance is computed point by point), and the index
    refers to the input.

    Where a curve breaks sharply (flat, then a straight climb) the knee is the break. Where
    it keeps accelerating (queueing latency), the farthest point is where its slope equals
    the chord's: past the last flat point, and further right the further the ramp pushes
    beyond saturation. Read it as "clearly off the flat region by here".

    Returns ``None`` for fewer than 3 points, when x or y does not vary, or when that
    maximum distance is at most ``threshold`` (in normalised units, i.e. a fraction of the
    ranges): a curve that never bends more than 5 % of its range away from a straight line
    is a straight line plus measurement noise, and has no knee to report.
    Raises ``ValueError`` when ``xs`` and ``ys`` differ in length, a value is not finite, or
    ``curve`` is unknown.
    """
    if curve not in ("concave", "convex"):
        raise ValueError(f"curve must be 'concave' or 'convex', got {curve!r}")
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length: {len(xs)} != {len(ys)}")
    if len(xs) < 3:
        return None
    _check_finite("xs", xs)
    _check_finite("ys", ys)
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    if x_hi == x_lo or y_hi == y_lo:
        return None
    sign = 1.0 if curve == "concave" else -1.0
    best_index, best = 0, -math.inf
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        distance = sign * ((y - y_lo) / (y_hi - y_lo) - (x - x_lo) / (x_hi - x_lo))
        if distance > best:
            best_index, best = i, distance
    if best <= threshold:
        return None
    return best_index


def recovery_time(points: Sequence[tuple[float, bool]], after: float, hold: float) -> float | None:
    """Seconds from ``after`` (when the load dropped) until the service is healthy for good.

    ``points`` are ``(t, healthy)`` samples, e.g. one per timeline second; order does not
    matter. Only samples at ``t >= after`` count. The answer is ``s - after`` for the first
    sample time ``s`` such that every sample in ``[s, s + hold]`` is healthy and the samples
    reach ``s + hold`` -- the start of the first healthy run lasting at least ``hold``
    seconds. Samples are instants, so with one sample a second ``hold=10`` needs 11
    consecutive healthy samples (``s`` .. ``s + 10``); missing samples are not judged either
    way, and a t given twice is healthy only if both samples are.

    ``0.0`` when the first sample at or after ``after`` is at ``after`` and the run from it
    holds. ``None`` when it never recovers: no samples after ``after``, never healthy, or the
    last healthy run ends (or the series does) before ``hold`` has elapsed -- a recovery not
    seen to hold is not reported as one. Raises ``ValueError`` for a negative ``hold``.
    """
    if hold < 0.0:
        raise ValueError(f"hold must be >= 0, got {hold!r}")
    by_time: dict[float, bool] = {}
    for t, healthy in points:
        if t >= after:
            # Two samples at one t (two workers' views) must both be healthy: doubt is not health.
            by_time[t] = by_time.get(t, True) and healthy
    start: float | None = None
    for t, healthy in sorted(by_time.items()):
        if not healthy:
            start = None
            continue
        if start is None:
            start = t
        if t - start >= hold:
            return start - after
    return None
