"""The circuit breaker: resilience4j's state machine, driven by a fake clock (no sleeping)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from slokit.errors import CircuitOpenError, UsageError
from slokit.resilience._breaker import (
    BreakerEvent,
    BreakerRegistry,
    BreakerStats,
    CircuitBreaker,
    State,
    breakers,
    default_registry,
)
from slokit.resilience._breaker_window import CountWindow, TimeWindow


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Boom(Exception):
    pass


def make(clock: FakeClock, **options: Any) -> CircuitBreaker:
    options.setdefault("registry", None)
    return CircuitBreaker(options.pop("name", "test"), clock=clock, **options)


def succeed(breaker: CircuitBreaker, clock: FakeClock, took: float = 0.0) -> None:
    started = breaker.acquire()
    clock.advance(took)
    breaker.on_success(started)


def fail(breaker: CircuitBreaker, clock: FakeClock, took: float = 0.0) -> None:
    started = breaker.acquire()
    clock.advance(took)
    breaker.on_error(started, Boom("down"))


# -- the window arithmetic -------------------------------------------------------------------


@given(
    size=st.integers(1, 12),
    outcomes=st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60),
)
def test_count_window_counts_exactly_the_last_n_outcomes(
    size: int, outcomes: list[tuple[bool, bool]]
) -> None:
    window = CountWindow(size, minimum=1)
    for i, (failed, slow) in enumerate(outcomes):
        window.record(float(i), failed, slow)
        last = outcomes[max(0, i + 1 - size) : i + 1]
        assert window.calls == len(last)
        assert window.failures == sum(f for f, _ in last)
        assert window.slow == sum(s for _, s in last)


@given(
    span=st.sampled_from([0.37, 1.0, 5.0, 60.0, 99.5, 100.0, 250.0]),
    start=st.sampled_from([0.0, 1000.25, 98765.4321]),
    steps=st.lists(
        st.tuples(
            st.one_of(st.sampled_from([0.0, 0.001, 0.01, 0.5, 1.0]), st.floats(0, 300)),
            st.booleans(),
            st.booleans(),
            st.booleans(),
        ),
        max_size=60,
    ),
)
def test_time_window_matches_a_list_of_every_timestamp(
    span: float, start: float, steps: list[tuple[float, bool, bool, bool]]
) -> None:
    """resilience4j's buckets: a call at t is in the window at now while its bucket
    floor(t / width) is one of the last ``size`` buckets."""
    window = TimeWindow(span, minimum=1)
    width = min(1.0, span / 100)
    size = max(1, round(span / width))
    assert (window.width, window.size) == (width, size)
    now = start
    seen: list[tuple[float, bool, bool]] = []
    for dt, record, failed, slow in steps:
        now += dt
        if record:
            window.record(now, failed, slow)
            seen.append((now, failed, slow))
        else:
            window.refresh(now)
        current = math.floor(now / width)
        live = [c for c in seen if math.floor(c[0] / width) > current - size]
        assert window.calls == len(live)
        assert window.failures == sum(f for _, f, _ in live)
        assert window.slow == sum(s for _, _, s in live)


def test_time_window_drops_a_call_exactly_when_its_bucket_leaves() -> None:
    clock = FakeClock(1000.5)
    breaker = make(clock, window=100.0, window_type="time", minimum_calls=100)
    fail(breaker, clock)  # bucket 1000 of 1 s
    clock.now = 1099.99
    assert breaker.statistics().failures == 1  # buckets 1000..1099
    clock.now = 1100.0
    assert breaker.statistics().calls == 0


def test_short_time_windows_use_hundred_buckets() -> None:
    clock = FakeClock(0.0)
    breaker = make(clock, window=timedelta(seconds=10), window_type="time", minimum_calls=50)
    fail(breaker, clock)  # bucket 0 of 0.1 s
    clock.now = 9.95
    succeed(breaker, clock)
    assert (breaker.statistics().calls, breaker.statistics().failures) == (2, 1)
    clock.now = 10.0
    stats = breaker.statistics()
    assert (stats.calls, stats.failures) == (1, 0)


def test_time_window_opens_on_the_calls_of_the_last_seconds() -> None:
    clock = FakeClock(0.0)
    breaker = make(clock, window=10.0, window_type="time", minimum_calls=4, failure_rate=0.5)
    fail(breaker, clock)
    fail(breaker, clock)
    clock.advance(10.0)  # both failures age out
    succeed(breaker, clock)
    succeed(breaker, clock)  # with the old failures this would be 2 of 4
    fail(breaker, clock)
    assert breaker.state is State.CLOSED  # 3 calls: below minimum_calls
    fail(breaker, clock)
    assert breaker.state is State.OPEN  # 2 of 4


# -- closed -> open --------------------------------------------------------------------------


def test_opens_when_the_failure_rate_reaches_the_threshold() -> None:
    clock = FakeClock()
    breaker = make(clock, window=4, minimum_calls=4, failure_rate=0.5)
    succeed(breaker, clock)
    fail(breaker, clock)
    fail(breaker, clock)
    assert breaker.state is State.CLOSED  # 3 calls: below minimum_calls
    succeed(breaker, clock)
    assert breaker.state is State.OPEN  # 2 of 4 = 0.5 >= 0.5


def test_count_window_forgets_old_outcomes() -> None:
    clock = FakeClock()
    breaker = make(clock, window=3, minimum_calls=3, failure_rate=0.6)
    fail(breaker, clock)
    succeed(breaker, clock)
    succeed(breaker, clock)  # 1 of 3
    fail(breaker, clock)  # the first failure left: 1 of 3
    assert breaker.statistics().failures == 1
    fail(breaker, clock)  # 2 of 3
    assert breaker.state is State.OPEN


def test_no_judgement_before_minimum_calls() -> None:
    clock = FakeClock()
    breaker = make(clock, window=100, minimum_calls=10)
    for _ in range(9):
        fail(breaker, clock)
    stats = breaker.statistics()
    assert (stats.state, stats.failure_rate, stats.calls) == (State.CLOSED, None, 9)
    fail(breaker, clock)
    assert breaker.state is State.OPEN


def test_minimum_calls_is_capped_at_a_count_window() -> None:
    clock = FakeClock()
    breaker = make(clock, window=3, minimum_calls=10)
    for _ in range(3):
        fail(breaker, clock)
    assert breaker.state is State.OPEN


def test_slow_calls_open_the_breaker() -> None:
    clock = FakeClock()
    breaker = make(clock, window=4, minimum_calls=2, slow_call_duration=1.0, slow_call_rate=0.5)
    succeed(breaker, clock, took=1.0)  # not slow: slow means longer than the duration
    succeed(breaker, clock, took=0.5)
    assert breaker.statistics().slow_calls == 0
    succeed(breaker, clock, took=1.01)
    assert breaker.state is State.CLOSED  # 1 of 3
    fail(breaker, clock, took=2.0)  # slow and failed: counts for both
    stats = breaker.statistics()
    assert (stats.state, stats.slow_calls, stats.failures) == (State.OPEN, 2, 1)
    assert stats.slow_call_rate == 0.5


def test_without_slow_call_duration_nothing_is_slow() -> None:
    clock = FakeClock()
    breaker = make(clock, window=2, minimum_calls=1)
    succeed(breaker, clock, took=1e6)
    assert breaker.statistics().slow_calls == 0


# -- open, half-open, back-off ---------------------------------------------------------------


def test_open_refuses_with_retry_after_then_half_opens() -> None:
    clock = FakeClock()
    breaker = make(clock, window=1, minimum_calls=1, open_for=30.0)
    fail(breaker, clock)
    clock.advance(10.0)
    with pytest.raises(CircuitOpenError) as refused:
        breaker.acquire()
    assert refused.value.breaker == "test"
    assert refused.value.retry_after == pytest.approx(20.0)
    clock.advance(20.0)
    assert breaker.state is State.HALF_OPEN  # reading the state moves it


def test_half_open_judges_all_trials_then_closes() -> None:
    clock = FakeClock()
    breaker = make(clock, window=1, minimum_calls=1, open_for=1.0, half_open_calls=3)
    fail(breaker, clock)
    clock.advance(1.0)
    trials = [breaker.acquire() for _ in range(3)]
    with pytest.raises(CircuitOpenError) as refused:
        breaker.acquire()  # a fourth trial while three are in flight
    assert refused.value.retry_after == 0.0
    breaker.on_error(trials[0], Boom())
    breaker.on_success(trials[1])
    assert breaker.state is State.HALF_OPEN  # one trial still out: no judgement yet
    breaker.on_success(trials[2])
    assert breaker.state is State.CLOSED  # 1 of 3 < 0.5
    assert breaker.statistics().calls == 0  # the window was cleared


def test_half_open_reopens_when_trials_fail() -> None:
    clock = FakeClock()
    breaker = make(clock, window=1, minimum_calls=1, open_for=1.0, half_open_calls=2)
    fail(breaker, clock)
    clock.advance(1.0)
    succeed(breaker, clock)
    fail(breaker, clock)  # 1 of 2 >= 0.5
    stats = breaker.statistics()
    assert (stats.state, stats.calls, stats.failures, stats.failure_rate) == (
        State.OPEN,
        2,
        1,
        0.5,
    )


def test_ignored_trial_gives_its_slot_back() -> None:
    clock = FakeClock()
    breaker = make(
        clock, window=1, minimum_calls=1, open_for=1.0, half_open_calls=1, ignore=KeyError
    )
    fail(breaker, clock)
    clock.advance(1.0)
    started = breaker.acquire()
    breaker.on_error(started, KeyError("x"))
    assert breaker.state is State.HALF_OPEN
    succeed(breaker, clock)  # the slot is free again
    assert breaker.state is State.CLOSED


def test_cancelled_trial_gives_its_slot_back() -> None:
    clock = FakeClock()
    breaker = make(clock, window=1, minimum_calls=1, open_for=1.0, half_open_calls=1)
    fail(breaker, clock)
    clock.advance(1.0)
    breaker.on_error(breaker.acquire(), asyncio.CancelledError())
    succeed(breaker, clock)
    assert breaker.state is State.CLOSED


def test_open_time_grows_with_each_reopen_and_is_capped() -> None:
    clock = FakeClock()
    breaker = make(
        clock,
        window=1,
        minimum_calls=1,
        half_open_calls=1,
        open_for=1.0,
        open_backoff=2.0,
        max_open_for=5.0,
    )
    fail(breaker, clock)
    holds = []
    for _ in range(5):
        holds.append(breaker.statistics().retry_after)
        clock.advance(holds[-1])
        fail(breaker, clock)  # the trial fails: open again, for longer
    assert holds == [1.0, 2.0, 4.0, 5.0, 5.0]
    clock.advance(5.0)
    succeed(breaker, clock)  # closes: the next opening starts over
    fail(breaker, clock)
    assert breaker.statistics().retry_after == 1.0
    assert breaker.statistics().open_count == 7


def test_open_for_zero_half_opens_at_once() -> None:
    clock = FakeClock()
    breaker = make(clock, window=1, minimum_calls=1, open_for=0.0, half_open_calls=1)
    fail(breaker, clock)
    succeed(breaker, clock)
    assert breaker.state is State.CLOSED


def test_stale_outcome_does_not_take_a_trial_slot() -> None:
    """A call from the CLOSED period that ends during HALF_OPEN is not one of the trials."""
    clock = FakeClock()
    breaker = make(clock, window=1, minimum_calls=1, open_for=10.0, half_open_calls=1)
    old = breaker.acquire()
    clock.advance(1.0)
    fail(breaker, clock)
    clock.advance(10.0)
    trial = breaker.acquire()
    breaker.on_error(old, Boom())
    stats = breaker.statistics()
    assert (stats.state, stats.calls, stats.failed) == (State.HALF_OPEN, 0, 2)
    breaker.on_success(trial)
    assert breaker.state is State.CLOSED


def test_reset_and_force_open() -> None:
    clock = FakeClock()
    breaker = make(clock, window=2, minimum_calls=2, open_for=5.0)
    breaker.force_open()
    clock.advance(1e6)
    with pytest.raises(CircuitOpenError) as refused:
        breaker.acquire()
    assert refused.value.retry_after == math.inf
    assert breaker.state is State.OPEN  # forced: no half-open
    breaker.reset()
    assert breaker.state is State.CLOSED
    breaker.force_open(timedelta(seconds=2))
    clock.advance(2.0)
    assert breaker.state is State.HALF_OPEN
    breaker.reset()
    fail(breaker, clock)
    breaker.reset()  # clears the window
    fail(breaker, clock)
    assert breaker.state is State.CLOSED
    stats = breaker.statistics()
    assert (stats.calls, stats.failed, stats.open_count, stats.opened_at) == (1, 2, 2, None)


# -- concurrency: bounded trials -------------------------------------------------------------


def _opened_then_half_open(half_open_calls: int) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    breaker = make(clock, window=1, minimum_calls=1, open_for=1.0, half_open_calls=half_open_calls)
    fail(breaker, clock)
    clock.advance(1.0)
    return breaker, clock


def test_half_open_trials_are_bounded_under_threads() -> None:
    breaker, _ = _opened_then_half_open(3)
    workers = 16
    lock = threading.Lock()
    changed = threading.Condition(lock)
    release = threading.Event()
    counts = {"running": 0, "peak": 0, "refused": 0, "entered": 0}
    start = threading.Barrier(workers)

    def trial() -> str:
        with changed:
            counts["running"] += 1
            counts["entered"] += 1
            counts["peak"] = max(counts["peak"], counts["running"])
            changed.notify_all()
        assert release.wait(10)
        with changed:
            counts["running"] -= 1
        return "ok"

    def worker() -> None:
        start.wait(10)
        try:
            assert breaker.call(trial) == "ok"
        except CircuitOpenError:
            with changed:
                counts["refused"] += 1
                changed.notify_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    with changed:
        assert changed.wait_for(lambda: counts["entered"] + counts["refused"] == workers, 10)
        assert (counts["entered"], counts["refused"]) == (3, workers - 3)
    release.set()
    for thread in threads:
        thread.join(10)
    assert counts["peak"] == 3
    assert breaker.state is State.CLOSED
    assert breaker.statistics().not_permitted == workers - 3


def test_half_open_trials_are_bounded_under_asyncio() -> None:
    breaker, _ = _opened_then_half_open(2)
    tasks_count = 10

    async def main() -> dict[str, int]:
        release = asyncio.Event()
        everyone_tried = asyncio.Event()
        counts = {"running": 0, "peak": 0, "tried": 0}

        def tried() -> None:
            counts["tried"] += 1
            if counts["tried"] == tasks_count:
                everyone_tried.set()

        async def trial() -> str:
            counts["running"] += 1
            counts["peak"] = max(counts["peak"], counts["running"])
            tried()
            await release.wait()
            counts["running"] -= 1
            return "ok"

        async def attempt() -> str:
            try:
                return await breaker.acall(trial)
            except CircuitOpenError:
                tried()
                return "refused"

        tasks = [asyncio.create_task(attempt()) for _ in range(tasks_count)]
        await asyncio.wait_for(everyone_tried.wait(), 10)
        assert counts["running"] == 2
        release.set()
        results = await asyncio.gather(*tasks)
        assert sorted(results) == ["ok"] * 2 + ["refused"] * (tasks_count - 2)
        return counts

    counts = asyncio.run(main())
    assert counts["peak"] == 2
    assert breaker.state is State.CLOSED


# -- ways to use it --------------------------------------------------------------------------


def test_decorator_on_sync_function() -> None:
    clock = FakeClock()
    breaker = make(clock, window=3, minimum_calls=3)

    def add(a: int, b: int = 0) -> int:
        """Adds."""
        if a < 0:
            raise ValueError("negative")
        return a + b

    guarded = breaker(add)
    assert guarded(1, b=2) == 3
    assert guarded.__name__ == "add"
    assert guarded.__doc__ == "Adds."
    assert guarded.__wrapped__ is add  # type: ignore[attr-defined]
    assert inspect.signature(guarded) == inspect.signature(add)
    error = ValueError("mine")

    @breaker
    def raises() -> None:
        raise error

    with pytest.raises(ValueError, match="mine") as raised:
        raises()
    assert raised.value is error  # the same exception, not wrapped
    with pytest.raises(ValueError, match="negative"):
        guarded(-1)
    with pytest.raises(CircuitOpenError):
        guarded(1)
    assert breaker.statistics().failed == 2


def test_decorator_on_async_function_and_method() -> None:
    clock = FakeClock()
    breaker = make(clock, window=3, minimum_calls=3)

    class Client:
        @breaker
        async def fetch(self, key: str) -> str:
            """Fetches."""
            if key == "bad":
                raise Boom(key)
            await asyncio.sleep(0)
            return key.upper()

    client = Client()
    assert inspect.iscoroutinefunction(Client.fetch)
    assert Client.fetch.__name__ == "fetch"
    assert Client.fetch.__doc__ == "Fetches."

    async def main() -> None:
        assert await client.fetch("a") == "A"
        with pytest.raises(Boom, match="bad"):
            await client.fetch("bad")
        with pytest.raises(Boom, match="bad"):
            await client.fetch("bad")
        with pytest.raises(CircuitOpenError):
            await client.fetch("a")

    asyncio.run(main())
    stats = breaker.statistics()
    assert (stats.successful, stats.failed, stats.not_permitted) == (1, 2, 1)


def test_call_and_acall_pass_arguments() -> None:
    clock = FakeClock()
    breaker = make(clock)

    async def double(x: int, *, times: int = 2) -> int:
        return x * times

    assert breaker.call(pow, 2, 10) == 1024
    assert breaker.call(dict, a=1) == {"a": 1}
    assert asyncio.run(breaker.acall(double, 4, times=3)) == 12
    assert breaker.statistics().successful == 3


def test_context_managers_record_outcomes() -> None:
    clock = FakeClock()
    breaker = make(clock, window=4, minimum_calls=4, slow_call_duration=1.0, slow_call_rate=1.0)
    with breaker:
        clock.advance(2.0)
    error = Boom("inside")
    with pytest.raises(Boom) as raised, breaker:
        raise error
    assert raised.value is error

    async def main() -> None:
        async with breaker:
            async with breaker:  # nested: each keeps its own start time
                clock.advance(0.5)
            clock.advance(0.1)

    asyncio.run(main())
    stats = breaker.statistics()
    assert (stats.calls, stats.failures, stats.slow_calls, stats.successful) == (4, 1, 1, 3)
    breaker.force_open()
    ran = []
    with pytest.raises(CircuitOpenError), breaker:
        ran.append(1)
    assert ran == []


def test_exit_without_enter_is_a_usage_error() -> None:
    breaker = make(FakeClock())
    with pytest.raises(UsageError, match="without __enter__"):
        breaker.__exit__(None, None, None)


def test_failure_result_predicate() -> None:
    clock = FakeClock()

    @dataclass
    class Response:
        status_code: int

    breaker = make(clock, window=2, minimum_calls=2, failure_result=lambda r: r.status_code >= 500)
    assert breaker.call(Response, 200).status_code == 200
    assert breaker.call(Response, 503).status_code == 503  # returned, but counted as failure
    stats = breaker.statistics()
    assert (stats.successful, stats.failed, stats.state) == (1, 1, State.OPEN)


def test_failure_result_that_raises_is_logged_and_counts_as_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    breaker = make(FakeClock(), failure_result=lambda r: r.missing)
    with caplog.at_level(logging.ERROR, "slokit.resilience"):
        assert breaker.call(int, "7") == 7
    assert breaker.statistics().failed == 1
    assert "failure_result" in caplog.text


def test_ignore_is_checked_before_record() -> None:
    clock = FakeClock()
    breaker = make(clock, window=10, minimum_calls=10, ignore=ValueError, record=Exception)
    breaker.on_error(breaker.acquire(), ValueError())
    breaker.on_error(breaker.acquire(), Boom())
    stats = breaker.statistics()
    assert (stats.calls, stats.failed, stats.successful) == (1, 1, 0)


def test_unrecorded_exceptions_count_as_successes() -> None:
    """resilience4j: with a record list, any other exception is a success."""
    clock = FakeClock()
    breaker = make(clock, window=10, minimum_calls=10, record=(ConnectionError, TimeoutError))
    breaker.on_error(breaker.acquire(), KeyError())
    breaker.on_error(breaker.acquire(), ConnectionResetError())
    breaker.on_error(breaker.acquire(), KeyboardInterrupt())  # not an Exception: ignored
    stats = breaker.statistics()
    assert (stats.calls, stats.successful, stats.failed) == (2, 1, 1)


def test_record_and_ignore_predicates() -> None:
    clock = FakeClock()
    breaker = make(
        clock,
        window=10,
        minimum_calls=10,
        record=lambda e: "fatal" in str(e),
        ignore=lambda e: "skip" in str(e),
    )
    for message in ("fatal", "skip fatal", "fine"):
        breaker.on_error(breaker.acquire(), Boom(message))
    stats = breaker.statistics()
    assert (stats.calls, stats.failed, stats.successful) == (2, 1, 1)


def test_listeners_get_every_event_and_a_raising_one_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    breaker = make(
        clock,
        window=2,
        minimum_calls=2,
        open_for=5.0,
        half_open_calls=1,
        slow_call_duration=1.0,
        ignore=KeyError,
    )
    events: list[BreakerEvent] = []

    def broken(event: BreakerEvent) -> None:
        raise RuntimeError("listener bug")

    breaker.add_listener(broken)
    breaker.add_listener(events.append)
    with caplog.at_level(logging.ERROR, "slokit.resilience"):
        succeed(breaker, clock, took=2.0)
        breaker.on_error(breaker.acquire(), KeyError())
        fail(breaker, clock)
        with pytest.raises(CircuitOpenError):
            breaker.acquire()
        clock.advance(5.0)
        assert breaker.state is State.HALF_OPEN
        succeed(breaker, clock)
    kinds = [e.kind for e in events]
    assert kinds == [
        "success",
        "slow",
        "ignored",
        "failure",
        "state_transition",
        "not_permitted",
        "state_transition",
        "success",
        "state_transition",
    ]
    transitions = [(e.from_state, e.to_state) for e in events if e.kind == "state_transition"]
    assert transitions == [
        (State.CLOSED, State.OPEN),
        (State.OPEN, State.HALF_OPEN),
        (State.HALF_OPEN, State.CLOSED),
    ]
    assert events[0].duration == 2.0
    assert isinstance(events[3].error, Boom)
    assert all(e.breaker == "test" for e in events)
    assert "listener bug" in caplog.text
    breaker.remove_listener(events.append)
    succeed(breaker, clock)
    assert len(events) == len(kinds)


def test_statistics_fields() -> None:
    clock = FakeClock(50.0)
    breaker = make(
        clock,
        name="payments",
        window=4,
        minimum_calls=4,
        open_for=10.0,
        slow_call_duration=1.0,
    )
    assert breaker.statistics() == BreakerStats(
        name="payments",
        state=State.CLOSED,
        failure_rate=None,
        slow_call_rate=None,
        calls=0,
        failures=0,
        slow_calls=0,
        not_permitted=0,
        successful=0,
        failed=0,
        opened_at=None,
        retry_after=0.0,
        open_count=0,
    )
    succeed(breaker, clock, took=3.0)
    succeed(breaker, clock)
    fail(breaker, clock)
    fail(breaker, clock)  # opens at 53
    clock.advance(4.0)
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    assert breaker.statistics() == BreakerStats(
        name="payments",
        state=State.OPEN,
        failure_rate=0.5,
        slow_call_rate=0.25,
        calls=4,
        failures=2,
        slow_calls=1,
        not_permitted=1,
        successful=2,
        failed=2,
        opened_at=53.0,
        retry_after=6.0,
        open_count=1,
    )
    clock.advance(6.0)
    stats = breaker.statistics()
    assert (stats.state, stats.calls, stats.opened_at, stats.retry_after) == (
        State.HALF_OPEN,
        0,
        53.0,
        0.0,
    )


def test_registry_keeps_the_latest_breaker_of_a_name() -> None:
    registry = BreakerRegistry()
    first = CircuitBreaker("db", registry=registry)
    second = CircuitBreaker("db", registry=registry)
    other = CircuitBreaker("cache", registry=registry)
    assert registry.get("db") is second
    assert registry.get("nope") is None
    assert list(registry) == [second, other]
    assert first not in list(registry)
    assert len(registry) == 2
    assert "cache" in registry
    assert [s.name for s in registry.snapshot()] == ["db", "cache"]
    registry.remove("db")
    assert list(registry) == [other]


def test_default_registry_and_opting_out() -> None:
    name = f"test-{uuid.uuid4()}"
    breaker = CircuitBreaker(name)
    try:
        assert default_registry.get(name) is breaker
        assert breaker in breakers()
        assert name in [s.name for s in default_registry.snapshot()]
    finally:
        default_registry.remove(name)
    hidden = CircuitBreaker(f"test-{uuid.uuid4()}", registry=None)
    assert hidden not in breakers()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": ""}, "needs a name"),
        ({"window": 0}, "window must be a whole number"),
        ({"window": 1.5}, "window_type='time'"),
        ({"window": timedelta(seconds=5)}, "window_type='time'"),
        ({"window": 0, "window_type": "time"}, "more than 0 seconds"),
        ({"window": -1.0, "window_type": "time"}, "zero or more"),
        ({"window": math.inf, "window_type": "time"}, "finite"),
        ({"window_type": "sliding"}, "window_type must be"),
        ({"failure_rate": 0}, "failure_rate must be above 0"),
        ({"failure_rate": 50}, "0.5 means 50 %"),
        ({"failure_rate": True}, "failure_rate"),
        ({"slow_call_rate": 1.5}, "slow_call_rate"),
        ({"slow_call_duration": -1}, "slow_call_duration"),
        ({"minimum_calls": 0}, "minimum_calls"),
        ({"half_open_calls": 0}, "half_open_calls"),
        ({"open_for": -1}, "open_for"),
        ({"open_backoff": 0.5}, "open_backoff must be 1 or more"),
        ({"open_backoff": 2, "open_for": 900}, "max_open_for"),
        ({"max_open_for": "long"}, "max_open_for"),
        ({"record": int}, "record must be an exception class"),
        ({"record": (ValueError, int)}, "record must be"),
        ({"ignore": "KeyError"}, "ignore must be"),
        ({"failure_result": 500}, "failure_result"),
        ({"clock": 0.0}, "clock"),
        ({"registry": {}}, "registry"),
    ],
)
def test_bad_options_are_usage_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        CircuitBreaker(options.pop("name", "bad"), **{"registry": None, **options})


def test_other_usage_errors() -> None:
    breaker = make(FakeClock())
    with pytest.raises(UsageError, match="decorates a function"):
        breaker(42)  # type: ignore[call-overload]
    with pytest.raises(UsageError, match="listener"):
        breaker.add_listener("print")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="open_for"):
        breaker.force_open(-1)


def test_open_backoff_without_growth_ignores_max_open_for() -> None:
    clock = FakeClock()
    breaker = make(clock, window=1, minimum_calls=1, open_for=900, half_open_calls=1)
    fail(breaker, clock)
    clock.advance(900)
    fail(breaker, clock)
    assert breaker.statistics().retry_after == 900


# -- the breaker against a reference model ---------------------------------------------------


@dataclass
class Model:
    """resilience4j's rules written out plainly: every outcome kept in a list."""

    window_type: str
    window: float
    failure_rate: float
    slow_rate: float
    minimum: int
    open_for: float
    backoff: float
    max_open_for: float
    half_open_calls: int
    state: State = State.CLOSED
    closed: list[tuple[float, bool, bool]] = field(default_factory=list)
    trials: list[tuple[float, bool, bool]] = field(default_factory=list)
    showing: str = "closed"  # which list the statistics show
    trials_out: int = 0
    open_until: float = 0.0
    next_open_for: float = 0.0
    open_count: int = 0
    refused: int = 0

    def __post_init__(self) -> None:
        self.next_open_for = self.open_for

    def in_window(self, now: float) -> tuple[list[tuple[float, bool, bool]], int]:
        if self.showing == "trials":
            return self.trials, self.half_open_calls
        if self.window_type == "count":
            size = int(self.window)
            return self.closed[-size:], min(self.minimum, size)
        width = min(1.0, self.window / 100)
        size = max(1, round(self.window / width))
        current = math.floor(now / width)
        return [c for c in self.closed if math.floor(c[0] / width) > current - size], self.minimum

    def exceeded(self, calls: list[tuple[float, bool, bool]]) -> bool:
        failures = sum(f for _, f, _ in calls)
        slow = sum(s for _, _, s in calls)
        return failures / len(calls) >= self.failure_rate or slow / len(calls) >= self.slow_rate

    def tick(self, now: float) -> None:
        if self.state is State.OPEN and now >= self.open_until:
            self.state, self.showing, self.trials, self.trials_out = (
                State.HALF_OPEN,
                "trials",
                [],
                0,
            )

    def acquire(self, now: float) -> bool:
        self.tick(now)
        if self.state is State.CLOSED:
            return True
        if self.state is State.HALF_OPEN and len(self.trials) + self.trials_out < (
            self.half_open_calls
        ):
            self.trials_out += 1
            return True
        self.refused += 1
        return False

    def record(self, now: float, failed: bool, slow: bool) -> None:
        if self.state is State.CLOSED:
            self.closed.append((now, failed, slow))
            calls, minimum = self.in_window(now)
            if len(calls) >= minimum and self.exceeded(calls):
                self.open(now, None)
        else:
            self.trials_out -= 1
            self.trials.append((now, failed, slow))
            if len(self.trials) == self.half_open_calls:
                if self.exceeded(self.trials):
                    self.open(now, None)
                else:
                    self.close()

    def ignore(self) -> None:
        if self.state is State.HALF_OPEN:
            self.trials_out -= 1

    def open(self, now: float, hold: float | None) -> None:
        if hold is None:
            hold = self.next_open_for
            self.next_open_for = min(hold * self.backoff, max(self.max_open_for, self.open_for))
        if self.state is not State.OPEN:
            self.open_count += 1
        self.state, self.open_until = State.OPEN, now + hold

    def close(self) -> None:
        self.state, self.showing, self.closed = State.CLOSED, "closed", []
        self.next_open_for = self.open_for


