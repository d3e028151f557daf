"""T_detect and T_restored from what was watched: health probes and the writer's writes.

Pure and clock-free (every signal is a list of ``(t, ok)`` in drill seconds), so the
definitions are tested on made-up series:

- T_detect: the first failed observation, of any signal, at or after T_fail.
- T_restored: the start of the first stretch after T_fail in which every observation of every
  signal succeeds for ``sustain`` seconds, each signal seen at least once in it and the
  stretch seen to its end. RTO = T_restored - T_fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["HealthMonitor", "Observation", "detect", "restored"]


@dataclass(frozen=True)
class Observation:
    t: float
    ok: bool
    detail: str = ""


def detect(signals: Mapping[str, Sequence[Observation]], t_fail: float) -> tuple[float, str] | None:
    """When the failure was first seen, and by which signal."""
    first: tuple[float, str] | None = None
    for name, observations in signals.items():
        seen = next((o.t for o in observations if not o.ok and o.t >= t_fail), None)
        if seen is not None and (first is None or seen < first[0]):
            first = (seen, name)
    return first


def restored(
    signals: Mapping[str, Sequence[Observation]], since: float, sustain: float
) -> float | None:
    """The start of the first healthy stretch of ``sustain`` seconds at or after ``since``."""
    # At equal times a failure sorts after a success, so it cancels a start at that time.
    merged = sorted(
        ((o.t, o.ok, name) for name, obs in signals.items() for o in obs if o.t >= since),
        key=lambda seen: (seen[0], not seen[1]),
    )
    if not merged or not signals:
        return None
    start: float | None = None
    seen: set[str] = set()
    for t, ok, name in merged:
        if not ok:
            start, seen = None, set()
            continue
        if start is None:
            start = t
        seen.add(name)
        if t - start >= sustain and seen >= set(signals):
            return start
    return None


class HealthMonitor:
    """Runs a probe every ``interval`` in its own thread, keeping every observation."""

    def __init__(
        self,
        probe: Callable[[], tuple[bool, str]],
        interval: float,
        clock: Callable[[], float],
        on_change: Callable[[Observation], None] | None = None,
    ) -> None:
        self.probe = probe
        self.interval = interval
        self.clock = clock
        self.on_change = on_change
        self.observations: list[Observation] = []
        self._last: bool | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="slokit-drill-health", daemon=True)

    def seed(self, first: Observation) -> None:
        """The check made before the drill started, as the first observation."""
        self.observations.append(first)
        self._last = first.ok
        if self.on_change is not None:
            self.on_change(first)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        last = self._last
        while not self._stop.is_set():
            began = self.clock()
            try:
                ok, detail = self.probe()
            except Exception as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            observation = Observation(round(began, 4), ok, detail)
            self.observations.append(observation)
            if ok != last and self.on_change is not None:
                self.on_change(observation)
            last = ok
            self._stop.wait(max(self.interval - (self.clock() - began), 0.0))
