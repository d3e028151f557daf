"""Load alongside a drill: a spec scenario runs in its own thread for as long as the drill,
and every second it completes becomes an observation for T_detect and T_restored.

The engine is the one ``slokit run`` uses (worker processes, exact histograms); the drill
only ends it (``should_stop``) when its steps and the wait for recovery are done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from slokit.drill._model import Drill, LoadSection
from slokit.drill._timings import Observation
from slokit.errors import UsageError

__all__ = ["LoadAlongside"]

_LONGEST = 24 * 3600.0
"""The scenario's duration while it runs beside a drill: the drill ends it long before."""


def _allowed(spec: Any, section: LoadSection) -> float:
    """The error rate a second may have: given, or the spec's tightest availability SLO's."""
    if section.max_error_rate is not None:
        return section.max_error_rate
    objectives = [slo.objective for slo in spec.slos.values() if slo.kind == "availability"]
    return round(1.0 - max(objectives), 9) if objectives else 0.0


class LoadAlongside:
    def __init__(self, section: LoadSection, drill: Drill, clock: Callable[[], float]) -> None:
        from slokit.spec import load_spec

        self.section = section
        self.clock = clock
        self.spec = load_spec(drill.resolve(section.spec))
        if section.scenario not in self.spec.scenarios:
            known = ", ".join(self.spec.scenarios) or "none"
            raise UsageError(
                f"load.scenario {section.scenario!r} is not in {section.spec} (it has: {known})"
            )
        self.target = drill.target
        self.max_error_rate = _allowed(self.spec, section)
        self.observations: list[Observation] = []
        self.summary: dict[str, Any] | None = None
        self.error: str | None = None
        self._offset: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slokit-drill-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_running(self, timeout: float = 30.0) -> None:
        """Until the load has completed its first measured second, so the drill's failure
        lands on a load already running (a failure before it would go unseen)."""
        deadline = time.monotonic() + timeout
        while not self.observations:
            if self.error is not None or not self._thread.is_alive():
                raise UsageError(f"the load beside the drill did not start: {self.error}")
            if time.monotonic() >= deadline:
                raise UsageError(
                    f"the load beside the drill completed no second within {timeout:g}s"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=60)

    def _started(self, wall: float) -> None:
        # The engine tells its start as wall-clock time; the drill counts from its own clock.
        self._offset = self.clock() - (time.time() - wall)

    def _tick(self, tick: Any) -> None:
        if self._offset is None or tick.warmup:
            return
        failed = tick.failures / tick.requests if tick.requests else 1.0
        ok = failed <= self.max_error_rate
        detail = f"{tick.failures} of {tick.requests} requests failed in second {tick.second}"
        self.observations.append(Observation(round(self._offset + tick.second + 1, 4), ok, detail))

    def _run(self) -> None:
        from slokit.load import RunOptions, run_scenario

        options = RunOptions(
            workers=self.section.workers,
            duration=_LONGEST,
            target=self.target,
            on_start=self._started,
            should_stop=lambda: "the drill ended" if self._done.is_set() else None,
        )
        try:
            results = run_scenario(self.spec, self.section.scenario, options, self._tick)
        except Exception as exc:  # the drill goes on; the journal says why the load stopped
            self.error = f"{type(exc).__name__}: {exc}"
            return
        self.summary = {
            "scenario": self.section.scenario,
            "duration_s": round(results.duration_s, 3),
            "total": results.total.summary(results.measured_s),
        }
