"""Answers for when a call fails: a fallback value, or the last good result (stale-while-error).

:func:`fallback` turns chosen exceptions into a default answer. :class:`StaleCache`
remembers the last good result per key and serves it, marked stale, when a later call
fails, so a service degrades to slightly old data instead of errors.

Neither ever swallows ``asyncio.CancelledError``, ``KeyboardInterrupt``, ``SystemExit`` or
``GeneratorExit``, whatever ``on`` says: those are how a program stops, not failures.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, ParamSpec, TypeVar, overload

from slokit.errors import UsageError
from slokit.resilience._clock import Clock, seconds
from slokit.resilience._observed import CacheReading, register_cache

__all__ = ["StaleCache", "StaleCacheStats", "fallback", "served_stale"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")

_ExceptionTypes = type[BaseException] | tuple[type[BaseException], ...]

_NEVER_CAUGHT = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)


def _exception_types(on: object) -> tuple[type[BaseException], ...]:
    types = on if isinstance(on, tuple) else (on,)
    if not types or not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
        raise UsageError(
            f"on= must be an exception class or a tuple of them (e.g. on=(ConnectError, "
            f"CircuitOpenError)), got {on!r}"
        )
    return types


def _takes_error(fn: Callable[..., object]) -> bool:
    """Whether ``fn`` has a parameter named ``error`` that can be passed by keyword."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    parameter = parameters.get("error")
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


# -- fallback ------------------------------------------------------------------------------


class _Fallback(Generic[_T]):
    """The decorator :func:`fallback` returns."""

    __slots__ = ("_is_async", "_on", "_pass_error", "_value")

    def __init__(self, value_or_fn: object, on: tuple[type[BaseException], ...]) -> None:
        self._value = value_or_fn
        self._on = on
        self._is_async = callable(value_or_fn) and inspect.iscoroutinefunction(value_or_fn)
        self._pass_error = callable(value_or_fn) and _takes_error(value_or_fn)

    def _answer(self, args: tuple[Any, ...], kwargs: dict[str, Any], error: BaseException) -> Any:
        value = self._value
        if not callable(value):
            return value
        if self._pass_error:
            return value(*args, **kwargs, error=error)
        return value(*args, **kwargs)

    @overload
    def __call__(
        self, fn: Callable[_P, Coroutine[Any, Any, _R]]
    ) -> Callable[_P, Coroutine[Any, Any, _R | _T]]: ...

    @overload
    def __call__(self, fn: Callable[_P, _R]) -> Callable[_P, _R | _T]: ...

    def __call__(self, fn: Callable[_P, Any]) -> Callable[_P, Any]:
        on = self._on
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                try:
                    return await fn(*args, **kwargs)
                except on as error:
                    if isinstance(error, _NEVER_CAUGHT):
                        raise
                    answer = self._answer(args, kwargs, error)
                    if inspect.isawaitable(answer):
                        answer = await answer
                    return answer

            return async_wrapper

        if self._is_async:
            raise UsageError(
                f"fallback for {getattr(fn, '__qualname__', fn)!r} is an async function, but "
                "the function it guards is synchronous: give a plain function or a value"
            )

        @functools.wraps(fn)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
            try:
                return fn(*args, **kwargs)
            except on as error:
                if isinstance(error, _NEVER_CAUGHT):
                    raise
                return self._answer(args, kwargs, error)

        return wrapper


@overload
def fallback(
    value_or_fn: Callable[..., Awaitable[_T]], *, on: _ExceptionTypes = Exception
) -> _Fallback[_T]: ...


@overload
def fallback(
    value_or_fn: Callable[..., _T], *, on: _ExceptionTypes = Exception
) -> _Fallback[_T]: ...


@overload
def fallback(value_or_fn: _T, *, on: _ExceptionTypes = Exception) -> _Fallback[_T]: ...


def fallback(value_or_fn: object, *, on: _ExceptionTypes = Exception) -> _Fallback[Any]:
    """Decorate a function (sync or async): when it raises one of ``on`` (default: any
    :class:`Exception`, which includes ``CircuitOpenError``, ``BulkheadFullError`` and
    ``DeadlineExceeded``), answer with a fallback instead.

    ``value_or_fn`` is either the value to return, or a callable called with the same
    arguments as the guarded function, plus ``error=<the exception>`` when it has a
    parameter named ``error`` (checked once, here). Async functions may have an async
    fallback; synchronous ones may not. To return a callable *as the value*, wrap it:
    ``fallback(lambda *a, **k: handler)``.

    Other exceptions propagate untouched.
    """
    return _Fallback(value_or_fn, _exception_types(on))


