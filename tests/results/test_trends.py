"""Trend helpers on synthetic series whose answer is known by construction."""

from __future__ import annotations

import math
import random
import statistics
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slokit.results._trends import (
    MAX_POINTS,
    Trend,
    fifths,
    knee,
    recovery_time,
    relative_change,
    significant,
    theil_sen,
)

LEAK = 1000.0  # bytes per second: 3.6 MB an hour
GC_PERIOD = 30  # seconds between collections
GC_AMPLITUDE = 5e6  # bytes allocated then freed per period: more than the hour's leak


def leaky(n: int, seed: int, noise: float = 20_000.0) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(float(t), LEAK * t + rng.gauss(0.0, noise)) for t in range(n)]


def soak_memory(leak: float, seed: int) -> list[tuple[float, float]]:
    """One hour of RSS samples: a GC sawtooth over whole periods, noise, one huge spike."""
    rng = random.Random(seed)
    points = [
        (
            float(t),
            200e6 + GC_AMPLITUDE * (t % GC_PERIOD) / GC_PERIOD + leak * t + rng.gauss(0.0, 1e5),
        )
        for t in range(3600)
    ]
    # A stop-the-world blip near the end, where it drags a least-squares line the most.
    points[3500] = (3500.0, 2e9)
    return points


# theil_sen


def test_flat_noisy_series_has_no_significant_trend() -> None:
    rng = random.Random(7)
    trend = theil_sen([(float(t), 5.0 + rng.gauss(0.0, 1.0)) for t in range(300)])
    assert trend is not None
    assert trend.low <= 0.0 <= trend.high
    assert not significant(trend)
    assert trend.intercept == pytest.approx(5.0, abs=0.2)
    assert trend.at(150.0) == pytest.approx(5.0, abs=0.2)
    assert trend.n == 300
    assert trend.confidence == 0.95


def test_leak_is_found_with_its_rate_inside_the_interval() -> None:
    trend = theil_sen(leaky(300, seed=7))
    assert trend is not None
    assert trend.slope == pytest.approx(LEAK, rel=0.05)
    assert trend.low <= LEAK <= trend.high
    assert trend.low > 0.0
    assert significant(trend)
    assert trend.slope_per_hour == pytest.approx(trend.slope * 3600.0)
    assert trend.low_per_hour == pytest.approx(trend.low * 3600.0)
    assert trend.high_per_hour == pytest.approx(trend.high * 3600.0)


def test_falling_series_is_significant_too() -> None:
    trend = theil_sen([(x, -y) for x, y in leaky(200, seed=1)])
    assert trend is not None
    assert trend.high < 0.0
    assert significant(trend)


def test_gc_sawtooth_and_a_spike_do_not_fake_a_leak() -> None:
    points = soak_memory(leak=0.0, seed=1)
    # Least squares is dragged by the single spike to most of a real leak's rate ...
    ols = statistics.linear_regression([x for x, _ in points], [y for _, y in points]).slope
    assert ols > 0.5 * LEAK
    # ... the median of pairwise slopes is not. Over 120 whole periods the sawtooth's true
    # trend is zero; the estimate and the whole interval stay far below the leak's rate.
    trend = theil_sen(points)
    assert trend is not None
    assert abs(trend.slope) < 0.05 * LEAK
    assert trend.high < 0.1 * LEAK
    assert not significant(trend)


def test_gc_sawtooth_does_not_hide_a_leak() -> None:
    trend = theil_sen(soak_memory(leak=LEAK, seed=1))
    assert trend is not None
    assert trend.slope == pytest.approx(LEAK, rel=0.05)
    assert trend.low <= LEAK <= trend.high
    assert significant(trend)


def test_one_spike_does_not_move_the_slope() -> None:
    clean = leaky(100, seed=3, noise=1.0)
    spiked = list(clean)
    spiked[90] = (90.0, 1e12)
    a, b = theil_sen(clean), theil_sen(spiked)
    assert a is not None
    assert b is not None
    assert b.slope == pytest.approx(a.slope, rel=1e-3)


