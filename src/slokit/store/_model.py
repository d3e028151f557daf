"""What the store hands back: frozen snapshots of recorded runs, never live database rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slokit.results import RunResults, Verdict, format_time

__all__ = ["GitInfo", "RequestSummary", "RunRecord", "RunSummary", "StoredVerdict"]


@dataclass(frozen=True)
class GitInfo:
    """Where the code under test came from: the commit and, unless detached, the branch."""

    commit: str
    branch: str | None = None

    @property
    def short(self) -> str:
        return self.commit[:10]


@dataclass(frozen=True)
class RequestSummary:
    """One request name (or the run's total) as results.json summarises it; latencies in ms."""

    name: str
    method: str
    path: str
    count: int
    failed: int
    failures: dict[str, int]
    dropped: int
    error_rate: float
    rps: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of(cls, stats: dict[str, Any]) -> RequestSummary:
        """From a ``STATS`` object of results.json."""
        latency = stats.get("latency_ms", {})
        failures = {str(k): int(v) for k, v in dict(stats.get("failures", {})).items()}
        return cls(
            name=str(stats["name"]),
            method=str(stats.get("method", "-")),
            path=str(stats.get("path", "-")),
            count=int(stats.get("count", 0)),
            failed=sum(failures.values()),
            failures=failures,
            dropped=int(stats.get("dropped", 0)),
            error_rate=float(stats.get("error_rate", 0.0)),
            rps=float(stats.get("rps", 0.0)),
            p50_ms=float(latency.get("p50", 0.0)),
            p90_ms=float(latency.get("p90", 0.0)),
            p95_ms=float(latency.get("p95", 0.0)),
            p99_ms=float(latency.get("p99", 0.0)),
            max_ms=float(latency.get("max", 0.0)),
            mean_ms=float(latency.get("mean", 0.0)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "path": self.path,
            "count": self.count,
            "failed": self.failed,
            "failures": dict(self.failures),
            "dropped": self.dropped,
            "error_rate": self.error_rate,
            "rps": self.rps,
            "latency_ms": {
                "p50": self.p50_ms,
                "p90": self.p90_ms,
                "p95": self.p95_ms,
                "p99": self.p99_ms,
                "max": self.max_ms,
                "mean": self.mean_ms,
            },
        }


StoredVerdict = Verdict
"""A recorded run's verdict is the verdict the run gave: one class, one serialisation."""


@dataclass(frozen=True)
class RunSummary:
    """One recorded run, as ``slokit runs list`` shows it."""

    id: int
    """Short, sortable and typable: ``slokit runs show 12``."""
    service: str
    scenarios: tuple[str, ...]
    """In the order they ran."""
    target: str | None
    started: datetime
    ended: datetime
    duration_s: float
    spec_hash: str
    """sha256 of the spec file's text: runs of the same spec share it."""
    git: GitInfo | None
    labels: dict[str, str]
    partial: bool
    """The run was aborted (exit code 3); its numbers are incomplete."""
    abort_reason: str | None
    passed: bool
    """As results.json says: every gated verdict passed."""
    held_back: int
    """Failed verdicts that ``--fail-after`` did not let fail the run (not gated this time)."""
    exit_code: int
    total: RequestSummary
    recorded: datetime

    @property
    def status(self) -> str:
        """``pass``, ``fail``, ``held`` (failed, held back by --fail-after) or ``aborted``."""
        if self.partial:
            return "aborted"
        if not self.passed:
            return "fail"
        return "held" if self.held_back else "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service": self.service,
            "scenarios": list(self.scenarios),
            "target": self.target,
            "started": format_time(self.started),
            "ended": format_time(self.ended),
            "duration_s": self.duration_s,
            "spec_hash": self.spec_hash,
            "git": None
            if self.git is None
            else {"commit": self.git.commit, "branch": self.git.branch},
            "labels": dict(self.labels),
            "status": self.status,
            "partial": self.partial,
            "abort_reason": self.abort_reason,
            "passed": self.passed,
            "held_back": self.held_back,
            "exit_code": self.exit_code,
            "total": self.total.to_dict(),
            "recorded": format_time(self.recorded),
        }


@dataclass(frozen=True)
class RunRecord(RunSummary):
    """A recorded run in full: its verdicts, per-request summaries and results.json."""

    verdicts: tuple[StoredVerdict, ...]
    requests: tuple[RequestSummary, ...]
    """Per request name over the whole run (all scenarios), as results.json's ``requests``."""
    document: dict[str, Any]
    """The results.json document exactly as the run wrote it, histograms included."""

    def results(self) -> RunResults:
        """The run rebuilt losslessly (histograms, timeline, verdicts)."""
        return RunResults.from_dict(self.document)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["verdicts"] = [v.to_dict() for v in self.verdicts]
        data["requests"] = [r.to_dict() for r in self.requests]
        return data
