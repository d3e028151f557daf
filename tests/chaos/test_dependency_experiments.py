"""Seed 004's external-dependency rows as the demo's bundled experiments: the pricing provider
(a service of its own) answers 503 in a burst, or throttles with 429, injected by its own fault
middleware. The demo's breaker opens, stale prices keep serving, and the SLOs hold."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests._support import slokit_cmd

EXPERIMENTS = ("provider-5xx", "provider-429")
Done = tuple[int, dict[str, Any], str]


@pytest.fixture(scope="module")
def experiments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Done]]:
    base = tmp_path_factory.mktemp("chaos-dependency")
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        for name in EXPERIMENTS:
            cmd = slokit_cmd("demo", "--chaos", name, "-o", str(base / name))
            procs[name] = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
        done: dict[str, Done] = {}
        for name, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=150)
            journal = base / name / "journal.json"
            assert journal.exists(), stderr
            done[name] = (proc.returncode, json.loads(journal.read_text()), stdout)
        yield done
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


@pytest.mark.parametrize(("name", "status"), [("provider-5xx", 503), ("provider-429", 429)])
def test_the_breaker_opens_and_the_fallback_serves(
    experiments: dict[str, Done], name: str, status: int
) -> None:
    code, journal, stdout = experiments[name]
    assert journal["status"] == "held", journal["reasons"]
    assert code == 0, stdout
    fault = next(a for a in journal["actions"] if a["phase"] == "method")
    assert fault["kind"] == "http"
    assert fault["status"] == "succeeded"
    timings = journal["timings"]
    assert timings["t_detect"] is not None
    assert "breaker pricing-provider" in timings["detected_by"]
    assert timings["t_recover"] is not None
    during = [p for p in journal["timeline"] if 8 <= p["t"] <= 14 and "breakers" in p]
    assert during
    assert all(p["breakers"]["pricing-provider"] == "open" for p in during)
    # The fallback: with the breaker open the quote route still answers (stale prices, counted
    # as failed "not stale" checks by the load), and no SLO fell.
    assert all(slo["held"] for slo in journal["slos"])
    assert journal["phases"]["during"]["requests"] > 0
    assert journal["hypothesis"]["slos"]["availability"]["expect"] == "hold"
    assert "HYPOTHESIS HELD" in stdout
