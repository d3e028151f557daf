"""Scenarios side by side (k6's ``startTime``): a mixed workload as one run, one verdict.

The target records the first and last time each scenario's own path was hit, so what ran
at the same time is read from the server, not taken from slokit's word for it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slokit.load._plan import plan
from slokit.results import RunResults, ScenarioResults
from slokit.spec import load_spec
from tests._support import UvicornApp, run_slokit, slokit_cmd
from tests.load.test_abort import _alive, finish, worker_pids
from tests.load.test_engine import write_spec


def _marks(app: UvicornApp, key: str) -> tuple[float, float]:
    with urllib.request.urlopen(f"{app.url}/marks/{key}", timeout=5) as resp:
        seen = json.loads(resp.read())
    assert seen["first"] is not None, f"{key} was never hit"
    return float(seen["first"]), float(seen["last"])


def test_scenarios_with_start_time_run_together_between_the_others(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    key = f"mix{os.getpid()}{time.monotonic_ns()}"
    spec = write_spec(
        tmp_path,
        f"""
        service: mix
        target: {shared_app.url}
        scenarios:
          before:
            executor: constant-vus
            vus: 1
            duration: 1s
            flow: [{{get: /mark/{key}-before}}]
          bulk:
            executor: constant-vus
            vus: 2
            duration: 4s
            think: 50ms
            start_time: 0s
            flow: [{{get: /mark/{key}-bulk}}]
            gates: ["p95 < 10s"]
          quotes:
            executor: constant-arrival-rate
            rate: 20
            duration: 1500ms
            start_time: 2s
            flow:
              - get: /mark/{key}-quotes
              - get: /status/503
            gates: ["error_rate < 1%"]
          after:
            executor: constant-vus
            vus: 1
            duration: 1s
            flow: [{{get: /mark/{key}-after}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "2", "--no-store", "-q", "--out", str(out))
    # One verdict: quotes' gate failed, so the run failed, though bulk passed beside it.
    assert done.returncode == 1, done.stdout + done.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["partial"] is False
    assert list(res["scenarios"]) == ["before", "bulk", "quotes", "after"]
    bulk, quotes = res["scenarios"]["bulk"], res["scenarios"]["quotes"]
    assert bulk["passed"] is True
    assert quotes["passed"] is False
    assert bulk["alongside"] == ["quotes"]
    assert quotes["alongside"] == ["bulk"]
    assert res["scenarios"]["before"]["alongside"] == []
    assert (bulk["start_time"], quotes["start_time"]) == (0.0, 2.0)
    # -w 2 is the machine's budget: the two scenarios at once get one worker each.
    assert (bulk["workers"], quotes["workers"]) == (1, 1)

    before, b, q, after = (
        _marks(shared_app, f"{key}-{n}") for n in ("before", "bulk", "quotes", "after")
    )
    assert before[1] < b[0], "bulk started before the scenario listed ahead of it ended"
    assert b[0] < q[0] < b[1], "quotes did not run while bulk did, after it began"
    assert max(b[1], q[1]) < after[0], "the scenario after the group began before it ended"

    assert "ran alongside quotes" in done.stdout
    assert "due at +2s" in done.stdout
    assert "ran alongside bulk; due at +2s" in (out / "report.html").read_text()
    assert "Side by side: ran alongside quotes" in (out / "summary.md").read_text()


def test_an_abort_on_fail_gate_stops_the_scenarios_beside_it(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    # `failing` starts 5 s in: its workers are spawned shortly before it is due.
    spec = write_spec(
        tmp_path,
        f"""
        service: mix-abort
        target: {shared_app.url}
        scenarios:
          steady:
            executor: constant-vus
            vus: 1
            duration: 1h
            think: 50ms
            start_time: 0s
            flow: [{{get: /ok}}]
          failing:
            executor: constant-vus
            vus: 1
            duration: 1h
            think: 50ms
            start_time: 5s
            flow: [{{get: /status/500}}]
            gates:
              - {{gate: "error_rate < 5%", abort_on_fail: true, delay_abort_eval: 1s}}
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "--no-store", "-q", "--out", str(out), timeout=90)
    assert done.returncode == 1, done.stdout + done.stderr
    res = json.loads((out / "results.json").read_text())
    steady, failing = res["scenarios"]["steady"], res["scenarios"]["failing"]
    assert failing["stopped_by_gate"] == "error_rate < 5%"
    assert steady["partial"] is True
    assert steady["stopped_by_gate"] == "error_rate < 5%"
    assert "scenario 'failing' ended early" in steady["abort_reason"]
    assert steady["total"]["count"] > 0
    assert steady["total"]["error_rate"] == 0
    assert failing["start_time"] == 5.0
    started = {n: datetime.fromisoformat(s["started"]) for n, s in res["scenarios"].items()}
    assert started["failing"] > started["steady"]


def test_ctrl_c_stops_every_scenario_of_a_parallel_run(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: mix-interrupt
        target: {shared_app.url}
        scenarios:
          one:
            executor: constant-vus
            vus: 2
            duration: 120s
            flow: [{{get: /ok}}]
          two:
            executor: constant-arrival-rate
            rate: 50
            duration: 120s
            flow: [{{get: /ok}}]
        """,
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        slokit_cmd("run", str(spec), "--parallel", "-w", "2", "--no-store", "-q", "-o", str(out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )
    limit = time.monotonic() + 30.0
    pids: list[int] = []
    while len(pids) < 2 and time.monotonic() < limit:
        assert proc.poll() is None, "the run ended before it was interrupted"
        pids = worker_pids(proc.pid)
        time.sleep(0.1)
    assert len(pids) == 2, f"expected a worker per scenario, found {pids}"
    time.sleep(2.0)
    os.killpg(proc.pid, signal.SIGINT)
    code, text = finish(proc, timeout=20.0)
    assert code == 3, text
    assert "Traceback" not in text
    assert not [p for p in pids if _alive(p)], "worker processes left behind"
    res = json.loads((out / "results.json").read_text())
    assert list(res["scenarios"]) == ["one", "two"]
    for sc in res["scenarios"].values():
        assert sc["partial"] is True
        assert "interrupted" in sc["abort_reason"]
        assert sc["total"]["count"] > 0


def test_the_plan_puts_the_group_where_its_first_scenario_is(tmp_path: Path) -> None:
    spec = load_spec(
        write_spec(
            tmp_path,
            """
            service: order
            target: http://127.0.0.1:9
            scenarios:
              a: {executor: constant-vus, vus: 1, duration: 1s, flow: [{get: /}]}
              b: {executor: constant-vus, vus: 1, duration: 1s, start_time: 0s, flow: [{get: /}]}
              c: {executor: constant-vus, vus: 1, duration: 1s, flow: [{get: /}]}
              d: {executor: constant-vus, vus: 1, duration: 1s, start_time: 10s, flow: [{get: /}]}
            """,
        )
    )
    assert plan(spec, ["a", "b", "c", "d"]) == [["a"], ["b", "d"], ["c"]]
    assert plan(spec, ["d", "a"]) == [["d"], ["a"]]  # alone, a start_time is ignored
    assert plan(spec, ["c", "a"], parallel=True) == [["c", "a"]]


def _result(name: str, started: datetime, duration: float, alongside: list[str]) -> ScenarioResults:
    return ScenarioResults(
        name=name,
        executor="constant-vus",
        requests={},
        timeline=[],
        duration_s=duration,
        warmup_s=1.0,
        workers=1,
        started=started,
        alongside=alongside,
    )


def test_the_time_scenarios_shared_counts_once_in_the_run_rates() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    run = RunResults(
        service="s",
        target=None,
        started=t,
        duration_s=30.0,
        partial=False,
        scenarios=[
            _result("alone", t, 6.0, []),  # 5 s measured
            _result("a", t + timedelta(seconds=10), 10.0, ["b"]),  # measures 11..20
            _result("b", t + timedelta(seconds=15), 10.0, ["a"]),  # measures 16..25
        ],
    )
    assert run.measured_s == pytest.approx(5.0 + 14.0)


def test_start_time_is_checked_like_any_duration(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """
        service: bad
        target: http://127.0.0.1:9
        scenarios:
          a: {executor: constant-vus, vus: 1, duration: 1s, startTime: 5s, flow: [{get: /}]}
          b: {executor: constant-vus, vus: 1, duration: 1s, start_time: soon, flow: [{get: /}]}
        """,
    )
    done = run_slokit("validate", str(spec))
    assert done.returncode == 2
    assert "did you mean 'start_time'" in done.stderr + done.stdout
    assert "scenarios.b.start_time" in done.stderr + done.stdout
