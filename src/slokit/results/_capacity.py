"""The answer of a capacity search: how much the target sustains, where and why it broke.

``sustainable`` is the highest offered rate at which every SLO and gate held (after each
step's settle time) and no arrival was dropped; ``breaking`` the lowest rate that failed and
was confirmed. ``limit`` says whose limit that is: the target's, or the load generator's
when its workers were saturated or could not start arrivals in time, so slokit never blames a
target for its own ceiling. The knees are where achieved throughput stops following the
offered rate and where p95 leaves its flat region (Kneedle over the rising steps).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from slokit._records import load_record, plain_record
from slokit.results._trends import knee

__all__ = ["CapacityResult", "CapacityStep", "Recovery", "knees"]

Limit = Literal["target", "generator", "ceiling", "none"]
"""``ceiling``: nothing broke up to ``max_rate``; ``none``: the search did not finish."""


@dataclass(frozen=True, slots=True)
class CapacityStep:
    rate: float
    """Offered arrivals per second."""
    phase: Literal["search", "refine"]
    passed: bool
    achieved: float
    """Requests per second sent and answered or not, after the settle time."""
    requests: int
    failed: int
    dropped: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    broke: list[str]
    """What failed: verdict names, ``dropped arrivals``."""
    generator_late: float | None
    """The share of arrivals the generator launched over 10 ms late (falling behind)."""
    resources: dict[str, float] = field(default_factory=dict)
    """The maximum of each sampled resource during the step."""
    start_s: int = 0
    """Where the step starts on the scenario's timeline."""

    @property
    def error_rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "phase": self.phase,
            "passed": self.passed,
            "achieved": round(self.achieved, 3),
            "requests": self.requests,
            "failed": self.failed,
            "error_rate": self.error_rate,
            "dropped": self.dropped,
            "latency_ms": {"p50": self.p50_ms, "p95": self.p95_ms, "p99": self.p99_ms},
            "broke": list(self.broke),
            "generator_late": self.generator_late,
            "resources": dict(self.resources),
            "start_s": self.start_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CapacityStep:
        latency = data.get("latency_ms", {})
        late = data.get("generator_late")
        return cls(
            rate=float(data["rate"]),
            phase="refine" if data.get("phase") == "refine" else "search",
            passed=bool(data["passed"]),
            achieved=float(data.get("achieved", 0.0)),
            requests=int(data.get("requests", 0)),
            failed=int(data.get("failed", 0)),
            dropped=int(data.get("dropped", 0)),
            p50_ms=float(latency.get("p50", 0.0)),
            p95_ms=float(latency.get("p95", 0.0)),
            p99_ms=float(latency.get("p99", 0.0)),
            broke=[str(b) for b in data.get("broke", [])],
            generator_late=None if late is None else float(late),
            resources={str(k): float(v) for k, v in data.get("resources", {}).items()},
            start_s=int(data.get("start_s", 0)),
        )


@dataclass(frozen=True, slots=True)
class Recovery:
    """After the breaking step, back at ``rate``: did the target recover, and how fast."""

    rate: float
    duration_s: float
    hold_s: float
    recovered_after_s: float | None
    """Seconds from the drop until the first second from which every rule held for ``hold_s``
    (None: it did not recover within ``duration_s``)."""
    rules: list[str]
    """What "healthy" meant: the SLOs and gates applied to each second."""
    failing_at_drop: list[str]
    """The rules the first second after the drop broke."""
    start_s: int = 0

    def to_dict(self) -> dict[str, Any]:
        return plain_record(self, recovered=self.recovered_after_s is not None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recovery:
        return load_record(cls, data)


def knees(steps: list[CapacityStep]) -> tuple[float | None, float | None]:
    """(throughput knee, latency knee) as offered rates, over the rising steps."""
    rising = sorted((s for s in steps if s.phase == "search"), key=lambda s: s.rate)
    if len(rising) < 3:
        return None, None
    rates = [s.rate for s in rising]
    throughput = knee(rates, [s.achieved for s in rising], curve="concave")
    latency = knee(rates, [s.p95_ms for s in rising], curve="convex")
    return (
        None if throughput is None else rates[throughput],
        None if latency is None else rates[latency],
    )


@dataclass
class CapacityResult:
    steps: list[CapacityStep]
    sustainable: float | None
    """None when even the first step failed."""
    breaking: float | None
    """None when nothing broke up to the ceiling."""
    broke_first: list[str]
    limit: Limit
    limit_detail: str
    recovery: Recovery | None = None

    @property
    def knees(self) -> tuple[float | None, float | None]:
        return knees(self.steps)

    @property
    def sustainable_step(self) -> CapacityStep | None:
        """The last passing step at the sustainable rate (a refined one when bisected)."""
        held = [s for s in self.steps if s.passed and s.rate == self.sustainable]
        return held[-1] if held else None

    def to_dict(self) -> dict[str, Any]:
        throughput_knee, latency_knee = self.knees
        return {
            "sustainable_rate": self.sustainable,
            "breaking_rate": self.breaking,
            "broke_first": list(self.broke_first),
            "limit": self.limit,
            "limit_detail": self.limit_detail,
            "throughput_knee_rate": throughput_knee,
            "latency_knee_rate": latency_knee,
            "steps": [s.to_dict() for s in self.steps],
            "recovery": None if self.recovery is None else self.recovery.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CapacityResult:
        recovery = data.get("recovery")
        limit = data.get("limit")
        return cls(
            steps=[CapacityStep.from_dict(s) for s in data.get("steps", [])],
            sustainable=_rate(data.get("sustainable_rate")),
            breaking=_rate(data.get("breaking_rate")),
            broke_first=[str(b) for b in data.get("broke_first", [])],
            limit=limit if limit in ("target", "generator", "ceiling", "none") else "none",
            limit_detail=str(data.get("limit_detail", "")),
            recovery=None if not recovery else Recovery.from_dict(recovery),
        )


def _rate(value: Any) -> float | None:
    return None if value is None else float(value)
