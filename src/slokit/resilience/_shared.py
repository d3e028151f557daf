"""Circuit state shared by every process and replica through Redis.

What is shared is the decision, not every call: each breaker still counts its own calls
(no network round trip per call), and when any process opens a breaker, the time it stays
open is written to Redis with one atomic script; every process reads the shared open state
every ``interval`` seconds and opens its own breaker until then. So one replica that sees a
dependency fail stops all replicas from hammering it within ``interval``. A trial in
half-open that succeeds clears the shared state, unless another replica has opened it again
since (a compare-and-delete script). Half-open trials stay per process.

Redis is used from a background thread with its own event loop and the asyncio client, so
neither sync callers nor the service's event loop ever wait on it. Redis unreachable: every
breaker goes on with its local state, the error is counted per breaker (the
``slokit_circuit_breaker_shared_state_errors_total`` metric) and logged once a minute.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from slokit.errors import UsageError
from slokit.resilience._breaker import BreakerEvent, CircuitBreaker, State
from slokit.resilience._clock import seconds
from slokit.resilience._metrics import shared_errors

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["SharedBreakers"]

log = logging.getLogger("slokit.resilience")

# KEYS[1] the breaker's key; ARGV[1] open-until (epoch ms), ARGV[2] its time to live (ms).
# Keeps the later of the stored and the new open-until: two replicas opening at once agree.
_OPEN = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return wanted
end
return current
"""
# ARGV[1]: the open-until this process saw. Another replica's later opening survives.
_CLOSE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_WARN_EVERY = 60.0


class SharedBreakers:
    """Share the open state of breakers through Redis: ``shared.add(breaker)``.

    ``close()`` stops the background thread (also at interpreter exit: it is a daemon).
    """

    def __init__(
        self,
        redis_url: str,
        *,
        interval: float = 0.5,
        prefix: str = "slokit:cb:",
        timeout: float = 0.5,
    ) -> None:
        if not isinstance(redis_url, str) or not redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise UsageError(f"redis_url must be a redis:// URL, got {redis_url!r}")
        self._url = redis_url
        self._interval = seconds("interval", interval)
        if self._interval <= 0:
            raise UsageError("interval must be more than 0 seconds")
        self._timeout = seconds("timeout", timeout)
        self._prefix = prefix
        self._breakers: dict[str, CircuitBreaker] = {}
        self._seen: dict[str, str] = {}
        self._errors: dict[str, int] = {}
        self._applying = threading.local()
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._client: Redis | None = None
        self._stopped = threading.Event()
        self._ready = threading.Event()
        self._last_warning = -_WARN_EVERY
        shared_errors(lambda: dict(self._errors))

    # -- public

    def add(self, breaker: CircuitBreaker) -> None:
        self._breakers[breaker.name] = breaker
        breaker.add_listener(self._on_event)
        self._start()

    def errors(self) -> dict[str, int]:
        """Times each breaker could not reach Redis."""
        return dict(self._errors)

    def sync_now(self, wait: float = 5.0) -> None:
        """Read the shared state once, now, and wait for it (tests, start-up)."""
        done = threading.Event()

        async def once() -> None:
            try:
                await self._poll()
            finally:
                done.set()

        self._submit(once())
        done.wait(wait)

    def close(self) -> None:
        # A breaker that opened just before shutdown must still tell the other processes:
        # writes already submitted get up to one Redis timeout to land.
        pending = [f for f in list(self._pending) if not f.done()]
        if pending:
            concurrent.futures.wait(pending, timeout=self._timeout)
        self._stopped.set()
        loop, thread, task = self._loop, self._thread, self._task
        if loop is not None and task is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(task.cancel)
            thread.join(timeout=5)
        for breaker in self._breakers.values():
            breaker.remove_listener(self._on_event)

    # -- the background thread

    def _start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="slokit-shared-breakers", daemon=True
        )
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._task = loop.create_task(self._main())
        try:
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass  # close() cancelled the main task
        finally:
            loop.close()

    async def _main(self) -> None:
        from redis.asyncio import Redis

        self._client = Redis.from_url(
            self._url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
        )
        self._ready.set()
        try:
            while not self._stopped.is_set():
                await self._poll()
                await asyncio.sleep(self._interval)
        finally:
            await self._client.aclose()

    def _submit(self, coro: Coroutine[Any, Any, None]) -> None:
        loop = self._loop
        if loop is None or self._stopped.is_set():
            coro.close()
            return
        try:
            future = asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError:  # the loop has just closed
            coro.close()
            return
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def _failed(self, name: str, exc: Exception) -> None:
        self._errors[name] = self._errors.get(name, 0) + 1
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY:
            self._last_warning = now
            log.warning(
                "circuit breakers cannot reach Redis at %s (%s: %s); each keeps its own state",
                self._url.rsplit("@", 1)[-1],
                type(exc).__name__,
                exc,
            )

    async def _poll(self) -> None:
        client = self._client
        names = list(self._breakers)
        if client is None or not names:
            return
        try:
            values = await client.mget([self._prefix + n for n in names])
        except Exception as exc:
            for name in names:
                self._failed(name, exc)
            return
        now_ms = time.time() * 1000.0
        for name, raw in zip(names, values, strict=True):
            if raw is None:
                continue
            until_ms = float(raw)
            remaining = (until_ms - now_ms) / 1000.0
            if remaining <= 0:
                continue
            self._seen[name] = raw.decode() if isinstance(raw, bytes) else str(raw)
            breaker = self._breakers[name]
            stats = breaker.statistics()
            if stats.state is State.OPEN and stats.retry_after >= remaining - 0.05:
                continue  # already open at least that long
            self._applying.on = True
            try:
                breaker.force_open(remaining)
            finally:
                self._applying.on = False

    # -- listener (runs in the caller's thread: never waits)

    def _on_event(self, event: BreakerEvent) -> None:
        if event.kind != "state_transition" or getattr(self._applying, "on", False):
            return
        breaker = self._breakers.get(event.breaker)
        if breaker is None:
            return
        if event.to_state is State.OPEN:
            hold = breaker.statistics().retry_after
            if hold == float("inf") or hold <= 0:
                return
            until_ms = int(time.time() * 1000 + hold * 1000)
            self._submit(self._open(event.breaker, until_ms, int(hold * 1000) + 1000))
        elif event.to_state is State.CLOSED and event.from_state is State.HALF_OPEN:
            seen = self._seen.pop(event.breaker, None)
            if seen is not None:
                self._submit(self._close(event.breaker, seen))

    async def _open(self, name: str, until_ms: int, ttl_ms: int) -> None:
        assert self._client is not None
        try:
            stored = await self._client.eval(_OPEN, 1, self._prefix + name, until_ms, ttl_ms)
            self._seen[name] = str(int(stored))
        except Exception as exc:
            self._failed(name, exc)

    async def _close(self, name: str, seen: str) -> None:
        assert self._client is not None
        try:
            await self._client.eval(_CLOSE, 1, self._prefix + name, seen)
        except Exception as exc:
            self._failed(name, exc)
