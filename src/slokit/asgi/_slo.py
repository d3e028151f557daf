"""Live SLOs: what this process has seen of each SLO over 5 minutes, 1 hour and since start.

Nothing is counted per request for this: the SLIs are read off the same per-route counts the
metrics keep (every SLO latency threshold is a histogram bucket edge, so "requests within the
threshold" is exact), and a snapshot of each SLO's running totals is kept every 10 seconds.
A window is the difference between now and the snapshot at its start, exact to 10 seconds.
Good and bad follow the load test's definitions: availability counts responses that are not
5xx; a latency SLO counts responses within its threshold that are not 5xx either (a fast 503,
shed load included, is bad for every SLO).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slokit.asgi._metrics import Metrics, Series
from slokit.spec import Route

__all__ = ["LiveSLOs", "SLOTarget"]

_BUCKET = 10.0
_WINDOWS = (("5m", 300.0), ("1h", 3600.0))
_KEEP = int(3600 / _BUCKET) + 2


@dataclass(frozen=True, slots=True)
class SLOTarget:
    name: str
    objective: float
    route: Route | None
    latency: float | None
    """Seconds; None for an availability SLO."""


class LiveSLOs:
    def __init__(
        self,
        targets: Sequence[SLOTarget],
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.targets = tuple(targets)
        self._metrics = metrics
        self._clock = clock
        self._started = clock()
        # Where each latency threshold sits among the bucket edges: values <= edge i land
        # in bucket i, so the good events are the counts of buckets 0..i.
        self._edges = [
            None if t.latency is None else bisect_left(metrics.buckets, round(t.latency, 9))
            for t in self.targets
        ]
        self._matches: dict[tuple[str, str], tuple[bool, ...]] = {}
        self._snapshots: dict[int, list[tuple[int, int]]] = {}

    def _covers(self, label: str, method: str) -> tuple[bool, ...]:
        key = (label, method)
        found = self._matches.get(key)
        if found is None:
            # Labels are route templates, and a template's segment "{id}" is itself a
            # segment, so the SLO's route pattern matches the template it names.
            found = self._matches[key] = tuple(
                t.route is None or (not label.startswith("<") and t.route.matches(method, label))
                for t in self.targets
            )
        return found

    def totals(self) -> list[tuple[int, int]]:
        """``(requests, good)`` per SLO since start."""
        out = [[0, 0] for _ in self.targets]
        for (label, method), series in self._metrics.series():
            covered = self._covers(label, method)
            for i in range(len(self.targets)):
                if covered[i]:
                    out[i][0] += series.count
                    out[i][1] += _good(series, self._edges[i])
        return [(total, good) for total, good in out]

    def tick(self) -> None:
        """Keep a snapshot for the current 10 s bucket (called with every batch of requests)."""
        bucket = int(self._clock() // _BUCKET)
        if bucket not in self._snapshots:
            self._snapshots[bucket] = self.totals()
            for old in [b for b in self._snapshots if b < bucket - _KEEP]:
                del self._snapshots[old]

    def _at(self, bucket: int) -> list[tuple[int, int]] | None:
        """The latest snapshot taken at or before ``bucket``."""
        earlier = [b for b in self._snapshots if b <= bucket]
        return self._snapshots[max(earlier)] if earlier else None

    def snapshot(self) -> dict[str, object]:
        now = self._clock()
        bucket = int(now // _BUCKET)
        self.tick()
        current = self.totals()
        starts = {name: self._at(bucket - int(secs // _BUCKET)) for name, secs in _WINDOWS}
        slos = {}
        for i, target in enumerate(self.targets):
            total, good = current[i]
            windows = {}
            for name, _secs in _WINDOWS:
                base = starts[name]
                t0, g0 = base[i] if base is not None else (0, 0)
                windows[name] = _window(target, total - t0, good - g0)
            windows["since_start"] = _window(target, total, good)
            slos[target.name] = {
                "objective": target.objective,
                "route": str(target.route) if target.route is not None else None,
                "latency_s": target.latency,
                "windows": windows,
            }
        return {"uptime_s": round(now - self._started, 3), "slos": slos}


def _good(series: Series, edge: int | None) -> int:
    if edge is None:
        return sum(n for status, n in series.statuses.items() if status < 500)
    if series.status_class >= 5:  # a server error is never good, however fast
        return 0
    return sum(series.duration[: edge + 1])


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
