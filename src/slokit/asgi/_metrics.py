"""Prometheus metrics of the service: requests, latency, sizes, in flight, guard refusals.

One process (the common case): counts live in plain Python lists and dicts, updated with a
``bisect`` and a few integer additions per request, and a custom collector turns them into
metric families when Prometheus scrapes. prometheus-client's own metric objects take a lock
and walk every bucket on each observation, which costs more than everything else this
middleware does per request.

Several processes (``PROMETHEUS_MULTIPROC_DIR`` set, as gunicorn or ``uvicorn --workers``
need): every worker writes prometheus-client's shared value files, so the same metric objects
are used in that mode, and a scrape of any worker sums them all.

The duration histogram carries ``status_class`` ("2xx", "5xx", ...) besides route and method:
a latency SLO counts a request good only if it is fast *and* not a server error, and a fast
503 must not look good to the recording rules. Series for a class exist only on routes that
answered with it, so the label adds series only where a route had 5xx (or 4xx, 3xx).
"""

from __future__ import annotations

import os
import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from slokit.errors import UsageError

__all__ = [
    "DEFAULT_BUCKETS",
    "SIZE_BUCKETS",
    "Metrics",
    "Series",
    "latency_buckets",
    "multiprocess_mode",
    "status_class",
]

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
SIZE_BUCKETS = (100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0)

_REQUESTS = ("http_requests", "HTTP requests answered, by route template, method and status.")
_DURATION = (
    "http_request_duration_seconds",
    "Time from the request's arrival to the end of its response.",
)
_REQUEST_SIZE = ("http_request_size_bytes", "Request body size.")
_RESPONSE_SIZE = ("http_response_size_bytes", "Response body size.")
_IN_FLIGHT = ("http_requests_in_flight", "Requests being served right now.")
_REJECTED = (
    "slokit_requests_rejected",
    "Requests refused by a guard, by reason (rate_limit, concurrency, body_too_large, "
    "malformed, store_unavailable, deadline).",
)
_STORE_ERRORS = (
    "slokit_rate_limit_store_errors",
    "Rate-limit decisions the store (Redis) could not make; the request was let through "
    "(fail open) or refused (fail closed).",
)

_BUNDLES: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()


def multiprocess_mode() -> bool:
    return values.ValueClass is not values.MutexValue


def latency_buckets(
    thresholds: Iterable[float], base: Iterable[float] = DEFAULT_BUCKETS
) -> tuple[float, ...]:
    """The default buckets plus every SLO latency threshold, so each threshold is an exact
    ``le`` edge and the SLI "share under the threshold" needs no interpolation."""
    edges = {round(float(b), 9) for b in base}
    edges.update(round(float(t), 9) for t in thresholds)
    return tuple(sorted(e for e in edges if e > 0))


def status_class(status: int) -> str:
    """``503`` -> ``"5xx"``: the ``status_class`` label of the duration histogram."""
    return f"{status // 100}xx"


class Series:
    """Everything counted for one ``(route, method, status class)``: three histograms and the
    statuses (all of that class)."""

    __slots__ = (
        "duration",
        "duration_sum",
        "request",
        "request_sum",
        "response",
        "response_sum",
        "status_class",
        "statuses",
    )

    def __init__(self, latency_edges: int, status_class: int = 2) -> None:
        self.status_class = status_class
        """``status // 100`` of every request counted here (5: server errors)."""
        self.duration = [0] * (latency_edges + 1)  # the last slot is +Inf
        self.duration_sum = 0.0
        self.request = [0] * (len(SIZE_BUCKETS) + 1)
        self.request_sum = 0
        self.response = [0] * (len(SIZE_BUCKETS) + 1)
        self.response_sum = 0
        self.statuses: dict[int, int] = {}

    @property
    def count(self) -> int:
        """Requests counted (from the statuses: one addition fewer per request)."""
        return sum(self.statuses.values())


def _cumulative(edges: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    out = []
    running = 0
    for edge, n in zip((*edges, float("inf")), counts, strict=True):
        running += n
        out.append((floatToGoString(edge), float(running)))  # type: ignore[no-untyped-call]
    return out


class _Collector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Any]:
        m = self._m
        # list() copies in one C call, so a scrape from another thread (start_http_server)
        # never sees the dict change size under it.
        series = list(m._series.items())
        requests = CounterMetricFamily(*_REQUESTS, labels=["route", "method", "status"])
        duration = HistogramMetricFamily(*_DURATION, labels=["route", "method", "status_class"])
        request_size = HistogramMetricFamily(*_REQUEST_SIZE, labels=["route", "method"])
        response_size = HistogramMetricFamily(*_RESPONSE_SIZE, labels=["route", "method"])
        # Sizes keep {route, method}: the classes of one route are summed at scrape time.
        sizes: dict[tuple[str, str], list[Series]] = {}
        for (route, method, cls), s in series:
            for status, n in list(s.statuses.items()):
                requests.add_metric([route, method, str(status)], n)
            duration.add_metric(
                [route, method, f"{cls}xx"], _cumulative(m.buckets, s.duration), s.duration_sum
            )
            sizes.setdefault((route, method), []).append(s)
        for (route, method), group in sizes.items():
            request = [sum(counts) for counts in zip(*(s.request for s in group), strict=True)]
            response = [sum(counts) for counts in zip(*(s.response for s in group), strict=True)]
            request_size.add_metric(
                [route, method],
                _cumulative(SIZE_BUCKETS, request),
                sum(s.request_sum for s in group),
            )
            response_size.add_metric(
                [route, method],
                _cumulative(SIZE_BUCKETS, response),
                sum(s.response_sum for s in group),
            )
        yield requests
        yield duration
        yield request_size
        yield response_size
        yield GaugeMetricFamily(*_IN_FLIGHT, value=sum(count() for count in m._in_flight))
        rejected = CounterMetricFamily(*_REJECTED, labels=["reason"])
        for reason, n in list(m._rejected.items()):
            rejected.add_metric([reason], n)
        yield rejected
        yield CounterMetricFamily(*_STORE_ERRORS, value=m._store_errors)


