"""The callback-driven runner: flows that need no Python, driven from the protocol callbacks.

A YAML flow whose steps are all ready-made requests (no placeholders, no data row, no pick,
no stream, one origin, no redirects to follow) needs no coroutine per request. Each virtual
user is a :class:`Lane`, a small state machine that borrows a keep-alive connection from the
worker's idle ones for each request (last in, first out, as the task path's pool does):

- the response's last byte arrives in ``on_message_complete``; the lane records it there and
  writes the next step's request bytes in the same callback;
- no future, no task wake-up and no coroutine frame sits between the socket and the next
  request, which is where the task-per-request path spent most of its time;
- think time is one ``call_later`` per pause; a thinking lane is a slotted object and a timer
  handle, a few hundred bytes where a task with its frames costs kilobytes, and it holds no
  connection, so 50,000 users need only as many connections as are in flight.

Everything the task path guarantees holds: chunked and EOF-delimited bodies (the same
httptools parser), a connection the server closes (a fresh one next time), a reused
connection found closed before any byte came (an idempotent request is sent once more, its
latency counted from the first write), per-request timeouts, the checks, and the exact
histograms (the same :class:`Recorder`). Python journeys, data rows and everything else keep
the task path (see ``_executors``). ``SLOKIT_LANES=0`` turns this runner off (for A/B runs).
"""

from __future__ import annotations

import asyncio
import heapq
import os
from collections import deque
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, cast

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from slokit.errors import ProtocolError, RequestTimeout, TransportError
from slokit.load._protocol import Response, eof_delimited, lost_error

if TYPE_CHECKING:
    from slokit.load._executors import ExecutorContext
    from slokit.load._flow import CompiledStep
    from slokit.load._http import HttpClient
    from slokit.load._pool import HostPool

__all__ = ["LaneSet", "LanePlan", "OpenLanes", "lane_plan"]

_TIMER_SLACK = 0.001
MAX_CONNECTING = 64
"""Connections a worker's lanes open at the same time, at most (see ``LaneSet.acquire``)."""


class LanePlan:
    """A flow the callback runner can drive: its steps and their one connection pool."""

    __slots__ = ("pool", "steps")

    def __init__(self, steps: Sequence[CompiledStep], pool: HostPool) -> None:
        self.steps = tuple(steps)
        self.pool = pool


def lane_plan(
    steps: Sequence[CompiledStep], client: HttpClient, *, follow_redirects: bool, plain: bool
) -> LanePlan | None:
    """The plan for ``steps``, or None when they need the task path.

    ``plain``: no data rows, no Python journey, no debug client.
    """
    if not plain or follow_redirects or not steps or os.environ.get("SLOKIT_LANES") == "0":
        return None
    keys = set()
    for step in steps:
        prepared = step.prepared
        if step.special or prepared is None or prepared.head:
            return None
        keys.add(prepared.key)
    if len(keys) != 1:
        return None
    first = steps[0].prepared
    assert first is not None
    return LanePlan(steps, client._pool_for(first.origin))


