"""The store suite runs on real SQLite (a temp file) and the machine's real PostgreSQL.

PostgreSQL: one throwaway database per test session (``pg_database`` in tests/conftest.py),
one schema per test inside it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slokit.results import RequestStats, RunResults, ScenarioResults, TimelinePoint, Verdict
from slokit.store import RunStore, open_store
from tests._pg import pg_schema_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history' / 'runs.db'}"
    return pg_schema_url(request.getfixturevalue("pg_database"))


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[RunStore]:
    with open_store(store_url, project_dir=tmp_path) as opened:
        yield opened


T0 = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)

Requests = Mapping[str, tuple[Sequence[int], Mapping[str, int]]]
"""Request name -> (latencies in µs, failures by kind)."""


def stats(name: str, latencies_us: Sequence[int], failures: Mapping[str, int]) -> RequestStats:
    method, _, path = name.partition(" ")
    result = RequestStats(name, method, path)
    for us in latencies_us:
        result.latency.record(us)
    result.count = len(latencies_us) + sum(
        n for kind, n in failures.items() if kind in ("timeout", "connect")
    )
    result.failures = dict(failures)
    result.checks_passed = len(latencies_us)
    return result


def gate(name: str, passed: bool, scenario: str = "smoke") -> Verdict:
    return Verdict(
        name=name,
        kind="gate",
        scenario=scenario,
        passed=passed,
        observed=0.2,
        threshold=0.1,
        op="<",
        unit="s",
        detail=f"{name}: measured",
    )


def make_run(
    requests: Requests | None = None,
    *,
    service: str = "svc",
    scenarios: Sequence[str] = ("smoke",),
    verdicts: Sequence[Verdict] = (),
    partial: bool = False,
    started: datetime = T0,
    measured_s: float = 10.0,
    gated: bool = True,
) -> RunResults:
    """A run whose every scenario made ``requests``; ``verdicts`` go to their scenario."""
    requests = requests or {"GET /a": ([1000, 2000, 3000, 250_000], {"5xx": 1})}
    scs = []
    for i, name in enumerate(scenarios):
        built = {n: stats(n, lat, fail) for n, (lat, fail) in requests.items()}
        total = RequestStats("total")
        for s in built.values():
            total.merge(s)
        scs.append(
            ScenarioResults(
                name=name,
                executor="constant-vus",
                requests=built,
                timeline=[TimelinePoint.of(0, False, total, 2)],
                duration_s=measured_s + 1.0,
                warmup_s=1.0,
                workers=1,
                partial=partial,
                abort_reason="interrupted (Ctrl-C)" if partial else None,
                started=started + timedelta(seconds=20 * i),
                verdicts=[v for v in verdicts if v.scenario == name],
                gated=gated,
            )
        )
    return RunResults(service, "http://127.0.0.1:1", started, 20.0 * len(scs), partial, scs)
