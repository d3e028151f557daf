"""Prometheus metrics of the circuit breakers, the dependencies and the named caches, read at
scrape time from their statistics.

Nothing is counted per call for this: a custom collector walks the breaker registry when
Prometheus scrapes, so a breaker costs the same with or without metrics. prometheus-client is
imported only by :func:`install_metrics`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from slokit.errors import UsageError
from slokit.resilience._breaker import BreakerRegistry, State, default_registry
from slokit.resilience._observed import cache_readings, dependency_readings

if TYPE_CHECKING:  # resilience stands alone: the helper is imported with prometheus-client
    from slokit._prometheus import Family

__all__ = ["install_metrics", "shared_errors"]

_installed: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_SHARED_SOURCES: list[Callable[[], dict[str, int]]] = []


def shared_errors(source: Callable[[], dict[str, int]]) -> None:
    """Register a source of "shared state unavailable" counts per breaker (Redis sync)."""
    _SHARED_SOURCES.append(source)


_FAMILIES: tuple[Family, ...] = (
    (
        "gauge",
        "slokit_circuit_breaker_state",
        "1 for the state each circuit breaker is in, 0 for the others.",
        ("breaker", "state"),
    ),
    (
        "counter",
        "slokit_circuit_breaker_calls",
        "Calls through each circuit breaker by outcome (successful, failed, not_permitted).",
        ("breaker", "outcome"),
    ),
    (
        "counter",
        "slokit_circuit_breaker_opened",
        "Times each circuit breaker opened.",
        ("breaker",),
    ),
    (
        "counter",
        "slokit_circuit_breaker_shared_state_errors",
        "Times a breaker could not reach its shared state (Redis) and used its own.",
        ("breaker",),
    ),
)


_OBSERVED: tuple[Family, ...] = (
    (
        "histogram",
        "slokit_dependency_request_duration_seconds",
        "Duration of each attempt at a dependency's call (ResilientTransport).",
        ("dependency",),
    ),
    (
        "counter",
        "slokit_dependency_requests",
        "Attempts at each dependency by outcome (success, error, transport_error, rejected).",
        ("dependency", "outcome"),
    ),
    (
        "counter",
        "slokit_dependency_retries",
        "Retries of calls to each dependency.",
        ("dependency",),
    ),
    (
        "counter",
        "slokit_cache_requests",
        "Lookups of each named cache by result (hit, miss, stale).",
        ("cache", "result"),
    ),
    ("gauge", "slokit_cache_entries", "Entries each named cache holds.", ("cache",)),
)


def _observed() -> Iterator[Any]:
    from slokit._prometheus import families

    duration, requests, retries, lookups, entries = families(*_OBSERVED)
    for dep in dependency_readings():
        buckets = [(f"{edge:g}", n) for edge, n in zip(dep.edges, dep.buckets, strict=False)]
        buckets.append(("+Inf", dep.buckets[-1]))
        duration.add_metric([dep.name], buckets, dep.total_seconds)
        for outcome, n in dep.outcomes.items():
            requests.add_metric([dep.name, outcome], n)
        retries.add_metric([dep.name], dep.retries)
    for cache in cache_readings():
        for result, n in (("hit", cache.hits), ("miss", cache.misses), ("stale", cache.stale)):
            lookups.add_metric([cache.name, result], n)
        if cache.entries is not None:
            entries.add_metric([cache.name], cache.entries)
    yield from (duration, requests, retries, lookups, entries)


def _collector(breakers: BreakerRegistry) -> Any:
    from prometheus_client.registry import Collector

    from slokit._prometheus import families

    class BreakerCollector(Collector):
        def collect(self) -> Iterator[Any]:
            state, calls, opened, shared = families(*_FAMILIES)
            for stats in breakers.snapshot():
                for each in State:
                    state.add_metric([stats.name, each.value], 1.0 if stats.state is each else 0.0)
                calls.add_metric([stats.name, "successful"], stats.successful)
                calls.add_metric([stats.name, "failed"], stats.failed)
                calls.add_metric([stats.name, "not_permitted"], stats.not_permitted)
                opened.add_metric([stats.name], stats.open_count)
            errors: dict[str, int] = {}
            for source in _SHARED_SOURCES:
                for name, count in source().items():
                    errors[name] = errors.get(name, 0) + count
            for name, count in sorted(errors.items()):
                shared.add_metric([name], count)
            yield from (state, calls, opened, shared)
            yield from _observed()

    return BreakerCollector()


def install_metrics(registry: Any = None, breakers: BreakerRegistry = default_registry) -> None:
    """Expose every breaker of ``breakers`` in ``registry`` (default: prometheus-client's
    REGISTRY). Calling it again for the same registry does nothing."""
    try:
        from prometheus_client import REGISTRY
    except ImportError:
        raise UsageError(
            "breaker metrics need prometheus-client: pip install 'slokit[service]'"
        ) from None
    target = registry if registry is not None else REGISTRY
    with _lock:
        if _installed.get(target):
            return
        target.register(_collector(breakers))
        _installed[target] = True
