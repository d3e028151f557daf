"""The experiment's side of a run, beside the load: faults on time, scrapes, abort checks.

It runs in its own thread with its own event loop, because the load engine's controller
owns the main thread (and its Ctrl-C). The main thread talks to it through three calls:
:meth:`Orchestrator.load_started`, :attr:`Orchestrator.abort_reason` (polled by the engine)
and :meth:`Orchestrator.finish`, which ends the faults and runs every rollback.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slokit.chaos._actions import Actuator
from slokit.chaos._analysis import budget_burned, interval_ratio
from slokit.chaos._experiment import AbortCondition, Experiment, FaultAction
from slokit.chaos._journal import ActionRecord
from slokit.chaos._observe import Sample, SLICounter, parse_sample
from slokit.errors import RunError

__all__ = ["Budget", "Orchestrator"]

Event = Callable[[float, str], None]
_FINISH_TIMEOUT = 120.0


@dataclass(frozen=True)
class Budget:
    """An SLO's real promise, for budget burn: the spec's objective and window."""

    objective: float
    window: float


class Orchestrator:
    def __init__(
        self,
        experiment: Experiment,
        actuator: Actuator,
        metrics_url: str,
        counters: Sequence[SLICounter],
        budgets: Mapping[str, Budget],
        load_seconds: float,
        on_event: Event | None = None,
    ) -> None:
        self.experiment = experiment
        self.actuator = actuator
        self.metrics_url = metrics_url
        self.counters = list(counters)
        self.budgets = dict(budgets)
        self.load_seconds = load_seconds
        self.on_event = on_event
        self.samples: list[Sample] = []
        self.records: list[ActionRecord] = []
        self.abort_reason: str | None = None
        self.aborted_by: str | None = None
        self.start_wall: float | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="slokit-chaos", daemon=True)
        self._started = asyncio.Event()
        self._done = asyncio.Event()
        self._active: dict[int, str] = {}
        self._fault_records: dict[int, ActionRecord] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # --- main thread --------------------------------------------------------------------

    def prepare(self) -> None:
        """Start the thread, create proxies and check every endpoint; raises on failure."""
        self._thread.start()
        self._call(self._prepare(), timeout=60.0)

    def load_started(self, wall: float) -> None:
        self.start_wall = wall
        self._loop.call_soon_threadsafe(self._started.set)

    def should_stop(self) -> str | None:
        return self.abort_reason

    def finish(self) -> None:
        """End the faults, run the rollbacks and stop the thread (bounded in time)."""
        if not self._thread.is_alive():
            return
        try:
            self._call(self._finish(), timeout=_FINISH_TIMEOUT)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10.0)

    def _call(self, coro: Any, timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    # --- the thread's loop --------------------------------------------------------------

    def _now(self) -> float:
        return time.time() - self.start_wall if self.start_wall is not None else 0.0

    def _say(self, text: str) -> None:
        if self.on_event is not None:
            self.on_event(self._now(), text)

    async def _prepare(self) -> None:
        record = ActionRecord("set up proxies and fault endpoint", "setup", "setup")
        self.records.append(record)
        try:
            done = await self.actuator.prepare()
        except Exception as exc:
            record.status, record.error = "failed", str(exc)
            raise
        record.status, record.detail = "succeeded", "; ".join(done) or None
        # A first scrape: the metrics must be readable before any fault is worth injecting.
        sample = await self._scrape()
        if sample.error is not None:
            raise RunError(
                f"cannot read the service's metrics at {self.metrics_url}: {sample.error}; "
                "is it instrumented with slokit.asgi? (set observe.metrics otherwise)"
            )
        self._tasks.append(asyncio.ensure_future(self._main()))

    async def _main(self) -> None:
        await self._started.wait()
        for index, action in enumerate(self.experiment.method):
            record = ActionRecord(
                action.label, action.kind, "method", action.at, action.end(self.load_seconds)
            )
            self.records.append(record)
            self._fault_records[index] = record
            self._tasks.append(asyncio.ensure_future(self._fault(index, action, record)))
        await self._scrape_loop()

    async def _sleep_until(self, offset: float) -> None:
        delay = offset - self._now()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _fault(self, index: int, action: FaultAction, record: ActionRecord) -> None:
        await self._sleep_until(action.at)
        if self.abort_reason is not None or self._done.is_set():
            record.status, record.detail = "skipped", "the experiment had ended"
            return
        record.started = self._now()
        try:
            handle = await self.actuator.apply(
                index, action, max(self.load_seconds - action.at, 0.0)
            )
        except Exception as exc:
            record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"
            self._abort(f"fault {action.label!r} could not be applied: {exc}", "fault failed")
            return
        self._active[index] = handle
        record.status = "succeeded"
        self._say(f"fault on: {action.label}")
        if action.for_ is None:
            return
        await self._sleep_until(action.at + action.for_)
        await self._remove(index, action, record)

    async def _remove(self, index: int, action: FaultAction, record: ActionRecord) -> None:
        handle = self._active.pop(index, None)
        if handle is None:
            return
        try:
            await self.actuator.undo(action, handle)
        except Exception as exc:
            record.status, record.error = "failed", f"removing it failed: {exc}"
            self._say(f"fault NOT removed: {action.label}: {exc}")
            return
        record.ended = self._now()
        self._say(f"fault off: {action.label}")

    async def _scrape(self) -> Sample:
        import httpx

        t = self._now()
        try:
            response = await self.actuator.http.get(self.metrics_url, timeout=2.0)
        except httpx.HTTPError as exc:
            return Sample.failed(t, f"{type(exc).__name__}: {exc}".rstrip(": "))
        if response.status_code != 200:
            return Sample.failed(t, f"{self.metrics_url} answered {response.status_code}")
        return parse_sample(t, response.text, self.counters)

    async def _scrape_loop(self) -> None:
        interval = self.experiment.observe.interval
        next_at = 0.0
        while not self._done.is_set():
            await self._sleep_until(next_at)
            if self._done.is_set():
                break
            self.samples.append(await self._scrape())
            self._check_aborts()
            next_at += interval
            # A slow scrape must not make the loop catch up in a burst.
            next_at = max(next_at, self._now())

    def _abort(self, reason: str, by: str) -> None:
        if self.abort_reason is None:
            self.abort_reason, self.aborted_by = reason, by
            self._say(f"ABORT: {reason}")

    def _check_aborts(self) -> None:
        for condition in self.experiment.abort:
            why = self._triggered(condition)
            if why is not None:
                self._abort(why, condition.label)
                return

    def _triggered(self, condition: AbortCondition) -> str | None:
        samples = self.samples
        if condition.budget is not None:
            since = min((r.started for r in self._fault_records.values() if r.started), default=0.0)
            for name, budget in self.budgets.items():
                burned, _, _ = budget_burned(samples, name, budget.objective, budget.window, since)
                if burned > condition.budget:
                    return f"{name} burned {burned:.4%} of its error budget"
            return None
        assert condition.slo is not None
        assert condition.below is not None
        # Only the recent scrapes can hold a run long enough that ends now.
        tail = int(condition.for_ / self.experiment.observe.interval) + 3
        run_start: float | None = None
        for prev, sample in itertools.pairwise(samples[-tail:]):
            ratio = interval_ratio(prev, sample, condition.slo)
            if ratio is None or ratio >= condition.below:
                run_start = None
                continue
            run_start = prev.t if run_start is None else run_start
            if sample.t - run_start >= condition.for_ - 1e-6:
                return (
                    f"{condition.slo} at {ratio:.2%}, under {condition.below:.2%} for "
                    f"{sample.t - run_start:.0f}s"
                )
        return None

    async def _finish(self) -> None:
        self._done.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for record in self._fault_records.values():
            if record.status == "pending":
                record.status, record.detail = "skipped", "the load ended before its time"
        for index, action in enumerate(self.experiment.method):
            if index in self._active:
                await self._remove(index, action, self._fault_records[index])
        for rollback in self.experiment.rollbacks:
            await self._rollback(rollback.label, self.actuator.rollback(rollback))
        await self._rollback("delete the experiment's proxies", self.actuator.teardown())
        await self.actuator.aclose()

    async def _rollback(self, name: str, work: Any) -> None:
        record = ActionRecord(name, "rollback", "rollback", started=self._now())
        self.records.append(record)
        try:
            await work
        except Exception as exc:
            record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"
            self._say(f"rollback failed: {name}: {exc}")
        else:
            record.status = "succeeded"
        record.ended = self._now()