class _Shared:
    """prometheus-client metric objects, for multiprocess mode."""

    def __init__(self, registry: CollectorRegistry, buckets: tuple[float, ...]) -> None:
        labels = ["route", "method"]
        self.requests = Counter(*_REQUESTS, [*labels, "status"], registry=registry)
        self.duration = Histogram(
            *_DURATION, [*labels, "status_class"], buckets=buckets, registry=registry
        )
        self.request_size = Histogram(
            *_REQUEST_SIZE, labels, buckets=SIZE_BUCKETS, registry=registry
        )
        self.response_size = Histogram(
            *_RESPONSE_SIZE, labels, buckets=SIZE_BUCKETS, registry=registry
        )
        self.in_flight = Gauge(*_IN_FLIGHT, registry=registry, multiprocess_mode="livesum")
        self.rejected = Counter(*_REJECTED, ["reason"], registry=registry)
        self.store_errors = Counter(*_STORE_ERRORS, registry=registry)


class Metrics:
    """The metric families, registered once per registry and shared by every middleware."""

    def __init__(self, registry: CollectorRegistry | None, buckets: tuple[float, ...]) -> None:
        """``registry=None``: counted for live SLOs only, never exposed."""
        self.registry = registry
        self.buckets = buckets
        self.multiprocess = multiprocess_mode() and registry is not None
        self._in_flight: list[Callable[[], int]] = []
        # Keyed by (route, method, status // 100): still one dict lookup per request.
        self._series: dict[tuple[str, str, int], Series] = {}
        self._rejected: dict[str, int] = {}
        self._store_errors = 0
        self._shared: _Shared | None = None
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any, Any]] = {}
        if registry is None:
            pass
        elif self.multiprocess:
            self._shared = _Shared(registry, buckets)
        else:
            registry.register(_Collector(self))

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

    def count_in_flight(self, source: Callable[[], int]) -> None:
        """Read ``source`` at scrape time for the in-flight gauge (one process)."""
        self._in_flight.append(source)

    def started(self) -> None:
        """Multiprocess mode only: the gauge must live in the shared files."""
        if self._shared is not None:
            self._shared.in_flight.inc()

    def finished(self) -> None:
        if self._shared is not None:
            self._shared.in_flight.dec()

    def series(self) -> list[tuple[tuple[str, str], Series]]:
        """``((route, method), series)``, one entry per status class a route answered with
        (``series.status_class``): a route that had 5xx has two entries or more."""
        return [((route, method), s) for (route, method, _), s in list(self._series.items())]

    def observe(
        self, route: str, method: str, status: int, seconds: float, size_in: int, size_out: int
    ) -> None:
        record = [0.0, "", "", "", method, route, "", b"", status, seconds, size_in, size_out]
        self.observe_all([*record, None, None, None], 15)

    def observe_all(self, flat: list[Any], step: int) -> None:
        """Count a batch of finished requests: ``flat`` holds ``step`` (15) fields per
        request, in the order of :data:`slokit.asgi._sink.Record`.

        One loop with everything in local variables: this runs for every request the
        service answers, and a method call per request costs as much as the counting.
        """
        shared = self._shared
        series = self._series
        buckets = self.buckets
        edges = len(buckets)
        sizes = SIZE_BUCKETS
        # zip over one iterator cuts the flat list into records in C (see AccessLog.lines).
        for (
            _, _, _, _, method, route, _, _, status, seconds, size_in, size_out, _, _, _,
        ) in zip(*[iter(flat)] * step, strict=True):  # fmt: skip
            if shared is not None:
                self._observe_shared(route, method, status, seconds, size_in, size_out)
            cls = status // 100
            s = series.get((route, method, cls))
            if s is None:
                s = series[(route, method, cls)] = Series(edges, cls)
            s.duration[bisect_left(buckets, seconds)] += 1
            s.duration_sum += seconds
            if size_in:  # most requests have no body: bucket 0 without a search
                s.request[bisect_left(sizes, size_in)] += 1
                s.request_sum += size_in
            else:
                s.request[0] += 1
            s.response[bisect_left(sizes, size_out)] += 1
            s.response_sum += size_out
            statuses = s.statuses
            statuses[status] = statuses.get(status, 0) + 1

    def _observe_shared(
        self, route: str, method: str, status: int, seconds: float, size_in: int, size_out: int
    ) -> None:
        shared = self._shared
        assert shared is not None
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                shared.requests.labels(route, method, str(status)),
                shared.duration.labels(route, method, status_class(status)),
                shared.request_size.labels(route, method),
                shared.response_size.labels(route, method),
            )
        requests, duration, request_size, response_size = children
        requests.inc()
        duration.observe(seconds)
        request_size.observe(size_in)
        response_size.observe(size_out)

    def reject(self, reason: str) -> None:
        if self._shared is not None:
            self._shared.rejected.labels(reason).inc()
        else:
            self._rejected[reason] = self._rejected.get(reason, 0) + 1

    def store_error(self) -> None:
        if self._shared is not None:
            self._shared.store_errors.inc()
        else:
            self._store_errors += 1

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The text to answer a scrape with, and its content type."""
        encoder, content_type = choose_encoder(accept)
        assert self.registry is not None, "exposition of metrics kept for SLOs only"
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return encoder(registry), content_type
        return encoder(self.registry), content_type

    def process_exited(self) -> None:
        """Multiprocess mode: drop this worker's live gauges (its in-flight count)."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
