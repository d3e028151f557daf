"""What a drill did and measured: steps, timings, RTO, RPO, gates; written as drill.json.

Every figure is measured, never typed in, and keeps what it came from: RTO its T_fail and
T_restored, RPO the writes it compared. ``to_dict`` and ``from_dict`` round-trip, so the store
and the dashboard read the same journal the run wrote.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["DrillJournal", "GateResult", "StepRecord"]

JOURNAL_KIND = "slokit-drill"
JOURNAL_VERSION = 1


@dataclass
class StepRecord:
    name: str
    kind: str
    what: str
    owner: str | None
    phase: str = "step"
    """step, rollback"""
    status: str = "skipped"
    """ok, failed, timed out, interrupted, skipped"""
    started: float | None = None
    ended: float | None = None
    deadline_s: float | None = None
    detail: str = ""
    output: str = ""
    exit_code: int | None = None
    failure: bool = False

    @property
    def duration_s(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return round(self.ended - self.started, 4)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_s"] = self.duration_s
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepRecord:
        return cls(**{k: v for k, v in data.items() if k != "duration_s"})


@dataclass
class GateResult:
    gate: str
    passed: bool
    observed: float | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DrillJournal:
    title: str
    name: str
    source: str
    started: datetime
    ended: datetime | None = None
    status: str = "running"
    """passed, failed, aborted"""
    reasons: list[str] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    rollbacks: list[StepRecord] = field(default_factory=list)
    t_fail: float | None = None
    t_detect: float | None = None
    detected_by: str | None = None
    t_restored: float | None = None
    sustain_s: float | None = None
    rpo: dict[str, Any] | None = None
    """The writer's figures (see Writer.verify), or None without a writer."""
    writes: dict[str, Any] | None = None
    load: dict[str, Any] | None = None
    """The load that ran alongside: its scenario and totals, or why it failed."""
    health: list[dict[str, Any]] = field(default_factory=list)
    """The health probe's changes: when it went from ok to failing and back, with what it saw."""
    events: list[dict[str, Any]] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)

    # --- figures ------------------------------------------------------------------------

    @property
    def rto_s(self) -> float | None:
        if self.t_fail is None or self.t_restored is None:
            return None
        return round(max(self.t_restored - self.t_fail, 0.0), 4)

    @property
    def ttd_s(self) -> float | None:
        if self.t_fail is None or self.t_detect is None:
            return None
        return round(max(self.t_detect - self.t_fail, 0.0), 4)

    @property
    def rpo_s(self) -> float | None:
        return None if self.rpo is None else self.rpo.get("rpo_s")

    @property
    def lost_writes(self) -> int | None:
        if self.rpo is None or self.rpo.get("error"):
            return None
        return len(self.rpo.get("lost", []))

    @property
    def failed_steps(self) -> int:
        return sum(1 for s in self.steps if s.status in ("failed", "timed out"))

    @property
    def exit_code(self) -> int:
        return {"passed": 0, "failed": 1}.get(self.status, 3)

    def at(self, t: float | None) -> datetime | None:
        """Drill seconds as wall-clock time."""
        return None if t is None else self.started + timedelta(seconds=t)

    def figure(self, metric: str) -> float | None:
        value = getattr(self, f"{metric}_s" if metric in ("rto", "rpo", "ttd") else metric)
        return None if value is None else float(value)

    # --- JSON ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        def iso(t: float | None) -> str | None:
            when = self.at(t)
            return None if when is None else when.isoformat()

        return {
            "kind": JOURNAL_KIND,
            "version": JOURNAL_VERSION,
            "title": self.title,
            "name": self.name,
            "source": self.source,
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat() if self.ended else None,
            "status": self.status,
            "reasons": self.reasons,
            "timings": {
                "t_fail": self.t_fail,
                "t_detect": self.t_detect,
                "detected_by": self.detected_by,
                "t_restored": self.t_restored,
                "sustain_s": self.sustain_s,
                "failover_start": iso(self.t_fail),
                "detected_at": iso(self.t_detect),
                "failover_end": iso(self.t_restored),
                "ttd_s": self.ttd_s,
                "rto_s": self.rto_s,
            },
            "rpo": self.rpo,
            "writes": self.writes,
            "load": self.load,
            "steps": [s.to_dict() for s in self.steps],
            "rollbacks": [s.to_dict() for s in self.rollbacks],
            "health": self.health,
            "events": self.events,
            "gates": [g.to_dict() for g in self.gates],
            "exit_code": self.exit_code,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DrillJournal:
        if data.get("kind") != JOURNAL_KIND:
            raise ValueError("not a slokit drill journal (no 'kind: slokit-drill')")
        timings = data.get("timings") or {}
        ended = data.get("ended")
        return cls(
            title=data["title"],
            name=data["name"],
            source=data.get("source", ""),
            started=_when(data["started"]),
            ended=_when(ended) if ended else None,
            status=data["status"],
            reasons=list(data.get("reasons", [])),
            steps=[StepRecord.from_dict(s) for s in data.get("steps", [])],
            rollbacks=[StepRecord.from_dict(s) for s in data.get("rollbacks", [])],
            t_fail=timings.get("t_fail"),
            t_detect=timings.get("t_detect"),
            detected_by=timings.get("detected_by"),
            t_restored=timings.get("t_restored"),
            sustain_s=timings.get("sustain_s"),
            rpo=data.get("rpo"),
            writes=data.get("writes"),
            load=data.get("load"),
            health=list(data.get("health", [])),
            events=list(data.get("events", [])),
            gates=[GateResult(**g) for g in data.get("gates", [])],
        )


def _when(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)
