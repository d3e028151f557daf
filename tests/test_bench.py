"""The benchmark harness runs end to end (short legs) and prints every ratio it promises.

Figures are not asserted here: timing belongs to ``make bench``. This only keeps the harness
from rotting: it must start nginx, wrk, Locust, the stall server and slokit, and stop them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests._support import ROOT

pytestmark = pytest.mark.slow


@pytest.mark.timeout(480)  # every leg but callgrind, shortened: about 160 s on 2 cores
def test_bench_runs_every_tool_and_prints_the_ratios() -> None:
    missing = [tool for tool in ("wrk", "nginx", "taskset") if shutil.which(tool) is None]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"needs {', '.join(missing)} (apt-get install wrk nginx-light)")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--seconds",
            "2",
            "--rounds",
            "1",
            "--clients",
            "50",
            # callgrind takes minutes and needs valgrind: make bench runs it, not the suite.
            "--skip",
            "instructions",
            "--vus",
            "3000",
        ],
        capture_output=True,
        text=True,
        timeout=480,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for line in (
        "slokit / wrk",
        "slokit / locust",
        "p90",
        "p99",
        "arrival rate",
        "slokit / bare",
        "breaker / pybreaker",
        "slokit with resources (1 s) / without",
        "slokit SSE worker CPU %",
        "slokit SSE worker MiB",
        "Ray actor / local worker process",
        "slokit / pure-Python floor",
        "slokit / prometheus-fastapi-instrumentator",
        "callback runner / task runner, same nginx",
        "3,000 VUs: achieved / expected rate",
        "3,000 VUs: peak RSS of the generator (GiB)",
        "memory per VU:",
        "20,000/s, callbacks: send lag p99",
        "100,000/s, tasks: (sent + dropped) / due",
    ):
        assert line in done.stdout, done.stdout
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert "slokit / aiohttp = " in done.stdout, done.stdout
    assert "slokit / httpx = " in done.stdout, done.stdout
    for tool in (
        "wrk",
        "locust",
        "aiohttp",
        "httpx",
        "slokit",
        "slokit-tasks",
        "/api/horoscopes/daily",
        "/items/42",
    ):
        assert "n/a" not in rows[tool], done.stdout
    # The streams table: three rows, every client connected (a note says when not).
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["tool", "clients"])
    streams = lines[header + 1 : header + 4]
    assert [line.split()[0] for line in streams] == ["slokit", "httpx", "slokit"], done.stdout
    assert not any("connected" in line for line in streams), done.stdout
    assert "n/a" not in rows["Ray,"], done.stdout  # the actor rows measured something
