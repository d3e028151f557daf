"""Resilience leg: what a breaker or a retry wrapper costs per call, next to their peers.

All in one process, one run: a no-op function called bare, through slokit's CircuitBreaker
(closed state) and pybreaker's CircuitBreaker, through slokit's ``retry`` and tenacity's
``retry`` (first try succeeds, the common case). Each figure is the best of several timing
repeats of many calls, minus nothing: the ratios compare wrappers measured the same way.
"""

from __future__ import annotations

import asyncio
import timeit
from collections.abc import Callable
from dataclasses import dataclass

CALLS = 100_000
REPEATS = 7


@dataclass(frozen=True)
class Timed:
    name: str
    ns_per_call: float


def _best(fn: Callable[[], object], calls: int) -> float:
    return min(timeit.repeat(fn, number=calls, repeat=REPEATS)) / calls * 1e9


def _noop() -> None:
    return None


async def _anoop() -> None:
    return None


def resilience_leg(calls: int = CALLS) -> list[Timed]:
    import pybreaker
    import tenacity

    from slokit.resilience import CircuitBreaker, retry

    slokit_breaker = CircuitBreaker("bench", registry=None)
    py_breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)
    slokit_decorated = slokit_breaker(_noop)
    py_decorated = py_breaker(_noop)
    slokit_retry = retry(attempts=3)(_noop)
    tenacity_retry = tenacity.retry(stop=tenacity.stop_after_attempt(3))(_noop)
    rows = [
        Timed("bare call", _best(_noop, calls)),
        Timed("slokit breaker", _best(slokit_decorated, calls)),
        Timed("pybreaker", _best(py_decorated, calls)),
        Timed("slokit retry", _best(slokit_retry, calls)),
        Timed("tenacity retry", _best(tenacity_retry, calls)),
    ]
    # Async: pybreaker has no asyncio support (its call_async needs tornado), so slokit's
    # async breaker is shown next to a bare await only.
    async_breaker = slokit_breaker(_anoop)

    async def bare_awaits() -> None:
        for _ in range(calls):
            await _anoop()

    async def breaker_awaits() -> None:
        for _ in range(calls):
            await async_breaker()

    bare = min(timeit.repeat(lambda: asyncio.run(bare_awaits()), number=1, repeat=3))
    guarded = min(timeit.repeat(lambda: asyncio.run(breaker_awaits()), number=1, repeat=3))
    rows.append(Timed("bare await", bare / calls * 1e9))
    rows.append(Timed("slokit breaker (async)", guarded / calls * 1e9))
    return rows
