"""Deadlines: how long the current request may still take, carried across awaits and hops.

The deadline of the current context lives in a :mod:`contextvars` variable as an absolute
``time.monotonic()`` value, so it follows the request through ``await``, tasks created
from it, and ``contextvars.copy_context().run`` in threads. Nested scopes can only tighten
it: the earlier deadline always wins, and leaving a scope restores the outer one.

Between services it travels in one header, :data:`DEADLINE_HEADER`, as the *absolute*
deadline in Unix epoch seconds with millisecond precision (``"1732345678.123"``). An
absolute time needs no arithmetic at each hop beyond a synchronised wall clock, and time
spent in queues and on the wire is counted without anyone measuring it. This is the only
format: the wall clock is read only at that boundary (:func:`deadline_headers`,
:func:`deadline_from_headers`). Incoming values are parsed tolerantly but strictly: plain
decimal digits only, and a deadline more than a day away from now (either way) is taken as
garbage or a broken clock and ignored.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from contextvars import ContextVar, Token
from datetime import timedelta
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from slokit.errors import DeadlineExceeded, UsageError
from slokit.resilience._clock import seconds as _seconds

__all__ = [
    "DEADLINE_HEADER",
    "current_deadline",
    "deadline",
    "deadline_from_headers",
    "deadline_headers",
    "enter_deadline",
    "exit_deadline",
    "remaining_or",
    "timeout",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

DEADLINE_HEADER = "x-request-deadline"
"""Request header holding the absolute deadline as Unix epoch seconds, e.g. ``1732345678.123``."""

_MAX_HEADER_SKEW = 86_400.0
"""An incoming deadline further than this (seconds) from now, either way, is ignored."""

_DEADLINE: ContextVar[float | None] = ContextVar("slokit_deadline", default=None)
"""Absolute ``time.monotonic()`` deadline of the current context; None: no deadline."""

_HEADER_VALUE = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")


def current_deadline() -> float | None:
    """Seconds left before the current context's deadline (may be <= 0); None: no deadline."""
    at = _DEADLINE.get()
    return None if at is None else at - time.monotonic()


def remaining_or(default: float) -> float:
    """A timeout for an outgoing call: ``default``, or less if the deadline is nearer.

    Never negative: with the deadline already passed it returns 0.0.
    """
    left = current_deadline()
    value = default if left is None else min(default, left)
    return max(0.0, value)


def _tighten(now: float, limit: float) -> tuple[float | None, bool]:
    """The deadline for a new scope allowing ``limit`` seconds, and whether it is its own
    (True) or the enclosing one, which is tighter (False)."""
    current = _DEADLINE.get()
    mine = now + limit
    if current is not None and current < mine:
        return current, False
    if math.isinf(mine):
        return current, True
    return mine, True


