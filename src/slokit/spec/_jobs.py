"""``jobs:`` and ``queues:``: SLOs of background work (seed 000's "background jobs
time-to-drain < 5 minutes", seed 003's session purge, seed 004's ``rq_job_duration_seconds``).

::

    jobs:
      send-email: {queue: emails, duration: 30s, objective: 99%, success: 99.5%}
      purge-sessions: {freshness: 25h}           # ran successfully within the last 25 h
    queues:
      emails: {drain: 5m, max_age: 10m}

``duration``/``objective`` and ``success`` become SLOs with burn-rate alerts over the job
metrics of :mod:`slokit.jobs`; ``freshness``, ``drain`` and ``max_age`` become alerts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from slokit.spec._base import Issue, SpecModel, Text, issue
from slokit.spec._units import Objective, PositiveDuration

__all__ = ["JobSLO", "QueueSLO"]

_THIRTY_DAYS = 30 * 86400.0


class JobSLO(SpecModel):
    queue: Text = "default"
    duration: PositiveDuration | None = None
    """``objective`` (99 %) of the runs finish within this."""
    objective: Objective | None = None
    success: Objective | None = None
    """The share of runs that must succeed."""
    window: PositiveDuration = _THIRTY_DAYS
    freshness: PositiveDuration | None = None
    """A scheduled job: it must have succeeded within this long (an alert otherwise)."""
    severity: Literal["critical", "high", "medium", "low"] = "medium"
    """Of the freshness alert."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        issues = []
        if data.get("objective") is not None and data.get("duration") is None:
            issues.append(issue(("objective",), "objective goes with duration: give it", data))
        if all(data.get(k) is None for k in ("duration", "success", "freshness")):
            issues.append(
                issue((), "a job SLO needs duration, success or freshness: what it promises", data)
            )
        return data, issues


class QueueSLO(SpecModel):
    drain: PositiveDuration | None = None
    """Time to drain: the waiting jobs over the rate they are done at must stay under this."""
    max_age: PositiveDuration | None = None
    """The oldest waiting job may be at most this old."""
    hold: PositiveDuration = Field(default=300.0, alias="for")
    severity: Literal["critical", "high", "medium", "low"] = "medium"

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        if data.get("drain") is None and data.get("max_age") is None:
            return data, [issue((), "a queue SLO needs drain or max_age", data)]
        return data, []
