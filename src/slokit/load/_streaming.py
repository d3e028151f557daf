"""Holding a stream step: open, read and check events, reconnect, and measure all of it.

One coroutine per held stream, awaiting the protocol (never polling). The open is recorded
as a request (its latency is the handshake); everything after it goes to the stream's
:class:`~slokit.results.StreamStats`, fetched from the recorder at each use because the
recorder starts a fresh interval every second.

SSE follows EventSource: a stream the server ends, or a connection that drops, is opened
again after the ``retry`` delay (the server's ``retry:`` wins) with ``Last-Event-ID``; a
204 means "do not reconnect". A WebSocket the server closes with 1000/1001 is over (the
server said goodbye); any other end is a drop, and with ``reconnect`` it is opened again
and its ``send`` messages sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from time import perf_counter
from typing import Protocol, TypeVar

from slokit.errors import ConnectError, ProtocolError, RequestTimeout, TransportError
from slokit.load._http import HttpClient, PreparedRequest
from slokit.load._jsonpath import JsonCheck
from slokit.load._recorder import Recorder
from slokit.load._sse import SSEEvent, SSEParser
from slokit.load._stream import SSEConnection, StreamEnded, WSConnectionProtocol, WSMessage
from slokit.load._vu import VU, IterationAborted
from slokit.results import StreamStats

__all__ = ["EventCheck", "Passes", "StreamPlan", "hold_sse", "hold_ws"]

DEFAULT_RETRY = 1.0
"""Seconds before an SSE reconnect until the server sends ``retry:``."""
DEFAULT_IDLE = 60.0
"""A live stream silent (not even a heartbeat) this long is dropped as timed out: longer
than the 15-30 s heartbeats servers send, short enough to see a stalled stream."""
MAX_FAILED_OPENS = 5
"""A step with no ``hold`` gives up on a stream that has been down for ``idle_timeout`` and
has failed this many opens in a row since: EventSource retries forever, but a VU waiting
for ``events: N`` must not wait for a dead server until the scenario ends. Both bounds, so
a short ``retry`` does not give up on a 1 s outage, nor a long one after a single try."""
_CLOSE_WAIT = 1.0
_TIMER_SLACK = 0.005
"""uvloop timers have millisecond resolution and may fire a hair before the hold ends."""
_T = TypeVar("_T")
_TRANSPORT_KIND = {ConnectError: "refused", RequestTimeout: "timeout", ProtocolError: "protocol"}


class Passes(Protocol):
    def passes(self, data: str | bytes, event: str = "message") -> bool: ...


@dataclass(frozen=True, slots=True)
class EventCheck:
    """A check on one event's type or data (``{event: order}``, ``body_contains``, ``json``)."""

    event: str | None = None
    contains: str | None = None
    json: JsonCheck | None = None

    def passes(self, data: str | bytes, event: str = "message") -> bool:
        if self.event is not None:
            return event == self.event
        if self.contains is not None:
            if isinstance(data, bytes):
                return self.contains.encode() in data
            return self.contains in data
        assert self.json is not None
        return self.json.passes(data)


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """A stream step, compiled once per worker."""

    kind: str
    name: str
    path: str
    hold: float | None
    events: int | None
    until: Passes | None
    checks: tuple[Passes, ...]
    reconnect: bool
    retry: float | None
    idle: float
    ok_status: frozenset[int]
    send: tuple[str | bytes, ...] = ()

    @property
    def method(self) -> str:
        return self.kind.upper()


class _Held:
    """The clock of one held stream: time wanted, time live, added up as it goes."""

    __slots__ = ("kind", "live_from", "name", "path", "recorder", "since")

    def __init__(self, recorder: Recorder, plan: StreamPlan, now: float) -> None:
        self.recorder = recorder
        self.name, self.kind, self.path = plan.name, plan.kind, plan.path
        self.since = now
        self.live_from: float | None = None

    @property
    def stats(self) -> StreamStats:
        return self.recorder.stream(self.name, self.kind, self.path)

    def flush(self, now: float) -> None:
        """Count the time up to ``now`` into this second's stats (the recorder calls this
        before it ships a second, so uptime is exact per second)."""
        stats = self.stats
        stats.held_us += int((now - self.since) * 1e6)
        self.since = now
        if self.live_from is not None:
            stats.live_us += int((now - self.live_from) * 1e6)
            self.live_from = now

    def live(self, at: float) -> None:
        self.flush(at)
        self.live_from = at

    def down(self, at: float) -> None:
        self.flush(at)
        self.live_from = None


