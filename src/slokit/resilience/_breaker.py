"""A circuit breaker with resilience4j's semantics, for sync and async code.

CLOSED
    Calls pass. Each outcome goes into a sliding window: the last ``window`` calls, or the
    calls of the last ``window`` seconds (resilience4j's buckets: 1 s, or ``window / 100``
    when that is shorter; windows of 100 s or more are whole seconds). Once the window holds
    ``minimum_calls`` calls, the breaker opens as soon as ``failures / calls >= failure_rate``
    or ``slow_calls / calls >= slow_call_rate``. A call is slow when it took strictly longer
    than ``slow_call_duration``; a failed call can be slow too.
OPEN
    Calls are refused with :class:`~slokit.errors.CircuitOpenError` (carrying
    ``retry_after``) for ``open_for`` seconds, growing by ``open_backoff`` for each
    consecutive re-open up to ``max_open_for``. The window that opened it stays readable.
HALF_OPEN
    The first call after ``open_for`` moves the breaker here (so does reading ``state``).
    ``half_open_calls`` trial calls are let through, the rest refused; once every trial has
    an outcome, they are judged like the window: rates below both thresholds close the
    breaker, otherwise it opens again. The window is cleared on entering CLOSED or
    HALF_OPEN.

Outcomes: an exception matched by ``ignore`` (checked first) is not recorded at all (a
half-open trial gets its slot back); one matched by ``record`` is a failure; any other
``Exception`` is a success, as in resilience4j. Other ``BaseException`` s (cancellation,
``KeyboardInterrupt``) are ignored unless ``record`` matches them. A result for which
``failure_result`` is true is a failure. A predicate that raises is logged and the call counts
as a failure. Errors of the wrapped function are re-raised unchanged.

Outcomes of calls that started before the breaker's last state change are counted in the
totals but kept out of the new window (a slow call from the CLOSED period does not take a
half-open trial slot). With a clock that did not move between the two, they count as in
resilience4j.

The CLOSED path reads the state without the lock and holds it once, briefly, to record the
outcome. Listeners run outside the lock, after the change they report; one that raises is
logged and otherwise ignored. Breakers register in ``default_registry`` by name (a later
breaker with the same name replaces the earlier one there); pass ``registry=None`` for a
breaker nobody should find.
"""

from __future__ import annotations

import enum
import functools
import inspect
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal, ParamSpec, Self, TypeVar, overload

from slokit.errors import CircuitOpenError, UsageError
from slokit.resilience._breaker_window import (
    CountWindow,
    TimeWindow,
    Window,
    fraction,
    matcher,
    whole,
)
from slokit.resilience._clock import Clock, seconds

__all__ = [
    "BreakerEvent",
    "BreakerListener",
    "BreakerRegistry",
    "BreakerStats",
    "CircuitBreaker",
    "EventKind",
    "ExceptionMatch",
    "State",
    "breakers",
    "default_registry",
]

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("slokit.resilience")

ExceptionMatch = (
    type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
)
"""Which exceptions ``record`` / ``ignore`` match: a class, a tuple of classes, or a predicate."""

EventKind = Literal["state_transition", "success", "failure", "slow", "ignored", "not_permitted"]


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_CLOSED, _OPEN, _HALF_OPEN = State.CLOSED, State.OPEN, State.HALF_OPEN


@dataclass(frozen=True, slots=True)
class BreakerStats:
    """A snapshot of one breaker (:meth:`CircuitBreaker.statistics`)."""

    name: str
    state: State
    failure_rate: float | None
    """``failures / calls`` in the window; None until the window holds its minimum calls."""
    slow_call_rate: float | None
    calls: int
    """Calls in the current window (the half-open trials while HALF_OPEN)."""
    failures: int
    slow_calls: int
    not_permitted: int
    """Calls refused since creation."""
    successful: int
    """Calls recorded as successes since creation (ignored calls are in neither total)."""
    failed: int
    opened_at: float | None
    """Clock value of the last opening; None while CLOSED."""
    retry_after: float
    """Seconds until HALF_OPEN (``inf`` when forced open); 0 unless OPEN."""
    open_count: int


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    """What a listener is told. Every recorded call gives one ``success``, ``failure`` or
    ``ignored`` event, followed by a ``slow`` event when it was slow."""

    kind: EventKind
    breaker: str
    time: float
    from_state: State | None = None
    """For ``state_transition``."""
    to_state: State | None = None
    duration: float | None = None
    """Seconds the call took (outcome events)."""
    error: BaseException | None = None
    """The exception of a ``failure`` / ``ignored`` / ``slow`` event, if any."""


