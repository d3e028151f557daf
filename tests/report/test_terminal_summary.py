"""The terminal summary as k6 users read it: iterations and data sent/received, a table that
fits 100 columns with long names broken after a "/", and `dropped` only where arrivals can
be dropped."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests._support import UvicornApp, slokit_cmd

LONG = "GET /api/v1/organisations/{organisation_id}/workflows/{workflow_id}/steps"
SPEC = """service: summary
target: URL
scenarios:
  closed:
    executor: per-vu-iterations
    vus: 2
    iterations: 5
    flow:
      - get: /ok
        name: LONG
      - get: /ok
  open:
    executor: constant-arrival-rate
    rate: 10
    duration: 1s
    flow:
      - get: /ok
"""


def test_summary_has_iterations_and_data_and_fits_100_columns(tmp_path: Path) -> None:
    app = UvicornApp("asgi_app:app")
    try:
        spec = tmp_path / "slokit.yaml"
        spec.write_text(SPEC.replace("URL", app.url).replace("LONG", LONG), encoding="utf-8")
        done = subprocess.run(
            slokit_cmd("run", str(spec), "-w", "1", "--no-store", "-q", "--out", str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=90,
            env={**os.environ, "COLUMNS": "100", "NO_COLOR": "1"},
        )
    finally:
        app.kill()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    closed = results["scenarios"]["closed"]
    assert closed["iterations"] == 10  # 2 VUs x 5
    assert results["scenarios"]["open"]["iterations"] == 10  # 10/s for 1 s
    sent, received = closed["total"]["bytes_sent"], closed["total"]["bytes_received"]
    assert sent > 0
    assert received > 0
    summary = next(line for line in lines if line.startswith("iterations 10 ("))
    assert "· data sent " in summary
    assert "· received " in summary
    # The long name is broken after slashes, each piece whole.
    table = "\n".join(lines)
    assert "GET /api/v1/organisations/" in table
    assert "{organisation_id}/workflows/" in table
    # dropped: a column of the open-model table only.
    headers = [line.split() for line in lines if line.split()[:2] == ["request", "requests"]]
    assert [h[-1] for h in headers] == ["max", "dropped"]
