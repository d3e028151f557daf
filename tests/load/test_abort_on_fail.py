"""k6's abortOnFail: a gate marked abort_on_fail that fails while the load runs stops the
run (exit 1, partial results, later scenarios not run); one that holds changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests._support import UvicornApp, run_slokit

SPEC = """service: abort
target: URL
scenarios:
  failing:
    executor: constant-vus
    vus: 2
    duration: 1h
    flow:
      - get: /status/500
    gates:
      - {gate: "error_rate < 5%", abort_on_fail: true, delay_abort_eval: 1s}
  never:
    executor: constant-vus
    vus: 1
    duration: 1h
    flow:
      - get: /ok
"""

HEALTHY = """service: healthy
target: URL
gates:
  - {gate: "error_rate < 5%", abort_on_fail: true}
scenarios:
  fine:
    executor: constant-vus
    vus: 2
    duration: 2s
    flow:
      - get: /ok
"""


def test_a_failing_abort_on_fail_gate_stops_an_hour_long_run(tmp_path: Path) -> None:
    app = UvicornApp("asgi_app:app")
    try:
        spec = tmp_path / "slokit.yaml"
        spec.write_text(SPEC.replace("URL", app.url), encoding="utf-8")
        done = run_slokit(
            "run", str(spec), "-w", "1", "--no-store", "--out", str(tmp_path / "out"), timeout=60
        )
    finally:
        app.kill()
    assert done.returncode == 1, done.stdout + done.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert results["partial"] is True
    assert list(results["scenarios"]) == ["failing"]  # the run stopped: `never` never ran
    failing = results["scenarios"]["failing"]
    assert failing["stopped_by_gate"] == "error_rate < 5%"
    assert "abort_on_fail stopped the run" in failing["abort_reason"]
    assert failing["duration_s"] < 60
    (verdict,) = [v for v in failing["verdicts"] if v["name"] == "error_rate < 5%"]
    assert verdict["passed"] is False
    assert "abort_on_fail stopped the run" in done.stdout
    assert "FAIL" in done.stdout


def test_an_abort_on_fail_gate_that_holds_lets_the_run_finish(tmp_path: Path) -> None:
    app = UvicornApp("asgi_app:app")
    try:
        spec = tmp_path / "slokit.yaml"
        spec.write_text(HEALTHY.replace("URL", app.url), encoding="utf-8")
        done = run_slokit("run", str(spec), "-w", "1", "--no-store", "--out", str(tmp_path))
    finally:
        app.kill()
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert results["partial"] is False
    assert results["scenarios"]["fine"]["stopped_by_gate"] is None
