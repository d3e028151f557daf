"""Concurrency limits for load shedding: slots never leak, waiters are served FIFO, and the
adaptive limit follows latency (driven by a fake clock, so nothing here sleeps for it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slokit.asgi._concurrency import (
    MIN_WINDOW_SAMPLES,
    AdaptiveLimiter,
    ConcurrencyLimiter,
    LimiterStats,
)
from slokit.errors import UsageError

NORMAL = 0.010
"""Seconds: the healthy latency the adaptive tests start from."""


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    """Let every task that can run do so (wake-ups chain through a few loop turns)."""
    for _ in range(10):
        await asyncio.sleep(0)


# -- fixed limit -----------------------------------------------------------------------------


def test_admits_exactly_limit_then_rejects_without_a_queue() -> None:
    limiter = ConcurrencyLimiter(3)

    async def main() -> list[bool]:
        return [await limiter.acquire() for _ in range(4)]

    assert asyncio.run(main()) == [True, True, True, False]
    assert limiter.statistics() == LimiterStats(
        limit=3, in_flight=3, queued=0, admitted=3, rejected=1
    )


def test_try_acquire_admits_up_to_the_limit_and_release_frees_a_slot() -> None:
    limiter = ConcurrencyLimiter(2)
    assert [limiter.try_acquire() for _ in range(3)] == [True, True, False]
    limiter.release(0.01)
    assert limiter.try_acquire()
    limiter.release(0.01, dropped=True)
    limiter.release(0.01)
    stats = limiter.statistics()
    assert (stats.in_flight, stats.admitted, stats.rejected) == (0, 3, 1)


def test_release_without_acquire_is_an_error() -> None:
    limiter = ConcurrencyLimiter(1)
    with pytest.raises(RuntimeError, match="without a matching"):
        limiter.release(0.01)
    assert limiter.statistics().in_flight == 0


def test_waiters_are_admitted_in_fifo_order_as_slots_free() -> None:
    limiter = ConcurrencyLimiter(1, queue_timeout=30)
    order: list[int] = []

    async def request(n: int) -> None:
        assert await limiter.acquire()
        order.append(n)

    async def main() -> None:
        assert limiter.try_acquire()
        tasks = [asyncio.create_task(request(n)) for n in range(4)]
        await settle()
        assert limiter.statistics().queued == 4
        for expected in range(1, 5):
            limiter.release(0.01)
            await settle()
            assert len(order) == expected
            assert limiter.statistics().in_flight == 1
        await asyncio.gather(*tasks)
        limiter.release(0.01)

    asyncio.run(main())
    assert order == [0, 1, 2, 3]
    assert limiter.statistics() == LimiterStats(
        limit=1, in_flight=0, queued=0, admitted=5, rejected=0
    )


def test_a_newcomer_cannot_overtake_a_waiter() -> None:
    limiter = ConcurrencyLimiter(1, queue_timeout=30)

    async def main() -> None:
        assert limiter.try_acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await settle()
        limiter.release(0.01)
        # The slot already belongs to the waiter even though it has not run yet.
        assert not limiter.try_acquire()
        assert await waiter
        limiter.release(0.01)

    asyncio.run(main())
    assert limiter.statistics().in_flight == 0


def test_a_waiter_is_rejected_after_the_queue_timeout() -> None:
    limiter = ConcurrencyLimiter(1, queue_timeout=0.02)

    async def main() -> bool:
        assert limiter.try_acquire()
        return await limiter.acquire()

    assert asyncio.run(main()) is False
    assert limiter.statistics() == LimiterStats(
        limit=1, in_flight=1, queued=0, admitted=1, rejected=1
    )


def test_an_expired_waiter_does_not_receive_a_later_slot() -> None:
    limiter = ConcurrencyLimiter(1, queue_timeout=0.02)

    async def main() -> None:
        assert limiter.try_acquire()
        assert not await limiter.acquire()
        limiter.release(0.01)
        assert limiter.statistics().in_flight == 0
        assert await limiter.acquire()
        limiter.release(0.01)

    asyncio.run(main())
    assert limiter.statistics().in_flight == 0


def test_an_expired_waiter_leaves_the_queue_at_once() -> None:
    limiter = ConcurrencyLimiter(1, queue_timeout=0.02, max_queue=1)

    async def main() -> None:
        assert limiter.try_acquire()
        assert not await limiter.acquire()
        # Had the expired entry stayed queued, this one would find the queue full.
        second = asyncio.create_task(limiter.acquire())
        await settle()
        assert not second.done()
        assert limiter.statistics().queued == 1
        assert not await second

    asyncio.run(main())
    stats = limiter.statistics()
    assert (stats.in_flight, stats.queued, stats.admitted, stats.rejected) == (1, 0, 1, 2)


def test_a_full_queue_rejects_at_once() -> None:
    limiter = ConcurrencyLimiter(1, queue_timeout=30, max_queue=1)

    async def main() -> None:
        assert limiter.try_acquire()
        first = asyncio.create_task(limiter.acquire())
        await settle()
        assert not await limiter.acquire()
        limiter.release(0.01)
        assert await first
        limiter.release(0.01)

    asyncio.run(main())
    stats = limiter.statistics()
    assert (stats.in_flight, stats.queued, stats.admitted, stats.rejected) == (0, 0, 2, 1)


def test_cancelling_a_waiter_leaks_nothing() -> None:
    limiter = ConcurrencyLimiter(1, queue_timeout=30)

    async def main() -> None:
        assert limiter.try_acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await settle()
        assert limiter.statistics().queued == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert limiter.statistics().queued == 0
        limiter.release(0.01)
        # Nobody is left to receive the slot: it is free for the next request.
        assert limiter.try_acquire()
        limiter.release(0.01)

    asyncio.run(main())
    stats = limiter.statistics()
    assert (stats.in_flight, stats.queued, stats.admitted, stats.rejected) == (0, 0, 2, 0)


def test_a_waiter_cancelled_after_being_granted_passes_its_slot_on() -> None:
    limiter = ConcurrencyLimiter(1, queue_timeout=5)

    async def main() -> None:
        assert limiter.try_acquire()
        doomed = asyncio.create_task(limiter.acquire())
        await settle()
        behind = asyncio.create_task(limiter.acquire())
        await settle()
        limiter.release(0.01)  # grants `doomed`, which has not resumed yet...
        doomed.cancel()  # ...and is cancelled before it does
        with pytest.raises(asyncio.CancelledError):
            await doomed
        assert await behind
        assert limiter.statistics().in_flight == 1
        limiter.release(0.01)

    asyncio.run(main())
    stats = limiter.statistics()
    assert (stats.in_flight, stats.queued, stats.admitted, stats.rejected) == (0, 0, 2, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 1, "queue_timeout": -1.0},
        {"limit": 1, "queue_timeout": float("nan")},
        {"limit": 1, "queue_timeout": 1.0, "max_queue": -1},
    ],
)
def test_bad_fixed_arguments_are_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        ConcurrencyLimiter(**kwargs)


# -- random schedules: slots never leak, limits are never exceeded ---------------------------

acquire = st.tuples(st.just("acquire"), st.integers(0, 0), st.sampled_from([NORMAL]))
ops = st.lists(
    st.one_of(
        acquire,
        acquire,  # twice as likely: the queue must fill up for the interesting cases
        st.tuples(st.just("release"), st.integers(0, 50), st.sampled_from([NORMAL, 5 * NORMAL])),
        st.tuples(st.just("drop"), st.integers(0, 50), st.sampled_from([NORMAL])),
        st.tuples(st.just("cancel"), st.integers(0, 50), st.sampled_from([NORMAL])),
        # release and cancel in one loop turn: the cancelled waiter may just have been granted
        st.tuples(st.just("release+cancel"), st.integers(0, 50), st.sampled_from([NORMAL])),
        # cancel, then release before the cancelled task has run its cleanup
        st.tuples(st.just("cancel+release"), st.integers(0, 50), st.sampled_from([NORMAL])),
        st.tuples(st.just("advance"), st.integers(0, 0), st.sampled_from([NORMAL])),
    ),
    min_size=10,
    max_size=120,
)


async def play(
    limiter: ConcurrencyLimiter, clock: FakeClock, steps: list[tuple[str, int, float]]
) -> None:
    held = 0
    waiting: list[asyncio.Task[bool]] = []
    for kind, index, latency in steps:
        before = limiter.statistics()
        if kind == "acquire":
            waiting.append(asyncio.create_task(limiter.acquire()))
        elif kind == "advance":
            clock.now += 0.2
        if kind == "cancel+release" and waiting:
            waiting[index % len(waiting)].cancel()
        if kind in ("release", "drop", "release+cancel", "cancel+release") and held:
            held -= 1
            limiter.release(latency, dropped=kind == "drop")
        if kind in ("cancel", "release+cancel") and waiting:
            waiting[index % len(waiting)].cancel()
        await settle()
        held += sum(1 for t in waiting if t.done() and not t.cancelled() and t.result())
        waiting = [t for t in waiting if not t.done()]
        after = limiter.statistics()
        assert after.in_flight == held
        assert after.queued == len(waiting)
        if after.admitted > before.admitted:
            # Whoever was admitted in this step found room under the limit then in force.
            assert after.in_flight <= after.limit
    for task in waiting:
        task.cancel()
    await settle()
    for _ in range(held):
        limiter.release(NORMAL)
    stats = limiter.statistics()
    assert (stats.in_flight, stats.queued) == (0, 0)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), ops)
def test_random_schedules_on_a_fixed_limit(limit: int, steps: list[tuple[str, int, float]]) -> None:
    limiter = ConcurrencyLimiter(limit, queue_timeout=60)
    clock = FakeClock()

    async def main() -> None:
        await play(limiter, clock, steps)
        assert limiter.statistics().limit == limit

    asyncio.run(main())


@settings(max_examples=150, deadline=None)
@given(ops)
def test_random_schedules_on_an_adaptive_limit(steps: list[tuple[str, int, float]]) -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(
        initial_limit=3, min_limit=1, max_limit=6, queue_timeout=60, sample_window=0.1, clock=clock
    )
    asyncio.run(play(limiter, clock, steps))


# -- adaptive limit --------------------------------------------------------------------------


def adaptive(clock: FakeClock, **kwargs: Any) -> AdaptiveLimiter:
    options: dict[str, Any] = {"initial_limit": 20, "min_limit": 4, "max_limit": 100}
    options.update(kwargs)
    return AdaptiveLimiter(clock=clock, sample_window=0.1, **options)


def busy_windows(
    limiter: AdaptiveLimiter, clock: FakeClock, latency: float, windows: int
) -> list[int]:
    """Close ``windows`` sample windows with the limiter kept full; the limit after each."""
    limits = []
    for _ in range(windows):
        clock.now += 0.1
        for _ in range(MIN_WINDOW_SAMPLES):
            while limiter.statistics().in_flight < limiter.limit:
                assert limiter.try_acquire()
            limiter.release(latency)
        limits.append(limiter.limit)
    return limits


def check_bounds(limits: list[int], low: int, high: int) -> None:
    assert all(low <= limit <= high for limit in limits), limits


def test_stable_latency_grows_the_limit_to_max_limit() -> None:
    clock = FakeClock()
    limiter = adaptive(clock)
    limits = busy_windows(limiter, clock, NORMAL, 150)
    assert limits == sorted(limits)
    assert limits[0] == 20  # smoothing: the first window adds 0.2 * sqrt(20) < 1
    assert limits[20] > 25
    assert limits[-1] == 100
    check_bounds(limits, 4, 100)


def test_growth_is_about_smoothing_times_sqrt_limit_per_window() -> None:
    clock = FakeClock()
    limiter = adaptive(clock, initial_limit=100, max_limit=1000)
    limits = busy_windows(limiter, clock, NORMAL, 10)
    # 100 -> 100 + 10 * 0.2 * sqrt(~100): about 120.
    assert 118 <= limits[-1] <= 122


def test_latency_five_times_higher_shrinks_the_limit_toward_min_limit() -> None:
    clock = FakeClock()
    limiter = adaptive(clock)
    assert busy_windows(limiter, clock, NORMAL, 150)[-1] == 100
    slow = busy_windows(limiter, clock, 5 * NORMAL, 60)
    # Gradient floored at 0.5, smoothing 0.2: 0.9 * 100 + 0.2 * sqrt(100) = 92.
    assert slow[0] == 92
    assert slow == sorted(slow, reverse=True)
    # The sqrt(limit) headroom keeps it a little above min_limit: 4 is the fixed point
    # only while the gradient stays at its 0.5 floor.
    assert slow[-1] <= 5
    check_bounds(slow, 4, 100)


def test_sustained_ten_times_slower_reaches_min_limit() -> None:
    clock = FakeClock()
    limiter = adaptive(clock)
    busy_windows(limiter, clock, NORMAL, 150)
    slow = busy_windows(limiter, clock, 10 * NORMAL, 90)
    assert slow == sorted(slow, reverse=True)
    assert slow[-1] == 4
    check_bounds(slow, 4, 100)


def test_limit_recovers_when_latency_returns_to_normal() -> None:
    clock = FakeClock()
    limiter = adaptive(clock)
    busy_windows(limiter, clock, NORMAL, 150)
    assert busy_windows(limiter, clock, 5 * NORMAL, 60)[-1] <= 5
    recovered = busy_windows(limiter, clock, NORMAL, 150)
    assert recovered == sorted(recovered)
    assert recovered[-1] == 100
    check_bounds(recovered, 4, 100)


def test_after_a_long_overload_long_rtt_decays_so_the_next_one_is_seen() -> None:
    """Sustained slowness becomes the baseline; once it ends, long RTT must come back down
    quickly, or a new overload would look normal next to the stale baseline."""
    clock = FakeClock()
    limiter = adaptive(clock)
    busy_windows(limiter, clock, NORMAL, 50)
    busy_windows(limiter, clock, 10 * NORMAL, 300)  # long RTT drifts up toward 10x
    recovered = busy_windows(limiter, clock, NORMAL, 100)
    assert recovered == sorted(recovered)
    assert recovered[-1] == 100
    spike = busy_windows(limiter, clock, 5 * NORMAL, 10)
    assert spike[0] < 100
    assert spike[-1] < 60


def test_the_limit_does_not_grow_while_the_service_does_not_use_it() -> None:
    clock = FakeClock()
    limiter = adaptive(clock)
    for _ in range(50):
        clock.now += 0.1
        for _ in range(MIN_WINDOW_SAMPLES):
            assert limiter.try_acquire()  # one request at a time: far below limit / 2
            limiter.release(NORMAL)
    assert limiter.limit == 20


def test_dropped_requests_do_not_feed_the_algorithm() -> None:
    clock = FakeClock()
    limiter = adaptive(clock, max_limit=20)
    busy_windows(limiter, clock, NORMAL, 20)
    for _ in range(30):
        clock.now += 0.1
        for _ in range(MIN_WINDOW_SAMPLES):
            assert limiter.try_acquire()
            limiter.release(100 * NORMAL, dropped=True)
    assert limiter.limit == 20
    assert busy_windows(limiter, clock, NORMAL, 1) == [20]


def test_nonsense_latencies_are_not_sampled() -> None:
    clock = FakeClock()
    limiter = adaptive(clock, max_limit=20)
    busy_windows(limiter, clock, NORMAL, 20)
    for bad in (float("nan"), float("inf"), -1.0):
        busy_windows(limiter, clock, bad, 5)
    assert limiter.limit == 20
    assert busy_windows(limiter, clock, NORMAL, 1) == [20]


def test_a_window_needs_both_its_time_and_its_samples() -> None:
    clock = FakeClock()
    limiter = adaptive(clock, initial_limit=100, max_limit=1000)
    assert all(limiter.try_acquire() for _ in range(100))  # busy enough to grow

    def serve(count: int) -> None:
        for _ in range(count):
            limiter.release(NORMAL)
            assert limiter.try_acquire()

    serve(10 * MIN_WINDOW_SAMPLES)  # plenty of samples, no time passing: window stays open
    assert limiter.limit == 100
    clock.now += 0.1
    serve(1)  # its time is up and it has the samples: closes
    assert limiter.limit == 102
    clock.now += 10.0
    serve(MIN_WINDOW_SAMPLES - 1)  # the next window: time is up, too few samples
    assert limiter.limit == 102
    serve(1)
    assert limiter.limit == 104


def test_a_shrinking_limit_below_in_flight_stops_admission_until_it_drains() -> None:
    clock = FakeClock()
    limiter = adaptive(clock, initial_limit=20, max_limit=20, queue_timeout=30)
    busy_windows(limiter, clock, NORMAL, 10)
    busy_windows(limiter, clock, 5 * NORMAL, 1)
    shrunk = limiter.limit
    in_flight = limiter.statistics().in_flight
    assert shrunk < in_flight

    async def main() -> None:
        assert not limiter.try_acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await settle()
        for _ in range(in_flight - shrunk):
            limiter.release(NORMAL)
            await settle()
            assert not waiter.done()
            assert limiter.statistics().queued == 1
        limiter.release(NORMAL)  # now under the limit: the waiter gets the slot
        assert await waiter
        assert limiter.statistics().in_flight == shrunk

    asyncio.run(main())


def test_adaptive_counters_count_admissions_and_rejections() -> None:
    clock = FakeClock()
    limiter = adaptive(clock, initial_limit=4, min_limit=4, max_limit=4, queue_timeout=0.02)

    async def main() -> list[bool]:
        return [await limiter.acquire() for _ in range(6)]

    assert asyncio.run(main()) == [True] * 4 + [False] * 2
    assert not limiter.try_acquire()
    limiter.release(NORMAL)
    assert limiter.try_acquire()
    assert limiter.statistics() == LimiterStats(
        limit=4, in_flight=4, queued=0, admitted=5, rejected=3
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.001, NORMAL, 5 * NORMAL, 2.0]),
            st.integers(0, 12),  # requests to start before this release
            st.booleans(),  # advance the clock past the window?
        ),
        max_size=400,
    )
)
def test_adaptive_limit_stays_within_its_bounds(steps: list[tuple[float, int, bool]]) -> None:
    clock = FakeClock()
    limiter = adaptive(clock, initial_limit=10, min_limit=3, max_limit=40)
    results: list[bool] = []
    for latency, starts, advance in steps:
        results += [limiter.try_acquire() for _ in range(starts)]
        if advance:
            clock.now += 0.1
        if limiter.statistics().in_flight:
            limiter.release(latency)
        stats = limiter.statistics()
        assert 3 <= stats.limit <= 40
        assert stats.in_flight <= 40
        assert (stats.admitted, stats.rejected) == (results.count(True), results.count(False))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_limit": 0},
        {"min_limit": 30, "initial_limit": 20},
        {"initial_limit": 2000},
        {"smoothing": 0.0},
        {"smoothing": 1.5},
        {"tolerance": 0.9},
        {"long_window": 0},
        {"sample_window": 0.0},
        {"queue_timeout": -0.1},
    ],
)
def test_bad_adaptive_arguments_are_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        AdaptiveLimiter(**kwargs)


def test_defaults() -> None:
    limiter = AdaptiveLimiter()
    assert limiter.statistics() == LimiterStats(
        limit=20, in_flight=0, queued=0, admitted=0, rejected=0
    )


def test_try_enter_admits_like_acquire_but_never_counts_a_rejection() -> None:
    from slokit.asgi._concurrency import ConcurrencyLimiter

    limiter = ConcurrencyLimiter(1)
    assert limiter.try_enter() is True
    assert limiter.try_enter() is False
    stats = limiter.statistics()
    assert (stats.in_flight, stats.admitted, stats.rejected) == (1, 1, 0)
    limiter.release(0.01)
    assert limiter.statistics().in_flight == 0


# -- adaptive limit with a latency target (a latency SLO) ---------------------------------------


def full_windows(
    limiter: AdaptiveLimiter, clock: FakeClock, latencies: list[float], windows: int
) -> list[int]:
    """Close ``windows`` windows of exactly these samples, each with the limit in use and
    nothing above it in flight (the steady state); the limit after each."""
    limits = []
    for _ in range(windows):
        while limiter.statistics().in_flight > limiter.limit:
            limiter.release(0.0, dropped=True)  # requests admitted under an older limit
        for n, latency in enumerate(latencies):
            while limiter.statistics().in_flight < limiter.limit:
                assert limiter.try_acquire()
            if n == len(latencies) - 1:
                clock.now += 0.1  # the window's time is up with its last sample
            limiter.release(latency)
        limits.append(limiter.limit)
    return limits


def drain(limiter: AdaptiveLimiter) -> None:
    while limiter.statistics().in_flight:
        limiter.release(0.0, dropped=True)


SAMPLES = MIN_WINDOW_SAMPLES * 10


def test_with_a_target_the_limit_starts_at_max_limit() -> None:
    limiter = adaptive(FakeClock(), target=0.3)
    assert limiter.limit == 100
    assert limiter.target == 0.3
    assert adaptive(FakeClock()).target is None


def test_latency_that_rises_but_stays_within_the_target_never_sheds() -> None:
    # Twenty times the normal latency: Gradient2 cuts toward min_limit, the target keeps all.
    limits = {}
    for target in (None, 0.3):
        clock = FakeClock()
        limiter = adaptive(clock, initial_limit=100, target=target)
        full_windows(limiter, clock, [NORMAL] * SAMPLES, 30)
        limits[target] = full_windows(limiter, clock, [NORMAL * 20] * SAMPLES, 40)
    assert limits[None][-1] < 20
    assert limits[0.3] == [100] * 40


def test_latency_over_the_target_halves_the_limit_per_window_down_to_min_limit() -> None:
    clock = FakeClock()
    limiter = adaptive(clock, target=0.3)
    limits = full_windows(limiter, clock, [0.5] * SAMPLES, 8)
    assert limits == [50, 25, 12, 6, 4, 4, 4, 4]


def test_a_cut_waits_for_requests_admitted_before_it() -> None:
    # Still 100 in flight after a cut to 50: half of that peak is no lower, so no second cut
    # until they drain (their latency was earned under the old limit).
    clock = FakeClock()
    limiter = adaptive(clock, target=0.3)
    limits = busy_windows(limiter, clock, 0.5, 2)
    assert limits == [50, 49]


def test_back_within_the_target_the_limit_grows_by_sqrt_limit_per_window() -> None:
    clock = FakeClock()
    limiter = adaptive(clock, target=0.3)
    full_windows(limiter, clock, [0.5] * SAMPLES, 8)
    limits = full_windows(limiter, clock, [NORMAL] * SAMPLES, 40)
    assert limits[:3] == [6, 8, 11]  # 4 + sqrt(4), 6 + sqrt(6), ...
    assert limits == sorted(limits)
    assert limits[-1] == 100


def test_slow_requests_within_the_error_budget_do_not_cut_the_limit() -> None:
    # 95 % within the target: 2 slow in 100 is within budget, 10 in 100 is 5 % over it.
    results = {}
    for slow in (2, 10):
        clock = FakeClock()
        limiter = adaptive(clock, target=0.3, target_share=0.95)
        window = [1.0] * slow + [NORMAL] * (SAMPLES - slow)
        results[slow] = full_windows(limiter, clock, window, 3)
    assert results[2] == [100, 100, 100]
    assert results[10] == [95, 90, 85]  # cut to 95 % of the peak per window


def test_an_unused_limit_does_not_grow_with_a_target() -> None:
    clock = FakeClock()
    limiter = adaptive(clock, target=0.3)
    full_windows(limiter, clock, [0.5] * SAMPLES, 3)  # down to 12
    drain(limiter)
    for _ in range(20):
        clock.now += 0.1
        for _ in range(MIN_WINDOW_SAMPLES):
            assert limiter.try_acquire()
            limiter.release(NORMAL)  # one in flight at a time: a fraction of the limit
    assert limiter.limit == 12


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target": 0},
        {"target": -0.1},
        {"target": float("inf")},
        {"target": float("nan")},
        {"target": 0.3, "target_share": 1.0},
        {"target": 0.3, "target_share": 0.0},
    ],
)
def test_bad_targets_are_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match="target"):
        AdaptiveLimiter(**kwargs)
