"""Seed 004's external-dependency rows as the demo's bundled experiments: the pricing provider
(a service of its own) answers 503 in a burst, or throttles with 429, injected by its own fault
middleware. The demo's breaker opens, stale prices keep serving, and the SLOs hold."""

from __future__ import annotations

import pytest

from tests.chaos._demo import Done, run_demo_experiments

EXPERIMENTS = ("provider-5xx", "provider-429")


@pytest.fixture(scope="module")
def experiments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Done]:
    return run_demo_experiments(EXPERIMENTS, tmp_path_factory.mktemp("chaos-dependency"))


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
