"""The demo's flaky downstream: an in-process "pricing provider" with seeded latency and errors.

It stands in for the third-party call every real service has. Healthy, it is a little slow and
fails very rarely; during an outage (``outage=(start, end)``, seconds after its first call) it
is slow and fails often. Random draws happen before the await, so a given sequence of calls
gets the same latencies and failures on every run.
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "BROKEN",
    "HEALTHY",
    "Pricing",
    "ProviderError",
    "ProviderProfile",
    "Quote",
    "QuoteProvider",
]


class ProviderError(Exception):
    """The provider failed; the route answers 502."""


@dataclass(frozen=True)
class ProviderProfile:
    error_rate: float
    """Share of calls that fail."""
    min_latency: float
    """Seconds."""
    max_latency: float
    """Seconds."""


HEALTHY = ProviderProfile(error_rate=0.002, min_latency=0.005, max_latency=0.040)
BROKEN = ProviderProfile(error_rate=0.30, min_latency=0.300, max_latency=0.900)


@dataclass(frozen=True)
class Quote:
    sku: str
    price: float
    currency: str = "EUR"


class Pricing(Protocol):
    """What the demo needs of a provider: in-process (:class:`QuoteProvider`) or remote."""

    calls: int
    failures: int

    def healthy(self) -> bool: ...

    async def quote(self, sku: str) -> Quote: ...


Sleep = Callable[[float], Awaitable[None]]
_RECENT = 50


class QuoteProvider:
    """Prices a SKU after a random delay; fails at the profile's error rate.

    ``outage=(start, end)``: from ``start`` to ``end`` seconds after the first call, the
    ``BROKEN`` profile applies instead (``(0, inf)``: broken for good).
    """

    def __init__(
        self,
        profile: ProviderProfile,
        rng: random.Random,
        sleep: Sleep = asyncio.sleep,
        outage: tuple[float, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._healthy_profile = profile
        self.profile = profile
        self._rng = rng
        self._sleep = sleep
        self._outage = outage
        self._clock = clock
        self._first: float | None = None
        self.calls = 0
        self.failures = 0
        self._recent: deque[bool] = deque(maxlen=_RECENT)

    def healthy(self) -> bool:
        """False when more than a fifth of the last 50 calls failed (the /healthz check)."""
        recent = self._recent
        return not recent or sum(recent) <= len(recent) / 5

    def _profile_now(self) -> ProviderProfile:
        if self._outage is None:
            return self._healthy_profile
        now = self._clock()
        if self._first is None:
            self._first = now
        start, end = self._outage
        return BROKEN if start <= now - self._first < end else self._healthy_profile

    async def quote(self, sku: str) -> Quote:
        self.profile = self._profile_now()
        latency = self._rng.uniform(self.profile.min_latency, self.profile.max_latency)
        fails = self._rng.random() < self.profile.error_rate
        self.calls += 1
        await self._sleep(latency)
        self._recent.append(fails)
        if fails:
            self.failures += 1
            raise ProviderError(f"pricing provider failed for {sku!r}")
        # A stable price per SKU keeps responses comparable across runs.
        cents = 100 + zlib.crc32(sku.encode()) % 99_900
        return Quote(sku=sku, price=cents / 100)
