"""``slokit demo`` end to end: the service in a subprocess, real load, verdicts, reports."""

from __future__ import annotations

import json
from pathlib import Path

from slokit.store import open_store
from tests._support import run_slokit


def test_demo_passes_writes_its_report_and_records_the_run_where_it_runs(
    tmp_path: Path,
) -> None:
    done = run_slokit(
        "demo", "--duration", "8s", "-w", "1", "--out", str(tmp_path / "r"), cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with open_store(None, project_dir=tmp_path, create=False) as store:
        (run,) = store.list()
    assert run.service == "demo-orders"
    assert run.labels == {"source": "demo"}
    assert run.status == "pass"
    assert f"recorded as run {run.id}" in done.stdout
    assert "slokit dashboard" in done.stderr
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    assert res["passed"] is True
    names = {v["name"] for v in res["verdicts"]}
    assert {"availability", "daily-latency", "orders-latency", "quotes-errors"} <= names
    assert res["total"]["count"] > 100
    assert "PASS" in done.stdout


def test_demo_break_fails_the_gates_with_exit_1(tmp_path: Path) -> None:
    done = run_slokit(
        "demo", "--break", "-s", "mixed", "-d", "8s", "-w", "1", "--out", str(tmp_path / "r"),
        "--no-store",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    assert list(res["scenarios"]) == ["mixed"]  # -s picks the demo's scenarios
    failed = {v["name"] for v in res["verdicts"] if not v["passed"]}
    # The breaker and the stale cache keep the quotes available; the answers are stale, and
    # the checks gate says so.
    assert "checks >= 99%" in failed
    assert "quotes-errors" not in failed
    assert "FAIL" in done.stdout
    assert "breaker 'pricing-provider' opened" in done.stdout
    assert not (tmp_path / ".slokit").exists()
