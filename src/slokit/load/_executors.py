"""Executors run one scenario's share of work inside one worker's event loop.

Closed model (``constant-vus``, ``ramping-vus``, ``per-vu-iterations``): each VU loops over
iterations; the server's speed sets the request rate. Open model (``constant-arrival-rate``,
``ramping-arrival-rate``): iterations start on a schedule whatever the server does; each one
carries its intended start time, and an arrival that finds every VU busy is counted as
dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slokit.load._data import DataExhausted, DataFeed
from slokit.load._recorder import Recorder
from slokit.load._schedule import ArrivalSchedule, RateSegment, VUSegment, share, vus_at
from slokit.load._vu import VU, IterationAborted
from slokit.spec import (
    ConstantArrivalRate,
    ConstantVUs,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    Scenario,
)

__all__ = ["ExecutorContext", "run_executor"]

# The loop's timers fire with ~1 ms granularity; the last stretch before an arrival is
# spent yielding instead of sleeping so requests leave on time and latency measured from the
# intended start carries no timer error.
_SPIN = 0.0015


@dataclass
class ExecutorContext:
    scenario: Scenario
    worker: int
    workers: int
    t0: float
    """perf_counter() value of the scenario's start, the same instant in every worker."""
    deadline: float
    """perf_counter() value after which no new iteration starts."""
    grace: float
    """How long in-flight iterations may finish after the deadline."""
    recorder: Recorder
    make_vu: Callable[[int], VU]
    iterate: Callable[[VU], Awaitable[None]]
    feed: DataFeed | None
    drop_name: tuple[str, str, str]
    stop_requested: Callable[[], bool]
    active: list[int]
    """One-element box: VUs busy right now (read by the ticker for the timeline)."""

    def stopping(self) -> bool:
        return time.perf_counter() >= self.deadline or self.stop_requested()


async def run_executor(ctx: ExecutorContext) -> None:
    sc = ctx.scenario
    if isinstance(sc, ConstantVUs):
        await _closed(ctx, lambda _t: sc.vus, None)
    elif isinstance(sc, RampingVUs):
        segments = _vu_segments(sc)
        await _closed(ctx, lambda t: vus_at(segments, t), None)
    elif isinstance(sc, PerVUIterations):
        await _closed(ctx, lambda _t: sc.vus, sc.iterations)
    elif isinstance(sc, ConstantArrivalRate):
        await _open(ctx, ArrivalSchedule.constant(sc.rate, sc.duration), sc.max_vus)
    elif isinstance(sc, RampingArrivalRate):
        await _open(ctx, _rate_schedule(sc), sc.max_vus)
    else:  # pragma: no cover - the spec's union is closed
        raise TypeError(f"unknown executor {type(sc).__name__}")


def _vu_segments(sc: RampingVUs) -> list[VUSegment]:
    segments, start = [], sc.start_vus
    for stage in sc.stages:
        segments.append(VUSegment(start, stage.to, stage.over))
        start = stage.to
    return segments


def _rate_schedule(sc: RampingArrivalRate) -> ArrivalSchedule:
    segments, start = [], sc.start_rate
    for stage in sc.stages:
        segments.append(RateSegment(start, stage.to, stage.over))
        start = stage.to
    return ArrivalSchedule(segments)


async def _one_iteration(ctx: ExecutorContext, vu: VU) -> bool:
    """Run one iteration; False when the VU must stop (its data ran out)."""
    if ctx.feed is not None:
        try:
            vu.row = dict(ctx.feed.next_row())
        except DataExhausted:
            return False
    try:
        await ctx.iterate(vu)
    except IterationAborted:
        pass
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a user's journey raised: count it, keep the run going
        ctx.recorder.exception("(journey exceptions)", f"{type(exc).__name__}: {exc}")
    vu.iteration += 1
    return True


async def _closed(
    ctx: ExecutorContext, target_at: Callable[[float], int], iterations: int | None
) -> None:
    """VU ``j`` (global index) lives on worker ``j % workers`` and runs while ``j < target``."""
    think = ctx.scenario.think
    tasks: dict[int, asyncio.Task[None]] = {}

    async def vu_loop(j: int) -> None:
        vu = ctx.make_vu(j)
        ctx.active[0] += 1
        # Locals, and the plain path inlined below: this loop runs once per iteration and a
        # coroutine call per iteration is measurable at 100k requests per second.
        clock, t0, deadline, stop = time.perf_counter, ctx.t0, ctx.deadline, ctx.stop_requested
        iterate = ctx.iterate
        plain = ctx.feed is None
        try:
            while True:
                now = clock()
                if now >= deadline or stop() or j >= target_at(now - t0):
                    break
                if plain:
                    try:
                        await iterate(vu)
                    except IterationAborted:
                        pass
                    except Exception as exc:  # a journey raised: count it, keep going
                        ctx.recorder.exception(
                            "(journey exceptions)", f"{type(exc).__name__}: {exc}"
                        )
                    vu.iteration += 1
                elif not await _one_iteration(ctx, vu):
                    break
                if iterations is not None and vu.iteration >= iterations:
                    break
                if think > 0:
                    await asyncio.sleep(think)
        finally:
            ctx.active[0] -= 1

    while not ctx.stopping():
        wanted = target_at(time.perf_counter() - ctx.t0)
        for j in range(ctx.worker, wanted, ctx.workers):
            task = tasks.get(j)
            if task is None or (task.done() and iterations is None):
                tasks[j] = asyncio.create_task(vu_loop(j))
        if iterations is not None and tasks and all(t.done() for t in tasks.values()):
            break
        await asyncio.sleep(0.05)
    await _drain(ctx, list(tasks.values()))


async def _open(ctx: ExecutorContext, schedule: ArrivalSchedule, max_vus: int) -> None:
    pool = [ctx.make_vu(j) for j in range(ctx.worker, max_vus, ctx.workers)]
    capacity = share(max_vus, ctx.workers, ctx.worker)
    assert len(pool) == capacity
    running: set[asyncio.Task[None]] = set()
    name, method, path = ctx.drop_name

    async def run(vu: VU) -> None:
        try:
            await _one_iteration(ctx, vu)
        finally:
            pool.append(vu)
            ctx.active[0] -= 1

    for _k, offset in schedule.times(ctx.worker, ctx.workers):
        due = ctx.t0 + offset
        delay = due - time.perf_counter()
        if delay > _SPIN:
            await asyncio.sleep(delay - _SPIN)
        while time.perf_counter() < due:  # noqa: ASYNC110 - see _SPIN: no timer is this precise
            await asyncio.sleep(0)
        if ctx.stopping():
            break
        if not pool:
            ctx.recorder.drop(name, method, path)
            continue
        vu = pool.pop()
        vu.intended = due
        ctx.active[0] += 1
        task = asyncio.create_task(run(vu))
        running.add(task)
        task.add_done_callback(running.discard)
    await _drain(ctx, list(running))


async def _drain(ctx: ExecutorContext, tasks: list[asyncio.Task[None]]) -> None:
    """Let in-flight iterations finish for up to ``grace`` seconds, then cancel them."""
    pending = [t for t in tasks if not t.done()]
    if not pending:
        return
    remaining = max(0.0, ctx.deadline + ctx.grace - time.perf_counter())
    if ctx.stop_requested():
        remaining = min(remaining, ctx.grace)
    _done, still = await asyncio.wait(pending, timeout=remaining)
    for task in still:
        task.cancel()
    if still:
        await asyncio.gather(*still, return_exceptions=True)
