"""Executors run one scenario's share of work inside one worker's event loop.

Closed model (``constant-vus``, ``ramping-vus``, ``per-vu-iterations``): each VU loops over
iterations; the server's speed sets the request rate. Open model (``constant-arrival-rate``,
``ramping-arrival-rate``): iterations start on a schedule whatever the server does; each one
carries its intended start time, and an arrival that finds every VU busy is counted as
dropped.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Awaitable, Callable, Sized
from dataclasses import dataclass, field

from slokit.load._data import DataExhausted, DataFeed
from slokit.load._lane import LanePlan, LaneSet, OpenLanes
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
LATE = 0.010
"""An arrival launched this far behind its intended time means the worker is not keeping up."""

VU_BATCH = 500
"""VUs started (or late arrivals handled) per turn of the event loop."""

STOP_GRACE = 0.5
"""Seconds in-flight iterations get after a stop before they are cancelled."""

_POLL = 0.05
"""How often waiting executors look at the clock and the stop flag."""


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
    lanes: LanePlan | None = None
    """A flow the callback runner can drive (see ``_lane``); None: tasks run the VUs."""
    measure_from: float = 0.0
    """perf_counter() value where the warm-up ends: the pace counts arrivals from here."""
    pace: list[int] = field(default_factory=lambda: [0, 0])
    """Open model: [arrivals launched over ``LATE`` behind their time, arrivals launched]. A
    worker that cannot keep up launches late; its CPU says nothing here (it spins, see _SPIN)."""

    def stopping(self) -> bool:
        return time.perf_counter() >= self.deadline or self.stop_requested()


async def run_executor(ctx: ExecutorContext) -> None:
    sc = ctx.scenario
    closed = _closed if ctx.lanes is None else _on_lanes
    if isinstance(sc, ConstantVUs):
        await closed(ctx, lambda _t: sc.vus, None)
    elif isinstance(sc, RampingVUs):
        segments = _vu_segments(sc)
        await closed(ctx, lambda t: vus_at(segments, t), None)
    elif isinstance(sc, PerVUIterations):
        await closed(ctx, lambda _t: sc.vus, sc.iterations)
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
    ctx.recorder.iterations += 1
    return True


async def _on_lanes(
    ctx: ExecutorContext, target_at: Callable[[float], int], iterations: int | None
) -> None:
    assert ctx.lanes is not None
    lanes = LaneSet(ctx, ctx.lanes, target_at, iterations)
    try:
        await _keep_vus(ctx, target_at, iterations, lanes.spawn, lanes.returning, lanes.live)
        await _drain(ctx, lambda: bool(lanes.live))
    finally:
        lanes.abandon()


async def _closed(
    ctx: ExecutorContext, target_at: Callable[[float], int], iterations: int | None
) -> None:
    """VU ``j`` (global index) lives on worker ``j % workers`` and runs while ``j < target``.

    VUs start in batches of ``VU_BATCH`` with a turn of the loop between batches: a huge
    ``vus`` must not freeze the loop (the stop flag, the ticker and running VUs need it),
    and creation stops at the scenario's end or a stop, so no VU is built that cannot run.
    """
    think = ctx.scenario.think
    worker, workers = ctx.worker, ctx.workers
    clock = time.perf_counter
    live: dict[int, asyncio.Task[None]] = {}  # local slot -> its running task
    returning: list[int] = []  # heap of slots whose VU left because the ramp went below it

    async def vu_loop(j: int, slot: int) -> None:
        vu = ctx.make_vu(j)
        ctx.active[0] += 1
        # Locals, and the plain path inlined below: this loop runs once per iteration and a
        # coroutine call per iteration is measurable at 100k requests per second.
        t0, deadline, stop = ctx.t0, ctx.deadline, ctx.stop_requested
        iterate = ctx.iterate
        recorder = ctx.recorder
        plain = ctx.feed is None
        try:
            while True:
                now = clock()
                if now >= deadline or stop():
                    break
                if j >= target_at(now - t0):
                    if iterations is None:
                        heapq.heappush(returning, slot)
                    break
                if plain:
                    try:
                        await iterate(vu)
                    except IterationAborted:
                        pass
                    except Exception as exc:  # a journey raised: count it, keep going
                        recorder.exception("(journey exceptions)", f"{type(exc).__name__}: {exc}")
                    vu.iteration += 1
                    recorder.iterations += 1
                elif not await _one_iteration(ctx, vu):
                    break
                if iterations is not None and vu.iteration >= iterations:
                    break
                if think > 0:
                    # Never think past the end: a VU asleep at the deadline has nothing to
                    # finish and must not hold the run open.
                    await asyncio.sleep(min(think, max(0.0, deadline - clock())))
        finally:
            ctx.active[0] -= 1
            live.pop(slot, None)

    def spawn(slot: int) -> None:
        live[slot] = asyncio.create_task(vu_loop(worker + slot * workers, slot))

    await _keep_vus(ctx, target_at, iterations, spawn, returning, live)
    await _drain(ctx, lambda: bool(live))
    await _cancel(live)


async def _keep_vus(
    ctx: ExecutorContext,
    target_at: Callable[[float], int],
    iterations: int | None,
    spawn: Callable[[int], None],
    returning: list[int],
    live: Sized,
) -> None:
    """Start this worker's VUs as the target rises (``spawn(slot)``; a slot whose VU left
    when the ramp fell is in the heap ``returning``), every ``_POLL`` until the end; for
    ``per-vu-iterations``, until every VU has left ``live``."""
    worker, workers = ctx.worker, ctx.workers
    clock = time.perf_counter
    started = 0  # local slots 0..started-1 have been started at least once

    def local_target() -> int:
        return len(range(worker, target_at(clock() - ctx.t0), workers))

    while not ctx.stopping():
        wanted = local_target()
        while returning and returning[0] < wanted:
            spawn(heapq.heappop(returning))
        while started < wanted and not ctx.stopping():
            for slot in range(started, min(wanted, started + VU_BATCH)):
                spawn(slot)
            started = min(wanted, started + VU_BATCH)
            await asyncio.sleep(0)
            wanted = local_target()
        if iterations is not None and started >= wanted and not live:
            break
        await asyncio.sleep(_POLL)


class _TaskArrivals:
    """The open model's arrivals as tasks: one per iteration, on a VU built on demand."""

    def __init__(self, ctx: ExecutorContext, capacity: int) -> None:
        self.ctx = ctx
        self.capacity = capacity
        self.free: list[VU] = []
        self.built = 0
        self.running: dict[int, asyncio.Task[None]] = {}
        self.k = 0

    def launch(self, due: float) -> bool:
        ctx = self.ctx
        if self.free:
            vu = self.free.pop()
        elif self.built < self.capacity:
            vu = ctx.make_vu(ctx.worker + self.built * ctx.workers)
            self.built += 1
        else:
            return False
        vu.intended = due
        ctx.active[0] += 1
        self.k += 1
        self.running[self.k] = asyncio.create_task(self._run(vu, self.k))
        return True

    async def _run(self, vu: VU, key: int) -> None:
        try:
            await _one_iteration(self.ctx, vu)
        finally:
            self.free.append(vu)
            self.ctx.active[0] -= 1
            self.running.pop(key, None)

    def busy(self) -> bool:
        return bool(self.running)

    async def close(self) -> None:
        await _cancel(self.running)

    def abandon(self) -> None:
        for task in list(self.running.values()):
            task.cancel()


