"""Two runs side by side: per request name, how latency, errors and throughput moved.

The wording never claims more than one run each can show:

* **error rate**: a two-sided test of two proportions (Fisher's exact test, or a z-test when
  both runs have thousands of failures). p < 0.01 reads "likely a real change", otherwise
  "within noise"; with fewer than :data:`MIN_REQUESTS` requests in either run it reads "too
  few requests to tell".
* **latency percentiles** and **req/s**: one run each says nothing about their spread, so
  there is no significance claim, only "changed by X%". A percentile is flagged "small
  sample" when either run has fewer than 10 responses beyond it (p95: fewer than 200
  responses, p99: fewer than 1,000) or fewer than 100 in all.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slokit.results import RequestStats, RunResults, format_count, format_ms, format_percent

__all__ = [
    "Comparison",
    "MIN_REQUESTS",
    "MetricChange",
    "RequestComparison",
    "compare",
    "compare_requests",
    "error_rate_change",
    "small_sample",
]

MIN_REQUESTS = 30
"""Below this many requests in either run, an error-rate change is "too few requests to tell"."""

SIGNIFICANCE = 0.01
"""p-value under which an error-rate change reads "likely a real change"."""

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}
_COMPARED = ("p50", "p95", "p99")
_EXACT_LIMIT = 20_000  # Fisher's exact test sums at most this many tables


def small_sample(percentile: float, count: int) -> bool:
    """True when ``count`` responses are too few to pin the percentile down."""
    beyond = 1.0 - percentile / 100.0
    needed = max(100.0, 10.0 / beyond) if beyond > 0 else math.inf
    return count < needed - 1e-9


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _two_proportion_p(f1: int, n1: int, f2: int, n2: int) -> float:
    """Two-sided p-value that both runs have the same failure probability."""
    failed, total = f1 + f2, n1 + n2
    if failed in (0, total):
        return 1.0
    low, high = max(0, failed - n2), min(failed, n1)
    if high - low <= _EXACT_LIMIT:
        base = _log_choose(total, failed)

        def log_p(k: int) -> float:
            return _log_choose(n1, k) + _log_choose(n2, failed - k) - base

        observed = log_p(f1)
        p = sum(math.exp(lp) for k in range(low, high + 1) if (lp := log_p(k)) <= observed + 1e-7)
        return min(1.0, p)
    pooled = failed / total
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    z = (f2 / n2 - f1 / n1) / se
    return math.erfc(abs(z) / math.sqrt(2.0))


def error_rate_change(f1: int, n1: int, f2: int, n2: int) -> tuple[str, float | None]:
    """How to read a move from ``f1`` failures of ``n1`` to ``f2`` of ``n2``, and its p-value."""
    if min(n1, n2) < MIN_REQUESTS:
        return "too few requests to tell", None
    if f1 == 0 and f2 == 0:
        return "no errors in either run", None
    p = _two_proportion_p(f1, n1, f2, n2)
    return ("likely a real change" if p < SIGNIFICANCE else "within noise"), p


def _changed(relative: float | None) -> str:
    if relative is None:
        return "no baseline value to compare with"
    if relative == 0:
        return "unchanged"
    return f"changed by {relative:+.1%}"


@dataclass(frozen=True)
class MetricChange:
    """One metric of one request name in both runs.

    Latencies in milliseconds, ``error_rate`` as a ratio, ``rps`` per second. ``change`` is
    ``new - base``; ``relative`` is ``change / base`` (None when the base is zero or missing).
    """

    metric: str
    base: float | None
    new: float | None
    change: float | None
    relative: float | None
    reading: str
    """For people: "changed by +12.0%", "likely a real change", "within noise", ..."""
    small_sample: bool = False
    p_value: float | None = None

    def shown(self, side: str) -> str:
        """One side (``"base"`` or ``"new"``) for people: ``12.3ms``, ``0.5%``, ``1,234``."""
        value: float | None = getattr(self, side)
        if value is None:
            return "-"
        if self.metric == "error_rate":
            return format_percent(value)
        if self.metric == "rps":
            return format_count(round(value, 1))
        if self.metric == "capacity":
            return f"{format_count(round(value, 1))}/s"
        return format_ms(value)

    def shown_change(self) -> str:
        """The change for people: ``+2.1ms (+12.0%)``, ``+0.50 pts``, ``-120.0 (-3.1%)``."""
        if self.change is None:
            return "-"
        if self.metric == "error_rate":
            return f"{self.change * 100:+.2f} pts"
        if self.metric in ("rps", "capacity"):
            absolute = f"{self.change:+,.1f}"
        else:
            absolute = ("+" if self.change >= 0 else "-") + format_ms(abs(self.change))
        return absolute + (f" ({self.relative:+.1%})" if self.relative is not None else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "base": self.base,
            "new": self.new,
            "change": self.change,
            "relative": self.relative,
            "reading": self.reading,
            "small_sample": self.small_sample,
            "p_value": self.p_value,
        }


@dataclass(frozen=True)
class RequestComparison:
    """Every compared metric of one request name (or ``total``)."""

    name: str
    base_count: int
    new_count: int
    metrics: tuple[MetricChange, ...]

    def metric(self, name: str) -> MetricChange:
        return next(m for m in self.metrics if m.metric == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base_count": self.base_count,
            "new_count": self.new_count,
            "metrics": {m.metric: m.to_dict() for m in self.metrics},
        }


@dataclass(frozen=True)
class Comparison:
    """Run ``new`` against run ``base``: matched request names, then the total."""

    requests: tuple[RequestComparison, ...]
    only_base: tuple[str, ...]
    """Request names only the base run made."""
    only_new: tuple[str, ...]
    capacity: tuple[tuple[str, MetricChange], ...] = ()
    """Per capacity scenario both runs searched: the sustainable rate, base -> new."""

    def request(self, name: str) -> RequestComparison:
        return next(r for r in self.requests if r.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": [r.to_dict() for r in self.requests],
            "only_base": list(self.only_base),
            "only_new": list(self.only_new),
            "capacity": {scenario: m.to_dict() for scenario, m in self.capacity},
        }


def _difference(base: float | None, new: float | None) -> tuple[float | None, float | None]:
    if base is None or new is None:
        return None, None
    change = new - base
    return change, (change / base if base else None)


def _latency(metric: str, base: RequestStats, new: RequestStats) -> MetricChange:
    q = PERCENTILES[metric]
    b = base.latency.percentile(q) / 1000.0 if base.latency.count else None
    n = new.latency.percentile(q) / 1000.0 if new.latency.count else None
    change, relative = _difference(b, n)
    small = small_sample(q, min(base.latency.count, new.latency.count))
    reading = _changed(relative) if n is not None else "no response in the new run"
    return MetricChange(metric, b, n, change, relative, reading, small)


def _rate(stats: RequestStats, seconds: float) -> float | None:
    return stats.count / seconds if seconds > 0 else None


def _request(
    name: str, base: RequestStats, base_s: float, new: RequestStats, new_s: float
) -> RequestComparison:
    metrics = [_latency(m, base, new) for m in _COMPARED]
    b_err = base.failed / base.count if base.count else None
    n_err = new.failed / new.count if new.count else None
    change, relative = _difference(b_err, n_err)
    reading, p = error_rate_change(base.failed, base.count, new.failed, new.count)
    metrics.append(MetricChange("error_rate", b_err, n_err, change, relative, reading, p_value=p))
    b_rps, n_rps = _rate(base, base_s), _rate(new, new_s)
    change, relative = _difference(b_rps, n_rps)
    metrics.append(MetricChange("rps", b_rps, n_rps, change, relative, _changed(relative)))
    return RequestComparison(name, base.count, new.count, tuple(metrics))


def _http(requests: Mapping[str, RequestStats]) -> dict[str, RequestStats]:
    # Journey exceptions and named checks are recorded with method "-": not requests.
    return {n: r for n, r in requests.items() if r.method != "-"}


def compare_requests(
    base: Mapping[str, RequestStats],
    base_seconds: float,
    new: Mapping[str, RequestStats],
    new_seconds: float,
) -> Comparison:
    """Request names in both, matched by name, then ``total`` over each side's requests
    (when either side made more than one request name)."""
    base, new = _http(base), _http(new)
    matched = [name for name in new if name in base]
    rows = [_request(n, base[n], base_seconds, new[n], new_seconds) for n in matched]
    if base and new and max(len(base), len(new)) > 1:  # one request: its total is itself
        b_total, n_total = RequestStats("total"), RequestStats("total")
        for stats in base.values():
            b_total.merge(stats)
        for stats in new.values():
            n_total.merge(stats)
        rows.append(_request("total", b_total, base_seconds, n_total, new_seconds))
    return Comparison(
        requests=tuple(rows),
        only_base=tuple(n for n in base if n not in new),
        only_new=tuple(n for n in new if n not in base),
    )


def _capacities(base: RunResults, new: RunResults) -> tuple[tuple[str, MetricChange], ...]:
    found = {sc.name: sc.capacity for sc in base.scenarios if sc.capacity is not None}
    rows = []
    for sc in new.scenarios:
        before = found.get(sc.name)
        if sc.capacity is None or before is None:
            continue
        b, n = before.sustainable, sc.capacity.sustainable
        change, relative = _difference(b, n)
        reading = _changed(relative) if n is not None else "no step held in the new run"
        rows.append((sc.name, MetricChange("capacity", b, n, change, relative, reading)))
    return tuple(rows)


def compare(base: RunResults, new: RunResults) -> Comparison:
    """Whole runs (every scenario merged per request name), ``new`` against ``base``; and
    the sustainable rate of each capacity search both made."""
    requests = compare_requests(base.requests, base.measured_s, new.requests, new.measured_s)
    return dataclasses.replace(requests, capacity=_capacities(base, new))
