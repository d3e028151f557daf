"""Pure schedule arithmetic for the executors: when arrivals happen and how many VUs are active.

Work is split between workers by global index: arrival ``k`` (or VU ``j``) belongs to worker
``k % workers``. Every worker computes the same global schedule and keeps only its own
indices, so the split is exact for any rate shape and never drifts, whatever the worker count.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["ArrivalSchedule", "RateSegment", "VUSegment", "share", "vus_at"]


def share(total: int, workers: int, index: int) -> int:
    """How many of ``total`` items (VUs, max_vus) fall to worker ``index`` of ``workers``."""
    if workers < 1 or not 0 <= index < workers:
        raise ValueError(f"worker index {index} out of range for {workers} workers")
    return total // workers + (1 if index < total % workers else 0)


@dataclass(frozen=True)
class RateSegment:
    """Arrival rate moving linearly from ``start`` to ``end`` (per second) over ``seconds``."""

    start: float
    end: float
    seconds: float


@dataclass(frozen=True)
class VUSegment:
    """VU count moving linearly from ``start`` to ``end`` over ``seconds``."""

    start: int
    end: int
    seconds: float


class ArrivalSchedule:
    """Open-model arrival times: arrival ``k`` (0-based) happens when the cumulative count
    of expected arrivals, the integral of the rate, reaches ``k``.

    For a constant rate this gives arrivals at ``k / rate``; for a linear ramp the
    cumulative count is quadratic and is inverted in closed form, so a ramp produces
    exactly the number of arrivals its area promises.
    """

    def __init__(self, segments: Sequence[RateSegment]) -> None:
        if not segments:
            raise ValueError("an arrival schedule needs at least one segment")
        self._segments = tuple(segments)
        starts: list[tuple[float, float]] = []  # (time offset, cumulative arrivals) per segment
        t = 0.0
        c = 0.0
        for seg in self._segments:
            if seg.seconds < 0 or seg.start < 0 or seg.end < 0:
                raise ValueError("rates and durations must not be negative")
            starts.append((t, c))
            t += seg.seconds
            c += (seg.start + seg.end) / 2.0 * seg.seconds
        self._starts = tuple(starts)
        self.duration = t
        self.expected = c
        """Total arrivals the schedule promises (area under the rate curve)."""

    @classmethod
    def constant(cls, rate: float, seconds: float) -> ArrivalSchedule:
        return cls([RateSegment(rate, rate, seconds)])

    def count(self) -> int:
        """Number of arrivals strictly before the end of the schedule."""
        n = math.ceil(self.expected - 1e-9)
        # Arrival n-1 may fall exactly on the end when the area is a whole number.
        while n > 0 and self.time_of(n - 1) >= self.duration:
            n -= 1
        return n

    def time_of(self, k: int) -> float:
        """Offset in seconds of arrival ``k``; ``inf`` if the schedule never reaches it."""
        target = float(k)
        for seg, (t0, c0) in zip(self._segments, self._starts, strict=True):
            area = (seg.start + seg.end) / 2.0 * seg.seconds
            if target <= c0 + area and area > 0:
                return t0 + _invert_linear(seg, target - c0)
        return math.inf

    def times(self, worker: int = 0, workers: int = 1) -> Iterator[tuple[int, float]]:
        """Yield ``(k, offset)`` for this worker's arrivals, in order."""
        total = self.count()
        for k in range(worker, total, workers):
            yield k, self.time_of(k)


def _invert_linear(seg: RateSegment, arrivals: float) -> float:
    """Time within ``seg`` at which ``arrivals`` arrivals have accumulated.

    Cumulative count is ``r0*x + (r1-r0)/(2T) * x**2``. The root is written as
    ``2c / (b + sqrt(b**2 + 4ac))`` because the textbook form cancels catastrophically
    when the ramp is nearly flat.
    """
    if arrivals <= 0:
        return 0.0
    a = (seg.end - seg.start) / (2.0 * seg.seconds) if seg.seconds > 0 else 0.0
    b = seg.start
    disc = b * b + 4.0 * a * arrivals
    if disc <= 0:
        return seg.seconds
    denom = b + math.sqrt(disc)
    if denom <= 0:
        return seg.seconds
    return min(2.0 * arrivals / denom, seg.seconds)


def vus_at(segments: Sequence[VUSegment], offset: float) -> int:
    """Active VUs at ``offset`` seconds into a ramping-vus scenario (linear, rounded down
    while ramping up and up while ramping down, so the stage end count is always exact)."""
    t = 0.0
    for seg in segments:
        if offset < t + seg.seconds:
            frac = (offset - t) / seg.seconds if seg.seconds > 0 else 1.0
            value = seg.start + (seg.end - seg.start) * frac
            return math.floor(value + 1e-9) if seg.end >= seg.start else math.ceil(value - 1e-9)
        t += seg.seconds
    return segments[-1].end if segments else 0
