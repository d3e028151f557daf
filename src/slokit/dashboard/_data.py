"""What the pages show, gathered from the store: plain frozen dataclasses for the templates
and the JSON API.

A *scenario run* is one scenario of one recorded run: its total (warm-up excluded) and its
verdicts. The overview shows the newest scenario run of every (service, scenario) pair; the
trends page shows them all, oldest to newest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slokit.dashboard._source import Source
from slokit.report import is_judged
from slokit.store import RequestSummary, RunSummary, StoredVerdict

__all__ = [
    "OVERVIEW_RUNS",
    "SPARK_RUNS",
    "TREND_RUNS",
    "ScenarioCard",
    "ScenarioRun",
    "ServiceGroup",
    "overview",
    "scenario_runs",
]

OVERVIEW_RUNS = 500
"""The overview groups this many of the newest runs by service and scenario."""
SPARK_RUNS = 20
"""Runs in an overview card's p95 sparkline."""
TREND_RUNS = 100
"""Runs on a trends page."""


@dataclass(frozen=True)
class ScenarioRun:
    """One scenario of one recorded run."""

    run: RunSummary
    scenario: str
    stats: RequestSummary
    verdicts: tuple[StoredVerdict, ...]

    @property
    def status(self) -> tuple[str, str]:
        """(word, css class): aborted, failed (gated or not), passed, or nothing judged."""
        if self.run.partial:
            return "ABORTED", "soft"
        failed = [v for v in self.verdicts if not v.passed]
        if any(v.gated for v in failed):
            return "FAIL", "fail"
        if failed:
            return "FAIL (not gated)", "soft"
        # SLOs a load test cannot measure (custom PromQL SLIs) pass nothing.
        judged = any(is_judged(v) for v in self.verdicts)
        return ("PASS", "pass") if judged else ("NOT JUDGED", "none")

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run.id,
            "service": self.run.service,
            "scenario": self.scenario,
            "started": self.run.to_dict()["started"],
            "status": self.status[0].lower(),
            "labels": dict(self.run.labels),
            "total": self.stats.to_dict(),
            "verdicts": [{**v.to_dict(), "judged": is_judged(v)} for v in self.verdicts],
        }


def scenario_run(source: Source, run: RunSummary, scenario: str) -> ScenarioRun | None:
    stats = source.scenario_totals(run).get(scenario)
    if stats is None:
        return None
    verdicts = tuple(v for v in source.verdicts(run) if v.scenario == scenario)
    return ScenarioRun(run, scenario, stats, verdicts)


def scenario_runs(
    source: Source, service: str, scenario: str, limit: int = TREND_RUNS
) -> list[ScenarioRun]:
    """The newest ``limit`` runs of one scenario of one service, newest first."""
    found = (
        scenario_run(source, run, scenario)
        for run in source.runs(service=service, scenario=scenario, limit=limit)
    )
    return [r for r in found if r is not None]


@dataclass(frozen=True)
class ScenarioCard:
    """The overview's card of one scenario: its newest run and a p95 trend."""

    last: ScenarioRun
    recent: tuple[ScenarioRun, ...]
    """Up to :data:`SPARK_RUNS` runs, oldest first, the newest last."""

    @property
    def service(self) -> str:
        return self.last.run.service

    @property
    def scenario(self) -> str:
        return self.last.scenario

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.last.to_dict(),
            "p95_trend": [
                {"run": r.run.id, "p95_ms": r.stats.p95_ms if r.stats.count else None}
                for r in self.recent
            ],
        }


@dataclass(frozen=True)
class ServiceGroup:
    name: str
    cards: tuple[ScenarioCard, ...]


def overview(source: Source, limit: int = OVERVIEW_RUNS) -> list[ServiceGroup]:
    """Every (service, scenario) among the newest ``limit`` runs, by name."""
    pairs: dict[tuple[str, str], list[RunSummary]] = {}
    for run in source.runs(limit=limit):  # newest first
        for scenario in run.scenarios:
            pairs.setdefault((run.service, scenario), []).append(run)
    services: dict[str, list[ScenarioCard]] = {}
    for (service, scenario), runs in sorted(pairs.items()):
        found = (scenario_run(source, run, scenario) for run in runs[:SPARK_RUNS])
        recent = [r for r in found if r is not None]
        if recent:
            card = ScenarioCard(recent[0], tuple(reversed(recent)))
            services.setdefault(service, []).append(card)
    return [ServiceGroup(name, tuple(cards)) for name, cards in services.items()]