class _Run:
    """State of one stream step's hold across its connections."""

    def __init__(self, plan: StreamPlan, vu: VU) -> None:
        self.plan = plan
        self.vu = vu
        self.recorder = vu.recorder
        start = perf_counter()
        end = vu.deadline
        if plan.hold is not None:
            end = min(end, start + plan.hold)
        self.end = end
        self.received = 0
        self.done = False
        self.drop_at: float | None = None
        self.failed_opens = 0
        self.failing_since: float | None = None
        self.held = _Held(self.recorder, plan, start)
        self.client: HttpClient = vu.client
        self.conn: SSEConnection | WSConnectionProtocol | None = None
        # Open model: the first open is the arrival, late from its intended start or not.
        self.intended = vu.intended
        vu.intended = None
        self.recorder.held.add(self.held)

    @property
    def stats(self) -> StreamStats:
        return self.recorder.stream(self.plan.name, self.plan.kind, self.plan.path)

    def left(self) -> float:
        return self.end - perf_counter()

    def open_failed(self, kind: str, request_kind: str, latency: float | None = None) -> None:
        plan = self.plan
        stats = self.recorder.stats(plan.name, plan.method, plan.path)
        if latency is None:
            self.recorder.error(plan.name, plan.method, plan.path, request_kind)
        else:
            stats.failures[request_kind] = stats.failures.get(request_kind, 0) + 1
        errors = self.stats.errors
        errors[kind] = errors.get(kind, 0) + 1
        self.failed()

    def failed(self) -> None:
        """One more open failed in a row."""
        if self.failed_opens == 0:
            self.failing_since = self.drop_at if self.drop_at is not None else perf_counter()
        self.failed_opens += 1

    def stream_error(self, kind: str) -> None:
        errors = self.stats.errors
        errors[kind] = errors.get(kind, 0) + 1

    def opened(self, conn: SSEConnection | WSConnectionProtocol) -> None:
        self.failed_opens = 0
        self.failing_since = None
        stats = self.stats
        stats.opened += 1
        if self.drop_at is not None:
            stats.reconnects += 1
        self.held.live(conn.head_at)

    def event(self, at: float, started: float, last: float | None) -> None:
        """One event or message arrived at ``at`` on a connection written at ``started``."""
        stats = self.stats
        stats.events += 1
        if last is None:
            stats.first_event.record(max(1, int((at - started) * 1e6)))
        else:
            stats.gap.record(max(1, int((at - last) * 1e6)))
        if self.drop_at is not None:
            stats.reconnect.record(max(1, int((at - self.drop_at) * 1e6)))
            self.drop_at = None

    def checked(self, data: str | bytes, event: str = "message") -> None:
        plan = self.plan
        if plan.checks:
            stats = self.stats
            for check in plan.checks:
                if check.passes(data, event):
                    stats.checks_passed += 1
                else:
                    stats.checks_failed += 1
        self.received += 1
        if plan.until is not None and plan.until.passes(data, event):
            self.done = True
        if plan.events is not None and self.received >= plan.events:
            self.done = True

    def lost(self, conn: SSEConnection | WSConnectionProtocol, at: float) -> None:
        stats = self.stats
        stats.lifetime.record(max(1, int((at - conn.head_at) * 1e6)))
        stats.bytes_received += conn.received
        stats.bytes_sent += conn.sent
        self.held.down(at)

    def may_retry(self) -> bool:
        if self.done or not self.plan.reconnect or self.left() <= 0:
            return False
        if self.plan.hold is not None or self.failed_opens < MAX_FAILED_OPENS:
            return True
        assert self.failing_since is not None
        return perf_counter() - self.failing_since < self.plan.idle

    async def pause(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, min(seconds, self.left())))
        if self.left() <= _TIMER_SLACK:
            await self.reach_end()

    async def reach_end(self) -> None:
        """uvloop's millisecond timers fire a hair early: wait out the last moments, so the
        step ends at its end, not just before, and the VU's next iteration does not open
        one more stream at the scenario's end."""
        for _ in range(20):  # each try gets within a millisecond; 20 is plenty
            left = self.left()
            if left <= 0:
                return
            await asyncio.sleep(left)

    async def again(self, delay: float) -> bool:
        """After a failed open or a drop: True once ``delay`` passed and the step goes on."""
        if not self.may_retry():
            return False
        await self.pause(delay)
        return True

    async def again_after_error(self, exc: TransportError, delay: float) -> bool:
        """An open failed below HTTP: recorded, then :meth:`again`. The very first open of a
        step with no ``hold`` that cannot retry aborts the iteration, as a failed request
        does."""
        self.open_failed(_TRANSPORT_KIND.get(type(exc), "protocol"), exc.kind)
        first = self.drop_at is None and self.received == 0 and self.plan.hold is None
        if first and not self.may_retry():
            raise IterationAborted from exc
        return await self.again(delay)

    def accept(self, conn: SSEConnection | WSConnectionProtocol) -> bool:
        """Record the open; True when it gave a live stream (else it is closed)."""
        if not _record_open(self, conn, self.intended):
            _close(self.client, conn)
            return False
        self.intended = None
        self.opened(conn)
        self.conn = conn
        return True

    async def wait(self, receive: Callable[[float], Awaitable[_T]]) -> _T | None:
        """The next read, bounded by ``idle_timeout`` and the hold's end; None at the end.
        Silence for ``idle_timeout`` is a ``timeout`` error and ends the connection."""
        left = self.left()
        if left <= 0:
            return None
        try:
            return await receive(min(self.plan.idle, left))
        except TimeoutError:
            if self.left() <= _TIMER_SLACK:
                await self.reach_end()
                return None
            self.stream_error("timeout")
            raise StreamEnded("timeout") from None

    def release(self, at: float) -> None:
        """The live connection is over (measured up to ``at``) and closed."""
        if self.conn is not None:
            self.lost(self.conn, at)
            _close(self.client, self.conn)
            self.conn = None

    def drop(self, at: float) -> None:
        """The live connection dropped at ``at``: the reconnect clock starts."""
        self.release(at)
        self.drop_at = at

    def finish(self) -> None:
        self.release(perf_counter())
        self.held.flush(perf_counter())
        self.recorder.held.discard(self.held)


