"""Resilience for a service's outgoing calls: breaker, retry, deadline, bulkhead, fallback.

Sync and async, typed, and light (no slokit engine, CLI or dashboard; prometheus-client,
Redis and httpx only when used)::

    from slokit.resilience import CircuitBreaker, StaleCache, fallback, retry

    prices = CircuitBreaker("prices", failure_rate=0.5, slow_call_duration=0.5, open_for=30)
    cache = StaleCache(ttl=5, max_stale=600)

    @fallback(lambda sku: {"sku": sku, "price": None, "degraded": True})
    @cache
    @prices
    @retry(attempts=3, on=httpx.TransportError)
    async def price(sku: str) -> dict: ...

Every primitive reads time through an injectable clock; :func:`set_testing` switches real
sleeping off in your own test suite. Errors of the wrapped calls are never wrapped; a guard
that refuses raises a :class:`~slokit.errors.ResilienceError`; those errors are re-exported here
(the same classes as in :mod:`slokit.errors`), so ``except CircuitOpenError`` needs one import.
"""

from __future__ import annotations

import typing
from typing import Any

from slokit.errors import (
    BulkheadFullError,
    CircuitOpenError,
    DeadlineExceeded,
    ResilienceError,
)
from slokit.resilience._breaker import (
    BreakerEvent,
    BreakerRegistry,
    BreakerStats,
    CircuitBreaker,
    State,
    breakers,
    default_registry,
)
from slokit.resilience._bulkhead import Bulkhead, BulkheadStats
from slokit.resilience._clock import set_testing
from slokit.resilience._deadline import (
    DEADLINE_HEADER,
    current_deadline,
    deadline,
    deadline_from_headers,
    deadline_headers,
    enter_deadline,
    exit_deadline,
    timeout,
)
from slokit.resilience._fallback import StaleCache, fallback, served_stale
from slokit.resilience._metrics import install_metrics
from slokit.resilience._observed import CacheStats, cache_stats, dependency_stats
from slokit.resilience._propagation import add_header_source, outgoing_headers
from slokit.resilience._retry import RetryBudget, is_idempotent, parse_retry_after, retry
from slokit.resilience._shared import SharedBreakers

if typing.TYPE_CHECKING:
    from slokit.resilience._httpx import AsyncResilientTransport, ResilientTransport

__all__ = [
    "AsyncResilientTransport",
    "BreakerEvent",
    "BreakerRegistry",
    "BreakerStats",
    "Bulkhead",
    "BulkheadFullError",
    "BulkheadStats",
    "CacheStats",
    "CircuitBreaker",
    "CircuitOpenError",
    "DEADLINE_HEADER",
    "DeadlineExceeded",
    "ResilienceError",
    "ResilientTransport",
    "RetryBudget",
    "SharedBreakers",
    "StaleCache",
    "State",
    "add_header_source",
    "breakers",
    "cache_stats",
    "current_deadline",
    "deadline",
    "deadline_from_headers",
    "deadline_headers",
    "default_registry",
    "dependency_stats",
    "enter_deadline",
    "exit_deadline",
    "fallback",
    "install_metrics",
    "is_idempotent",
    "outgoing_headers",
    "parse_retry_after",
    "retry",
    "served_stale",
    "set_testing",
    "timeout",
]


def __getattr__(name: str) -> Any:
    # httpx is an optional extra: the transports are imported when first asked for.
    if name in ("ResilientTransport", "AsyncResilientTransport"):
        try:
            from slokit.resilience import _httpx
        except ImportError as exc:
            raise ImportError(f"{name} needs httpx: pip install 'slokit[httpx]' ({exc})") from None
        value = getattr(_httpx, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'slokit.resilience' has no attribute {name!r}")