async def _open(ctx: ExecutorContext, schedule: ArrivalSchedule, max_vus: int) -> None:
    """Arrivals on the schedule; VUs are built on demand, up to this worker's share of
    ``max_vus``, so a large ``max_vus`` costs nothing until the load needs it. A flow of
    ready-made requests runs its arrivals on lanes (see ``_lane``), others as tasks."""
    capacity = share(max_vus, ctx.workers, ctx.worker)
    arrivals: _TaskArrivals | OpenLanes = (
        _TaskArrivals(ctx, capacity) if ctx.lanes is None else OpenLanes(ctx, ctx.lanes, capacity)
    )
    name, method, path = ctx.drop_name
    clock = time.perf_counter
    behind = 0
    times = schedule.times(ctx.worker, ctx.workers)
    unsent: float | None = None  # the arrival the loop stopped at, if it was still due
    deadline = ctx.deadline
    stop = ctx.stop_requested
    try:
        for _k, offset in times:
            due = ctx.t0 + offset
            if due >= deadline:
                break
            unsent = due
            delay = due - clock()
            # In slices: a stop must be seen between sparse arrivals (a rate of 1/min).
            while delay > _SPIN and not stop():
                await asyncio.sleep(min(delay - _SPIN, _POLL))
                delay = due - clock()
            # An arrival due before the end is sent even if the end came a hair before it
            # left; one overdue by more than LATE at the end is not sent but counted below.
            if stop() or clock() >= deadline + LATE:
                break
            measured = due >= ctx.measure_from
            if measured:
                ctx.pace[1] += 1
            if delay > 0:
                behind = 0
                while clock() < due:  # noqa: ASYNC110 - see _SPIN: no timer is this precise
                    await asyncio.sleep(0)
            else:
                if delay < -LATE and measured:
                    ctx.pace[0] += 1
                behind += 1
                if behind >= VU_BATCH:
                    # Behind schedule nothing above awaits: yield now and then so the stop
                    # flag, the ticker and the started iterations get the loop.
                    behind = 0
                    await asyncio.sleep(0)
            if stop() or clock() >= deadline + LATE:
                break
            unsent = None
            if not arrivals.launch(due):
                ctx.recorder.drop(name, method, path)
        else:
            unsent = None
        if not stop():
            # A worker behind its schedule reaches the end with arrivals overdue: they were
            # due within the run and never sent, so they are dropped, not a silently lower
            # rate.
            overdue = sum(1 for _k, offset in times if ctx.t0 + offset < deadline)
            if unsent is not None and unsent < deadline:
                overdue += 1
            if overdue:
                ctx.recorder.drop(name, method, path, overdue)
        await _drain(ctx, arrivals.busy)
    except BaseException:
        arrivals.abandon()
        raise
    await arrivals.close()


async def _drain(ctx: ExecutorContext, busy: Callable[[], bool]) -> None:
    """Let in-flight iterations finish for up to ``grace`` seconds, while ``busy()``.

    After a stop (Ctrl-C, SIGTERM, an abort) they get only ``STOP_GRACE``: a stalled server
    must not hold an interrupted run open for the request timeout. What is busy shrinks as
    iterations end (their own callbacks say so), so it is polled, never scanned.
    """
    clock = time.perf_counter
    end = max(ctx.deadline + ctx.grace, clock())
    cut = False
    while busy():
        now = clock()
        if not cut and ctx.stop_requested():
            cut, end = True, min(end, now + STOP_GRACE)
        if now >= end:
            break
        await asyncio.sleep(min(_POLL / 2, end - now))


async def _cancel(live: dict[int, asyncio.Task[None]]) -> None:
    """Cancel the iterations the grace did not see end."""
    still = list(live.values())
    for task in still:
        task.cancel()
    if still:
        # Bounded: a journey that swallows CancelledError must not hold the worker forever.
        await asyncio.wait(still, timeout=1.0)
