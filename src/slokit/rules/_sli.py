"""The SLIs in PromQL: bad and total events of each SLO over a window, event-weighted.

By default the queries read the metrics slokit's ASGI middleware exports:
``http_requests_total{route, method, status}`` for availability and
``http_request_duration_seconds_bucket{route, method, status_class, le}`` for latency, whose
bucket edges always include each SLO's threshold. A latency SLO's good events are requests
within the threshold that are not 5xx (``status_class!="5xx"``), its total every request: the
same rule as the load-test gates and the live SLOs, so a fast 503 is bad. (A histogram without
``status_class``, not slokit's, matches the ``!=`` matcher and counts as before.) An SLO with
``sli:`` brings its own PromQL instead.

Error ratios are ``sum(increase(bad[w])) / sum(increase(total[w]))``: the events of the whole
window weigh equally, rather than averaging ratios of 5-minute slices, which would let a
quiet night outvote a busy afternoon.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from slokit.errors import UsageError
from slokit.spec import SLO, Spec, format_duration

__all__ = [
    "DURATION_METRIC",
    "NOT_SERVER_ERROR",
    "REQUESTS_METRIC",
    "SLIQueries",
    "le_pattern",
    "prom_duration",
    "sli_queries",
]

REQUESTS_METRIC = "http_requests_total"
DURATION_METRIC = "http_request_duration_seconds"
NOT_SERVER_ERROR = 'status_class!="5xx"'
"""The duration histogram's matcher for the requests a latency SLO may count as good."""


def prom_duration(seconds: float) -> str:
    """A PromQL duration: ``300`` -> ``5m``, ``2592000`` -> ``30d`` (days, as SLO windows are
    written, never weeks), ``0.5`` -> ``500ms``."""
    if seconds <= 0:
        raise ValueError(f"a window must be positive, got {seconds}")
    ms = round(seconds * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


def _spellings(threshold: float) -> list[str]:
    """Ways a client library may have written ``le`` for this edge: Go's (``0.3``, ``1``),
    prometheus-client's (``0.3``, ``1.0``) and zero-padded forms (``0.30``, ``0.300``)."""
    shortest = repr(float(threshold))
    forms = {shortest, f"{threshold:g}"}
    if shortest.endswith(".0"):
        forms.add(shortest[:-2])
    whole, _, fraction = shortest.partition(".")
    for width in range(len(fraction) + 1, 4):
        forms.add(f"{whole}.{fraction.ljust(width, '0')}")
    if "e" in shortest or "e" in f"{threshold:g}":
        forms.add(f"{threshold:.10f}".rstrip("0").rstrip("."))
    return sorted(forms, key=lambda f: (len(f), f))


def le_pattern(threshold: float, buckets: Iterable[float] | None = None) -> str:
    """A regular expression matching the ``le`` label of the bucket at ``threshold``.

    ``buckets``: the edges the service's histogram really has, when known; a threshold that
    is not one of them cannot be measured exactly, which is an error.
    """
    if buckets is not None:
        edges = sorted(float(b) for b in buckets)
        if not any(abs(edge - threshold) <= 1e-9 * max(1.0, threshold) for edge in edges):
            shown = ", ".join(f"{e:g}" for e in edges)
            raise UsageError(
                f"the latency threshold {format_duration(threshold)} is not a bucket edge of "
                f"the histogram (edges: {shown}): the share of requests under it cannot be "
                f"counted exactly. Add {threshold:g} to the histogram's buckets (slokit.asgi "
                "does this by itself for every SLO in the spec) or choose an existing edge."
            )
    return "|".join(f.replace(".", "\\\\.") for f in _spellings(threshold))


def _matchers(*parts: str | None) -> str:
    kept = [p for p in parts if p]
    return "{" + ",".join(kept) + "}" if kept else ""


@dataclass(frozen=True)
class SLIQueries:
    """PromQL for one SLO; ``$window`` stands for the range in every query."""

    slo: str
    kind: Literal["availability", "latency", "custom"]
    bad: str
    total: str
    presence: str
    """An instant expression that has a value while the SLI's metrics exist (for absent())."""
    absent_labels: dict[str, str]
    """The labels ``absent(presence)`` gives its alert (its equality matchers)."""

    def bad_over(self, window: str) -> str:
        return self.bad.replace("$window", window)

    def total_over(self, window: str) -> str:
        return self.total.replace("$window", window)

    def error_ratio(self, window: str) -> str:
        # A window without any request has no ratio (0/0): PromQL leaves it out, so no alert
        # fires on silence; the absent alert covers metrics that vanished.
        return f"({self.bad_over(window)}) / ({self.total_over(window)})"


def sli_queries(
    spec: Spec, name: str, slo: SLO, buckets: Iterable[float] | None = None
) -> SLIQueries:
    """The bad/total PromQL of one SLO of ``spec``."""
    if slo.sli is not None:
        q = slo.sli
        bad = q.bad if q.bad is not None else f"({q.total}) - ({q.good})"
        return SLIQueries(name, "custom", bad, q.total, q.total.replace("$window", "5m"), {})
    selector = spec.prometheus.selector
    labels = _equalities(selector)
    route = method = None
    if slo.route is not None:
        labels["route"] = slo.route.path
        route = f'route="{_escape(slo.route.path)}"'
        if slo.route.method != "*":
            method = f'method="{slo.route.method}"'
            labels["method"] = slo.route.method
    if slo.latency is None:
        total_m = _matchers(selector, route, method)
        bad_m = _matchers(selector, route, method, 'status=~"5.."')
        return SLIQueries(
            name,
            "availability",
            # No 5xx series at all is no errors, not "unknown": without `or vector(0)` the
            # ratio, and the budget, would vanish exactly when all is well.
            f"(sum(increase({REQUESTS_METRIC}{bad_m}[$window])) or vector(0))",
            f"sum(increase({REQUESTS_METRIC}{total_m}[$window]))",
            f"{REQUESTS_METRIC}{total_m}",
            labels,
        )
    le = f'le=~"{le_pattern(slo.latency, buckets)}"'
    total_m = _matchers(selector, route, method)
    good_m = _matchers(selector, route, method, NOT_SERVER_ERROR, le)
    total = f"sum(increase({DURATION_METRIC}_count{total_m}[$window]))"
    # Every request a 5xx leaves no good series at all: that is 0 good, not "unknown".
    good = f"(sum(increase({DURATION_METRIC}_bucket{good_m}[$window])) or vector(0))"
    return SLIQueries(
        name,
        "latency",
        f"({total}) - ({good})",
        total,
        f"{DURATION_METRIC}_count{total_m}",
        labels,
    )


_EQUALITY = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*')


def _equalities(selector: str | None) -> dict[str, str]:
    """The ``name="value"`` matchers of a selector (what absent() turns into labels)."""
    found: dict[str, str] = {}
    for part in (selector or "").split(","):
        match = _EQUALITY.fullmatch(part)
        if match is not None:
            found[match.group(1)] = match.group(2)
    return found


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
