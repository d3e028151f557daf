"""Spikes on a real server of known capacity that is slow to recover: the worst second and
the recovery time after the load falls back are measured and gated."""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support import UvicornApp, slokit_cmd

SPIKE = """
service: spike
target: {url}
slos:
  fast: {{objective: 95%, latency: 100ms}}
gates: ["recovery < 30s"]
scenarios:
  spike:
    executor: ramping-arrival-rate
    start_rate: 50/s
    max_vus: 1000
    recovery_hold: 2s
    flow: [{{get: /}}]
    stages:
      - {{to: 50/s, over: 3s}}
      - {{to: 400/s, over: 1s}}
      - {{to: 400/s, over: 3s}}
      - {{to: 50/s, over: 1s}}
      - {{to: 50/s, over: {tail}}}
    gates: ["recovery < {within}"]
"""


def _start(base: Path, name: str, recover_s: str, tail: str, within: str) -> dict[str, Any]:
    server = UvicornApp("capacity_app:app", env={"RECOVER_S": recover_s})
    spec = base / f"{name}.yaml"
    spec.write_text(
        textwrap.dedent(SPIKE.format(url=server.url, tail=tail, within=within)), encoding="utf-8"
    )
    out = base / name
    cmd = slokit_cmd("run", str(spec), "-w", "1", "--out", str(out))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return {"server": server, "proc": proc, "out": out}


def _finish(run: dict[str, Any]) -> dict[str, Any]:
    stdout, _ = run["proc"].communicate(timeout=120)
    results = json.loads((run["out"] / "results.json").read_text(encoding="utf-8"))
    return {"code": run["proc"].returncode, "stdout": stdout, "results": results, **run}


@pytest.fixture(scope="module")
def spikes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """Two spikes side by side: one server recovers 3 s after its queue drains, one never."""
    base = tmp_path_factory.mktemp("spike")
    started: dict[str, dict[str, Any]] = {}
    try:
        started["recovers"] = _start(base, "recovers", "3", "14s", "1s")
        started["stuck"] = _start(base, "stuck", "600", "6s", "30s")
        yield {name: _finish(run) for name, run in started.items()}
    finally:
        for run in started.values():
            if run["proc"].poll() is None:
                run["proc"].kill()
            run["server"].kill()


def _verdicts(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in run["results"]["scenarios"]["spike"]["verdicts"]}


def test_the_spike_is_found_and_its_worst_second_measured(
    spikes: dict[str, dict[str, Any]],
) -> None:
    spike = spikes["recovers"]["results"]["scenarios"]["spike"]["spike"]
    assert (spike["rise_s"], spike["drop_s"], spike["peak"], spike["low"]) == (3, 8, 400, 50)
    assert spike["unit"] == "/s"
    assert spike["baseline_p95_ms"] < 50  # 20 ms of service before the rise
    assert spike["peak_p95_ms"] > 300  # a 400/s spike on a 200/s service queues
    assert spike["failing_at_drop"] == ["fast"]


def test_recovery_is_measured_and_gated(spikes: dict[str, dict[str, Any]]) -> None:
    run = spikes["recovers"]
    spike = run["results"]["scenarios"]["spike"]["spike"]
    assert spike["recovered"]
    # The backlog drains, then 3 s of degraded service: recovery takes seconds, not zero.
    assert 2.0 <= spike["recovered_after_s"] <= 14.0
    verdicts = _verdicts(run)
    assert verdicts["recovery < 30s"]["passed"]
    assert verdicts["recovery < 30s"]["observed"] == spike["recovered_after_s"]
    assert not verdicts["recovery < 1s"]["passed"]
    assert run["code"] == 1
    assert "recovered " in run["stdout"]
    assert "Spike and recovery" in (run["out"] / "report.html").read_text(encoding="utf-8")
    assert "- spike: the load rose at 3s" in (run["out"] / "summary.md").read_text(encoding="utf-8")


def test_a_target_that_never_recovers_fails_the_gate(spikes: dict[str, dict[str, Any]]) -> None:
    run = spikes["stuck"]
    spike = run["results"]["scenarios"]["spike"]["spike"]
    assert not spike["recovered"]
    gate = _verdicts(run)["recovery < 30s"]
    assert not gate["passed"]
    assert gate["judged"]
    assert gate["observed"] is None
    assert gate["detail"].startswith("cannot pass: did not recover before the run ended")
    assert run["code"] == 1


def test_validate_refuses_a_recovery_gate_with_nothing_to_recover_from(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "service: x\ntarget: http://127.0.0.1:9\nscenarios:\n  flat:\n"
        "    executor: constant-vus\n    vus: 1\n    duration: 1s\n    flow: [{get: /}]\n"
        "    gates: ['recovery < 10s']\n",
        encoding="utf-8",
    )
    done = subprocess.run(slokit_cmd("validate", str(spec)), capture_output=True, text=True)
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "scenarios.flat.gates[0]" in said
    assert "needs something to recover from" in said
