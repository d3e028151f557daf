"""The bar: the bundled demo experiments run end to end and their journals are right.

``slokit demo --chaos NAME`` starts the provider, ``slokit proxy`` and the demo, runs the
experiment against them and writes journal.json. Each takes about 35 s; the three run side by
side (every process of each on its own free ports).
"""

from __future__ import annotations

import pytest

from tests.chaos._demo import Done, run_demo_experiments

EXPERIMENTS = ("provider-latency", "provider-cutoff", "quotes-503")


@pytest.fixture(scope="module")
def experiments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Done]:
    return run_demo_experiments(EXPERIMENTS, tmp_path_factory.mktemp("chaos-demo"))


def test_latency_on_the_provider_is_absorbed_by_the_breaker(
    experiments: dict[str, Done],
) -> None:
    code, journal, stdout = experiments["provider-latency"]
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


def test_cutting_the_provider_off_is_detected_and_recovered_from(
    experiments: dict[str, Done],
) -> None:
    code, journal, _ = experiments["provider-cutoff"]
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


def test_injected_503s_make_the_hypothesis_deviate(experiments: dict[str, Done]) -> None:
    code, journal, stdout = experiments["quotes-503"]
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