class BreakerMachine(RuleBasedStateMachine):
    clock: FakeClock
    breaker: CircuitBreaker
    model: Model
    slow_after: float

    @initialize(
        window_type=st.sampled_from(["count", "time"]),
        count=st.integers(1, 8),
        span=st.sampled_from([0.5, 3.0, 10.0, 100.0, 150.0]),
        failure_rate=st.sampled_from([0.2, 1 / 3, 0.5, 0.75, 1.0]),
        slow_rate=st.sampled_from([0.3, 0.5, 1.0]),
        minimum=st.integers(1, 6),
        open_for=st.sampled_from([0.0, 1.0, 10.0, 60.0]),
        backoff=st.sampled_from([1.0, 1.5, 2.0]),
        max_open_for=st.sampled_from([60.0, 100.0]),
        half_open_calls=st.integers(1, 4),
        slow_after=st.sampled_from([None, 0.0, 0.5, 2.0]),
        start=st.sampled_from([0.0, 1000.25, 12345.678]),
    )
    def setup(
        self,
        window_type: str,
        count: int,
        span: float,
        failure_rate: float,
        slow_rate: float,
        minimum: int,
        open_for: float,
        backoff: float,
        max_open_for: float,
        half_open_calls: int,
        slow_after: float | None,
        start: float,
    ) -> None:
        self.clock = FakeClock(start)
        window = count if window_type == "count" else span
        self.breaker = CircuitBreaker(
            "model",
            window=window,
            window_type="count" if window_type == "count" else "time",
            failure_rate=failure_rate,
            slow_call_rate=slow_rate,
            slow_call_duration=slow_after,
            minimum_calls=minimum,
            open_for=open_for,
            open_backoff=backoff,
            max_open_for=max_open_for,
            half_open_calls=half_open_calls,
            ignore=KeyError,
            clock=self.clock,
            registry=None,
        )
        self.slow_after = math.inf if slow_after is None else slow_after
        self.model = Model(
            window_type,
            window,
            failure_rate,
            slow_rate,
            minimum,
            open_for,
            backoff,
            max_open_for,
            half_open_calls,
        )

    @rule(seconds=st.sampled_from([0.0, 0.01, 0.3, 1.0, 5.0, 30.0, 61.0, 200.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(
        outcome=st.sampled_from(["success", "failure", "ignored"]),
        took=st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0]),
    )
    def call(self, outcome: str, took: float) -> None:
        permitted = self.model.acquire(self.clock.now)
        try:
            started = self.breaker.acquire()
        except CircuitOpenError:
            assert not permitted
            return
        assert permitted
        self.clock.advance(took)
        slow = self.clock.now - started > self.slow_after  # the duration as the clock says
        if outcome == "ignored":
            self.breaker.on_error(started, KeyError())
            self.model.ignore()
        elif outcome == "failure":
            self.breaker.on_error(started, Boom())
            self.model.record(self.clock.now, True, slow)
        else:
            self.breaker.on_success(started)
            self.model.record(self.clock.now, False, slow)

    @rule()
    def reset(self) -> None:
        self.breaker.reset()
        self.model.close()

    @rule(hold=st.sampled_from([0.5, 20.0]))
    def force_open(self, hold: float) -> None:
        self.breaker.force_open(hold)
        self.model.open(self.clock.now, hold)

    @invariant()
    def agrees_with_the_model(self) -> None:
        now = self.clock.now
        self.model.tick(now)
        stats = self.breaker.statistics()
        assert stats.state is self.model.state
        calls, minimum = self.model.in_window(now)
        assert stats.calls == len(calls)
        assert stats.failures == sum(f for _, f, _ in calls)
        assert stats.slow_calls == sum(s for _, _, s in calls)
        if len(calls) >= minimum:
            assert stats.failure_rate == stats.failures / len(calls)
        else:
            assert stats.failure_rate is None
        assert stats.not_permitted == self.model.refused
        assert stats.open_count == self.model.open_count
        if stats.state is State.OPEN:
            assert stats.retry_after == self.model.open_until - now


BreakerMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestBreakerAgainstModel = BreakerMachine.TestCase
