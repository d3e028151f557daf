"""A bulkhead: at most ``max_concurrent`` calls at once, shared by threads and asyncio tasks.

One count guards both kinds of caller. A call that finds every slot taken waits in one FIFO
queue for at most ``max_wait`` seconds, then fails with :class:`BulkheadFullError`:

- a thread waits on its own :class:`threading.Condition` (built on the bulkhead's lock);
- an asyncio task awaits a future of its own loop, and never blocks that loop: the thread
  that frees the slot wakes it with ``loop.call_soon_threadsafe``.

A freed slot is handed straight to the first waiter (counted in flight for it before it
resumes), so a newcomer can never overtake a caller already queued, whatever its kind.
A waiter that is cancelled, or that times out, after the hand-off passes the slot on:
no slot is ever leaked.

A synchronous call made *on an event loop's thread* blocks that loop while it waits, like
any blocking call; it cannot be woken by a task of the same loop. Use the async forms there.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, overload

from slokit.errors import BulkheadFullError, UsageError
from slokit.resilience._clock import seconds

__all__ = ["Bulkhead", "BulkheadStats"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class BulkheadStats:
    """One consistent reading of a bulkhead."""

    name: str
    max_concurrent: int
    """The bound on calls in flight."""
    in_flight: int
    """Calls holding a slot now (a waiter handed a slot counts even before it resumes)."""
    waiting: int
    """Callers queued for a slot now."""
    admitted: int
    """Calls given a slot since the bulkhead was made."""
    rejected: int
    """Calls refused with :class:`BulkheadFullError` since the bulkhead was made."""


class _State(enum.Enum):
    WAITING = "waiting"
    GRANTED = "granted"
    ABANDONED = "abandoned"


class _SyncWaiter:
    __slots__ = ("condition", "state")

    def __init__(self, condition: threading.Condition) -> None:
        self.condition = condition
        self.state = _State.WAITING


class _AsyncWaiter:
    __slots__ = ("future", "loop", "state")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.state = _State.WAITING


def _wake(future: asyncio.Future[None]) -> None:
    # Runs on the waiter's loop. A cancelled future means its task is already unwinding:
    # it finds its waiter granted and passes the slot on.
    if not future.done():
        future.set_result(None)


class Bulkhead:
    """At most ``max_concurrent`` calls at once; a caller waits up to ``max_wait`` seconds
    (0: not at all) for a slot, then gets :class:`BulkheadFullError`.

    Use it as a decorator (sync or async functions), with :meth:`call` / :meth:`acall`, or
    as a context manager (``with bulkhead:`` in threads, ``async with bulkhead:`` in tasks).
    Threads and tasks of any number of event loops share the same slots.
    """

    __slots__ = (
        "_admitted",
        "_in_flight",
        "_lock",
        "_max_concurrent",
        "_max_wait",
        "_name",
        "_rejected",
        "_waiters",
    )

    def __init__(
        self, name: str, *, max_concurrent: int, max_wait: float | timedelta = 0.0
    ) -> None:
        if not isinstance(name, str) or not name:
            raise UsageError(f"a bulkhead needs a non-empty name, got {name!r}")
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
            raise UsageError(f"max_concurrent must be a whole number, got {max_concurrent!r}")
        if max_concurrent < 1:
            raise UsageError(f"max_concurrent must be at least 1, got {max_concurrent}")
        self._name = name
        self._max_concurrent = max_concurrent
        self._max_wait = seconds("max_wait", max_wait)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._admitted = 0
        self._rejected = 0
        self._waiters: deque[_SyncWaiter | _AsyncWaiter] = deque()

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_concurrent(self) -> int:
        return self._max_concurrent

    @property
    def max_wait(self) -> float:
        return self._max_wait

    def __repr__(self) -> str:
        return (
            f"Bulkhead({self._name!r}, max_concurrent={self._max_concurrent}, "
            f"max_wait={self._max_wait:g})"
        )

    def statistics(self) -> BulkheadStats:
        with self._lock:
            return BulkheadStats(
                name=self._name,
                max_concurrent=self._max_concurrent,
                in_flight=self._in_flight,
                waiting=len(self._waiters),
                admitted=self._admitted,
                rejected=self._rejected,
            )

    # -- ways to use it ------------------------------------------------------------------

    @overload
    def __call__(
        self, fn: Callable[_P, Coroutine[Any, Any, _R]]
    ) -> Callable[_P, Coroutine[Any, Any, _R]]: ...

    @overload
    def __call__(self, fn: Callable[_P, _R]) -> Callable[_P, _R]: ...

    def __call__(self, fn: Callable[_P, Any]) -> Callable[_P, Any]:
        """Decorate a function (sync or async) so every call takes a slot."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                async with self:
                    return await fn(*args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper

    def call(self, fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Call ``fn(*args, **kwargs)`` in a slot, waiting for one in this thread."""
        with self:
            return fn(*args, **kwargs)

    async def acall(
        self, fn: Callable[_P, Awaitable[_R]], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _R:
        """Await ``fn(*args, **kwargs)`` in a slot, waiting for one without blocking the loop."""
        async with self:
            return await fn(*args, **kwargs)

    def __enter__(self) -> None:
        self._acquire_sync()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    async def __aenter__(self) -> None:
        await self._acquire_async()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    # -- slots ---------------------------------------------------------------------------

    def _try_admit_locked(self) -> bool:
        # Nobody may overtake a queued caller: a free slot with waiters never lasts, as
        # releasing hands it to the first waiter, but the check keeps that explicit.
        if self._in_flight < self._max_concurrent and not self._waiters:
            self._in_flight += 1
            self._admitted += 1
            return True
        return False

    def _reject_locked(self) -> BulkheadFullError:
        self._rejected += 1
        return BulkheadFullError(self._name, self._max_concurrent, self._max_wait)

    def _acquire_sync(self) -> None:
        with self._lock:
            if self._try_admit_locked():
                return
            if self._max_wait <= 0:
                raise self._reject_locked()
            waiter = _SyncWaiter(threading.Condition(self._lock))
            self._waiters.append(waiter)
            until = time.monotonic() + self._max_wait
            try:
                while waiter.state is _State.WAITING:
                    left = until - time.monotonic()
                    if left <= 0:
                        self._waiters.remove(waiter)
                        waiter.state = _State.ABANDONED
                        raise self._reject_locked()
                    waiter.condition.wait(None if math.isinf(left) else left)
            except BaseException:
                # Interrupted (KeyboardInterrupt) while queued or just after the hand-off.
                if waiter.state is _State.WAITING:
                    self._waiters.remove(waiter)
                    waiter.state = _State.ABANDONED
                elif waiter.state is _State.GRANTED:
                    self._release_locked()
                raise

    async def _acquire_async(self) -> None:
        with self._lock:
            if self._try_admit_locked():
                return
            if self._max_wait <= 0:
                raise self._reject_locked()
            waiter = _AsyncWaiter(asyncio.get_running_loop())
            self._waiters.append(waiter)
        limit = None if math.isinf(self._max_wait) else self._max_wait
        try:
            async with asyncio.timeout(limit):
                await waiter.future
        except TimeoutError:
            with self._lock:
                if waiter.state is _State.WAITING:
                    self._waiters.remove(waiter)
                    waiter.state = _State.ABANDONED
                    raise self._reject_locked() from None
            # Granted in the same instant the wait ran out: the slot is ours, use it.
        except BaseException:
            # Cancelled (or interrupted): leave neither a queue entry nor a slot behind.
            with self._lock:
                if waiter.state is _State.WAITING:
                    self._waiters.remove(waiter)
                    waiter.state = _State.ABANDONED
                elif waiter.state is _State.GRANTED:
                    self._release_locked()
            raise

    def _release(self) -> None:
        with self._lock:
            self._release_locked()

    def _release_locked(self) -> None:
        """Give the slot to the first waiter still able to take it, or free it."""
        if self._in_flight <= 0:
            raise RuntimeError(f"bulkhead {self._name!r} released more slots than it admitted")
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            waiter.state = _State.GRANTED
            if isinstance(waiter, _SyncWaiter):
                waiter.condition.notify()
            else:
                try:
                    waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                except RuntimeError:
                    # Its loop is closed: nobody will ever run that task again.
                    waiter.state = _State.ABANDONED
                    continue
            self._admitted += 1
            return  # the slot moved to the waiter: in_flight is unchanged
        self._in_flight -= 1
