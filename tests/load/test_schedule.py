"""Executor schedules: arrival counts, ramp shapes and the exact split between workers."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slokit.load._schedule import ArrivalSchedule, RateSegment, VUSegment, share, vus_at


def test_constant_rate_spaces_arrivals_evenly_and_counts_exactly() -> None:
    sched = ArrivalSchedule.constant(200.0, 10.0)
    times = [t for _k, t in sched.times()]
    assert len(times) == 2000
    assert times[0] == 0.0
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(times)}
    assert gaps == {0.005}
    assert times[-1] < 10.0


def test_fractional_rate_rounds_up_partial_arrival() -> None:
    # 2.5/s over 3 s promises 7.5 arrivals: arrivals at 0, 0.4, ..., 2.8 -> 8 of them
    sched = ArrivalSchedule.constant(2.5, 3.0)
    assert sched.count() == 8
    assert all(t < 3.0 for _k, t in sched.times())


def test_ramp_produces_the_area_under_the_rate_curve() -> None:
    sched = ArrivalSchedule(
        [RateSegment(0, 100, 10), RateSegment(100, 100, 5), RateSegment(100, 0, 10)]
    )
    assert sched.expected == pytest.approx(500 + 500 + 500)
    assert sched.count() == 1500


def test_ramp_shape_follows_linear_rate() -> None:
    sched = ArrivalSchedule([RateSegment(10, 110, 10)])
    per_second = [0] * 10
    for _k, t in sched.times():
        per_second[int(t)] += 1
    # The rate at the middle of second i is 10 + 10 * (i + 0.5): 15, 25, ..., 105.
    for i, n in enumerate(per_second):
        assert abs(n - (15 + 10 * i)) <= 1


def test_times_are_monotonic_across_segments() -> None:
    sched = ArrivalSchedule([RateSegment(50, 0, 2), RateSegment(0, 0, 3), RateSegment(0, 40, 2)])
    times = [t for _k, t in sched.times()]
    assert times == sorted(times)
    assert not [t for t in times if 2.0 < t < 5.0], "a zero-rate stage must have no arrivals"
    assert sched.count() == 50 + 40


@settings(max_examples=60, deadline=None)
@given(
    rates=st.lists(st.floats(min_value=0, max_value=500), min_size=2, max_size=5),
    secs=st.lists(st.floats(min_value=0.5, max_value=5), min_size=4, max_size=4),
    workers=st.integers(min_value=1, max_value=7),
)
def test_workers_split_arrivals_exactly(
    rates: list[float], secs: list[float], workers: int
) -> None:
    segments = [RateSegment(a, b, s) for a, b, s in zip(rates, rates[1:], secs, strict=False)]
    sched = ArrivalSchedule(segments)
    whole = list(sched.times())
    parts = sorted(item for w in range(workers) for item in sched.times(w, workers))
    assert parts == whole
    assert abs(len(whole) - sched.expected) <= 1


def test_share_splits_vus_exactly() -> None:
    for total in range(0, 20):
        for workers in range(1, 6):
            assert sum(share(total, workers, w) for w in range(workers)) == total
            shares = [share(total, workers, w) for w in range(workers)]
            assert max(shares) - min(shares) <= 1
    with pytest.raises(ValueError, match="out of range"):
        share(10, 2, 2)


def test_vus_ramp_up_hold_down() -> None:
    segs = [VUSegment(0, 10, 10), VUSegment(10, 10, 5), VUSegment(10, 0, 10)]
    assert vus_at(segs, 0) == 0
    assert vus_at(segs, 5) == 5
    assert vus_at(segs, 9.99) == 9
    assert vus_at(segs, 10) == 10
    assert vus_at(segs, 14) == 10
    assert vus_at(segs, 20) == 5
    assert vus_at(segs, 100) == 0
    ups = [vus_at(segs, t / 10) for t in range(0, 100)]
    assert ups == sorted(ups)


def test_rejects_negative_rates() -> None:
    with pytest.raises(ValueError, match="negative"):
        ArrivalSchedule([RateSegment(-1, 5, 1)])
    assert math.isinf(ArrivalSchedule.constant(1, 1).time_of(10))