def test_reduction_of_a_long_series_agrees_with_the_full_computation() -> None:
    points = leaky(5000, seed=11)
    subsample = points[::13]
    assert len(subsample) <= MAX_POINTS  # computed over every pair
    full, reduced = theil_sen(subsample), theil_sen(points)
    assert full is not None
    assert reduced is not None
    assert reduced.slope == pytest.approx(full.slope, rel=0.02)
    assert reduced.slope == pytest.approx(LEAK, rel=0.02)
    assert reduced.low <= reduced.slope <= reduced.high
    assert significant(reduced)
    assert reduced.n == 5000


def test_reduction_keeps_an_exact_line_exact() -> None:
    # Unsorted on purpose: the buckets are consecutive in x, not in input order.
    points = [(float(x), 3.0 - 0.25 * x) for x in range(1001)]
    random.Random(5).shuffle(points)
    trend = theil_sen(points)
    assert trend is not None
    assert trend.slope == pytest.approx(-0.25)
    assert trend.low == pytest.approx(-0.25)
    assert trend.high == pytest.approx(-0.25)
    assert trend.intercept == pytest.approx(3.0)
    assert trend.n == 1001


def test_pairs_with_equal_x_are_skipped() -> None:
    trend = theil_sen([(0.0, 0.0), (0.0, 100.0), (1.0, 2.0), (2.0, 4.0), (3.0, 6.0)])
    assert trend is not None
    assert trend.slope == pytest.approx(2.0)


def test_wider_confidence_gives_a_wider_interval() -> None:
    points = leaky(200, seed=2)
    narrow, wide = theil_sen(points, confidence=0.8), theil_sen(points, confidence=0.99)
    assert narrow is not None
    assert wide is not None
    assert wide.low <= narrow.low <= narrow.slope <= narrow.high <= wide.high
    assert wide.high - wide.low > narrow.high - narrow.low


def test_tiny_samples_get_the_range_of_all_pairwise_slopes() -> None:
    # Three points: C exceeds N, so both bounds are clamped to the ends of the slopes.
    trend = theil_sen([(0.0, 0.0), (1.0, 1.0), (2.0, 4.0)])
    assert trend is not None
    assert (trend.low, trend.slope, trend.high) == (1.0, 2.0, 3.0)


@pytest.mark.parametrize(
    "points",
    [
        [],
        [(0.0, 1.0)],
        [(0.0, 1.0), (1.0, 2.0)],
        [(5.0, 1.0), (5.0, 2.0), (5.0, 3.0)],
    ],
)
def test_no_trend_without_enough_distinct_x(points: list[tuple[float, float]]) -> None:
    assert theil_sen(points) is None


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.5, 1.5])
def test_confidence_must_be_a_probability(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        theil_sen([(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)], confidence=confidence)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_points_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        theil_sen([(0.0, 0.0), (1.0, bad), (2.0, 2.0)])
    with pytest.raises(ValueError, match="finite"):
        theil_sen([(0.0, 0.0), (bad, 1.0), (2.0, 2.0)])


@given(
    a=st.floats(-1e6, 1e6),
    b=st.floats(-1e3, 1e3),
    xs=st.lists(st.integers(-10_000, 10_000), min_size=3, max_size=60, unique=True),
)
def test_exact_line_gives_its_slope_inside_the_interval(a: float, b: float, xs: list[int]) -> None:
    trend = theil_sen([(x / 10.0, a + b * (x / 10.0)) for x in xs])
    assert trend is not None
    assert trend.slope == pytest.approx(b, rel=1e-6, abs=1e-6)
    assert trend.low <= trend.slope <= trend.high
    assert trend.at(0.0) == pytest.approx(a, rel=1e-6, abs=1e-3)


def test_significant_reads_the_interval() -> None:
    def trend(low: float, high: float) -> Trend:
        return Trend(
            slope=(low + high) / 2, low=low, high=high, intercept=0.0, n=10, confidence=0.95
        )

    assert significant(trend(0.1, 2.0))
    assert significant(trend(-2.0, -0.1))
    assert not significant(trend(-0.1, 2.0))
    assert not significant(trend(0.0, 2.0))  # zero is inside a closed interval


# fifths, relative_change


def test_fifths_split_the_x_range_inclusively() -> None:
    first, last = fifths([(float(t), t) for t in range(101)])
    assert first == list(range(21))
    assert last == list(range(80, 101))


def test_fifths_follow_x_not_the_point_count_and_keep_input_order() -> None:
    # Dense sampling early, sparse late: fifths of 0..100 s, not of the point count.
    points = [(float(t), f"a{t}") for t in range(20, -1, -1)] + [
        (float(t), f"b{t}") for t in range(30, 101, 10)
    ]
    first, last = fifths(points)
    assert first == [f"a{t}" for t in range(20, -1, -1)]
    assert last == ["b80", "b90", "b100"]


def test_fifths_edge_cases() -> None:
    assert fifths([]) == ([], [])
    assert fifths([(3.0, "x"), (3.0, "y")]) == (["x", "y"], ["x", "y"])


def test_fifths_feed_relative_change() -> None:
    rng = random.Random(4)
    points = [(float(t), 100.0 + 0.1 * t + rng.gauss(0.0, 0.5)) for t in range(1000)]
    first, last = fifths(points)
    change = relative_change(statistics.median(first), statistics.median(last))
    # Medians near t=100 and t=900: 110 -> 190.
    assert change == pytest.approx(190.0 / 110.0 - 1.0, abs=0.02)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (100.0, 150.0, 0.5),
        (100.0, 50.0, -0.5),
        (100.0, 100.0, 0.0),
        (2.0, 0.0, -1.0),
        (0.0, 5.0, None),
        (-10.0, 5.0, None),
    ],
)
def test_relative_change(before: float, after: float, expected: float | None) -> None:
    assert relative_change(before, after) == (None if expected is None else pytest.approx(expected))


