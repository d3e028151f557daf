"""Retries with full-jitter back-off, a retry budget, Retry-After and idempotency awareness.

``retry`` is a decorator (and ``call``/``acall`` for one-off calls) for sync and async
functions. Its rules:

- ``attempts`` counts every try, the first included. Only ``Exception`` subclasses are ever
  retried: cancellation, ``KeyboardInterrupt`` and ``SystemExit`` always propagate at once.
- When the retries end (attempts used up, the budget refuses, or the overall ``timeout``
  would be crossed) the ORIGINAL last exception is raised unchanged (same object, same
  ``__cause__``/``__context__``), or the last result is returned when it was retried for
  its value (``on_result``/``on_status``). Nothing is ever wrapped.
- Back-off is AWS "full jitter": before retry ``n`` (0-based) it waits
  ``uniform(0, min(maximum, initial * multiplier**n))``.
- A ``Retry-After`` header on the result (``result.headers``) or on the error
  (``exc.response.headers`` or ``exc.headers``) replaces the back-off, capped at
  ``max_retry_after``.
- ``timeout`` is a deadline for the whole call measured from the first attempt: a retry
  whose back-off would end at or after it is not made, the last outcome is returned at once.
  A running attempt is never interrupted (give the call itself a timeout for that).
- ``RetryBudget`` caps retries at a ratio of recent requests, so that a fleet of clients
  cannot multiply the load on a struggling service.
- In test mode (``slokit.resilience._clock.set_testing(True)``) nothing sleeps; the rest
  behaves identically.
"""

from __future__ import annotations

import functools
import inspect
import math
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Literal, ParamSpec, TypeVar, cast

from slokit.errors import ResilienceError, UsageError
from slokit.resilience._clock import Clock, asleep, seconds, sleep

__all__ = [
    "RetryBudget",
    "RetryBudgetStatistics",
    "RetryEvent",
    "backoff_delays",
    "is_idempotent",
    "parse_retry_after",
    "retry",
]

P = ParamSpec("P")
T = TypeVar("T")

_EPSILON = 1e-9
"""Slack when comparing a retry count with a float allowance (0.1 * 30 is 3.0000000000000004)."""

_default_rng = random.Random()


# --------------------------------------------------------------------------- retry budget


@dataclass(frozen=True, slots=True)
class RetryBudgetStatistics:
    """What a :class:`RetryBudget` saw in its current window."""

    requests: int
    """First attempts recorded in the window."""
    retries: int
    """Retries the budget allowed in the window."""
    rejected: int
    """Retries the budget refused in the window."""
    ratio: float
    """``retries / requests`` in the window (0.0 when there were no requests)."""


