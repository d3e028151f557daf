"""Capacity searches on real servers of known capacity: the breaking point is found within
15 %, a slow-to-recover server's recovery is measured, and a generator that cannot keep up
is blamed, not the target."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests._nginx import nginx, nginx_binary
from tests._support import UvicornApp, slokit_cmd

SLO = "slos:\n  fast: {objective: 95%, latency: 100ms}\n"
KNOWN = 4 / 0.020
"""capacity_app's capacity: 4 slots of 20 ms each, 200 requests/s."""


def _spec(path: Path, url: str, scenario: str) -> Path:
    body = textwrap.dedent(scenario).strip()
    if "max_vus" not in body:
        body += "\nmax_vus: 200"
    path.write_text(
        f"service: capacity\ntarget: {url}\n{SLO}scenarios:\n  breaking:\n"
        "    executor: capacity\n    flow: [{get: /}]\n    settle: 1s\n    step_duration: 2s\n"
        + textwrap.indent(body, "    ")
        + "\n",
        encoding="utf-8",
    )
    return path


def _start(spec: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = slokit_cmd("run", str(spec), "-w", "1", "--out", str(out), *extra)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen[str], out: Path) -> dict[str, Any]:
    stdout, _ = proc.communicate(timeout=180)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {"code": proc.returncode, "stdout": stdout, "results": results, "out": out}


@pytest.fixture(scope="module")
def searches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """A full search (with bisection) and a quick one ending in a recovery, side by side."""
    base = tmp_path_factory.mktemp("capacity")
    plain = UvicornApp("capacity_app:app")
    slow = UvicornApp("capacity_app:app", env={"RECOVER_S": "4"})
    procs: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    try:
        full = _spec(
            base / "full.yaml",
            plain.url,
            """
            start_rate: 100/s
            factor: 1.5
            max_rate: 1000/s
            confirm: 1
            refine: 2
            gates: ["capacity >= 150/s", "capacity >= 400/s"]
            """,
        )
        quick = _spec(
            base / "quick.yaml",
            slow.url,
            """
            start_rate: 120/s
            factor: 2.5
            max_rate: 1000/s
            confirm: 0
            recovery: 9s
            recovery_hold: 2s
            gates: ["recovery < 8s"]
            """,
        )
        procs["full"] = (_start(full, base / "full"), base / "full")
        procs["recovery"] = (_start(quick, base / "quick"), base / "quick")
        return {name: _finish(proc, out) for name, (proc, out) in procs.items()}
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
        plain.kill()
        slow.kill()


def _capacity(run: dict[str, Any]) -> dict[str, Any]:
    capacity: dict[str, Any] = run["results"]["scenarios"]["breaking"]["capacity"]
    return capacity


def test_the_search_finds_a_known_capacity_within_15_percent(
    searches: dict[str, dict[str, Any]],
) -> None:
    capacity = _capacity(searches["full"])
    assert capacity["limit"] == "target", capacity["limit_detail"]
    assert 0.85 * KNOWN <= capacity["sustainable_rate"] <= 1.15 * KNOWN, capacity
    assert capacity["sustainable_rate"] < capacity["breaking_rate"] <= 1.3 * KNOWN
    assert capacity["broke_first"] == ["fast"]
    steps = capacity["steps"]
    phases = [s["phase"] for s in steps]
    assert phases.count("refine") == 2
    assert [s["rate"] for s in steps if s["phase"] == "search"][:3] == [100.0, 150.0, 225.0]
    # Above its capacity the target answers no faster than it can: achieved stays near 200/s.
    overloaded = [s for s in steps if s["rate"] > 1.2 * KNOWN]
    assert overloaded
    assert all(s["achieved"] < 1.15 * KNOWN for s in overloaded)
    assert all(not s["passed"] for s in overloaded)
    assert capacity["throughput_knee_rate"] is not None


def test_capacity_gates_pass_and_fail_and_set_the_exit_code(
    searches: dict[str, dict[str, Any]],
) -> None:
    run = searches["full"]
    assert run["code"] == 1, run["stdout"]
    verdicts = {v["name"]: v for v in run["results"]["scenarios"]["breaking"]["verdicts"]}
    assert set(verdicts) == {"capacity >= 150/s", "capacity >= 400/s"}  # no per-step SLOs
    assert verdicts["capacity >= 150/s"]["passed"]
    assert not verdicts["capacity >= 400/s"]["passed"]
    assert verdicts["capacity >= 400/s"]["unit"] == "per_second"


def test_the_search_reaches_every_report(searches: dict[str, dict[str, Any]]) -> None:
    run = searches["full"]
    assert "capacity search" in run["stdout"]
    assert "sustainable rate:" in run["stdout"]
    summary = (run["out"] / "summary.md").read_text(encoding="utf-8")
    assert "| offered | step | result |" in summary
    html = (run["out"] / "report.html").read_text(encoding="utf-8")
    assert '<table class="capacity">' in html
    assert 'id="figure-0-capacity"' in html
    assert 'id="figure-0-capacity_latency"' in html


def test_a_slow_to_recover_target_has_its_recovery_measured(
    searches: dict[str, dict[str, Any]],
) -> None:
    capacity = _capacity(searches["recovery"])
    recovery = capacity["recovery"]
    assert recovery is not None
    assert recovery["rate"] == 120.0
    assert recovery["rules"] == ["fast"]
    assert recovery["failing_at_drop"] == ["fast"]  # still degraded when the load dropped
    assert recovery["recovered"]
    # Degraded for 4 s after the overload; the recovery run starts a moment after it ended.
    assert 1.0 <= recovery["recovered_after_s"] <= 5.0
    assert "recovery at 120/s: healthy after" in searches["recovery"]["stdout"]
    (gate,) = searches["recovery"]["results"]["scenarios"]["breaking"]["verdicts"]
    assert gate["name"] == "recovery < 8s"
    assert gate["passed"]
    assert gate["observed"] == recovery["recovered_after_s"]


@pytest.mark.skipif(
    nginx_binary() is None and not os.environ.get("CI"),
    reason="needs nginx (apt-get install nginx-light)",
)
def test_a_saturated_generator_is_blamed_not_the_target(tmp_path: Path) -> None:
    with nginx(tmp_path) as url:
        spec = _spec(
            tmp_path / "gen.yaml",
            url,
            """
            start_rate: 10000/s
            factor: 4
            max_rate: 80000/s
            confirm: 0
            max_vus: 1000
            gates: ["capacity >= 1/s"]
            """,
        )
        run = _finish(_start(spec, tmp_path / "out"), tmp_path / "out")
    capacity = _capacity(run)
    assert capacity["limit"] == "generator", capacity
    breaking = next(s for s in capacity["steps"] if s["rate"] == capacity["breaking_rate"])
    assert breaking["generator_late"] >= 0.05
    (gate,) = run["results"]["scenarios"]["breaking"]["verdicts"]
    assert not gate["judged"]  # the target's capacity is unknown, so not judged
    assert "generator was saturated" in gate["detail"]


def test_validate_refuses_capacity_gates_without_a_capacity_search(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "service: x\ntarget: http://127.0.0.1:9\ngates: ['capacity >= 100/s']\nscenarios:\n"
        "  smoke:\n    executor: constant-vus\n    vus: 1\n    duration: 1s\n"
        "    flow: [{get: /}]\n    gates: ['capacity >= 50/s']\n",
        encoding="utf-8",
    )
    done = subprocess.run(slokit_cmd("validate", str(spec)), capture_output=True, text=True)
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "scenarios.smoke.gates[0]" in said
    assert "this scenario is constant-vus" in said
    assert "no scenario is one" in said
