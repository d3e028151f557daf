"""Is one second healthy? The scenario's SLOs and latency/error gates, applied to a second.

Recovery is measured second by second: after a spike or a breaking step, how long until the
target meets its promises again and keeps meeting them. A second is healthy when every
availability and latency SLO (with the scenario's objective) and every whole-run latency
percentile and error-rate gate holds over the requests answered in that second. Per-second
counts are not split by route, so a route's SLO is applied to all requests of the second: a
stricter reading, never a looser one, for a route that is the slow one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slokit.results._stats import RequestStats
from slokit.spec import Gate, Scenario, Spec

__all__ = ["Health", "health_of"]

_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99_9": 99.9}

Check = Callable[[RequestStats], bool]


@dataclass(frozen=True)
class Health:
    """The rules a second must meet, by name (an SLO's name, a gate's text)."""

    rules: tuple[tuple[str, Check], ...]

    def failing(self, stats: RequestStats) -> list[str]:
        """The rules ``stats`` breaks; a second without requests breaks none."""
        if not stats.count:
            return []
        return [name for name, check in self.rules if not check(stats)]

    def __call__(self, stats: RequestStats) -> bool:
        return not self.failing(stats)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.rules]


def _availability(objective: float) -> Check:
    return lambda s: (s.count - s.unavailable) / s.count >= objective


def _within(latency: float, objective: float) -> Check:
    def check(s: RequestStats) -> bool:
        good = s.latency.count_at_or_below_without(latency * 1e6, s.server_errors)
        return good / s.count >= objective

    return check


def _gate(gate: Gate) -> Check | None:
    if gate.request is not None or gate.resource is not None:
        return None
    if gate.metric in _PERCENTILES:
        q = _PERCENTILES[gate.metric]
        return lambda s: s.latency.count == 0 or gate.compare(s.latency.percentile(q) / 1e6)
    if gate.metric == "error_rate":
        return lambda s: gate.compare(s.failed / s.count)
    return None


def health_of(spec: Spec, scenario: Scenario) -> Health:
    """The per-second health rules of ``scenario``: its SLOs (with its objectives) and its
    and the spec's whole-run ``pNN`` and ``error_rate`` gates."""
    rules: list[tuple[str, Check]] = []
    for name, slo in spec.slos.items():
        if slo.sli is not None:
            continue  # measured by Prometheus, not by a load test
        override = scenario.slos.get(name)
        objective = override.objective if override is not None else slo.objective
        if slo.latency is not None:
            rules.append((name, _within(slo.latency, objective)))
        else:
            rules.append((name, _availability(objective)))
    for gate in [*spec.gates, *scenario.gates]:
        check = _gate(gate)
        if check is not None:
            rules.append((gate.text, check))
    return Health(tuple(rules))
