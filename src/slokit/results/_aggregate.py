"""The controller's side of a scenario: merge every worker's per-second snapshots exactly."""

from __future__ import annotations

from datetime import UTC, datetime

from slokit.results._histogram import Histogram
from slokit.results._model import GeneratorSecond, ScenarioResults, TimelinePoint
from slokit.results._stats import RequestStats, Snapshot
from slokit.results._streams import StreamStats

__all__ = ["Aggregator"]


class Aggregator:
    """Folds snapshots into per-request totals (warm-up excluded) and a per-second timeline.

    Snapshots may arrive in any order and from any worker: merging histograms is exact and
    order-free, so the result is the same as if one process had measured everything.
    """

    def __init__(self, name: str, executor: str, warmup_seconds: float, workers: int) -> None:
        self.name = name
        self.executor = executor
        self.warmup_seconds = warmup_seconds
        self.workers = workers
        self._requests: dict[str, RequestStats] = {}
        self._seconds: dict[int, RequestStats] = {}
        self._warmup: dict[int, bool] = {}
        self._vus: dict[int, int] = {}
        self._streams: dict[str, StreamStats] = {}
        self._iterations = 0
        self._generator: dict[int, GeneratorSecond] = {}
        self._schedule: Histogram | None = None

    def add(self, snap: Snapshot) -> None:
        second = self._seconds.get(snap.second)
        if second is None:
            second = self._seconds[snap.second] = RequestStats("total")
        self._warmup[snap.second] = self._warmup.get(snap.second, False) or snap.warmup
        self._vus[snap.second] = self._vus.get(snap.second, 0) + snap.vus
        if snap.cpu is not None or snap.schedule is not None:
            seen = self._generator.get(snap.second)
            if seen is None:
                seen = self._generator[snap.second] = GeneratorSecond()
            seen.add(snap.cpu, snap.loop_lag_ms, snap.schedule)
        for name, stats in snap.requests.items():
            second.merge(stats)
            if snap.warmup:
                continue
            mine = self._requests.get(name)
            if mine is None:
                self._requests[name] = stats.copy()
            else:
                mine.merge(stats)
        if snap.warmup:
            return
        self._iterations += snap.iterations
        if snap.schedule is not None:
            if self._schedule is None:
                self._schedule = snap.schedule.copy()
            else:
                self._schedule.merge(snap.schedule)
        for name, stream in snap.streams.items():
            found = self._streams.get(name)
            if found is None:
                self._streams[name] = stream.copy()
            else:
                found.merge(stream)

    def finish(
        self, duration_s: float, partial: bool = False, abort_reason: str | None = None
    ) -> ScenarioResults:
        timeline = [
            TimelinePoint.of(
                s, self._warmup[s], self._seconds[s], self._vus.get(s, 0), self._generator.get(s)
            )
            for s in sorted(self._seconds)
        ]
        return ScenarioResults(
            name=self.name,
            executor=self.executor,
            requests=dict(self._requests),
            timeline=timeline,
            duration_s=duration_s,
            warmup_s=min(self.warmup_seconds, duration_s),
            workers=self.workers,
            partial=partial,
            abort_reason=abort_reason,
            started=datetime.now(UTC),
            seconds=dict(self._seconds),
            streams=dict(self._streams),
            iterations=self._iterations,
            schedule_lag=self._schedule,
        )