# knee

RATES = [float(r) for r in range(50, 801, 50)]
AT_400 = RATES.index(400.0)


def test_knee_of_saturating_throughput_is_the_highest_rate_fully_served() -> None:
    achieved = [min(r, 400.0) for r in RATES]
    assert knee(RATES, achieved, curve="concave") == AT_400


def test_knee_of_collapsing_throughput() -> None:
    # Past saturation the service degrades: achieved throughput falls as offered rises.
    achieved = [r if r <= 400 else 400.0 - 0.2 * (r - 400.0) for r in RATES]
    assert knee(RATES, achieved, curve="concave") == AT_400


def steep_latency_ms(rate: float) -> float:
    """10 ms until 400 req/s, then 2 ms more per extra req/s."""
    return 10.0 if rate <= 400 else 10.0 + 2.0 * (rate - 400.0)


def test_knee_of_latency_is_where_it_leaves_the_flat_region() -> None:
    latency_ms = [steep_latency_ms(r) for r in RATES]
    assert knee(RATES, latency_ms, curve="convex") == AT_400


def test_knee_of_accelerating_latency_is_where_its_slope_meets_the_chord() -> None:
    # Quadratic past 400 (10 ms -> 1290 ms at 800): the normalised curve is farthest below
    # its chord where its slope equals the chord's, 1280/750 ms per req/s, i.e. at
    # 400 + 107 req/s: the ramp's step at 500, not the last flat point.
    latency_ms = [10.0 if r <= 400 else 10.0 + 20.0 * ((r - 400.0) / 50.0) ** 2 for r in RATES]
    assert knee(RATES, latency_ms, curve="convex") == RATES.index(500.0)


def test_knee_survives_measurement_noise() -> None:
    rng = random.Random(9)
    achieved = [min(r, 400.0) * (1 + rng.uniform(-0.02, 0.02)) for r in RATES]
    latency_ms = [steep_latency_ms(r) * (1 + rng.uniform(-0.05, 0.05)) for r in RATES]
    assert knee(RATES, achieved, curve="concave") in (AT_400 - 1, AT_400, AT_400 + 1)
    assert knee(RATES, latency_ms, curve="convex") in (AT_400 - 1, AT_400, AT_400 + 1)


def test_knee_index_refers_to_the_unsorted_input() -> None:
    order = list(range(len(RATES)))
    random.Random(2).shuffle(order)
    xs = [RATES[i] for i in order]
    ys = [min(x, 400.0) for x in xs]
    index = knee(xs, ys, curve="concave")
    assert index is not None
    assert xs[index] == 400.0