class _DeadlineScope:
    """What :func:`deadline` returns: a sync and an async context manager."""

    __slots__ = ("_limit", "_own", "_timeout", "_token")

    def __init__(self, limit: float) -> None:
        self._limit = limit
        self._own = True
        self._token: Token[float | None] | None = None
        self._timeout: asyncio.Timeout | None = None

    def _enter(self) -> float | None:
        if self._token is not None:
            raise UsageError(
                "this deadline() block is already in use: call deadline() again for each block"
            )
        now = time.monotonic()
        at, self._own = _tighten(now, self._limit)
        self._token = _DEADLINE.set(at)
        return None if at is None else at - now

    def _exit(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            _DEADLINE.reset(token)

    def __enter__(self) -> None:
        self._enter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit()

    async def __aenter__(self) -> None:
        left = self._enter()
        self._timeout = asyncio.timeout(None if left is None else max(left, 0.0))
        try:
            await self._timeout.__aenter__()
        except BaseException:
            self._timeout = None
            self._exit()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        scope, self._timeout = self._timeout, None
        try:
            if scope is not None:
                try:
                    await scope.__aexit__(exc_type, exc, tb)
                except TimeoutError as error:
                    if scope.expired():
                        raise DeadlineExceeded(self._message()) from error
                    raise
        finally:
            self._exit()

    def _message(self) -> str:
        if self._own:
            return f"deadline of {self._limit:g} s exceeded"
        return (
            f"deadline exceeded: the enclosing deadline, tighter than this block's "
            f"{self._limit:g} s, ran out"
        )


def deadline(seconds: float | timedelta) -> _DeadlineScope:
    """Scope a deadline ``seconds`` from now over a block; an enclosing tighter one wins.

    ``async with deadline(2.0):`` also enforces it: when the deadline passes, the block is
    cancelled at its next ``await`` and :class:`DeadlineExceeded` is raised.

    ``with deadline(2.0):`` only *sets* the deadline for the block (what
    :func:`current_deadline`, :func:`remaining_or`, :func:`deadline_headers` and
    :func:`timeout` see): synchronous code cannot be interrupted, so nothing is raised.
    """
    return _DeadlineScope(_seconds("deadline", seconds))


def timeout(
    seconds: float | timedelta,
) -> Callable[[Callable[_P, Awaitable[_R]]], Callable[_P, Coroutine[Any, Any, _R]]]:
    """Decorate an async function: each call may take ``seconds``, and no more than the
    current deadline leaves. Over time it is cancelled and :class:`DeadlineExceeded` (a
    :class:`TimeoutError`) is raised, naming the function and the limit that ran out.

    Inside the call the deadline is the tighter of both, so calls it makes downstream
    (and their :func:`deadline_headers`) see it.
    """
    limit = _seconds("timeout", seconds)

    def decorate(fn: Callable[_P, Awaitable[_R]]) -> Callable[_P, Coroutine[Any, Any, _R]]:
        if not inspect.iscoroutinefunction(fn):
            raise UsageError(
                f"timeout() decorates async functions; {fn!r} is not one. Synchronous code "
                "cannot be interrupted: read remaining_or() and pass it as its timeout"
            )
        name = getattr(fn, "__qualname__", repr(fn))

        @functools.wraps(fn)
        async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            now = time.monotonic()
            at, own = _tighten(now, limit)
            left = None if at is None else max(at - now, 0.0)
            scope = asyncio.timeout(left)
            token = _DEADLINE.set(at)
            try:
                async with scope:
                    return await fn(*args, **kwargs)
            except TimeoutError as error:
                if not scope.expired():
                    raise
                if own:
                    message = f"{name} timed out after {limit:g} s"
                else:
                    message = (
                        f"{name} ran out of the request's deadline: {left:.3g} s were left "
                        f"when it was called, less than its {limit:g} s timeout"
                    )
                raise DeadlineExceeded(message) from error
            finally:
                _DEADLINE.reset(token)

        return wrapper

    return decorate


def deadline_headers() -> dict[str, str]:
    """``{DEADLINE_HEADER: "<epoch seconds>"}`` to send with an outgoing request, or ``{}``
    when the current context has no deadline."""
    left = current_deadline()
    if left is None:
        return {}
    return {DEADLINE_HEADER: f"{time.time() + left:.3f}"}


def deadline_from_headers(
    headers: Iterable[tuple[bytes, bytes]] | Mapping[str, str],
) -> float | None:
    """Seconds left before the deadline an incoming request carries (<= 0 when it has
    passed already), or None when the header is absent or not a believable deadline.

    ``headers`` is an ASGI header list (``scope["headers"]``) or any mapping of names to
    values; names are matched case-insensitively and the first occurrence is used.
    """
    pairs: Iterable[tuple[str | bytes, str | bytes]]
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        text = name.decode("latin-1") if isinstance(name, bytes) else name
        if text.lower() == DEADLINE_HEADER:
            return _parse_header(value)
    return None


def _parse_header(value: str | bytes) -> float | None:
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    text = value.strip()
    if not _HEADER_VALUE.fullmatch(text):
        return None  # signs, exponents, inf/nan, underscores, words: all garbage
    left = float(text) - time.time()
    if abs(left) > _MAX_HEADER_SKEW:
        return None
    return left


def enter_deadline(remaining: float) -> Token[float | None]:
    """Set the deadline of the current context to ``remaining`` seconds from now (unless
    a tighter one is set already); undo with :func:`exit_deadline`. For servers that read
    the deadline of an incoming request (``deadline_from_headers``)."""
    if isinstance(remaining, bool) or not isinstance(remaining, int | float):
        raise UsageError(f"remaining must be seconds (a number), got {remaining!r}")
    if math.isnan(remaining):
        raise UsageError("remaining must be seconds, got NaN")
    at, _ = _tighten(time.monotonic(), float(remaining))
    return _DEADLINE.set(at)


def exit_deadline(token: Token[float | None]) -> None:
    """Restore the deadline that was in force before :func:`enter_deadline` returned ``token``."""
    _DEADLINE.reset(token)
