"""``alerts:``: threshold alerts beside the burn-rate ones, as the runbooks write them.

Seed 002's HighLatency / HighErrorRate / CircuitBreakerOpen, seed 003's warning and critical
latency alerts and its memory, CPU, disk and DB-pool alerts, written as one line each::

    alerts:
      HighLatency: {when: "p95(GET /api/horoscopes/daily) > 300ms", for: 5m, severity: high}
      HighErrorRate: {when: "error_rate(POST /api/orders) > 1%", for: 5m, severity: critical}
      CircuitBreakerOpen: {when: "breaker_open(pricing) > 1m", severity: high}
      RateLimited: {when: "rate_limited(POST /api/orders) > 1/s", for: 10m, severity: low}
      MemoryHigh: {when: "rss > 512MiB", for: 10m, severity: medium}
      CPUHigh: {when: "cpu > 80%", for: 10m}
      DiskFull: {when: "disk_free(/var/lib/postgresql) < 10%", for: 15m, severity: critical}
      DBPool: {when: 'value(db_pool_in_use{pool="main"}) > 80', for: 5m}

``severity`` is a priority (critical, high, medium, low) that ``alerting.severities`` maps to
the ``page``/``ticket``/``info`` labels the Alertmanager routes read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from slokit.spec._base import SpecModel, Text, describe
from slokit.spec._route import Route
from slokit.spec._units import (
    PositiveDuration,
    parse_duration,
    parse_percent,
    parse_rate,
    parse_size,
)

__all__ = [
    "DEFAULT_SEVERITIES",
    "Priority",
    "ThresholdAlert",
    "Watch",
    "parse_watch",
]

Priority = Literal["critical", "high", "medium", "low"]
Kind = Literal[
    "latency",
    "error_rate",
    "rate_limited",
    "breaker_open",
    "rss",
    "cpu",
    "disk_free",
    "value",
    "dependency_latency",
    "dependency_error_rate",
    "cache_hit_ratio",
    "job_freshness",
    "queue_drain",
    "queue_age",
]
_GRAMMAR = (
    "expected METRIC[(ARG)] OP VALUE, e.g. 'p95(GET /api/orders) > 300ms', "
    "'error_rate(POST /api/orders) > 1%', 'breaker_open(pricing) > 1m', 'rss > 512MiB', "
    "'cpu > 80%', 'disk_free(/) < 10%', 'value(db_pool_in_use) > 80', "
    "'dependency_p95(openai) > 2s', 'dependency_error_rate(openai) > 5%', "
    "'cache_hit_ratio(sessions) < 70%'"
)
_WHEN = re.compile(
    r"^\s*(?P<metric>[a-z_][a-z0-9_]*)\s*(?:\((?P<arg>.*)\))?\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<value>\S.*?)\s*$"
)
_SELECTOR = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^{}]*\})?\Z")
_QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True, slots=True)
class Watch:
    """A parsed ``when:``: what is watched, how it compares, its threshold in plain units
    (seconds, a ratio, per second, bytes, a share of a core, a number)."""

    kind: Kind
    op: str
    threshold: float
    route: Route | None = None
    quantile: float | None = None
    arg: str | None = None
    """The breaker name, the mount point or the selector."""


def _share(value: str, what: str) -> float:
    text = value.strip()
    if not text.endswith("%"):
        raise ValueError(f"{what} is a percentage, such as 80%; got {value!r}")
    number = float(text[:-1]) / 100
    if not 0 <= number <= 100:
        raise ValueError(f"{what} {value!r} is out of range")
    return number


def parse_watch(text: str) -> Watch:
    """``p95(GET /x) > 300ms`` and the rest (module docstring); ValueError naming the grammar."""
    found = _WHEN.match(text)
    if found is None:
        raise ValueError(f"invalid alert {text!r}: {_GRAMMAR}")
    metric, arg, op, value = found.group("metric", "arg", "op", "value")
    arg = arg.strip() if arg is not None and arg.strip() else None
    try:
        if metric in _QUANTILES:
            route = Route.parse(arg) if arg else None
            return Watch("latency", op, parse_duration(value), route, _QUANTILES[metric])
        if metric == "error_rate":
            return Watch("error_rate", op, parse_percent(value), Route.parse(arg) if arg else None)
        if metric == "rate_limited":
            route = Route.parse(arg) if arg else None
            return Watch("rate_limited", op, parse_rate(value), route)
        if metric == "breaker_open":
            if arg is None or op not in (">", ">="):
                raise ValueError("write breaker_open(NAME) > DURATION: open for longer than that")
            return Watch("breaker_open", op, parse_duration(value), arg=arg)
        if metric == "rss":
            if value.strip().isdigit():
                raise ValueError(f"rss {value}: bytes or more? write the unit, such as {value}MiB")
            return Watch("rss", op, float(parse_size(value)))
        if metric == "cpu":
            return Watch("cpu", op, _share(value, "cpu"))
        if metric == "disk_free":
            return Watch("disk_free", op, _share(value, "disk_free"), arg=arg or "/")
        if metric in ("job_freshness", "queue_drain", "queue_age"):
            if arg is None or op not in (">", ">="):
                raise ValueError(f"write {metric}(NAME) > DURATION")
            return Watch(metric, op, parse_duration(value), arg=arg)  # type: ignore[arg-type]
        if metric.startswith("dependency_") or metric == "cache_hit_ratio":
            return _named(metric, arg, op, value)
        if metric == "value":
            if arg is None or not _SELECTOR.match(arg):
                raise ValueError(
                    "value() takes a metric selector, such as value(db_pool_in_use) or "
                    'value(db_pool_in_use{pool="main"})'
                )
            return Watch("value", op, float(value), arg=arg)
    except ValueError as exc:
        raise ValueError(f"invalid alert {text!r}: {exc}") from None
    raise ValueError(f"invalid alert {text!r}: unknown metric {metric!r}; {_GRAMMAR}")


def _named(metric: str, arg: str | None, op: str, value: str) -> Watch:
    if arg is None:
        raise ValueError(f"{metric} needs the name: {metric}(NAME), as in the spec")
    quantile = _QUANTILES.get(metric.removeprefix("dependency_"))
    if quantile is not None:
        return Watch("dependency_latency", op, parse_duration(value), quantile=quantile, arg=arg)
    if metric == "dependency_error_rate":
        return Watch("dependency_error_rate", op, parse_percent(value), arg=arg)
    if metric == "cache_hit_ratio":
        return Watch("cache_hit_ratio", op, parse_percent(value), arg=arg)
    raise ValueError(f"unknown metric {metric!r}; {_GRAMMAR}")


def _when(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"an alert's when: is a string, got {describe(value)}; {_GRAMMAR}")
    parse_watch(value)
    return value.strip()


class ThresholdAlert(SpecModel):
    """One alert: when it fires, for how long first, how urgent."""

    when: Annotated[str, BeforeValidator(_when)]
    hold: PositiveDuration = Field(default=300.0, alias="for")
    """How long ``when`` must hold before the alert fires (``for:``); for ``breaker_open``
    the duration in ``when`` is the hold."""
    severity: Priority = "medium"
    over: PositiveDuration = 300.0
    """The range of the rates and shares it reads (5m)."""
    summary: Text | None = None
    description: Text | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @property
    def watch(self) -> Watch:
        return parse_watch(self.when)


DEFAULT_SEVERITIES: dict[Priority, Literal["page", "ticket", "info"]] = {
    "critical": "page",
    "high": "page",
    "medium": "ticket",
    "low": "ticket",
}
