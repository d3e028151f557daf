"""One worker process: its own event loop, client and recorder, one share of the scenario.

Messages to the controller (tuples on a multiprocessing or Ray queue):
``("ready", w)``, ``("snapshot", w, snapshot_dict)``, ``("error", w, text)``,
``("exception", w, text)`` (first exception a journey raised), ``("pace", w, busy, late,
launched, runner)`` (the share of the load window this worker spent on the CPU; open model:
arrivals launched late and launched; ``"callbacks"`` or ``"tasks"``, see ``_lane``),
``("orphaned", w)`` (its parent, the controller or a Ray node's raylet, is gone),
``("done", w)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import signal
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from slokit.errors import SlokitError
from slokit.load._data import DataFeed, read_rows
from slokit.load._debug import DebugClient, insecure_context
from slokit.load._executors import ExecutorContext, run_executor
from slokit.load._flow import compile_flow, run_flow
from slokit.load._gc import PacedGC
from slokit.load._http import HttpClient
from slokit.load._lane import lane_plan
from slokit.load._naming import NameFolder
from slokit.load._recorder import Recorder
from slokit.load._script import load_journey
from slokit.load._selfwatch import SelfWatch
from slokit.load._session import Session
from slokit.load._vu import VU
from slokit.results import Snapshot
from slokit.spec import Route, Scenario, Spec

__all__ = ["WorkerArgs", "worker_main"]


class Flag(Protocol):
    """``go`` and ``stop``: a multiprocessing Event locally, a threading one in a Ray actor."""

    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class Outbox(Protocol):
    """Where the messages go: a multiprocessing queue locally, a Ray queue on a cluster."""

    def put(self, item: Any) -> None: ...


@dataclass(frozen=True)
class WorkerArgs:
    spec: Spec
    scenario: Scenario
    name: str
    worker: int
    workers: int
    target: str | None
    warmup_seconds: int
    """Warm-up rounded up to whole seconds: snapshots are per second."""
    insecure: bool = False
    http_debug: int = 0


def worker_main(args: WorkerArgs, queue: Outbox, go: Flag, start_wall: Any, stop: Flag) -> None:
    # Ctrl-C reaches the whole process group; the controller decides how the run ends. A
    # Ray actor runs this in a thread of its own process, where signals are not ours to set.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _raise_open_files_limit()
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported OS
        runner = asyncio.run
    try:
        runner(_main(args, queue, go, start_wall, stop))
    except SlokitError as exc:
        queue.put(("error", args.worker, str(exc)))
    except BaseException:
        queue.put(("error", args.worker, traceback.format_exc()))
    finally:
        queue.put(("done", args.worker))


def _client(args: WorkerArgs) -> HttpClient:
    sc = args.scenario
    ssl_context = insecure_context() if args.insecure else None
    if args.http_debug:
        return DebugClient(
            limit=args.http_debug,
            worker=args.worker,
            timeout=sc.timeout,
            follow_redirects=sc.follow_redirects,
            ssl_context=ssl_context,
        )
    return HttpClient(
        timeout=sc.timeout, follow_redirects=sc.follow_redirects, ssl_context=ssl_context
    )


def _raise_open_files_limit() -> None:
    """One socket per VU (and per held stream): the usual soft limit of 1,024 descriptors
    would fail a 2,000-stream run with "too many open files" although the hard limit allows
    it. Raised to the hard limit, as Locust does; never lowered."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _slo_routes(spec: Spec) -> list[Route]:
    return [slo.route for slo in spec.slos.values() if slo.route is not None]


