"""How the demo calls its provider: the way a service should call any dependency.

Each call is bounded by a timeout, goes through a circuit breaker (which opens when half the
recent calls fail or are slow, and tries again after a few seconds), and a stale-while-error
cache answers with the last good price when the call fails or the breaker refuses. Only when
there is nothing to fall back on does the route answer 502.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slokit.demo._provider import Pricing, ProviderError, Quote
from slokit.errors import DeadlineExceeded, ResilienceError
from slokit.resilience import CircuitBreaker, StaleCache, timeout

__all__ = ["GuardedQuotes", "guarded_quotes"]

PROVIDER_TIMEOUT = 0.25
"""Seconds a quote may take: the healthy provider answers within 40 ms."""


@dataclass(frozen=True)
class GuardedQuotes:
    breaker: CircuitBreaker
    cache: StaleCache
    price: Callable[[str], Awaitable[Quote]]


def guarded_quotes(provider: Pricing) -> GuardedQuotes:
    breaker = CircuitBreaker(
        "pricing-provider",
        window=20,
        minimum_calls=10,
        failure_rate=0.5,
        slow_call_duration=0.2,
        slow_call_rate=0.5,
        open_for=3.0,
        half_open_calls=3,
        record=(ProviderError, DeadlineExceeded),
    )
    # ttl=0: every request asks the provider; the cache only stands in when that fails.
    cache = StaleCache(ttl=0, max_stale=600, on=(ProviderError, ResilienceError))

    @cache
    @breaker
    @timeout(PROVIDER_TIMEOUT)
    async def price(sku: str) -> Quote:
        return await provider.quote(sku)

    return GuardedQuotes(breaker, cache, price)
