"""The bar: the bundled demo experiments run end to end and their journals are right.

``slokit demo --chaos NAME`` starts the provider, ``slokit proxy`` and the demo, runs the
experiment against them and writes journal.json. Each takes about 35 s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests._support import run_slokit


def _run(name: str, out: Path) -> tuple[int, dict[str, Any], str]:
    done = run_slokit("demo", "--chaos", name, "-o", str(out), timeout=150)
    journal_path = out / "journal.json"
    assert journal_path.exists(), done.stderr
    journal: dict[str, Any] = json.loads(journal_path.read_text())
    return done.returncode, journal, done.stdout


def test_latency_on_the_provider_is_absorbed_by_the_breaker(tmp_path: Path) -> None:
    code, journal, stdout = _run("provider-latency", tmp_path)
    assert journal["status"] == "held", journal["reasons"]
    assert code == 0
    timings = journal["timings"]
    assert timings["t_inject"] == pytest.approx(10.0, abs=0.5)
    # The breaker opening is what gives the fault away (stale prices keep the SLOs).
    assert timings["t_detect"] is not None
    assert "breaker pricing-provider" in timings["detected_by"]
    assert all(slo["held"] for slo in journal["slos"])
    phases = journal["phases"]
    assert set(phases) == {"before", "during", "after"}
    assert all(p["requests"] > 0 for p in phases.values())
    assert "HYPOTHESIS HELD" in stdout


def test_cutting_the_provider_off_is_detected_and_recovered_from(tmp_path: Path) -> None:
    code, journal, _ = _run("provider-cutoff", tmp_path)
    timings = journal["timings"]
    assert timings["t_detect"] is not None, journal
    assert timings["t_detect"] > 0
    assert timings["t_recover"] is not None, journal["timeline"]
    assert timings["t_recover"] > 0
    assert timings["t_remove"] == pytest.approx(20.0, abs=0.5)
    fault = next(a for a in journal["actions"] if a["phase"] == "method")
    assert fault["kind"] == "down"
    assert fault["status"] == "succeeded"
    # While it was cut off, the breaker was seen open in the service's own metrics.
    during = [p for p in journal["timeline"] if 11 <= p["t"] <= 20 and "breakers" in p]
    assert any(p["breakers"].get("pricing-provider") == "open" for p in during)
    assert journal["status"] == "held", journal["reasons"]
    assert code == 0


def test_injected_503s_make_the_hypothesis_deviate(tmp_path: Path) -> None:
    code, journal, stdout = _run("quotes-503", tmp_path)
    assert journal["status"] == "deviated"
    assert code == 1
    slos = {s["name"]: s for s in journal["slos"]}
    assert slos["quotes-errors"]["held"] is False
    assert slos["quotes-errors"]["worst_ratio"] < 0.9
    assert slos["quotes-errors"]["budget_burned"] > 0
    assert journal["timings"]["t_detect"] is not None
    during = journal["phases"]["during"]
    assert during["error_rate"] > journal["phases"]["before"]["error_rate"]
    assert "HYPOTHESIS DEVIATED" in stdout