class RetryBudget:
    """Envoy-style retry budget shared by every ``retry`` that is given it.

    A retry is allowed while, counting it, the retries in the window stay within
    ``max(ratio * requests, min_retries_per_second * window)``: at most ``ratio`` of the
    requests seen recently, but ``min_retries_per_second`` always (so a quiet service can
    still retry). ``record_request`` is called for every first attempt, ``try_spend`` before
    every retry.

    Counting is exact over per-second buckets: the window is ``ceil(window)`` whole seconds,
    the current (partial) second ``floor(clock())`` and the ones before it. Thread-safe.
    """

    __slots__ = (
        "_clock",
        "_floor",
        "_index",
        "_last",
        "_lock",
        "_ratio",
        "_rejected",
        "_rejected_total",
        "_requests",
        "_requests_total",
        "_retries",
        "_retries_total",
        "_span",
        "_start",
    )

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        min_retries_per_second: float = 3.0,
        window: float | timedelta = 10.0,
        clock: Clock = time.monotonic,
    ) -> None:
        ratio = _number("ratio", ratio)
        per_second = _number("min_retries_per_second", min_retries_per_second)
        window_s = seconds("window", window)
        if window_s <= 0 or math.isinf(window_s):
            raise UsageError(f"window must be a finite number of seconds above 0, got {window!r}")
        self._ratio = ratio
        self._span = max(1, math.ceil(window_s))
        self._floor = per_second * self._span
        self._clock = clock
        self._lock = threading.Lock()
        self._requests = [0] * self._span
        self._retries = [0] * self._span
        self._rejected = [0] * self._span
        self._requests_total = 0
        self._retries_total = 0
        self._rejected_total = 0
        self._last: int | None = None
        self._start = math.inf  # the current second [start, start + 1) and its bucket
        self._index = 0

    def _advance(self) -> int:
        """Bucket index for now, after dropping the seconds that left the window. Hold the lock."""
        now = self._clock()
        if self._start <= now < self._start + 1.0:  # still the current second: nothing to drop
            return self._index
        second = math.floor(now)
        last = self._last
        span = self._span
        if last is not None and second <= last:
            return self._index  # a clock that stepped back counts in the newest bucket
        if last is None or second - last >= span:
            for buckets in (self._requests, self._retries, self._rejected):
                buckets[:] = [0] * span
            self._requests_total = self._retries_total = self._rejected_total = 0
        else:
            for passed in range(last + 1, second + 1):
                i = passed % span
                self._requests_total -= self._requests[i]
                self._retries_total -= self._retries[i]
                self._rejected_total -= self._rejected[i]
                self._requests[i] = self._retries[i] = self._rejected[i] = 0
        self._last = second
        self._start = float(second)
        self._index = second % span
        return self._index

    def record_request(self) -> None:
        """Count one first attempt."""
        with self._lock:
            i = self._advance()
            self._requests[i] += 1
            self._requests_total += 1

    def try_spend(self) -> bool:
        """A retry wants to happen: count it and return True if the budget allows it."""
        with self._lock:
            i = self._advance()
            allowance = max(self._ratio * self._requests_total, self._floor)
            if self._retries_total + 1 <= allowance + _EPSILON:
                self._retries[i] += 1
                self._retries_total += 1
                return True
            self._rejected[i] += 1
            self._rejected_total += 1
            return False

    def statistics(self) -> RetryBudgetStatistics:
        with self._lock:
            self._advance()
            requests, retries = self._requests_total, self._retries_total
            return RetryBudgetStatistics(
                requests=requests,
                retries=retries,
                rejected=self._rejected_total,
                ratio=retries / requests if requests else 0.0,
            )

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self._ratio!r}, min_retries_per_second="
            f"{self._floor / self._span!r}, window={self._span!r})"
        )


# --------------------------------------------------------------------------- Retry-After