async def _main(args: WorkerArgs, queue: Outbox, go: Flag, start_wall: Any, stop: Flag) -> None:
    sc = args.scenario
    # Reading the multiprocessing Event takes a lock; VUs ask on every iteration, so they
    # read a plain flag that a watcher refreshes every 50 ms instead. SIGTERM (a CI runner
    # cancelling the job signals the whole group) sets it too: the worker stops like on a
    # stop from the controller and ships what it measured, instead of dying with it.
    stopped = [False]
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.__setitem__, 0, True)
    client = _client(args)
    recorder = Recorder()
    routes = _slo_routes(args.spec)
    feed = None
    if sc.data is not None:
        rows = read_rows(Path(args.spec.base_dir) / sc.data.file)
        feed = DataFeed(rows, sc.data.mode, args.worker, args.workers)

    if sc.flow is not None:
        steps = compile_flow(
            sc.flow, client=client, target=args.target, headers=sc.headers, routes=routes
        )
        first = steps[0]
        # An arrival dropped before a pick chose its sub-flow belongs to no request of it.
        drop_name = (first.name, first.method, first.path)
        if first.pick is not None:
            drop_name = ("iteration", "-", "-")
        # A partial, not a wrapper coroutine: one frame less on every response.
        iterate: Callable[[VU], Awaitable[None]] = functools.partial(run_flow, steps)
        lanes = lane_plan(
            steps,
            client,
            follow_redirects=sc.follow_redirects,
            plain=feed is None and not args.http_debug,
        )

    else:
        assert sc.script is not None
        journey = load_journey(sc.script, args.spec.base_dir)
        folder = NameFolder(routes)
        label = f"journey {sc.script.rpartition(':')[2]}"
        drop_name = (label, "-", "-")
        lanes = None
        sessions: dict[int, Session] = {}

        async def iterate(vu: VU) -> None:
            session = sessions.get(vu.id)
            if session is None:
                session = sessions[vu.id] = Session(
                    vu, target=args.target, headers=sc.headers, folder=folder
                )
            await journey(session)

    queue.put(("ready", args.worker))
    # Bounded wait: a controller that died must not leave this process behind.
    if not await asyncio.to_thread(go.wait, 60.0) or stop.is_set() or stopped[0]:
        await client.aclose()
        return
    t0 = time.perf_counter() + (start_wall.value - time.time())
    delay = t0 - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)

    active = [0]
    ctx = ExecutorContext(
        scenario=sc,
        worker=args.worker,
        workers=args.workers,
        t0=t0,
        deadline=t0 + sc.duration,
        grace=min(sc.timeout, 30.0),
        recorder=recorder,
        make_vu=lambda j: VU(j, client, recorder, sc.timeout, t0 + sc.duration),
        iterate=iterate,
        feed=feed,
        drop_name=drop_name,
        stop_requested=lambda: stopped[0],
        active=active,
        lanes=lanes,
        measure_from=t0 + args.warmup_seconds,
    )
    selfwatch = SelfWatch()
    paced = PacedGC()
    ticker = asyncio.create_task(_tick(args, queue, recorder, active, t0, selfwatch, paced))
    watcher = asyncio.create_task(_watch(stop, stopped, os.getppid(), queue, args.worker))
    probe = asyncio.create_task(selfwatch.run())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        with paced:
            await run_executor(ctx)
    finally:
        for task in (ticker, watcher, probe):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        second = max(0, math.floor(time.perf_counter() - t0))
        _ship(args, queue, recorder, active, second, selfwatch)
        # One core is all an event loop can use: near 1.0, the generator is the bottleneck.
        wall = time.perf_counter() - wall0
        if wall > 0:
            late, launched = ctx.pace
            busy = (time.process_time() - cpu0) / wall
            runner = "tasks" if lanes is None else "callbacks"
            queue.put(("pace", args.worker, busy, late, launched, runner))
        await client.aclose()


def _ship(
    args: WorkerArgs,
    queue: Outbox,
    recorder: Recorder,
    active: list[int],
    second: int,
    selfwatch: SelfWatch,
) -> None:
    cpu, lag = selfwatch.take()
    schedule = recorder.schedule if recorder.schedule.count else None
    exceptions = recorder.exceptions
    first = recorder.first_exception
    dropped = recorder.dropped
    iterations = recorder.iterations
    requests = recorder.take()
    streams = recorder.take_streams(time.perf_counter())
    snap = Snapshot(
        streams=streams,
        worker=args.worker,
        second=second,
        warmup=second < args.warmup_seconds,
        requests=requests,
        vus=active[0],
        dropped=dropped,
        iterations=iterations,
        cpu=cpu,
        loop_lag_ms=lag,
        schedule=schedule,
    )
    queue.put(("snapshot", args.worker, snap.to_dict()))
    if exceptions and first is not None:
        queue.put(("exception", args.worker, first))
        recorder.first_exception = None


async def _watch(stop: Flag, stopped: list[bool], parent: int, queue: Outbox, worker: int) -> None:
    # A controller killed outright (SIGKILL) sets no Event: a new parent means it is gone,
    # and a load with nobody to collect it must not go on. A Ray actor's parent is its
    # node's raylet: the node is lost, so say so, for a controller elsewhere may still hear.
    while not stopped[0] and not stop.is_set() and os.getppid() == parent:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if os.getppid() != parent:
        with contextlib.suppress(Exception):
            queue.put(("orphaned", worker))
    stopped[0] = True


async def _tick(
    args: WorkerArgs,
    queue: Outbox,
    recorder: Recorder,
    active: list[int],
    t0: float,
    selfwatch: SelfWatch,
    paced: PacedGC,
) -> None:
    second = 0
    while True:
        await asyncio.sleep(max(0.0, t0 + second + 1 - time.perf_counter()))
        _ship(args, queue, recorder, active, second, selfwatch)
        paced.tick()
        second += 1