@pytest.mark.parametrize("curve", ["concave", "convex"])
def test_straight_or_flat_curves_have_no_knee(curve: Literal["concave", "convex"]) -> None:
    rng = random.Random(1)
    line = [2.0 * r for r in RATES]
    noisy_line = [2.0 * r * (1 + rng.uniform(-0.02, 0.02)) for r in RATES]
    assert knee(RATES, line, curve=curve) is None
    assert knee(RATES, noisy_line, curve=curve) is None
    assert knee(RATES, [7.0] * len(RATES), curve=curve) is None
    assert knee([1.0] * 5, [1.0, 2.0, 3.0, 4.0, 5.0], curve=curve) is None
    assert knee([1.0, 2.0], [1.0, 5.0], curve=curve) is None


def test_the_wrong_shape_finds_no_knee() -> None:
    # A saturating curve lies above its chord everywhere: there is nothing below it.
    assert knee(RATES, [min(r, 400.0) for r in RATES], curve="convex") is None


def test_threshold_decides_how_bent_a_knee_must_be() -> None:
    mild = [r + 0.1 * (r - 50.0) * (800.0 - r) / 750.0 for r in RATES]  # bends ~2.5 % of range
    assert knee(RATES, mild, curve="concave") is None
    assert knee(RATES, mild, curve="concave", threshold=0.01) is not None


def test_knee_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="length"):
        knee([1.0, 2.0, 3.0], [1.0, 2.0], curve="concave")
    with pytest.raises(ValueError, match="curve"):
        knee([1.0, 2.0, 3.0], [1.0, 2.0, 2.0], curve="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        knee([1.0, 2.0, 3.0], [1.0, math.nan, 2.0], curve="concave")


# recovery_time


def health(after: float, pattern: str) -> list[tuple[float, bool]]:
    """One sample a second from ``after``: ``+`` healthy, ``-`` not."""
    return [(after + i, c == "+") for i, c in enumerate(pattern)]


def test_healthy_at_once_recovers_in_zero_seconds() -> None:
    assert recovery_time(health(100.0, "+" * 30), after=100.0, hold=10.0) == 0.0


def test_recovery_is_the_start_of_the_first_run_that_holds() -> None:
    points = health(100.0, "-------" + "+" * 20)
    assert recovery_time(points, after=100.0, hold=10.0) == 7.0


def test_a_short_healthy_blip_is_not_a_recovery() -> None:
    points = health(100.0, "--" + "+++" + "----" + "+" * 15)
    assert recovery_time(points, after=100.0, hold=10.0) == 9.0


def test_hold_is_measured_between_sample_instants() -> None:
    # 11 healthy samples span 10 s; 10 samples span only 9 s.
    assert recovery_time(health(0.0, "--" + "+" * 11 + "-"), after=0.0, hold=10.0) == 2.0
    assert recovery_time(health(0.0, "--" + "+" * 10 + "-"), after=0.0, hold=10.0) is None


def test_run_ending_before_hold_elapses_is_not_a_recovery() -> None:
    assert recovery_time(health(0.0, "-----" + "+" * 5), after=0.0, hold=10.0) is None


@pytest.mark.parametrize(
    ("points", "after"),
    [
        pytest.param([], 0.0, id="no samples"),
        pytest.param(health(0.0, "-" * 30), 0.0, id="never healthy"),
        pytest.param(health(0.0, "+" * 30), 50.0, id="healthy only before the drop"),
    ],
)
def test_never_recovered(points: list[tuple[float, bool]], after: float) -> None:
    assert recovery_time(points, after=after, hold=5.0) is None


def test_samples_before_the_drop_are_ignored() -> None:
    points = health(0.0, "+" * 10 + "---" + "+" * 20)
    assert recovery_time(points, after=10.0, hold=5.0) == 3.0


def test_recovery_between_samples_and_unsorted_input() -> None:
    points = health(0.0, "-" * 12 + "+" * 20)
    random.Random(3).shuffle(points)
    # The load dropped at 10.5; the first healthy sample that holds is at 12.
    assert recovery_time(points, after=10.5, hold=5.0) == pytest.approx(1.5)


def test_zero_hold_is_the_first_healthy_sample() -> None:
    assert recovery_time(health(0.0, "---+-"), after=0.0, hold=0.0) == 3.0


def test_a_time_reported_twice_must_be_healthy_twice() -> None:
    points = [*health(0.0, "+" * 20), (5.0, False)]
    assert recovery_time(points, after=0.0, hold=5.0) == 6.0


def test_negative_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="hold"):
        recovery_time(health(0.0, "+++"), after=0.0, hold=-1.0)