_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_retry_after(value: str | bytes | None, *, now: float | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value.

    Accepts delta-seconds (``"120"``; a decimal fraction is tolerated) and HTTP-dates in the
    IMF-fixdate, obsolete RFC 850 and asctime forms (a date without a zone is UTC). Returns
    None for a missing or unreadable value, and never a negative number: a date in the
    past gives 0.0. ``now`` is the wall-clock time (``time.time()``) to measure dates from.
    """
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("latin-1")
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        stamp = when.timestamp()
    except (ValueError, OverflowError):  # pragma: no cover - dates beyond the platform's range
        return None
    return max(0.0, stamp - (time.time() if now is None else now))


def _header(headers: object, name: str) -> str | bytes | None:
    """``headers[name]`` for any header mapping, case-insensitively; None when absent."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    try:
        value = get(name.lower())
        if value is None:
            value = get(name)
        if value is None and hasattr(headers, "items"):
            wanted = name.lower()
            for key, item in cast("Mapping[object, object]", headers).items():
                if isinstance(key, str | bytes) and _lower(key) == wanted:
                    value = item
                    break
    except (AttributeError, TypeError, KeyError, ValueError):
        return None
    return value if isinstance(value, str | bytes) else None


def _lower(key: str | bytes) -> str:
    return (key.decode("latin-1") if isinstance(key, bytes) else key).lower()


def _retry_after_of(outcome: object) -> float | None:
    """Retry-After on a result (``.headers``) or error (``.response.headers`` or ``.headers``)."""
    for owner in (getattr(outcome, "response", None), outcome):
        if owner is None:
            continue
        headers = getattr(owner, "headers", None)
        if headers is not None:
            seconds_ = parse_retry_after(_header(headers, "Retry-After"))
            if seconds_ is not None:
                return seconds_
    return None


# --------------------------------------------------------------------------- back-off


def backoff_delays(
    attempts: int,
    *,
    initial: float,
    maximum: float,
    multiplier: float = 2.0,
    jitter: Literal["full", "none"] = "full",
    rng: random.Random | None = None,
) -> Iterator[float]:
    """The waits between ``attempts`` tries: ``attempts - 1`` delays.

    Delay ``n`` (0-based) is ``uniform(0, min(maximum, initial * multiplier**n))`` with full
    jitter, and exactly that ceiling with ``jitter="none"``.
    """
    _check_attempts(attempts)
    initial, maximum, multiplier = _backoff_options(initial, maximum, multiplier)
    _check_jitter(jitter)
    return _delays(attempts - 1, initial, maximum, multiplier, jitter, rng or _default_rng)


def _delays(
    count: int,
    initial: float,
    maximum: float,
    multiplier: float,
    jitter: str,
    rng: random.Random,
) -> Iterator[float]:
    capped = False
    for n in range(count):
        if capped:
            ceiling = maximum
        else:
            try:
                ceiling = initial * multiplier**n
            except OverflowError:
                ceiling = math.inf
            if ceiling >= maximum:
                ceiling, capped = maximum, True
        yield rng.uniform(0.0, ceiling) if jitter == "full" else ceiling


def _check_attempts(attempts: int) -> None:
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise UsageError(
            f"attempts must be a whole number of tries, 1 or more (the first included), "
            f"got {attempts!r}"
        )


def _check_jitter(jitter: str) -> None:
    if jitter not in ("full", "none"):
        raise UsageError(f'jitter must be "full" or "none", got {jitter!r}')


def _number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise UsageError(f"{name} must be a number, 0 or more, got {value!r}")
    if math.isinf(value):
        raise UsageError(f"{name} must be finite, got {value!r}")
    return float(value)


def _backoff_options(
    initial: float | timedelta, maximum: float | timedelta, multiplier: float
) -> tuple[float, float, float]:
    initial_s = seconds("initial", initial)
    maximum_s = seconds("maximum", maximum)
    if math.isinf(initial_s) or math.isinf(maximum_s):
        raise UsageError("initial and maximum must be finite seconds")
    if _number("multiplier", multiplier) < 1:
        raise UsageError(
            f"multiplier must be 1 or more (1 keeps the delay fixed), got {multiplier!r}"
        )
    return initial_s, maximum_s, float(multiplier)


# --------------------------------------------------------------------------- idempotency

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


def is_idempotent(
    method: str,
    headers: Mapping[str, str] | None = None,
    *,
    idempotency_header: str = "Idempotency-Key",
) -> bool:
    """Whether a request may be sent twice: GET, HEAD, OPTIONS, PUT, DELETE and TRACE are
    idempotent (RFC 9110); any other method (POST, PATCH, ...) only when it carries a
    non-empty ``Idempotency-Key`` header (looked up case-insensitively)."""
    if method.upper() in _IDEMPOTENT_METHODS:
        return True
    if not headers:
        return False
    key = _header(headers, idempotency_header)
    if isinstance(key, bytes):
        key = key.decode("latin-1")
    return bool(key and key.strip())


# --------------------------------------------------------------------------- retry


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """Passed to ``on_retry`` before each back-off: attempt ``attempt`` failed, the next
    try comes after ``delay`` seconds."""

    name: str
    """The retry's ``name``, or the wrapped function's qualified name."""
    attempt: int
    """1-based number of the attempt that just failed."""
    delay: float
    """Seconds of back-off before the next attempt (Retry-After when honoured)."""
    exception: BaseException | None
    """The error the attempt raised, or None when its result was retried."""
    result: Any = None
    """The result the attempt returned when it was retried for its value."""


def _status(result: object) -> int | None:
    status = getattr(result, "status_code", None)
    if status is None:
        status = getattr(result, "status", None)
    return status if isinstance(status, int) and not isinstance(status, bool) else None


class retry:  # a decorator: lower-case like tenacity.retry and stamina.retry
    """Retry a function with back-off. Use as ``@retry(...)`` on sync or async functions, or
    ``retry(...).call(fn, *args)`` / ``await retry(...).acall(fn, *args)``.

    ``on`` is an exception type, a tuple of them, or a predicate on the exception; errors it
    does not accept propagate at once. ``on_result`` (a predicate) and ``on_status`` (status
    codes, read from ``.status_code`` or ``.status``) retry on returned values. ``on_retry``
    is called with a :class:`RetryEvent` before each back-off (for logs and metrics).

    The decorator tells async functions by ``inspect.iscoroutinefunction``; for other
    callables that return awaitables use ``acall`` (``call`` would only retry creating them).
    """

    __slots__ = (
        "_attempts",
        "_budget",
        "_checks_results",
        "_clock",
        "_initial",
        "_jitter",
        "_max_retry_after",
        "_maximum",
        "_multiplier",
        "_on_predicate",
        "_on_result",
        "_on_retry",
        "_on_status",
        "_on_types",
        "_respect_retry_after",
        "_rng",
        "_timed",
        "_timeout",
        "name",
    )

    def __init__(
        self,
        *,
        attempts: int = 3,
        on: type[Exception] | tuple[type[Exception], ...] | Callable[[Exception], bool] = Exception,
        on_result: Callable[[Any], bool] | None = None,
        on_status: Collection[int] = (),
        initial: float | timedelta = 0.1,
        maximum: float | timedelta = 10.0,
        multiplier: float = 2.0,
        jitter: Literal["full", "none"] = "full",
        timeout: float | timedelta | None = None,
        budget: RetryBudget | None = None,
        respect_retry_after: bool = True,
        max_retry_after: float | timedelta = 60.0,
        on_retry: Callable[[RetryEvent], None] | None = None,
        name: str | None = None,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        _check_attempts(attempts)
        _check_jitter(jitter)
        self._attempts = attempts
        self._initial, self._maximum, self._multiplier = _backoff_options(
            initial, maximum, multiplier
        )
        self._jitter = jitter
        self._on_types: tuple[type[Exception], ...] = ()
        self._on_predicate: Callable[[Exception], bool] | None = None
        if isinstance(on, type):
            self._on_types = _exception_types((on,))
        elif isinstance(on, tuple):
            self._on_types = _exception_types(on)
        elif callable(on):
            self._on_predicate = on
        else:
            raise UsageError(
                f"on must be an exception type, a tuple of them, or a predicate, got {on!r}"
            )
        if on_result is not None and not callable(on_result):
            raise UsageError(f"on_result must be a predicate on the result, got {on_result!r}")
        self._on_result = on_result
        statuses = frozenset(on_status)
        if any(isinstance(s, bool) or not isinstance(s, int) for s in statuses):
            raise UsageError(f"on_status must hold status codes (ints), got {on_status!r}")
        self._on_status = statuses
        self._checks_results = on_result is not None or bool(statuses)
        self._timeout = seconds("timeout", timeout, allow_none=True)
        self._timed = not math.isinf(self._timeout)
        if budget is not None and not isinstance(budget, RetryBudget):
            raise UsageError(f"budget must be a RetryBudget, got {budget!r}")
        self._budget = budget
        self._respect_retry_after = bool(respect_retry_after)
        self._max_retry_after = seconds("max_retry_after", max_retry_after)
        self._on_retry = on_retry
        self.name = name
        self._clock = clock
        self._rng = rng or _default_rng

    def __repr__(self) -> str:
        name = f"name={self.name!r}, " if self.name else ""
        return f"retry({name}attempts={self._attempts}, initial={self._initial:g}, " + (
            f"maximum={self._maximum:g}, timeout={self._timeout:g})"
        )

    # -- decorating

    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        if inspect.iscoroutinefunction(fn):
            acall = self.acall
            afn = cast("Callable[P, Awaitable[Any]]", fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await acall(afn, *args, **kwargs)

            return cast("Callable[P, T]", async_wrapper)

        # The first-try path is inlined here with the options bound to locals: it is what
        # nearly every call takes, so it costs a few hundred nanoseconds (tenacity: ~13 µs).
        budget, clock, timeout, timed = self._budget, self._clock, self._timeout, self._timed
        retries_error, retries_result = self._retries_error, self._retries_result
        checks_results, retry_sync = self._checks_results, self._retry_sync

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            if budget is not None:
                budget.record_request()
            deadline = clock() + timeout if timed else math.inf
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                if not retries_error(exc):
                    raise
                error: Exception | None = exc
                result = cast(T, None)
            else:
                if not checks_results or not retries_result(result):
                    return result
                error = None
            return retry_sync(fn, args, kwargs, deadline, error, result)

        return wrapper

    # -- deciding

    def _retries_error(self, exc: Exception) -> bool:
        if self._on_predicate is not None:
            return bool(self._on_predicate(exc))
        if isinstance(exc, ResilienceError) and self._on_types == (Exception,):
            # An open breaker, a full bulkhead or a passed deadline says "not now": trying
            # again at once only spends the retry budget. Name them in `on` to retry anyway.
            return False
        return isinstance(exc, self._on_types)

    def _retries_result(self, result: object) -> bool:
        if self._on_result is not None and self._on_result(result):
            return True
        return bool(self._on_status) and _status(result) in self._on_status

    def _next_delay(
        self,
        fn: object,
        attempt: int,
        delays: Iterator[float],
        deadline: float,
        error: Exception | None,
        result: object,
    ) -> float | None:
        """The back-off before attempt ``attempt + 1``, or None to stop and give up now."""
        if attempt >= self._attempts:
            return None
        delay = next(delays)
        if self._respect_retry_after:
            after = _retry_after_of(error if error is not None else result)
            if after is not None:
                delay = min(after, self._max_retry_after)
        if self._timed and self._clock() + delay >= deadline:
            return None
        if self._budget is not None and not self._budget.try_spend():
            return None
        if self._on_retry is not None:
            name = self.name or getattr(fn, "__qualname__", None) or repr(fn)
            self._on_retry(RetryEvent(name, attempt, delay, error, result))
        return delay

    def _delays(self) -> Iterator[float]:
        return _delays(
            self._attempts - 1,
            self._initial,
            self._maximum,
            self._multiplier,
            self._jitter,
            self._rng,
        )

    # -- calling

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` with retries."""
        if self._budget is not None:
            self._budget.record_request()
        deadline = self._clock() + self._timeout if self._timed else math.inf
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            if not self._retries_error(exc):
                raise
            error: Exception | None = exc
            result = cast(T, None)
        else:
            if not self._checks_results or not self._retries_result(result):
                return result
            error = None
        return self._retry_sync(fn, args, kwargs, deadline, error, result)

    def _retry_sync(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float,
        error: Exception | None,
        result: T,
    ) -> T:
        tries = _Tries(self, fn, deadline, error, result)
        for delay in tries:
            sleep(delay)
            with tries:
                tries.result = fn(*args, **kwargs)
        return tries.outcome()

    async def acall(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` with retries."""
        if self._budget is not None:
            self._budget.record_request()
        deadline = self._clock() + self._timeout if self._timed else math.inf
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            if not self._retries_error(exc):
                raise
            error: Exception | None = exc
            result = cast(T, None)
        else:
            if not self._checks_results or not self._retries_result(result):
                return result
            error = None
        return await self._retry_async(fn, args, kwargs, deadline, error, result)

    async def _retry_async(
        self,
        fn: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float,
        error: Exception | None,
        result: T,
    ) -> T:
        tries = _Tries(self, fn, deadline, error, result)
        for delay in tries:
            await asleep(delay)
            with tries:
                tries.result = await fn(*args, **kwargs)
        return tries.outcome()


class _Tries(Generic[T]):
    """The retry loop after a first attempt failed, written once for sync and async calls.

    Iterating yields the back-off before each further attempt, and ends when an attempt
    succeeds or no retry is left. The caller sleeps (``sleep`` or ``await asleep``), makes
    the attempt inside ``with tries:`` (which keeps an error it may retry, and lets any other
    propagate at once) and finally returns ``outcome()``: the last result, or the last error
    raised unchanged. Only the two lines that sleep and call differ between sync and async,
    as in stamina's ``retry_context``.
    """

    __slots__ = ("_delays", "_done", "_fn", "_owner", "attempt", "deadline", "error", "result")

    def __init__(
        self, owner: retry, fn: object, deadline: float, error: Exception | None, result: T
    ) -> None:
        self._owner, self._fn, self.deadline = owner, fn, deadline
        self.error, self.result = error, result
        self._delays = owner._delays()
        self._done = False
        self.attempt = 1

    def __iter__(self) -> Iterator[float]:
        owner = self._owner
        while not self._done:
            delay = owner._next_delay(
                self._fn, self.attempt, self._delays, self.deadline, self.error, self.result
            )
            if delay is None:
                return
            self.attempt += 1
            self.error = None
            yield delay

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> bool:
        if exc is None:
            owner = self._owner
            self._done = not owner._checks_results or not owner._retries_result(self.result)
            return False
        if isinstance(exc, Exception) and self._owner._retries_error(exc):
            self.error = exc
            return True  # kept for the next decision; raised by outcome() if it is the last
        return False

    def outcome(self) -> T:
        error = self.error
        if error is not None:
            self.error = None
            try:
                raise error  # outside any except block: its __context__ stays as it was
            finally:
                error = None
        return self.result


def _exception_types(types: tuple[object, ...]) -> tuple[type[Exception], ...]:
    for kind in types:
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            raise UsageError(
                f"on must name Exception subclasses, got {kind!r}: cancellation, "
                "KeyboardInterrupt and SystemExit are never retried"
            )
    return cast("tuple[type[Exception], ...]", types)