# -- stale-while-error ---------------------------------------------------------------------

_SERVED_STALE: ContextVar[bool] = ContextVar("slokit_served_stale", default=False)


def served_stale() -> bool:
    """Whether the most recent :class:`StaleCache` call in this context (thread or task)
    answered with a stale result because the real call failed.

    For a service to tell its client, e.g. with a ``Warning: 110 - "Response is Stale"``
    or ``X-Cache: stale`` header. Async calls awaited directly count; calls run in another
    task (``create_task``, ``gather``) set it in that task's context, not the caller's.
    """
    return _SERVED_STALE.get()


@dataclass(frozen=True, slots=True)
class StaleCacheStats:
    """One consistent reading of a :class:`StaleCache`."""

    hits: int
    """Calls answered from a fresh entry, without calling the function."""
    misses: int
    """Calls that called the function (no entry, or one older than ``ttl``)."""
    stale_served: int
    """Failed calls answered with an entry younger than ``max_stale``."""
    errors: int
    """Calls whose function raised one of ``on`` (served stale or not)."""
    entries: int
    """Keys remembered now."""


class StaleCache:
    """Stale-while-error: remember the last good result per key.

    A result younger than ``ttl`` is *fresh*: it is returned without calling the function.
    Older, the function is called; if that call raises one of ``on``, a result younger than
    ``max_stale`` is served instead and :func:`served_stale` says so. With nothing that
    young, the original exception propagates. ``ttl=0`` caches nothing for speed and only
    covers failures.

    Ages are measured on ``clock`` from when a result was stored. At most ``max_entries``
    keys are kept; the least recently used is dropped first. The key of a call is
    ``key(*args, **kwargs)``, or by default the arguments themselves (which must then be
    hashable). Thread-safe; the function is never called with the lock held, so two
    concurrent misses on one key both call it.

    One instance guards one function: decorate another with another instance. With ``name``,
    its lookups show on ``/metrics`` as ``slokit_cache_requests_total{cache=NAME,result=...}``
    (hit, miss, stale) and its size as ``slokit_cache_entries``, for a hit-ratio SLO.
    """

    __slots__ = (
        "_clock",
        "_entries",
        "_errors",
        "_fn",
        "_hits",
        "_key",
        "_lock",
        "_max_entries",
        "_max_stale",
        "_misses",
        "_name",
        "_on",
        "_stale_served",
        "_token",
        "_ttl",
    )

    def __init__(
        self,
        *,
        ttl: float | timedelta,
        max_stale: float | timedelta,
        max_entries: int = 1024,
        key: Callable[..., Hashable] | None = None,
        clock: Clock = time.monotonic,
        on: _ExceptionTypes = Exception,
        name: str | None = None,
    ) -> None:
        self._ttl = seconds("ttl", ttl)
        self._max_stale = seconds("max_stale", max_stale)
        if self._max_stale < self._ttl:
            raise UsageError(
                f"max_stale ({self._max_stale:g} s) must be at least ttl ({self._ttl:g} s): "
                "a result is served stale only after it stops being fresh"
            )
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise UsageError(f"max_entries must be a whole number >= 1, got {max_entries!r}")
        if key is not None and not callable(key):
            raise UsageError(f"key must be a function of the call's arguments, got {key!r}")
        if not callable(clock):
            raise UsageError(f"clock must be a function returning seconds, got {clock!r}")
        self._max_entries = max_entries
        self._key = key
        self._clock = clock
        self._on = _exception_types(on)
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Any, float]] = OrderedDict()
        self._fn: Callable[..., Any] | None = None
        self._hits = 0
        self._misses = 0
        self._stale_served = 0
        self._errors = 0
        self._name = name
        # Named: its hits, misses and stale answers on /metrics (slokit_cache_requests_total).
        self._token = None if name is None else register_cache(name, self._reading)

    # -- direct access -------------------------------------------------------------------

    def get(self, key: Hashable) -> tuple[Any, float] | None:
        """``(value, age in seconds)`` remembered for ``key``, fresh or stale; None when
        there is none younger than ``max_stale``. A peek: no statistics, no LRU move."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            age = self._clock() - entry[1]
            if age >= self._max_stale:
                del self._entries[key]
                return None
            return entry[0], age

    def put(self, key: Hashable, value: Any) -> None:
        """Remember ``value`` for ``key`` as of now (as a successful call does)."""
        with self._lock:
            self._store_locked(key, value)

    def _reading(self) -> CacheReading:
        stats = self.statistics()
        return CacheReading(
            self._name or "", stats.hits, stats.misses, stats.stale_served, stats.entries
        )

    def statistics(self) -> StaleCacheStats:
        with self._lock:
            return StaleCacheStats(
                hits=self._hits,
                misses=self._misses,
                stale_served=self._stale_served,
                errors=self._errors,
                entries=len(self._entries),
            )

    # -- the decorator -------------------------------------------------------------------

    @overload
    def __call__(
        self, fn: Callable[_P, Coroutine[Any, Any, _R]]
    ) -> Callable[_P, Coroutine[Any, Any, _R]]: ...

    @overload
    def __call__(self, fn: Callable[_P, _R]) -> Callable[_P, _R]: ...

    def __call__(self, fn: Callable[_P, Any]) -> Callable[_P, Any]:
        with self._lock:
            if self._fn is not None and self._fn is not fn:
                raise UsageError(
                    f"this StaleCache already guards {getattr(self._fn, '__qualname__', '?')}; "
                    "make one StaleCache per function so their keys cannot collide"
                )
            self._fn = fn
        on = self._on

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                key = self._key_of(args, kwargs)
                fresh, value = self._fresh(key)
                if fresh:
                    _SERVED_STALE.set(False)
                    return value
                try:
                    value = await fn(*args, **kwargs)
                except on as error:
                    stale, value = self._stale_after(key, error)
                    if not stale:
                        raise
                    return value
                except BaseException:
                    _SERVED_STALE.set(False)
                    raise
                self._succeeded(key, value)
                return value

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
            key = self._key_of(args, kwargs)
            fresh, value = self._fresh(key)
            if fresh:
                _SERVED_STALE.set(False)
                return value
            try:
                value = fn(*args, **kwargs)
            except on as error:
                stale, value = self._stale_after(key, error)
                if not stale:
                    raise
                return value
            except BaseException:
                _SERVED_STALE.set(False)
                raise
            self._succeeded(key, value)
            return value

        return wrapper

    # -- steps of a call -----------------------------------------------------------------

    def _key_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
        if self._key is not None:
            key = self._key(*args, **kwargs)
        elif kwargs:
            key = (args, tuple(sorted(kwargs.items())))
        else:
            key = args
        try:
            hash(key)
        except TypeError as exc:
            raise UsageError(
                f"StaleCache key {key!r} is not hashable: pass key= to build one from the "
                "arguments (e.g. key=lambda user, **_: user.id)"
            ) from exc
        return key

    def _fresh(self, key: Hashable) -> tuple[bool, Any]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                age = self._clock() - entry[1]
                if age < self._ttl:
                    self._entries.move_to_end(key)
                    self._hits += 1
                    return True, entry[0]
                if age >= self._max_stale:
                    del self._entries[key]
            self._misses += 1
            return False, None

    def _succeeded(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._store_locked(key, value)
        _SERVED_STALE.set(False)

    def _stale_after(self, key: Hashable, error: BaseException) -> tuple[bool, Any]:
        """``(True, value)`` to answer the failed call for ``key`` with, or ``(False, None)``
        when the caller must re-raise ``error``."""
        stale, value = False, None
        if not isinstance(error, _NEVER_CAUGHT):
            with self._lock:
                self._errors += 1
                entry = self._entries.get(key)
                if entry is not None:
                    if self._clock() - entry[1] < self._max_stale:
                        self._entries.move_to_end(key)
                        self._stale_served += 1
                        stale, value = True, entry[0]
                    else:
                        del self._entries[key]
        _SERVED_STALE.set(stale)
        return stale, value

    def _store_locked(self, key: Hashable, value: Any) -> None:
        entries = self._entries
        entries[key] = (value, self._clock())
        entries.move_to_end(key)
        while len(entries) > self._max_entries:
            entries.popitem(last=False)