def _latency(conn: SSEConnection | WSConnectionProtocol, intended: float | None) -> float:
    return conn.head_at - (intended if intended is not None else conn.started)


def _record_open(
    run: _Run, conn: SSEConnection | WSConnectionProtocol, intended: float | None
) -> bool:
    """Record the opening request; True when it gave a live stream."""
    plan = run.plan
    latency = _latency(conn, intended)
    ok = run.recorder.response(
        plan.name, plan.method, plan.path, latency, conn.status, plan.ok_status, conn.sent, 0
    )
    if not ok:
        errors = run.stats.errors
        errors["status"] = errors.get("status", 0) + 1
        run.failed()
        return False
    if plan.kind == "sse":
        ctype = (conn.header(b"content-type") or "").split(";", 1)[0].strip().lower()
        if ctype != "text/event-stream" and conn.status != 204:
            stats = run.recorder.stats(plan.name, plan.method, plan.path)
            stats.failures["content_type"] = stats.failures.get("content_type", 0) + 1
            errors = run.stats.errors
            errors["content_type"] = errors.get("content_type", 0) + 1
            run.failed()
            return False
    return True


async def hold_sse(
    plan: StreamPlan,
    vu: VU,
    request: Callable[[Mapping[str, str]], PreparedRequest],
    on_event: Callable[[SSEEvent], object] | None = None,
) -> None:
    """Hold an SSE stream until the step's end; ``request(extra_headers)`` builds the open.
    ``on_event`` sees every event; a true return ends the hold (a journey's ``until``)."""
    run = _Run(plan, vu)
    parser = SSEParser()
    try:
        while not run.done and run.left() > 0:
            extra = {"Last-Event-ID": parser.last_id} if parser.last_id else {}
            if extra or run.drop_at is not None:
                extra["Cache-Control"] = "no-cache"
            try:
                conn = await run.client.open_sse(request(extra), vu.timeout)
            except TransportError as exc:
                if await run.again_after_error(exc, _retry(plan, parser)):
                    continue
                return
            if not run.accept(conn):
                if conn.status != 204 and await run.again(_retry(plan, parser)):
                    continue
                return  # 204: the server says "do not reconnect"
            parser.reset_stream()
            last: float | None = None
            try:
                while not run.done:
                    chunk = await run.wait(conn.read)
                    if chunk is None:
                        break
                    at = conn.data_at
                    for event in parser.feed(chunk):
                        run.event(at, conn.started, last)
                        last = at
                        run.checked(event.data, event.event)
                        if on_event is not None and on_event(event):
                            run.done = True
                        if run.done:
                            break
            except StreamEnded as ended:
                if ended.kind not in ("closed", "timeout"):  # timeout: counted when raised
                    run.stream_error(ended.kind)
                run.drop(perf_counter())
                if await run.again(_retry(plan, parser)):
                    continue
                return
            run.release(perf_counter())
    finally:
        run.finish()


