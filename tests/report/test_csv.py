"""stats.csv and history.csv: Locust's headers exactly, numbers that match results.json."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from slokit.errors import UsageError
from slokit.report import history_csv, stats_csv, write_reports
from slokit.results import RequestStats, RunResults, ScenarioResults, TimelinePoint
from tests.report.conftest import EVIL, RunOut

PERCENTILES = ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"]
STATS = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    *PERCENTILES,
]
HISTORY = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    *PERCENTILES,
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
]

# Importing locust monkey-patches the process with gevent: ask it in a child process.
LOCUST_COLUMNS = """
import json, os, tempfile
from locust.env import Environment
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter
with tempfile.TemporaryDirectory() as d:
    w = StatsCSVFileWriter(Environment(), PERCENTILES_TO_REPORT, os.path.join(d, "x"))
    print(json.dumps({"stats": w.requests_csv_columns, "history": w.stats_history_csv_columns}))
    w.close_files()
"""


@cache
def locust_columns() -> dict[str, list[str]]:
    if importlib.util.find_spec("locust") is None:
        pytest.skip("locust is not installed (pip install slokit[bench])")
    done = subprocess.run(
        [sys.executable, "-c", LOCUST_COLUMNS], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    columns: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return columns


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def header(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text)))


def test_headers_are_locusts_exactly(report_run: RunOut) -> None:
    assert header(report_run.text("stats.csv")) == STATS
    assert header(report_run.text("history.csv")) == HISTORY
    locust = locust_columns()
    assert header(report_run.text("stats.csv")) == locust["stats"]
    assert header(report_run.text("history.csv")) == locust["history"]


def test_stats_rows_match_results_json_and_aggregated_sums(report_run: RunOut) -> None:
    table = rows(report_run.text("stats.csv"))
    res = report_run.results
    *requests, total = table
    assert (total["Type"], total["Name"]) == ("", "Aggregated")
    assert [r["Name"] for r in requests] == list(res["requests"])
    assert EVIL in [r["Name"] for r in requests]  # CSV is data: names verbatim, quoted by csv
    for column in ("Request Count", "Failure Count"):
        assert int(total[column]) == sum(int(r[column]) for r in requests)
    assert float(total["Requests/s"]) == pytest.approx(
        sum(float(r["Requests/s"]) for r in requests), abs=0.01
    )
    assert int(total["Request Count"]) == res["total"]["count"]
    for r in requests:
        summary = res["requests"][r["Name"]]
        assert r["Type"] == "GET"
        assert int(r["Request Count"]) == summary["count"]
        assert int(r["Failure Count"]) == sum(summary["failures"].values())
        latency = summary["latency_ms"]
        assert float(r["50%"]) == latency["p50"]
        assert float(r["Median Response Time"]) == latency["p50"]
        assert float(r["95%"]) == latency["p95"]
        assert float(r["99%"]) == latency["p99"]
        assert float(r["100%"]) == float(r["Max Response Time"]) == latency["max"]
        assert float(r["Min Response Time"]) == latency["min"]
        assert float(r["Average Response Time"]) == pytest.approx(latency["mean"], abs=0.001)
        assert float(r["Requests/s"]) == pytest.approx(summary["rps"], abs=0.001)
        assert float(r["Average Content Size"]) > 0
    evil = next(r for r in requests if r["Name"] == EVIL)
    assert int(evil["Failure Count"]) == int(evil["Request Count"]) > 0


def test_history_has_one_row_per_timeline_second(report_run: RunOut) -> None:
    table = rows(report_run.text("history.csv"))
    scenarios = list(report_run.results["scenarios"].values())
    timeline = [p for sc in scenarios for p in sc["timeline"]]
    assert len(table) == len(timeline)
    assert {(r["Type"], r["Name"]) for r in table} == {("", "Aggregated")}
    steady = scenarios[0]
    start = int(datetime.fromisoformat(steady["started"].replace("Z", "+00:00")).timestamp())
    first = table[: len(steady["timeline"])]
    assert [int(r["Timestamp"]) for r in first] == [start + p["second"] for p in steady["timeline"]]
    for r, p in zip(table, timeline, strict=True):
        assert int(r["Requests/s"]) == p["requests"]
        assert int(r["Failures/s"]) == p["failures"]
        assert int(r["User Count"]) == p["vus"]
        if p["latency_ms"]["max"] > 0:
            assert float(r["95%"]) == p["latency_ms"]["p95"]
            assert float(r["100%"]) == p["latency_ms"]["max"]
        assert r["66%"] == "N/A"  # not in results.json's per-second data
    # warm-up seconds are excluded from the running totals, as from every slokit total
    assert steady["timeline"][0]["warmup"] is True
    assert int(table[0]["Total Request Count"]) == 0
    assert int(table[-1]["Total Request Count"]) == report_run.results["total"]["count"]
    assert int(table[-1]["Total Failure Count"]) == sum(
        report_run.results["total"]["failures"].values()
    )


def _sc(name: str, stats: RequestStats, started: datetime) -> ScenarioResults:
    return ScenarioResults(
        name=name,
        executor="constant-vus",
        requests={stats.name: stats},
        timeline=[TimelinePoint.of(0, False, stats, 3), TimelinePoint.of(1, False, stats, 3)],
        duration_s=2.0,
        warmup_s=0.0,
        workers=1,
        started=started,
    )


def test_requests_without_responses_read_n_a_and_scenarios_follow_each_other() -> None:
    dead = RequestStats("GET /dead", "GET", "/dead")
    dead.count, dead.failures = 4, {"connect": 4}
    custom = RequestStats("journey step")  # a script request without a method
    custom.latency.record(1500)
    custom.count = 1
    t0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    t1 = datetime(2026, 1, 2, 3, 4, 8, tzinfo=UTC)
    results = RunResults("svc", None, t0, 5.0, False, [_sc("a", dead, t0), _sc("b", custom, t1)])
    table = rows(stats_csv(results))
    assert table[0]["Name"] == "GET /dead"
    assert table[0]["50%"] == table[0]["100%"] == "N/A"
    assert table[0]["Failures/s"] == "1"
    assert (table[1]["Type"], table[1]["Median Response Time"]) == ("", "1.5")
    history = rows(history_csv(results))
    assert [int(r["Timestamp"]) - int(t0.timestamp()) for r in history] == [0, 1, 3, 4]
    assert [r["Total Request Count"] for r in history] == ["4", "8", "9", "10"]
    assert history[0]["50%"] == "N/A"
    assert history[2]["50%"] == "1.5"


def test_write_reports_can_write_a_subset_and_rejects_unknown_names(tmp_path: Path) -> None:
    t0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    stats = RequestStats("GET /x", "GET", "/x")
    results = RunResults("svc", None, t0, 2.0, False, [_sc("a", stats, t0)])
    written = write_reports(results, tmp_path / "o", only=["stats.csv", "history.csv"])
    assert [p.name for p in written] == ["stats.csv", "history.csv"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["history.csv", "stats.csv"]
    with pytest.raises(UsageError, match="unknown report file"):
        write_reports(results, tmp_path, only=["report.pdf"])