class LaneConnection(asyncio.Protocol):
    """One keep-alive connection of a lane; it hands every outcome to the lane directly."""

    __slots__ = (
        "_body",
        "_parser",
        "_raw",
        "label",
        "lane",
        "pending",
        "received",
        "reusable",
        "transport",
        "used",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, label: str) -> None:
        self.label = label
        self.lane: Lane | None = None
        self._parser = HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.pending = False
        self.reusable = True
        self.used = 0
        self.received = 0
        self._raw: list[bytes] = []
        self._body: list[bytes] = []

    def write(self, raw: bytes) -> None:
        self._raw = []
        self._body = []
        self.received = 0
        self.pending = True
        self.used += 1
        transport = self.transport
        assert transport is not None
        transport.write(raw)

    def body(self) -> bytes:
        body = self._body
        return b"".join(body) if body else b""

    def head(self) -> list[bytes]:
        return self._raw

    def abort(self) -> None:
        self.reusable = False
        self.pending = False
        self.lane = None
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.pending:
            self._broken(ProtocolError(f"{self.label} sent data while no request was pending"))
            return
        self.received += len(data)
        if not self._body:
            self._raw.append(data)
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade:
            self._broken(ProtocolError(f"{self.label} switched protocols; not supported"))
        except HttpParserError as exc:
            self._broken(ProtocolError(f"invalid HTTP response from {self.label}: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        lane = self.lane
        if lane is None or not self.pending:
            return
        self.pending = False
        if exc is None:
            status = eof_delimited(self._raw)
            if status:
                lane.done(self, status, perf_counter(), False)
                return
        lane.lost(self, exc)

    def _broken(self, error: ProtocolError) -> None:
        lane = self.lane
        pending = self.pending
        self.abort()
        if lane is not None and pending:
            lane.failed(error)

    # -- parser callbacks ----------------------------------------------------------------

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        finished = perf_counter()
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:
            return  # 100 Continue, 103 Early Hints: the real response follows
        keep = parser.should_keep_alive()
        if not keep:
            self.reusable = False
        self.pending = False
        lane = self.lane
        if lane is not None:
            lane.done(self, status, finished, keep)


class Lane:
    """One virtual user of a callback-run flow: which step it is at, and its connection."""

    __slots__ = (
        "_deadline",
        "_retried",
        "_step",
        "_timer",
        "_timer_at",
        "conn",
        "index",
        "intended",
        "iteration",
        "j",
        "runner",
        "running",
        "slot",
        "started",
    )

    def __init__(self, runner: LaneSet, j: int, slot: int) -> None:
        self.runner = runner
        self.j = j
        self.slot = slot
        self.conn: LaneConnection | None = None
        self.index = 0
        self.iteration = 0
        self.started = 0.0
        self.intended = 0.0
        """Open model: the intended start of this iteration (perf_counter); 0 when none. The
        first request's latency counts from it, so no delay of ours or the server's hides."""
        self.running = True
        self._step: CompiledStep | None = None
        """The step whose request is in flight (None between requests)."""
        self._retried = False
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    @property
    def in_flight(self) -> bool:
        return self._step is not None

    # -- the cycle -----------------------------------------------------------------------

    def begin(self) -> None:
        """Start an iteration (or leave, when the run or this VU's share is over)."""
        runner = self.runner
        if not self.running:
            return
        now = perf_counter()
        if now >= runner.deadline or runner.stop():
            self.leave(False)
            return
        if self.j >= runner.target_at(now - runner.t0):
            self.leave(True)
            return
        self.index = 0
        self.send()

    def arrive(self, due: float) -> None:
        """Open model: an arrival due at ``due`` starts an iteration on this (free) lane."""
        self.intended = due
        self.index = 0
        self.send()

    def send(self) -> None:
        if not self.running:
            return
        step = self.runner.steps[self.index]
        self._step = step
        self._retried = False
        conn = self.conn
        if conn is None or not conn.reusable:
            self._drop()
            self.runner.acquire(self)
            return
        self._write(conn, step)

    def _write(self, conn: LaneConnection, step: CompiledStep) -> None:
        prepared = step.prepared
        assert prepared is not None
        now = perf_counter()
        if not self._retried:
            self.started = now
        try:
            conn.write(prepared.raw)
        except (OSError, RuntimeError):
            # Closed under us before the write: as a stale keep-alive connection.
            self.lost(conn, None)
            return
        deadline = self.started + self.runner.timeout
        self._deadline = deadline
        timer = self._timer
        if timer is None or deadline < self._timer_at:
            if timer is not None:
                timer.cancel()
            self._timer = self.runner.loop.call_later(deadline - now, self._on_timer)
            self._timer_at = deadline

    def done(self, conn: LaneConnection, status: int, finished: float, keep: bool) -> None:
        """The response is complete: record it and go on with the flow."""
        step = self._step
        if step is None:
            return
        self._step = None
        runner = self.runner
        checks = step.checks
        failed: tuple[str, ...] = ()
        if checks:
            response = Response(status, None, conn.body(), 0, 0, 0.0, 0.0, "", conn.head())
            for check in checks:
                if not check.passes(response):
                    failed += (check.label,)
        prepared = step.prepared
        assert prepared is not None
        start = self.started
        intended = self.intended
        if intended:
            self.intended = 0.0
            runner.recorder.sent_late(intended, start)
            start = intended
        runner.recorder.response(
            step.name,
            step.method,
            step.path,
            finished - start,
            status,
            step.ok_status,
            len(prepared.raw),
            conn.received,
            len(failed),
            len(checks) - len(failed),
            failed,
        )
        self.index += 1
        last = self.index >= len(runner.steps)
        if not keep or not conn.reusable:
            self._drop()
        elif (runner.think if last else step.think) > 0 or runner.waiting:
            # About to pause, or someone waits for a connection: hand it on. A lane that
            # sends again at once keeps it, and skips the idle list both ways.
            conn.lane = None
            self.conn = None
            runner.give_back(conn)
        if not last:
            if step.think > 0:
                runner.loop.call_later(step.think, self.send)
            else:
                self.send()
            return
        self.end_iteration()

    def end_iteration(self) -> None:
        runner = self.runner
        self.iteration += 1
        runner.recorder.iterations += 1
        if runner.free is not None:
            # Open model: the lane waits for the next arrival, its connection kept alive.
            self.intended = 0.0
            runner.release_lane(self)
            return
        if runner.iterations is not None and self.iteration >= runner.iterations:
            self.leave(False)
            return
        think = runner.think
        if think > 0:
            # Never think past the end: a VU asleep at the deadline holds nothing open.
            pause = min(think, max(0.0, runner.deadline - perf_counter()))
            runner.loop.call_later(pause, self.begin)
        else:
            self.begin()

    def failed(self, error: TransportError) -> None:
        """The request got no complete response: counted, and the iteration ends."""
        step = self._step
        if step is None:
            return
        self._step = None
        self.intended = 0.0
        self._drop()
        self.runner.recorder.error(step.name, step.method, step.path, error.kind)
        if self.running:
            # Via the loop: a target that refuses at once must not recurse here.
            self.runner.loop.call_soon(self.end_iteration)

    def lost(self, conn: LaneConnection, exc: Exception | None) -> None:
        """The connection closed with the request in flight."""
        step = self._step
        if step is None:
            return
        prepared = step.prepared
        assert prepared is not None
        label = conn.label
        self._drop()
        if conn.received == 0 and conn.used > 1:
            if prepared.idempotent and not self._retried:
                self._retried = True  # latency still counts from the first write
                self._reconnect()
                return
            why = "a retry also failed" if self._retried else f"{prepared.method} is not idempotent"
            self.failed(
                ProtocolError(
                    f"{label} closed the keep-alive connection before responding; "
                    f"not retried ({why})"
                )
            )
            return
        self.failed(lost_error(label, conn.received, exc))

    def _on_timer(self) -> None:
        # Armed once and moved forward only when it fires, as in _protocol.Connection.
        self._timer = None
        if self._step is None or not self.running:
            return
        now = perf_counter()
        if now + _TIMER_SLACK < self._deadline:
            self._timer = self.runner.loop.call_later(self._deadline - now, self._on_timer)
            self._timer_at = self._deadline
            return
        self.failed(
            RequestTimeout(
                f"no complete response from {self.runner.pool.origin.label} "
                f"within {self.runner.timeout:g} s"
            )
        )

    # -- connections ---------------------------------------------------------------------

    def _drop(self) -> None:
        conn = self.conn
        self.conn = None
        if conn is not None:
            conn.abort()

    def _reconnect(self) -> None:
        self._drop()
        self.runner.acquire(self)

    @property
    def wants_connection(self) -> bool:
        return self.running and self._step is not None and self.conn is None

    def connected(self, conn: LaneConnection) -> None:
        """A connection for the request waiting to be written (idle, handed on, or new)."""
        step = self._step
        assert step is not None
        conn.lane = self
        self.conn = conn
        self._write(conn, step)

    # -- leaving -------------------------------------------------------------------------

    def leave(self, returning: bool) -> None:
        if not self.running:
            return
        self.running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        conn = self.conn
        if conn is not None and conn.reusable and not conn.pending and self._step is None:
            # A lane that leaves between requests (the ramp went below it) leaves its
            # kept-alive connection to the others.
            self.conn = None
            conn.lane = None
            self.runner.give_back(conn)
        else:
            self._drop()
        self.runner.left(self, returning)

    def cancel(self) -> None:
        """Stop now: a request in flight is abandoned, not counted (as a cancelled task)."""
        self._step = None
        self._drop()  # closed, not handed on: the run is ending
        self.leave(False)


class LaneSet:
    """The lanes of one scenario in one worker, and what they share."""

    def __init__(
        self,
        ctx: ExecutorContext,
        plan: LanePlan,
        target_at: Callable[[float], int],
        iterations: int | None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.ctx = ctx
        self.steps = plan.steps
        self.pool = plan.pool
        self.recorder = ctx.recorder
        self.t0 = ctx.t0
        self.deadline = ctx.deadline
        self.stop = ctx.stop_requested
        self.target_at = target_at
        self.iterations = iterations
        self.think = ctx.scenario.think
        self.timeout = ctx.scenario.timeout
        self.live: dict[int, Lane] = {}
        self.returning: list[int] = []
        self.connecting: set[asyncio.Task[None]] = set()
        self.free: list[Lane] | None = None
        """Open model: lanes waiting for an arrival (None: the closed model)."""
        self.idle: list[LaneConnection] = []
        """Kept-alive connections no request is using."""
        self.waiting: deque[Lane] = deque()
        """Lanes waiting for a connection (see ``acquire``)."""
        self.opening = 0

    def spawn(self, slot: int) -> None:
        ctx = self.ctx
        lane = Lane(self, ctx.worker + slot * ctx.workers, slot)
        self.live[slot] = lane
        ctx.active[0] += 1
        lane.begin()

    def abandon(self) -> None:
        """Close every lane, connect and idle connection now (the run is over)."""
        for lane in list(self.live.values()):
            lane.cancel()
        for task in list(self.connecting):
            task.cancel()
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.abort()
        self.waiting.clear()

    def release_lane(self, lane: Lane) -> None:
        assert self.free is not None
        self.free.append(lane)
        self.ctx.active[0] -= 1

    def left(self, lane: Lane, returning: bool) -> None:
        if self.live.get(lane.slot) is lane:
            del self.live[lane.slot]
            self.ctx.active[0] -= 1
        if returning:
            heapq.heappush(self.returning, lane.slot)

    # -- connections ---------------------------------------------------------------------
    #
    # Idle connections are shared, last in first out. When none is idle a lane opens one,
    # but at most MAX_CONNECTING at a time: a burst of users waking in the same millisecond
    # (a loop that fell behind fires every due timer at once) would otherwise open thousands
    # of connections together, overflow the server's accept queue, and turn a short burst
    # into connect timeouts. A lane past that bound waits for the next connection to come
    # free or to open, whichever is first; its latency starts at the write, as on the task
    # path's pool.

    def acquire(self, lane: Lane) -> None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.reusable:
                lane.connected(conn)
                return
            conn.abort()
        if self.opening < MAX_CONNECTING:
            self._open(lane)
        else:
            self.waiting.append(lane)

    def give_back(self, conn: LaneConnection) -> None:
        waiting = self.waiting
        while waiting:
            lane = waiting.popleft()
            if lane.wants_connection:
                lane.connected(conn)
                return
        self.idle.append(conn)

    def _open(self, lane: Lane) -> None:
        self.opening += 1
        task = self.loop.create_task(self._connect(lane))
        self.connecting.add(task)
        task.add_done_callback(self.connecting.discard)

    async def _connect(self, lane: Lane) -> None:
        pool = self.pool
        try:
            try:
                conn = await pool.connect(
                    self.loop, perf_counter() + self.timeout, self.timeout, LaneConnection
                )
            finally:
                self.opening -= 1
        except TransportError as exc:
            lane.failed(exc)
            self._next_waiter()
            return
        pool.opened += 1
        if lane.wants_connection:
            lane.connected(conn)
        else:
            self.give_back(conn)
        self._next_waiter()

    def _next_waiter(self) -> None:
        waiting = self.waiting
        while waiting and self.opening < MAX_CONNECTING:
            lane = waiting.popleft()
            if lane.wants_connection:
                self._open(lane)


class OpenLanes:
    """The open model's arrivals on lanes: each takes a free lane (one is built while fewer
    than ``capacity`` exist), so an arrival costs one write and no task."""

    def __init__(self, ctx: ExecutorContext, plan: LanePlan, capacity: int) -> None:
        self._lanes = LaneSet(ctx, plan, lambda _t: capacity, None)
        self._free: list[Lane] = []
        self._lanes.free = self._free
        self._capacity = capacity
        self._built = 0
        self._ctx = ctx

    def launch(self, due: float) -> bool:
        """Start an iteration due at ``due``; False when every lane is busy (a drop)."""
        free = self._free
        if free:
            lane = free.pop()
        elif self._built < self._capacity:
            ctx = self._ctx
            slot = self._built
            lane = Lane(self._lanes, ctx.worker + slot * ctx.workers, slot)
            self._lanes.live[slot] = lane
            self._built += 1
        else:
            return False
        self._ctx.active[0] += 1
        lane.arrive(due)
        return True

    def busy(self) -> bool:
        """An iteration is still running (a lane not back among the free ones)."""
        return len(self._lanes.live) > len(self._free)

    async def close(self) -> None:
        self.abandon()

    def abandon(self) -> None:
        """Close every lane now; iterations in flight are not counted."""
        lanes = self._lanes
        for lane in self._free:
            # Idle: not counted as active, so it leaves without touching the count.
            lanes.live.pop(lane.slot, None)
            lane.cancel()
        self._free.clear()
        lanes.abandon()
