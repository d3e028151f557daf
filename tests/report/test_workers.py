"""Where the load came from: the per-worker record of a run, in every report, kept and read back."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from slokit.cli._live import _line
from slokit.load import LiveTick
from slokit.report import render_html, render_terminal, summary_markdown, worker_lines
from slokit.results import RequestStats, RunResults, ScenarioResults, WorkerStats


def _results(workers: list[WorkerStats]) -> RunResults:
    stats = RequestStats("GET /ok", "GET", "/ok")
    for n in range(300):
        stats.latency.record(1000 + n)
    stats.count = 300
    sc = ScenarioResults(
        name="spread",
        executor="constant-arrival-rate",
        requests={"GET /ok": stats},
        timeline=[],
        duration_s=10.0,
        warmup_s=0.0,
        workers=len(workers),
        worker_stats=workers,
        notes=["1 of 3 workers lost (worker 2 on gen-b at +4.2s): what they measured ..."],
    )
    return RunResults("svc", None, datetime(2026, 1, 1, tzinfo=UTC), 10.0, False, [sc])


SPREAD = [
    WorkerStats(0, "gen-a", 120, 0.4),
    WorkerStats(1, "gen-a", 110, 0.4),
    WorkerStats(2, "gen-b", 70, 0.3, lost_at=4.2),
]


def test_requests_are_told_by_node_with_the_lost_worker() -> None:
    sc = _results(SPREAD).scenarios[0]
    assert worker_lines(sc) == [
        "gen-a: 2 workers, 230 requests",
        "gen-b: 1 worker, 70 requests; 1 lost at +4.2s",
    ]
    one_machine = _results([WorkerStats(0, "here", 150, 0.2), WorkerStats(1, "here", 150, 0.2)])
    assert worker_lines(one_machine.scenarios[0]) == []  # nothing to add on one machine


def test_every_report_shows_them_and_results_json_keeps_them() -> None:
    run = _results(SPREAD)
    sink = io.StringIO()
    render_terminal(run, Console(file=sink, width=120, color_system=None))
    terminal = sink.getvalue()
    assert "gen-b: 1 worker, 70 requests; 1 lost at +4.2s" in terminal
    assert "note: 1 of 3 workers lost" in terminal
    assert "- gen-a: 2 workers, 230 requests" in summary_markdown(run)
    assert "gen-b: 1 worker, 70 requests; 1 lost at +4.2s" in render_html(run)
    data = run.to_dict()["scenarios"]["spread"]
    assert data["per_worker"][2] == {
        "worker": 2, "node": "gen-b", "requests": 70, "busy": 0.3, "lost_at": 4.2, "lost": True,
    }  # fmt: skip
    back = RunResults.from_dict(run.to_dict()).scenarios[0]
    assert back.worker_stats == SPREAD
    assert [w.worker for w in back.lost_workers] == [2]


def test_the_live_line_shows_each_nodes_rate_on_a_cluster() -> None:
    tick = LiveTick("spread", 3, 60.0, False, 900, 0, 0, 0, 1.2, nodes=(("a", 500), ("b", 400)))
    assert str(_line(tick)).endswith(" | a 500/s, b 400/s")
    alone = LiveTick("spread", 3, 60.0, False, 900, 0, 0, 0, 1.2, nodes=(("a", 900),))
    assert "a 900/s" not in str(_line(alone))
