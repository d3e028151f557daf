"""Scenarios side by side (k6's ``startTime``): a mixed workload as one run.

Each scenario runs as it would alone, with its own worker processes, in a thread of the
controller; what they share is one timeline. Second 0 of the scenarios that start at once is
fixed when all their workers are ready, so none gets a head start while another spawns; a
scenario with a later ``start_time`` starts spawning ``LEAD`` seconds before it is due. When
one scenario ends early (aborted, stopped by an ``abort_on_fail`` gate), the others stop with
it: the run is one experiment with one verdict.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable

from slokit.load._controller import Progress, RunOptions
from slokit.load._signals import interrupts_ignored
from slokit.results import ScenarioResults
from slokit.spec import Spec

__all__ = ["LEAD", "run_together"]

LEAD = 5.0
"""Seconds before its start a scenario begins to spawn its workers (they take about one)."""

READY_WAIT = 45.0
"""Longest a ready scenario waits for the others' workers: its own wait for the go signal
ends after 60 s."""

JOIN_WAIT = 60.0
"""After an interrupt, the longest the scenarios get to stop and ship what they measured."""

RunScenario = Callable[[Spec, str, RunOptions, Progress | None], ScenarioResults]


class _Timeline:
    """Second 0 of the whole group, and the reason it stopped (if it did)."""

    def __init__(self, offsets: dict[str, float], outer: Callable[[], str | None] | None):
        self._cond = threading.Condition()
        self._offsets = offsets
        self._starting = {n for n, o in offsets.items() if o < LEAD}
        self._outer = outer
        self.t0: float | None = None
        self.reason: str | None = None
        self.gate: str | None = None
        self._fix()

    def _fix(self) -> None:
        if self.t0 is None and not self._starting:
            self.t0 = time.time() + 0.25
            self._cond.notify_all()

    def stop(self, reason: str, gate: str | None = None) -> None:
        with self._cond:
            if self.reason is None:
                self.reason, self.gate = reason, gate
                self._cond.notify_all()

    def should_stop(self) -> str | None:
        if self.reason is None and self._outer is not None:
            outer = self._outer()
            if outer is not None:
                self.stop(outer)
        return self.reason

    def ready(self, name: str) -> float | None:
        """A scenario's workers are up: when its second 0 is (None: stopped, or now)."""
        with self._cond:
            self._starting.discard(name)
            self._fix()
            self._cond.wait_for(lambda: self.t0 is not None or self.reason is not None, READY_WAIT)
            if self.t0 is None and self.reason is None:
                # The others are stuck spawning: start without them rather than time out.
                self._starting.clear()
                self._fix()
            return None if self.t0 is None else self.t0 + self._offsets[name]

    def withdraw(self, name: str) -> None:
        """A scenario failed before its workers were ready: the others need not wait for it."""
        with self._cond:
            self._starting.discard(name)
            self._fix()

    def wait_turn(self, name: str) -> bool:
        """Sleep until ``LEAD`` before the scenario is due; False if the group stopped first."""
        with self._cond:
            while self.reason is None:
                if self.t0 is not None:
                    left = self.t0 + self._offsets[name] - LEAD - time.time()
                    if left <= 0:
                        return True
                    self._cond.wait(min(left, 1.0))
                else:
                    self._cond.wait(1.0)
            return False


def run_together(
    spec: Spec,
    names: list[str],
    options: RunOptions,
    progress: Progress | None,
    *,
    run: RunScenario,
) -> list[ScenarioResults]:
    """Run ``names`` at the same time; their results in the order given. A scenario the
    group stopped before it was due is missing from them."""
    offsets = {n: spec.scenario(n).start_time or 0.0 for n in names}
    timeline = _Timeline(offsets, options.should_stop)
    wanted = options.workers if options.workers is not None else (os.cpu_count() or 1)
    # The machine's worker budget is shared: N scenarios at one process per core each would
    # each measure the others' CPU contention as the target's latency.
    share = max(1, wanted // len(names))
    results: dict[str, ScenarioResults] = {}
    errors: list[BaseException] = []
    # Waited on through an Event, not Thread.join: a KeyboardInterrupt landing inside join()
    # can mark a thread that is still running as stopped (CPython gh-90882), and the run
    # would then end without that scenario's results.
    lock, all_done, running = threading.Lock(), threading.Event(), set(names)

    def body(name: str) -> None:
        try:
            if offsets[name] >= LEAD and not timeline.wait_turn(name):
                return
            mine = dataclasses.replace(
                options,
                workers=share,
                start_at=lambda: timeline.ready(name),
                should_stop=timeline.should_stop,
            )
            result = run(spec, name, mine, progress)
            result.start_time = offsets[name]
            results[name] = result
            if result.partial and result.abort_reason != timeline.reason:
                timeline.stop(
                    f"scenario {name!r} ended early: {result.abort_reason}",
                    gate=result.stopped_by_gate,
                )
        except BaseException as exc:  # re-raised in the controller's thread below
            errors.append(exc)
            timeline.stop(f"scenario {name!r} failed: {exc}")
        finally:
            timeline.withdraw(name)
            with lock:
                running.discard(name)
                if not running:
                    all_done.set()

    threads = [
        threading.Thread(target=body, args=(n,), name=f"slokit-scenario-{n}", daemon=True)
        for n in names
    ]
    for t in threads:
        t.start()
    try:
        while not all_done.wait(0.2):
            pass
    except KeyboardInterrupt as exc:
        timeline.stop(f"interrupted ({str(exc) or 'Ctrl-C'})")
        with interrupts_ignored():
            all_done.wait(JOIN_WAIT)
    for t in threads:
        t.join(1.0)
    if errors:
        raise errors[0]
    ran = [results[n] for n in names if n in results]
    for result in ran:
        result.alongside = [r.name for r in ran if r is not result]
        if (
            result.partial
            and result.stopped_by_gate is None
            and timeline.gate is not None
            and result.abort_reason == timeline.reason
        ):
            # Stopped because a sibling's abort_on_fail gate failed: the same failed gate.
            result.stopped_by_gate = timeline.gate
    return ran
