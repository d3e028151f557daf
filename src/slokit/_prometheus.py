"""Custom Prometheus collectors read their numbers at scrape time; their metric families are
declared here the one way, so the fault proxy's and the breakers' collectors look alike.

prometheus-client is imported when a collector is built, never by importing this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["Family", "families"]

Family = tuple[Literal["counter", "gauge", "histogram"], str, str, Sequence[str]]
"""``(kind, name, help, labels)`` of one metric family."""


def families(*declared: Family) -> list[Any]:
    """Fresh, empty metric families for one scrape, in the order declared."""
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )

    kinds = {
        "counter": CounterMetricFamily,
        "gauge": GaugeMetricFamily,
        "histogram": HistogramMetricFamily,
    }
    return [kinds[kind](name, text, labels=list(labels)) for kind, name, text, labels in declared]
