"""Watching the service during an experiment: its own ``/metrics``, scraped every second.

The SLIs are counted the way ``slokit rules`` counts them in Prometheus (same metrics, same
label matching), so what an experiment calls a breach is what the service's alerts would see:
``http_requests_total`` for availability, ``http_request_duration_seconds`` buckets for
latency, and ``slokit_circuit_breaker_*`` for its breakers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from slokit.errors import UsageError
from slokit.spec import SLO

__all__ = ["SLICounter", "Sample", "parse_sample"]

_REQUESTS = "http_requests_total"
_BUCKET = "http_request_duration_seconds_bucket"
_COUNT = "http_request_duration_seconds_count"
_BREAKER_STATE = "slokit_circuit_breaker_state"
_BREAKER_OPENED = ("slokit_circuit_breaker_opened_total", "slokit_circuit_breaker_opened")


@dataclass(frozen=True)
class SLICounter:
    """Counts one SLO's good and total events from a scrape."""

    name: str
    slo: SLO
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra equality matchers (the spec's ``prometheus.selector``)."""

    @classmethod
    def of(cls, name: str, slo: SLO, labels: Mapping[str, str]) -> SLICounter:
        if slo.sli is not None:
            raise UsageError(
                f"SLO {name!r} brings its own PromQL (sli:), which an experiment cannot read "
                "from the service's /metrics; leave it out of hypothesis.slos"
            )
        return cls(name, slo, dict(labels))

    def _selected(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.labels.items():
            if labels.get(key) != value:
                return False
        route = self.slo.route
        if route is None:
            return True
        if labels.get("route") != route.path:
            return False
        return route.method == "*" or labels.get("method") == route.method

    def count(self, samples: Iterable[tuple[str, Mapping[str, str], float]]) -> tuple[float, float]:
        """``(good, total)`` since the service started."""
        good = total = 0.0
        threshold = self.slo.latency
        for name, labels, value in samples:
            if not self._selected(labels):
                continue
            if threshold is None:
                if name == _REQUESTS:
                    total += value
                    if not labels.get("status", "").startswith("5"):
                        good += value
            elif name == _COUNT:
                total += value
            elif name == _BUCKET and _same_edge(labels.get("le", ""), threshold):
                good += value
        return good, total


def _same_edge(le: str, threshold: float) -> bool:
    try:
        return abs(float(le) - threshold) < 1e-9
    except ValueError:
        return False


@dataclass(frozen=True)
class Sample:
    """One scrape: cumulative SLI counts and every breaker's state, at ``t`` seconds."""

    t: float
    counts: dict[str, tuple[float, float]]
    """SLO name -> (good, total), cumulative."""
    breakers: dict[str, str]
    """Breaker name -> closed | open | half_open."""
    opened: dict[str, float]
    """Breaker name -> times it opened, cumulative."""
    error: str | None = None
    """Why the scrape failed (then everything else is empty)."""

    @classmethod
    def failed(cls, t: float, error: str) -> Sample:
        return cls(t, {}, {}, {}, error)


def parse_sample(t: float, text: str, counters: Iterable[SLICounter]) -> Sample:
    """Read a Prometheus text exposition into a :class:`Sample`."""
    from prometheus_client.parser import text_string_to_metric_families

    flat: list[tuple[str, Mapping[str, str], float]] = []
    breakers: dict[str, str] = {}
    opened: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == _BREAKER_STATE:
                    if s.value == 1.0:
                        breakers[s.labels.get("breaker", "")] = s.labels.get("state", "")
                elif s.name in _BREAKER_OPENED:
                    opened[s.labels.get("breaker", "")] = s.value
                elif s.name in (_REQUESTS, _BUCKET, _COUNT):
                    flat.append((s.name, s.labels, s.value))
    except ValueError as exc:
        return Sample.failed(t, f"the metrics are not Prometheus text: {exc}")
    counts = {c.name: c.count(flat) for c in counters}
    return Sample(t, counts, breakers, opened)
