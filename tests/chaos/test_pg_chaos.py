"""Seed 004's "PostgreSQL: primary crash" as a chaos experiment: a service reading a primary
started by the test, the primary SIGKILLed under load and started again by the fault's undo.
The service is meant to fail closed (503 while the database is gone): the experiment expects
the availability SLO to fall, sees it fall (T_detect) and recover (T_recover)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests._pgcluster import PgCluster, pg_binaries
from tests._support import UvicornApp, run_slokit

if pg_binaries() is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI needs PostgreSQL's server binaries for the PostgreSQL experiment")
    pytest.skip("PostgreSQL server binaries are not installed", allow_module_level=True)

ROOT = Path(__file__).parents[2]

_RESTART = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests._pgcluster import PgCluster
import subprocess
PgCluster._kill_leftovers(Path({data!r}))
subprocess.run(["runuser", "-u", "postgres", "--", {pg_ctl!r}, "start", "-w", "-t", "30",
                "-D", {data!r}, "-l", {log!r}], check=True, cwd="/", timeout=60)
"""


def test_a_primary_crash_fails_the_service_closed_and_it_recovers(tmp_path: Path) -> None:
    with PgCluster(synchronous=False) as cluster:
        restart = tmp_path / "restart_primary.py"
        restart.write_text(
            _RESTART.format(
                root=str(ROOT),
                data=str(cluster.primary_data),
                pg_ctl=str(cluster.pg_ctl),
                log=str(cluster.primary_log),
            ),
            encoding="utf-8",
        )
        spec = tmp_path / "spec.yaml"
        spec.write_text("service: pg-reader\nslos:\n  availability: {objective: 99%}\n")
        server = UvicornApp(
            "pg_app:app", env={"PG_DSN": cluster.primary_dsn, "SLOKIT_TEST_SPEC": str(spec)}
        )
        try:
            spec.write_text(
                textwrap.dedent(
                    f"""
                    service: pg-reader
                    target: {server.url}
                    slos:
                      availability: {{objective: 99%, window: 30d}}
                    scenarios:
                      steady:
                        executor: constant-arrival-rate
                        rate: 50/s
                        duration: 18s
                        max_vus: 60
                        flow: [{{get: /items/1}}]
                    """
                ),
                encoding="utf-8",
            )
            experiment = tmp_path / "experiment.yaml"
            experiment.write_text(
                textwrap.dedent(
                    f"""
                    title: PostgreSQL primary crash
                    spec: {spec}
                    hypothesis:
                      slos: {{availability: {{expect: breach}}}}
                      window: 2s
                      sustain: 2s
                    load: {{scenario: steady}}
                    method:
                      - name: SIGKILL the primary, start it again 4 s later
                        at: 5s
                        for: 4s
                        command: kill -9 {cluster.primary_pid()}
                        undo: {sys.executable} {restart}
                    """
                ),
                encoding="utf-8",
            )
            out = tmp_path / "chaos"
            done = run_slokit("chaos", str(experiment), "-w", "1", "--out", str(out), timeout=120)
        finally:
            server.kill()
    said = done.stdout + done.stderr
    journal = json.loads((out / "journal.json").read_text(encoding="utf-8"))
    assert journal["status"] == "held", said
    assert done.returncode == 0, said
    fault = journal["actions"][0]
    assert fault["status"] == "succeeded", fault
    slo = journal["slos"][0]
    assert slo["expected"] == "breach"
    assert not slo["held"]
    assert slo["as_expected"]
    t = journal["timings"]
    assert t["t_detect"] is not None  # time to detect
    assert t["t_recover"] is not None  # time to recover, once the primary was back
    assert journal["phases"]["during"]["error_rate"] > 0.5
    assert journal["phases"]["after"]["error_rate"] < 0.2
