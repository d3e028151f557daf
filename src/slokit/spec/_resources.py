"""``resources:``: what to sample on the system under test while a scenario runs.

Values are named the same whatever the source, so one gate reads them all: ``rss`` (bytes),
``cpu`` (share of one core: 1.0 is a full core), ``fds``, ``threads`` from a process or its
Prometheus endpoint, ``pg_connections`` and ``pg_active`` from PostgreSQL, and each of
``series`` by the name the user gave it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from slokit.spec._base import Issue, SpecModel, Text, Url, integer, issue
from slokit.spec._units import PositiveDuration

__all__ = ["BUILTIN_RESOURCES", "Resources"]

BUILTIN_RESOURCES: dict[str, str] = {
    "rss": "bytes",
    "cpu": "cores",
    "fds": "count",
    "threads": "count",
    "pg_connections": "count",
    "pg_active": "count",
}
"""Every value a sampler can give without ``series``, and its unit."""

_SERIES_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")
_SELECTOR = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*(\{[^{}]*\})?\Z")


def _series(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for name, selector in value.items():
        if not isinstance(name, str) or not _SERIES_NAME.match(name):
            raise ValueError(
                f"invalid series name {name!r}: use lower-case letters, digits and _ "
                "(it is what gates call it: max(db_pool) < 80)"
            )
        if name in BUILTIN_RESOURCES:
            raise ValueError(f"series name {name!r} is a built-in resource; choose another name")
        if not isinstance(selector, str) or not _SELECTOR.match(selector.strip()):
            raise ValueError(
                f"invalid selector {selector!r} for series {name!r}: expected a metric name, "
                'optionally with labels, e.g. db_pool_in_use or db_pool_in_use{pool="main"}'
            )
    return {k: v.strip() for k, v in value.items()}


_whole_pid = integer(1, "pid")


def _pid(value: Any) -> Any:
    return None if value is None else _whole_pid(value)


def _postgres(value: Any) -> Any:
    if isinstance(value, str) and not value.startswith(("postgresql://", "postgres://")):
        raise ValueError(
            f"invalid PostgreSQL URL {value!r}; expected postgresql://user@host:port/db"
        )
    return value


class Resources(SpecModel):
    """What to sample while a scenario runs, every ``interval``.

    A scenario's own ``resources:`` replaces the spec's for that scenario.
    """

    interval: PositiveDuration = 1.0
    pid: Annotated[int | None, BeforeValidator(_pid)] = None
    """That process and its children."""
    process: Text | None = None
    """The oldest process whose name or command line contains this text, and its children."""
    metrics: Url | None = None
    """The target's Prometheus endpoint (``process_*`` series, plus ``series``)."""
    series: Annotated[dict[str, str], BeforeValidator(_series)] = Field(default_factory=dict)
    """Extra values from ``metrics``: ``{name: 'metric_name{label="value"}'}``."""
    postgres: Annotated[Text | None, BeforeValidator(_postgres)] = None
    """Connections from ``pg_stat_activity``."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        issues = []
        if not any(data.get(k) is not None for k in ("pid", "process", "metrics", "postgres")):
            issues.append(
                issue(
                    (),
                    "resources: names nothing to sample; give pid, process, metrics or postgres",
                    data,
                )
            )
        if data.get("pid") is not None and data.get("process") is not None:
            issues.append(issue(("process",), "give pid or process, not both", data.get("process")))
        if data.get("series") and data.get("metrics") is None:
            issues.append(
                issue(("series",), "series are read from metrics: add metrics: http://…/metrics")
            )
        return data, issues

    @field_validator("interval")
    @classmethod
    def _at_most_a_minute(cls, seconds: float) -> float:
        if seconds > 60 or seconds < 0.05:
            raise ValueError(
                f"interval {seconds:g}s is out of range: sample between every 50ms and every 60s"
            )
        return seconds

    @property
    def names(self) -> list[str]:
        """The values this block can give."""
        names = []
        if self.pid is not None or self.process is not None or self.metrics is not None:
            names += ["rss", "cpu", "fds", "threads"]
        if self.postgres is not None:
            names += ["pg_connections", "pg_active"]
        return names + list(self.series)