def _retry(plan: StreamPlan, parser: SSEParser | None = None) -> float:
    if parser is not None and parser.retry_ms is not None:
        return parser.retry_ms / 1000
    return plan.retry if plan.retry is not None else DEFAULT_RETRY


def _close(client: HttpClient, conn: SSEConnection | WSConnectionProtocol) -> None:
    conn.close()
    client.stream_closed(conn)


async def hold_ws(
    plan: StreamPlan,
    vu: VU,
    url: str,
    headers: Mapping[str, str],
    on_message: Callable[[WSMessage], tuple[bool, str | bytes | None]] | None = None,
) -> None:
    """Hold a WebSocket until the step's end, sending ``plan.send`` on each connection.
    ``on_message`` sees every message and returns (end the hold?, a reply to send or None)."""
    if plan.events is None and plan.hold is None and plan.until is None:
        plan = _with_events(plan, len(plan.send))
    run = _Run(plan, vu)
    try:
        while not run.done and run.left() > 0:
            try:
                conn = await run.client.open_ws(url, headers, vu.timeout)
            except TransportError as exc:
                if await run.again_after_error(exc, _retry(plan)):
                    continue
                return
            if not run.accept(conn):
                if await run.again(_retry(plan)):
                    continue
                return
            last: float | None = None
            try:
                for message in plan.send:
                    conn.send_message(message)
                run.stats.sent += len(plan.send)
                while not run.done:
                    received = await run.wait(conn.receive)
                    if received is None:
                        break
                    run.event(received.at, conn.started, last)
                    last = received.at
                    run.checked(received.data)
                    if on_message is not None:
                        stop, reply = on_message(received)
                        if stop:
                            run.done = True
                        if reply is not None:  # a journey answering a message
                            conn.send_message(reply)
                            run.stats.sent += 1
            except (StreamEnded, ProtocolError) as ended:
                kind = ended.kind if isinstance(ended, StreamEnded) else "protocol"
                if kind == "closed" and conn.close_code in (1000, 1001):
                    run.release(perf_counter())  # the server said goodbye
                    return
                if kind != "timeout":
                    run.stream_error("dropped" if kind == "closed" else kind)
                run.drop(perf_counter())
                if await run.again(_retry(plan)):
                    continue
                return
            run.lost(conn, perf_counter())
            await _goodbye(conn)
            _close(run.client, conn)
            run.conn = None
    finally:
        run.finish()


def _with_events(plan: StreamPlan, events: int) -> StreamPlan:
    return replace(plan, events=max(1, events))


async def _goodbye(conn: WSConnectionProtocol) -> None:
    """The client's close handshake: send 1000, give the server a moment to answer."""
    if conn.transport is None or conn.ended is not None:
        return
    with contextlib.suppress(ProtocolError):
        conn.send_close()
    with contextlib.suppress(TimeoutError, StreamEnded):
        deadline = perf_counter() + _CLOSE_WAIT
        while conn.ended is None and perf_counter() < deadline:
            await conn.receive(max(0.0, deadline - perf_counter()))
