"""The load generator watches itself: CPU and event-loop lag per second, the send lag of
open-model arrivals, a stalled or saturated generator said in every report and on the result
line, and all of it read back from results.json."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from slokit.report import render_html
from slokit.report._headline import headline
from slokit.report._soak import generator_line, generator_note
from slokit.results import STALL_MS, RunResults, ScenarioResults
from tests._support import UvicornApp, run_slokit


def _run(tmp_path: Path, body: str, *extra: str) -> tuple[str, dict[str, Any], Path]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(body), encoding="utf-8")
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "1", "--out", str(out), "--no-store", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, json.loads((out / "results.json").read_text(encoding="utf-8")), out


def test_open_model_records_every_arrivals_send_lag(tmp_path: Path, shared_app: UvicornApp) -> None:
    stdout, results, out = _run(
        tmp_path,
        f"""
        service: watch
        target: {shared_app.url}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 200/s
            duration: 3s
            warmup: 1s
            max_vus: 20
            flow: [{{get: /ok}}]
        """,
    )
    sc = results["scenarios"]["open"]
    g = sc["generator"]
    # One send lag per measured arrival that got a response: none invented, none lost.
    assert g["schedule_lag_ms"]["count"] == sc["total"]["count"] > 0
    lag = g["schedule_lag_ms"]
    assert 0 < lag["p50"] <= lag["p99"] <= lag["max"]
    measured = [p for p in sc["timeline"] if not p["warmup"]]
    assert measured
    assert all(0 < p["generator"]["cpu"] <= 1.5 for p in measured)
    assert all(p["generator"]["schedule_lag_p99_ms"] is not None for p in measured if p["requests"])
    assert g["loop_lag_max_ms"] == max(p["generator"]["loop_lag_ms"] for p in measured)
    assert g["stalled"] is False
    assert g["saturated"] is False
    assert "arrivals sent p50" in stdout
    assert "load generator:" in stdout
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Load generator" in html
    assert "generator-line" in html
    # Read back losslessly: the summary, the per-second points and the histogram.
    again = RunResults.from_dict(results).to_dict()["scenarios"]["open"]
    assert again["generator"] == g
    assert [p.get("generator") for p in again["timeline"]] == [
        p.get("generator") for p in sc["timeline"]
    ]


def test_closed_model_sends_no_schedule_lag(tmp_path: Path, shared_app: UvicornApp) -> None:
    _, results, _ = _run(
        tmp_path,
        f"""
        service: watch
        target: {shared_app.url}
        scenarios:
          closed:
            executor: constant-vus
            vus: 2
            duration: 2s
            flow: [{{get: /ok}}]
        """,
    )
    g = results["scenarios"]["closed"]["generator"]
    assert g["schedule_lag_ms"] is None
    assert g["cpu_max"] is not None
    assert g["busy"] is not None


def test_a_journey_that_blocks_the_loop_is_reported_as_a_stall(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    (tmp_path / "journeys.py").write_text(
        textwrap.dedent(
            """
            import time

            async def blocking(s):
                await s.get("/ok")
                time.sleep(0.2)  # a synchronous call: the whole event loop waits
            """
        ),
        encoding="utf-8",
    )
    stdout, results, out = _run(
        tmp_path,
        f"""
        service: watch
        target: {shared_app.url}
        scenarios:
          blocking:
            executor: per-vu-iterations
            vus: 1
            iterations: 8
            max_duration: 10s
            script: journeys.py:blocking
        """,
    )
    g = results["scenarios"]["blocking"]["generator"]
    assert g["stalled"] is True
    assert g["loop_lag_max_ms"] >= STALL_MS
    assert "event loop stalled" in stdout
    assert "event loop stalled" in (out / "summary.md").read_text(encoding="utf-8")
    assert "event loop stalled" in (out / "report.html").read_text(encoding="utf-8")


def _scenario(**generator: Any) -> ScenarioResults:
    data = {
        "name": "hot",
        "executor": "constant-vus",
        "started": "2026-12-07T10:00:00Z",
        "duration_s": 10.0,
        **generator,
    }
    return ScenarioResults.from_dict(data)


def test_a_saturated_generator_is_said_on_the_result_line() -> None:
    hot = _scenario(generator_busy=0.97)
    calm = _scenario(generator_busy=0.4)
    run = RunResults.from_dict(
        {
            "service": "s",
            "target": None,
            "started": "2026-12-07T10:00:00Z",
            "duration_s": 10.0,
            "partial": False,
            "scenarios": {"hot": hot.to_dict()},
        }
    )
    assert hot.generator_saturated
    assert not calm.generator_saturated
    line = headline(run).line
    assert line.startswith("PASS")
    assert "measured on a saturated load generator: hot" in line
    note = generator_note(hot)
    assert note is not None
    assert "97% busy" in note
    assert generator_note(calm) is None
    # No per-second watch (a run from before it existed): no line and no chart, no error.
    assert generator_line(calm) is not None  # the run-level CPU share is still known
    assert "Load generator</" not in render_html(run)


def test_arrivals_a_blocked_generator_never_sent_are_dropped_not_hidden(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    (tmp_path / "journeys.py").write_text(
        textwrap.dedent(
            """
            import time

            async def heavy(s):
                await s.get("/ok")
                time.sleep(0.05)  # the generator's own CPU: 20 iterations a second at most
            """
        ),
        encoding="utf-8",
    )
    stdout, results, _ = _run(
        tmp_path,
        f"""
        service: watch
        target: {shared_app.url}
        scenarios:
          behind:
            executor: constant-arrival-rate
            rate: 100/s
            duration: 2s
            max_vus: 500
            script: journeys.py:heavy
        """,
    )
    sc = results["scenarios"]["behind"]
    sent = sc["requests"]["GET /ok"]["count"]
    dropped = sc["total"]["dropped"]
    # Every arrival of the 2 s at 100/s is sent (late, its lag in its latency) or dropped
    # (still overdue at the end): the shortfall is never a silently lower rate.
    assert sent + dropped == 200
    assert sc["generator"]["late"] > 0.5
    assert sc["generator"]["schedule_lag_ms"]["p99"] > 100
    assert sc["generator"]["saturated"] is True
    assert "measured on a saturated load generator: behind" in stdout
