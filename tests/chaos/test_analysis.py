"""Breaches, detection, recovery and budget from scrapes: the rules README.md states."""

from __future__ import annotations

import pytest

from slokit.chaos._analysis import budget_burned, detect, recover, steady, window_breaches
from slokit.chaos._observe import Sample

OBJECTIVES = {"availability": 0.99}


def series(bad_per_second: list[int], rate: int = 100, breaker: dict[int, str] | None = None,
           drift: float = 0.0) -> list[Sample]:  # fmt: skip
    """Cumulative scrapes one second apart; ``bad_per_second[i]`` bad requests in second i."""
    samples = [Sample(0.0, {"availability": (0.0, 0.0)}, {"b": "closed"}, {"b": 0.0})]
    good = total = 0.0
    opened = 0.0
    for i, bad in enumerate(bad_per_second, start=1):
        total += rate
        good += rate - bad
        state = (breaker or {}).get(i, "closed")
        if state == "open" and samples[-1].breakers["b"] != "open":
            opened += 1
        t = i + (drift if i % 2 else -drift)
        samples.append(Sample(t, {"availability": (good, total)}, {"b": state}, {"b": opened}))
    return samples


def test_a_window_breaches_only_when_its_ratio_is_under_the_objective() -> None:
    calm = series([0] * 20)
    assert window_breaches(calm, OBJECTIVES, 10.0, 0.0) == {"availability": []}
    # 12 bad of 1000 in the window ending at t=11 (seconds 2..11): 98.8% < 99%.
    spiky = series([0] * 10 + [12] + [0] * 9)
    found = window_breaches(spiky, OBJECTIVES, 10.0, 0.0)["availability"]
    assert [b.at for b in found] == [11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0]
    assert found[0].ratio == pytest.approx(988 / 1000)
    # 9 bad of 1000 stays within 99%.
    assert window_breaches(series([0] * 10 + [9] + [0] * 9), OBJECTIVES, 10.0, 0.0) == {
        "availability": []
    }


def test_scrape_drift_of_milliseconds_still_makes_full_windows() -> None:
    found = window_breaches(series([0] * 10 + [12] + [0] * 9, drift=0.004), OBJECTIVES, 10.0, 0)
    assert len(found["availability"]) == 10


def test_windows_shorter_than_asked_are_not_judged() -> None:
    # The only bad second is in the first five: no full 10 s window has ended yet there.
    early = series([50] + [0] * 4)
    assert window_breaches(early, OBJECTIVES, 10.0, 0.0) == {"availability": []}


def test_detect_reports_the_first_breach_or_breaker_after_the_injection() -> None:
    bad = series([0] * 10 + [30] * 5 + [0] * 10)
    at, why = detect(bad, OBJECTIVES, 10.0, t_inject=10.0) or (None, "")
    assert at == pytest.approx(1.0)
    assert "availability" in why
    breaker = series([0] * 25, breaker={13: "open", 14: "open", 15: "half_open"})
    at, why = detect(breaker, OBJECTIVES, 10.0, t_inject=10.0) or (None, "")
    assert at == pytest.approx(3.0)
    assert why == "breaker b open"
    assert detect(series([0] * 25), OBJECTIVES, 10.0, t_inject=10.0) is None
    # A breach before the injection is not a detection of it.
    assert detect(series([30] + [0] * 24), OBJECTIVES, 5.0, t_inject=20.0) is None


def test_recover_waits_for_a_sustained_steady_run() -> None:
    # Fault removed at t=20; bad seconds 21 and 23 (a relapse), steady from t=23 on.
    samples = series([0] * 20 + [30, 0, 30] + [0] * 10)
    assert recover(samples, OBJECTIVES, t_remove=20.0, sustain=5.0) == pytest.approx(3.0)
    # A breaker still open counts as not recovered, even with every request good.
    held_open = series([0] * 30, breaker={21: "open", 22: "open", 23: "half_open"})
    assert recover(held_open, OBJECTIVES, t_remove=20.0, sustain=5.0) == pytest.approx(3.0)
    # Never steady for 5 s before the end: None.
    assert recover(series([0] * 20 + [30] * 8), OBJECTIVES, 20.0, 5.0) is None


def test_steady_says_why_not() -> None:
    samples = series([0, 30], breaker={1: "closed", 2: "closed"})
    assert steady(samples[0], samples[1], OBJECTIVES) is None
    assert steady(samples[1], samples[2], OBJECTIVES) == "availability at 70.00% (objective 99.00%)"
    broken = Sample.failed(3.0, "ConnectError")
    assert "metrics unreadable" in (steady(samples[2], broken, OBJECTIVES) or "")


def test_budget_burned_is_bad_requests_over_what_the_window_allows() -> None:
    # 100 req/s, 10 s, 50 bad: a 99% objective over 1000 s allows 1% of 100,000 = 1000 bad.
    samples = series([5] * 10)
    burned, rate, bad = budget_burned(samples, "availability", 0.99, 1000.0, since=0.0)
    assert bad == 50
    assert burned == pytest.approx(50 / 1000)
    assert rate == pytest.approx((50 / 1000) / 0.01)
    assert budget_burned(series([0] * 10), "availability", 0.99, 1000.0, 0.0)[0] == 0.0


def test_a_restarted_service_counts_from_zero_again() -> None:
    samples = series([0] * 5)
    restarted = Sample(6.0, {"availability": (40.0, 50.0)}, {"b": "closed"}, {"b": 0.0})
    assert steady(samples[-1], restarted, OBJECTIVES) == "availability at 80.00% (objective 99.00%)"
