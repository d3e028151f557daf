"""``slokit demo`` end to end: the service in a subprocess, real load, verdicts, reports."""

from __future__ import annotations

import json
from pathlib import Path

from tests._support import run_slokit


def test_demo_passes_and_writes_its_report(tmp_path: Path) -> None:
    done = run_slokit("demo", "--duration", "8s", "-w", "1", "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stdout + done.stderr
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    assert res["passed"] is True
    names = {v["name"] for v in res["verdicts"]}
    assert {"availability", "daily-latency", "orders-latency", "quotes-errors"} <= names
    assert res["total"]["count"] > 100
    assert "PASS" in done.stdout


def test_demo_break_fails_the_gates_with_exit_1(tmp_path: Path) -> None:
    done = run_slokit("demo", "--break", "-d", "8s", "-w", "1", "--out", str(tmp_path / "r"))
    assert done.returncode == 1, done.stdout + done.stderr
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    failed = {v["name"] for v in res["verdicts"] if not v["passed"]}
    # The breaker and the stale cache keep the quotes available; the answers are stale, and
    # the checks gate says so.
    assert "checks >= 99%" in failed
    assert "quotes-errors" not in failed
    assert "FAIL" in done.stdout
    assert "breaker 'pricing-provider' opened" in done.stdout
