"""Live SLOs: what this process has seen of each SLO over 5 minutes, 1 hour and since start.

Counts live in a ring of 10-second buckets per SLO, so a request costs two integer additions
and the windows are exact to one bucket. Good and bad follow the load test's definitions:
availability counts responses that are not 5xx; a latency SLO counts responses within its
threshold.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slokit.spec import Route

__all__ = ["LiveSLOs", "SLOTarget"]

_BUCKET = 10.0
_SLOTS = 360  # one hour of 10 s buckets
_WINDOWS = (("5m", 300.0), ("1h", 3600.0))


@dataclass(frozen=True, slots=True)
class SLOTarget:
    name: str
    objective: float
    route: Route | None
    latency: float | None
    """Seconds; None for an availability SLO."""


class _Ring:
    __slots__ = ("good", "ids", "since_good", "since_total", "total")

    def __init__(self) -> None:
        self.ids = [-1] * _SLOTS
        self.total = [0] * _SLOTS
        self.good = [0] * _SLOTS
        self.since_total = 0
        self.since_good = 0

    def add(self, bucket: int, good: bool) -> None:
        i = bucket % _SLOTS
        if self.ids[i] != bucket:
            self.ids[i] = bucket
            self.total[i] = 0
            self.good[i] = 0
        self.total[i] += 1
        self.since_total += 1
        if good:
            self.good[i] += 1
            self.since_good += 1

    def window(self, bucket: int, seconds: float) -> tuple[int, int]:
        count = int(seconds // _BUCKET)
        oldest = bucket - count + 1
        total = good = 0
        for i in range(_SLOTS):
            if oldest <= self.ids[i] <= bucket:
                total += self.total[i]
                good += self.good[i]
        return total, good


class LiveSLOs:
    def __init__(
        self, targets: Sequence[SLOTarget], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.targets = tuple(targets)
        self._rings = [_Ring() for _ in self.targets]
        self._clock = clock
        self._started = clock()
        self._by_label: dict[tuple[str, str], tuple[int, ...]] = {}

    def _matching(self, method: str, label: str, path: str) -> tuple[int, ...]:
        key = (method, label)
        found = self._by_label.get(key)
        if found is None:
            found = tuple(
                i
                for i, t in enumerate(self.targets)
                if t.route is None or t.route.matches(method, path)
            )
            if not label.startswith("<"):
                # A template's requests all match the same SLOs: decide once per template.
                self._by_label[key] = found
        return found

    def record(self, method: str, label: str, path: str, status: int, seconds: float) -> None:
        matched = self._matching(method, label, path)
        if not matched:
            return
        bucket = int(self._clock() // _BUCKET)
        for i in matched:
            target = self.targets[i]
            good = status < 500 if target.latency is None else seconds <= target.latency
            self._rings[i].add(bucket, good)

    def snapshot(self) -> dict[str, object]:
        now = self._clock()
        bucket = int(now // _BUCKET)
        slos = {}
        for target, ring in zip(self.targets, self._rings, strict=True):
            windows = {name: _window(target, *ring.window(bucket, secs)) for name, secs in _WINDOWS}
            windows["since_start"] = _window(target, ring.since_total, ring.since_good)
            slos[target.name] = {
                "objective": target.objective,
                "route": str(target.route) if target.route is not None else None,
                "latency_s": target.latency,
                "windows": windows,
            }
        return {"uptime_s": round(now - self._started, 3), "slos": slos}


def _window(target: SLOTarget, total: int, good: int) -> dict[str, object]:
    """Requests, good share, budget left and burn rate over one window (None when idle)."""
    if total == 0:
        return {"requests": 0, "good": 0, "sli": None, "budget_remaining": None, "burn_rate": None}
    sli = good / total
    allowed = 1.0 - target.objective
    burn = (1.0 - sli) / allowed
    return {
        "requests": total,
        "good": good,
        "sli": round(sli, 6),
        "budget_remaining": round(1.0 - burn, 6),
        "burn_rate": round(burn, 4),
    }
