"""Prometheus metrics of the service: requests, latency, sizes, in flight, guard refusals.

Label children are cached per ``(route, method, status)`` so a request costs a dict lookup
and a few ``inc``/``observe`` calls, never a ``labels()`` call. The in-flight gauge is read at
scrape time from a plain counter when there is one process; in prometheus-client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) every worker writes its own value file and
the gauge is a live sum over workers.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    values,
)
from prometheus_client.exposition import choose_encoder

from slokit.errors import UsageError

__all__ = ["DEFAULT_BUCKETS", "SIZE_BUCKETS", "Metrics", "latency_buckets", "multiprocess_mode"]

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
SIZE_BUCKETS = (100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0)

_BUNDLES: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()


def multiprocess_mode() -> bool:
    return values.ValueClass is not values.MutexValue


def latency_buckets(
    thresholds: Iterable[float], base: Iterable[float] = DEFAULT_BUCKETS
) -> tuple[float, ...]:
    """The default buckets plus every SLO latency threshold, so each threshold is an exact
    ``le`` edge and the SLI "share under the threshold" can be computed without interpolation."""
    edges = {round(float(b), 9) for b in base}
    edges.update(round(float(t), 9) for t in thresholds)
    return tuple(sorted(e for e in edges if e > 0))


class Metrics:
    """The metric families, registered once per registry and shared by every middleware."""

    def __init__(self, registry: CollectorRegistry, buckets: tuple[float, ...]) -> None:
        self.registry = registry
        self.buckets = buckets
        self.multiprocess = multiprocess_mode()
        self.in_flight = 0
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            ["route", "method"],
            buckets=buckets,
            registry=registry,
        )
        self.request_size = Histogram(
            "http_request_size_bytes",
            "Request body size.",
            ["route", "method"],
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self.response_size = Histogram(
            "http_response_size_bytes",
            "Response body size.",
            ["route", "method"],
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self._gauge = Gauge(
            "http_requests_in_flight",
            "Requests being served right now.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        if not self.multiprocess:
            self._gauge.set_function(lambda: self.in_flight)
        self.rejected = Counter(
            "slokit_requests_rejected",
            "Requests refused by a guard, by reason (rate_limit, concurrency, body_too_large, "
            "malformed, store_unavailable).",
            ["reason"],
            registry=registry,
        )
        self.store_errors = Counter(
            "slokit_rate_limit_store_errors",
            "Rate-limit decisions the store (Redis) could not make; the request was let through "
            "(fail open) or refused (fail closed).",
            registry=registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any, Any]] = {}

    @classmethod
    def for_registry(cls, registry: CollectorRegistry, buckets: tuple[float, ...]) -> Metrics:
        """The registry's bundle, created on first use (two middlewares share it)."""
        bundle = _BUNDLES.get(registry)
        if bundle is None:
            bundle = _BUNDLES[registry] = cls(registry, buckets)
        elif set(buckets) - set(bundle.buckets):
            missing = ", ".join(f"{b:g}" for b in sorted(set(buckets) - set(bundle.buckets)))
            raise UsageError(
                f"the registry already has http_request_duration_seconds without the bucket "
                f"edges {missing}s that these SLOs need; pass registry=CollectorRegistry() to "
                "give this middleware its own metrics"
            )
        return bundle

    def started(self) -> None:
        if self.multiprocess:
            self._gauge.inc()
        else:
            self.in_flight += 1

    def finished(self) -> None:
        if self.multiprocess:
            self._gauge.dec()
        else:
            self.in_flight -= 1

    def observe(
        self, route: str, method: str, status: int, seconds: float, size_in: int, size_out: int
    ) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(route, method, str(status)),
                self.duration.labels(route, method),
                self.request_size.labels(route, method),
                self.response_size.labels(route, method),
            )
        requests, duration, request_size, response_size = children
        requests.inc()
        duration.observe(seconds)
        request_size.observe(size_in)
        response_size.observe(size_out)

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The text to answer a scrape with, and its content type."""
        encoder, content_type = choose_encoder(accept)
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return encoder(registry), content_type
        return encoder(self.registry), content_type

    def process_exited(self) -> None:
        """Multiprocess mode: drop this worker's live gauges (its in-flight count)."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
