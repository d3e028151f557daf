"""What an experiment leaves behind: the journal (``journal.json``) and its parts.

Times are seconds after the load's second 0 (the scenario's start, warm-up included), so the
planned timeline, what happened and the measurements line up; ``started``/``ended`` give the
wall clock. The layout is versioned by ``JOURNAL_FORMAT`` and documented in README.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from slokit.results import RequestStats, format_time

__all__ = [
    "JOURNAL_FORMAT",
    "ActionRecord",
    "Journal",
    "PhaseStats",
    "SLOOutcome",
    "Timings",
]

JOURNAL_FORMAT = 1

Status = Literal["held", "deviated", "aborted"]


@dataclass
class ActionRecord:
    """One thing the runner did: set-up, a fault (applied then removed), a rollback."""

    name: str
    kind: str
    """toxic | down | http | command | rollback | setup | teardown"""
    phase: Literal["setup", "method", "rollback", "teardown"]
    planned_at: float | None = None
    planned_end: float | None = None
    started: float | None = None
    ended: float | None = None
    """For a fault: when it was removed (None: never applied or never removed)."""
    status: Literal["pending", "succeeded", "failed", "skipped"] = "pending"
    error: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class PhaseStats:
    """The load's own measurements over one phase (client side, every request)."""

    name: Literal["before", "during", "after"]
    start: float
    end: float
    requests: int
    failures: int
    rps: float
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @classmethod
    def of(cls, name: Literal["before", "during", "after"], start: float, end: float,
           stats: RequestStats) -> PhaseStats:  # fmt: skip
        seconds = max(end - start, 0.0)
        count = stats.count
        p50 = p95 = p99 = None
        if count:
            p50, p95, p99 = (
                round(v / 1000.0, 3) for v in stats.latency.percentiles([50.0, 95.0, 99.0])
            )
        return cls(
            name=name,
            start=start,
            end=end,
            requests=count,
            failures=stats.failed,
            rps=round(count / seconds, 3) if seconds else 0.0,
            error_rate=round(stats.failed / count, 6) if count else 0.0,
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SLOOutcome:
    name: str
    objective: float
    """The objective the experiment judged (the spec's, or the hypothesis' own)."""
    held: bool
    windows_breached: int
    worst_ratio: float | None
    worst_at: float | None
    good: int
    total: int
    """Requests from the first fault to the end of the load (the service's count)."""
    budget_burned: float
    """Share of the SLO window's error budget those requests used (0.01 = 1%)."""
    burn_rate: float
    expected: Literal["hold", "breach"] = "hold"
    """What the hypothesis said this SLO would do."""

    @property
    def as_expected(self) -> bool:
        return self.held == (self.expected == "hold")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "as_expected": self.as_expected}


@dataclass(frozen=True)
class Timings:
    t_inject: float | None
    """When the first fault was in place."""
    t_detect: float | None
    """Seconds after t_inject until the first sign of trouble (None: nothing seen)."""
    detected_by: str | None
    t_remove: float | None
    """When the last timed fault was removed."""
    t_recover: float | None
    """Seconds after t_remove until steady again, sustained (None: not within the run)."""

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class Journal:
    title: str
    source: str | None
    service: str
    scenario: str
    target: str
    hypothesis: dict[str, Any]
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended: datetime | None = None
    status: Status = "held"
    reasons: list[str] = field(default_factory=list)
    aborted_by: str | None = None
    timings: Timings = field(default_factory=lambda: Timings(None, None, None, None, None))
    slos: list[SLOOutcome] = field(default_factory=list)
    phases: list[PhaseStats] = field(default_factory=list)
    actions: list[ActionRecord] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    load: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 the hypothesis held, 1 it deviated, 3 the experiment was aborted."""
        return {"held": 0, "deviated": 1, "aborted": 3}[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": JOURNAL_FORMAT,
            "title": self.title,
            "source": self.source,
            "service": self.service,
            "scenario": self.scenario,
            "target": self.target,
            "started": format_time(self.started),
            "ended": format_time(self.ended) if self.ended else None,
            "status": self.status,
            "reasons": list(self.reasons),
            "aborted_by": self.aborted_by,
            "hypothesis": self.hypothesis,
            "timings": self.timings.to_dict(),
            "slos": [s.to_dict() for s in self.slos],
            "phases": {p.name: p.to_dict() for p in self.phases},
            "actions": [a.to_dict() for a in self.actions],
            "timeline": self.timeline,
            "load": self.load,
        }
