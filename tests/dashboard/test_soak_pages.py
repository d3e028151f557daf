"""The dashboard shows what soaks and capacity searches recorded: resources, drift and the
capacity table on the run page, capacity across runs on the trends page and in compare."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from slokit.results import (
    CapacityResult,
    CapacityStep,
    ResourceTimeline,
    RunResults,
)
from slokit.store import open_store
from tests.dashboard.conftest import START, running_dashboard
from tests.store.conftest import make_run

MIB = 2**20


def _step(rate: float, passed: bool) -> CapacityStep:
    return CapacityStep(
        rate=rate,
        phase="search",
        passed=passed,
        achieved=min(rate, 200.0),
        requests=int(rate * 2),
        failed=0,
        dropped=0,
        p50_ms=20.0,
        p95_ms=21.0 if passed else 900.0,
        p99_ms=22.0 if passed else 950.0,
        broke=[] if passed else ["fast"],
        generator_late=0.0,
    )


def _capacity_run(hours: int, sustainable: float) -> RunResults:
    run = make_run(scenarios=("breaking",), started=START + timedelta(hours=hours))
    sc = run.scenarios[0]
    sc.executor = "capacity"
    sc.capacity = CapacityResult(
        steps=[_step(100, True), _step(sustainable, True), _step(sustainable * 1.5, False)],
        sustainable=sustainable,
        breaking=sustainable * 1.5,
        broke_first=["fast"],
        limit="target",
        limit_detail=f"the target broke at {sustainable * 1.5:g}/s: fast",
    )
    samples = [(float(t), {"rss": 40 * MIB + t * MIB, "cpu": 0.5}) for t in range(20)]
    sc.resources = ResourceTimeline(interval=1.0, samples=samples, sources=["pid 1"])
    return run


def test_run_trends_and_compare_pages_show_capacity_and_resources(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with open_store(url, project_dir=tmp_path) as store:
        first = store.record(_capacity_run(0, 200.0), spec_text="s", labels={}, git=None).id
        second = store.record(_capacity_run(1, 160.0), spec_text="s", labels={}, git=None).id
    with (
        running_dashboard("--store", url, "--project", str(tmp_path)) as dash,
        dash.client() as client,
    ):
        page = client.get(f"/runs/{second}").text
        trends = client.get(f"/services/svc/{quote('breaking')}").text
        compare = client.get(f"/compare?a={first}&b={second}").text
    assert '<table class="capacity">' in page
    assert "sustainable rate: 160/s" in page
    assert '<table class="resources">' in page
    assert "growing" in page  # one MiB a second is a leak
    assert 'id="figure-0-memory"' in page
    assert 'id="figure-0-capacity"' in page
    assert 'id="trend-capacity"' in trends
    assert '"sustainable"' in trends
    assert 'data-metric="capacity"' in compare
    assert "200/s" in compare
    assert "160/s" in compare