BreakerListener = Callable[[BreakerEvent], None]


class BreakerRegistry:
    """Breakers by name. Adding a breaker whose name is taken replaces the earlier one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def add(self, breaker: CircuitBreaker) -> None:
        with self._lock:
            self._breakers.pop(breaker.name, None)  # so iteration stays in creation order
            self._breakers[breaker.name] = breaker

    def remove(self, name: str) -> None:
        with self._lock:
            self._breakers.pop(name, None)

    def get(self, name: str) -> CircuitBreaker | None:
        with self._lock:
            return self._breakers.get(name)

    def __iter__(self) -> Iterator[CircuitBreaker]:
        with self._lock:
            return iter(list(self._breakers.values()))

    def __len__(self) -> int:
        return len(self._breakers)

    def __contains__(self, name: object) -> bool:
        return name in self._breakers

    def snapshot(self) -> list[BreakerStats]:
        return [breaker.statistics() for breaker in self]


default_registry = BreakerRegistry()
"""Where breakers register unless given another registry (or None)."""


def breakers() -> list[CircuitBreaker]:
    """Every breaker in ``default_registry``, in creation order."""
    return list(default_registry)


class CircuitBreaker:
    """Stops calling a dependency that keeps failing, then probes it with a few trial calls.

    Use it as a decorator (sync or async functions), ``with breaker:`` / ``async with
    breaker:``, or ``breaker.call(fn, ...)`` / ``await breaker.acall(fn, ...)``. Transports
    use :meth:`acquire` and then :meth:`on_success` or :meth:`on_error`.
    """

    def __init__(
        self,
        name: str,
        *,
        window: int | float | timedelta = 100,
        window_type: Literal["count", "time"] = "count",
        failure_rate: float = 0.5,
        slow_call_duration: float | timedelta | None = None,
        slow_call_rate: float = 1.0,
        minimum_calls: int = 10,
        open_for: float | timedelta = 60.0,
        open_backoff: float = 1.0,
        max_open_for: float | timedelta = 600.0,
        half_open_calls: int = 5,
        record: ExceptionMatch = Exception,
        ignore: ExceptionMatch = (),
        failure_result: Callable[[Any], bool] | None = None,
        clock: Clock = time.monotonic,
        registry: BreakerRegistry | None = default_registry,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise UsageError(f"a circuit breaker needs a name (a non-empty str), got {name!r}")
        self._name = name
        minimum = whole("minimum_calls", minimum_calls)
        closed: Window
        if window_type == "count":
            if isinstance(window, bool) or not isinstance(window, int):
                raise UsageError(
                    f"window must be a number of calls for window_type='count', got {window!r}; "
                    "for a window of seconds pass window_type='time'"
                )
            closed = CountWindow(whole("window", window), minimum)
        elif window_type == "time":
            span = seconds("window", window)
            if not 0 < span < math.inf:
                raise UsageError(f"window must be more than 0 seconds and finite, got {window!r}")
            closed = TimeWindow(span, minimum)
        else:
            raise UsageError(f"window_type must be 'count' or 'time', got {window_type!r}")
        self._failure_rate = fraction("failure_rate", failure_rate)
        self._slow_rate = fraction("slow_call_rate", slow_call_rate)
        self._slow_after = seconds("slow_call_duration", slow_call_duration, allow_none=True)
        self._open_for = seconds("open_for", open_for)
        if isinstance(open_backoff, bool) or not isinstance(open_backoff, int | float):
            raise UsageError(f"open_backoff must be a number of 1 or more, got {open_backoff!r}")
        if not 1 <= open_backoff < math.inf:
            raise UsageError(
                f"open_backoff must be 1 or more (1 = no growth), got {open_backoff!r}"
            )
        self._backoff = float(open_backoff)
        cap = seconds("max_open_for", max_open_for)
        if self._backoff > 1 and cap < self._open_for:
            raise UsageError(
                f"max_open_for ({cap:g} s) is shorter than open_for ({self._open_for:g} s): "
                "the growing open time is capped at max_open_for, so make it at least open_for"
            )
        self._max_open_for = max(cap, self._open_for)
        self._half_open_calls = whole("half_open_calls", half_open_calls)
        self._is_recorded = matcher("record", record)
        self._is_ignored = matcher("ignore", ignore)
        if failure_result is not None and not callable(failure_result):
            raise UsageError(
                f"failure_result must be a function of the result, got {failure_result!r}"
            )
        self._failure_result = failure_result
        if not callable(clock):
            raise UsageError(f"clock must be a function returning seconds, got {clock!r}")
        self._clock = clock
        if registry is not None and not isinstance(registry, BreakerRegistry):
            raise UsageError(f"registry must be a BreakerRegistry or None, got {registry!r}")

        self._lock = threading.Lock()
        self._state = _CLOSED
        self._since = -math.inf  # clock value of the last state change
        self._closed = closed
        self._trials = CountWindow(self._half_open_calls, self._half_open_calls)
        self._window: Window = closed
        self._trials_started = 0  # trial permits handed out (and not given back)
        self._trials_running = 0  # of those, still without an outcome
        self._open_until = 0.0
        self._next_open_for = self._open_for
        self._opened_at: float | None = None
        self._open_count = 0
        self._not_permitted = 0
        self._successful = 0
        self._failed = 0
        self._listeners: tuple[BreakerListener, ...] = ()
        self._entered: ContextVar[tuple[float, ...]] = ContextVar(f"breaker:{name}", default=())
        if registry is not None:
            registry.add(self)

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self._name!r} {self._state.value}>"

    # -- use -------------------------------------------------------------------------------

    @overload
    def __call__(
        self, fn: Callable[P, Coroutine[Any, Any, T]]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    @overload
    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate ``fn``: every call goes through the breaker (coroutine functions too)."""
        if not callable(fn):
            raise UsageError(f"a circuit breaker decorates a function, got {fn!r}")
        acquire, on_error, on_success = self.acquire, self.on_error, self.on_success
        record = self._record
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def guarded(*args: P.args, **kwargs: P.kwargs) -> Any:
                started = acquire()  # acall's body, one frame less
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    on_error(started, exc)
                    raise
                if self._failure_result is None:
                    record(started, False, None)
                else:
                    on_success(started, result)
                return result

            return guarded

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            started = acquire()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                on_error(started, exc)
                raise
            if self._failure_result is None:
                record(started, False, None)
            else:
                on_success(started, result)
            return result

        return wrapper

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` through the breaker; its errors are re-raised unchanged."""
        started = self.acquire()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self.on_error(started, exc)
            raise
        if self._failure_result is None:
            self._record(started, False, None)  # on_success without its frame: the hot path
        else:
            self.on_success(started, result)
        return result

    async def acall(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``await fn(*args, **kwargs)`` through the breaker (cancellation is not recorded)."""
        started = self.acquire()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self.on_error(started, exc)
            raise
        self.on_success(started, result)
        return result

    def __enter__(self) -> Self:
        started = self.acquire()
        self._entered.set((*self._entered.get(), started))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entered = self._entered.get()
        if not entered:
            raise UsageError(f"circuit breaker {self._name!r}: __exit__ without __enter__")
        self._entered.set(entered[:-1])
        if exc is None:
            self._record(entered[-1], False, None)
        else:
            self.on_error(entered[-1], exc)

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- the lower-level protocol ----------------------------------------------------------

    def acquire(self) -> float:
        """Permission for one call: its start time, or :class:`CircuitOpenError`.

        Every permitted call must end with :meth:`on_success`, :meth:`on_error` or
        :meth:`release`, or a half-open trial slot stays taken.
        """
        now = self._clock()
        if self._state is _CLOSED:  # read after the clock: a later change has since >= now
            return now
        return self._acquire_slow()

    def _acquire_slow(self) -> float:
        events: list[BreakerEvent] = []
        with self._lock:
            now = self._half_open_if_due(events)
            state = self._state
            if state is _CLOSED:
                refused = None
            elif state is _HALF_OPEN and self._trials_started < self._half_open_calls:
                self._trials_started += 1
                self._trials_running += 1
                refused = None
            else:
                self._not_permitted += 1
                refused = max(0.0, self._open_until - now) if state is _OPEN else 0.0
        if refused is not None and self._listeners:
            events.append(BreakerEvent("not_permitted", self._name, now))
        if events:
            self._emit(events)
        if refused is not None:
            raise CircuitOpenError(self._name, refused)
        return now

    def on_success(self, started: float, result: Any = None) -> None:
        """The call that :meth:`acquire` returned ``started`` for returned ``result``."""
        failed = False
        predicate = self._failure_result
        if predicate is not None:
            try:
                failed = bool(predicate(result))
            except Exception:
                log.exception("failure_result of circuit breaker %r raised", self._name)
                failed = True
        self._record(started, failed, None)

    def on_error(self, started: float, exc: BaseException) -> None:
        """The call that :meth:`acquire` returned ``started`` for raised ``exc``."""
        ignored = failed = False
        try:
            if self._is_ignored(exc):
                ignored = True
            elif self._is_recorded(exc):
                failed = True
            else:
                ignored = not isinstance(exc, Exception)
        except Exception:
            log.exception("record/ignore of circuit breaker %r raised", self._name)
            ignored, failed = False, True
        if ignored:
            self.release(started, exc)
        else:
            self._record(started, failed, exc)

    def release(self, started: float, exc: BaseException | None = None) -> None:
        """The call was not made or is not to be counted: give its permission back."""
        with self._lock:
            now = self._clock()
            if self._state is _HALF_OPEN and started >= self._since and self._trials_running:
                self._trials_running -= 1
                self._trials_started -= 1
        if self._listeners:
            self._emit(
                [BreakerEvent("ignored", self._name, now, duration=now - started, error=exc)]
            )

    def _record(self, started: float, failed: bool, exc: BaseException | None) -> None:
        events: list[BreakerEvent] = []
        lock = self._lock
        lock.acquire()  # not ``with``: this is the hot path, and acquire/finally is 2x cheaper
        try:
            now = self._clock()
            slow = now - started > self._slow_after
            if failed:
                self._failed += 1
            else:
                self._successful += 1
            if started >= self._since:
                window = self._window
                state = self._state
                if state is _CLOSED:
                    window.record(now, failed, slow)
                    if (
                        (window.failures or window.slow)
                        and window.calls >= window.minimum
                        and self._exceeded(window)
                    ):
                        self._open(now, events)
                elif state is _OPEN:
                    window.record(now, failed, slow)
                elif self._trials_running:  # else a stale outcome: no trial is waiting for it
                    window.record(now, failed, slow)
                    self._trial_done(now, events)
        finally:
            lock.release()
        if self._listeners:
            duration = now - started
            kind: EventKind = "failure" if failed else "success"
            outcome = [BreakerEvent(kind, self._name, now, duration=duration, error=exc)]
            if slow:
                outcome.append(BreakerEvent("slow", self._name, now, duration=duration, error=exc))
            events[:0] = outcome
        if events:
            self._emit(events)

    def _trial_done(self, now: float, events: list[BreakerEvent]) -> None:
        """Under the lock, a trial's outcome just recorded: judge once every trial is done."""
        self._trials_running -= 1
        window = self._window
        if window.calls >= self._half_open_calls:
            if self._exceeded(window):
                self._open(now, events)
            else:
                self._transition(_CLOSED, now, events)

    # -- state -----------------------------------------------------------------------------

    def _exceeded(self, window: Window) -> bool:
        calls = window.calls
        return (
            window.failures / calls >= self._failure_rate or window.slow / calls >= self._slow_rate
        )

    def _transition(self, to: State, now: float, events: list[BreakerEvent]) -> None:
        """Under the lock."""
        was = self._state
        self._state = to
        self._since = now
        if to is _CLOSED:
            self._closed.clear()
            self._window = self._closed
            self._next_open_for = self._open_for
            self._opened_at = None
        elif to is _HALF_OPEN:
            self._trials.clear()
            self._window = self._trials
            self._trials_started = self._trials_running = 0
        if was is not to:
            events.append(BreakerEvent("state_transition", self._name, now, was, to))

    def _open(self, now: float, events: list[BreakerEvent], hold: float | None = None) -> None:
        """Under the lock: open for ``hold`` s, or the next (growing) open time."""
        if hold is None:
            hold = self._next_open_for
            self._next_open_for = min(hold * self._backoff, self._max_open_for)
        self._open_until = now + hold
        if self._state is not _OPEN:
            self._open_count += 1
            self._opened_at = now
        self._transition(_OPEN, now, events)

    def _emit(self, events: list[BreakerEvent]) -> None:
        for event in events:
            if event.from_state is not None and event.to_state is not None:
                level = logging.WARNING if event.to_state is _OPEN else logging.INFO
                log.log(
                    level,
                    "circuit breaker %r: %s -> %s",
                    self._name,
                    event.from_state.value,
                    event.to_state.value,
                )
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception(
                        "listener %r of circuit breaker %r raised on %s event",
                        listener,
                        self._name,
                        event.kind,
                    )

    def _half_open_if_due(self, events: list[BreakerEvent]) -> float:
        """Under the lock: the clock, after moving OPEN -> HALF_OPEN when ``open_for`` passed."""
        now = self._clock()
        if self._state is _OPEN and now >= self._open_until:
            self._transition(_HALF_OPEN, now, events)
        return now

    @property
    def state(self) -> State:
        """The state now (reading it moves OPEN to HALF_OPEN once ``open_for`` has passed)."""
        state = self._state
        if state is _OPEN and self._clock() >= self._open_until:
            events: list[BreakerEvent] = []
            with self._lock:
                self._half_open_if_due(events)
                state = self._state
            self._emit(events)
        return state

    def statistics(self) -> BreakerStats:
        events: list[BreakerEvent] = []
        with self._lock:
            now = self._half_open_if_due(events)
            window = self._window
            window.refresh(now)
            calls = window.calls
            judged = calls >= window.minimum  # minimum is at least 1
            state = self._state
            stats = BreakerStats(
                name=self._name,
                state=state,
                failure_rate=window.failures / calls if judged else None,
                slow_call_rate=window.slow / calls if judged else None,
                calls=calls,
                failures=window.failures,
                slow_calls=window.slow,
                not_permitted=self._not_permitted,
                successful=self._successful,
                failed=self._failed,
                opened_at=self._opened_at,
                retry_after=max(0.0, self._open_until - now) if state is _OPEN else 0.0,
                open_count=self._open_count,
            )
        if events:
            self._emit(events)
        return stats

    def reset(self) -> None:
        """Back to CLOSED with an empty window and the first ``open_for``; totals are kept."""
        events: list[BreakerEvent] = []
        with self._lock:
            self._transition(_CLOSED, self._clock(), events)
        if events:
            self._emit(events)

    def force_open(self, open_for: float | timedelta | None = None) -> None:
        """Open now, for ``open_for`` seconds, or until :meth:`reset` when None."""
        hold = seconds("open_for", open_for, allow_none=True)
        events: list[BreakerEvent] = []
        with self._lock:
            self._open(self._clock(), events, hold)
        if events:
            self._emit(events)

    def add_listener(self, listener: BreakerListener) -> None:
        """Call ``listener(event)`` for every :class:`BreakerEvent` (outside the lock)."""
        if not callable(listener):
            raise UsageError(
                f"a listener must be a function taking a BreakerEvent, got {listener!r}"
            )
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: BreakerListener) -> None:
        with self._lock:
            self._listeners = tuple(x for x in self._listeners if x != listener)
