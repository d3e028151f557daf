"""fallback() and StaleCache: default answers and stale-while-error, with a fake clock."""

from __future__ import annotations

import asyncio
import inspect
import threading
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slokit.errors import BulkheadFullError, CircuitOpenError, DeadlineExceeded, UsageError
from slokit.resilience._fallback import StaleCache, StaleCacheStats, fallback, served_stale


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Upstream:
    """A function's behaviour, switched by the test: answer with a value or fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.error: BaseException | None = None
        self.answer = "v1"

    def __call__(self, key: str = "k") -> str:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return f"{self.answer}:{key}"


# -- fallback --------------------------------------------------------------------------------


def test_a_value_is_returned_when_the_call_fails() -> None:
    @fallback([])
    def recommendations(user: str) -> list[str]:
        raise ConnectionError("down")

    assert recommendations("ann") == []


def test_the_result_passes_through_when_the_call_succeeds() -> None:
    @fallback("default")
    def name() -> str:
        """Names."""
        return "real"

    assert name() == "real"
    assert (name.__name__, name.__doc__) == ("name", "Names.")


@pytest.mark.parametrize(
    "error",
    [CircuitOpenError("svc", 1.0), BulkheadFullError("svc", 2, 0.0), DeadlineExceeded("late")],
)
def test_the_default_catches_every_resilience_refusal(error: Exception) -> None:
    @fallback(None)
    def guarded() -> str:
        raise error

    assert guarded() is None


def test_a_callable_gets_the_same_arguments_and_the_error() -> None:
    seen: list[object] = []

    def cached_price(item: str, *, currency: str, error: Exception) -> float:
        seen.append((item, currency, error))
        return 9.99

    problem = ConnectionError("down")

    @fallback(cached_price)
    def price(item: str, *, currency: str) -> float:
        raise problem

    assert price("book", currency="EUR") == 9.99
    assert seen == [("book", "EUR", problem)]


def test_a_callable_without_an_error_parameter_gets_only_the_arguments() -> None:
    @fallback(lambda item, **kwargs: f"cached {item} {sorted(kwargs)}")
    def price(item: str, *, currency: str) -> str:
        raise ConnectionError("down")

    # **kwargs alone does not receive error=: only a parameter named `error` does
    assert price("book", currency="EUR") == "cached book ['currency']"


def test_exceptions_outside_on_propagate() -> None:
    @fallback(0, on=(ConnectionError, CircuitOpenError))
    def count() -> int:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        count()

    @fallback(0, on=ConnectionError)
    def count2() -> int:
        raise ConnectionResetError("reset")  # a subclass is caught

    assert count2() == 0


def test_cancellation_is_never_swallowed_even_with_on_base_exception() -> None:
    @fallback("x", on=BaseException)
    async def slow() -> str:
        await asyncio.sleep(10)
        return "late"

    @fallback("x", on=BaseException)
    def interrupted() -> str:
        raise KeyboardInterrupt

    async def main() -> None:
        task = asyncio.create_task(slow())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    with pytest.raises(KeyboardInterrupt):
        interrupted()


def test_async_function_with_a_value_a_sync_or_an_async_fallback() -> None:
    async def from_cache(user: str, error: Exception) -> str:
        await asyncio.sleep(0)
        return f"cached {user} after {type(error).__name__}"

    @fallback(from_cache)
    async def profile(user: str) -> str:
        raise CircuitOpenError("profiles", 5.0)

    @fallback(lambda user: f"anonymous {user}")
    async def profile2(user: str) -> str:
        raise ConnectionError

    @fallback("nobody")
    async def profile3(user: str) -> str:
        raise ConnectionError

    @fallback("nobody")
    async def profile4(user: str) -> str:
        return f"real {user}"

    assert inspect.iscoroutinefunction(profile)
    assert asyncio.run(profile("ann")) == "cached ann after CircuitOpenError"
    assert asyncio.run(profile2("bob")) == "anonymous bob"
    assert asyncio.run(profile3("cy")) == "nobody"
    assert asyncio.run(profile4("di")) == "real di"


def test_an_async_fallback_for_a_sync_function_is_a_usage_error() -> None:
    async def later() -> str:
        return "x"

    def sync() -> str:
        return "y"

    with pytest.raises(UsageError, match="async function"):
        fallback(later)(sync)


@pytest.mark.parametrize("on", [ValueError(), "Exception", (), (ValueError, int), int])
def test_on_must_be_exception_classes(on: object) -> None:
    with pytest.raises(UsageError, match="on="):
        fallback(0, on=on)  # type: ignore[call-overload]


# -- StaleCache: fresh, stale, expired -------------------------------------------------------


def make(
    clock: FakeClock, *, ttl: float = 10, max_stale: float = 60, **kwargs: object
) -> StaleCache:
    return StaleCache(ttl=ttl, max_stale=max_stale, clock=clock, **kwargs)  # type: ignore[arg-type]


def test_a_fresh_result_is_returned_without_calling() -> None:
    clock, upstream = FakeClock(), Upstream()
    fetch = make(clock)(upstream)
    assert fetch("a") == "v1:a"
    upstream.answer = "v2"
    clock.advance(9.9)
    assert fetch("a") == "v1:a"
    assert upstream.calls == 1
    assert not served_stale()


def test_after_ttl_the_function_is_called_again() -> None:
    clock, upstream = FakeClock(), Upstream()
    fetch = make(clock)(upstream)
    fetch("a")
    upstream.answer = "v2"
    clock.advance(10)
    assert fetch("a") == "v2:a"
    assert upstream.calls == 2


def test_a_failed_call_is_answered_with_a_stale_result_and_flagged() -> None:
    clock, upstream = FakeClock(), Upstream()
    cache = make(clock)
    fetch = cache(upstream)
    fetch("a")
    clock.advance(30)
    upstream.error = ConnectionError("down")
    assert fetch("a") == "v1:a"
    assert served_stale()
    assert upstream.calls == 2  # it did try
    upstream.error = None
    upstream.answer = "v2"
    assert fetch("a") == "v2:a"
    assert not served_stale()
    assert cache.statistics() == StaleCacheStats(
        hits=0, misses=3, stale_served=1, errors=1, entries=1
    )


def test_a_result_older_than_max_stale_is_not_served_the_original_error_is() -> None:
    clock, upstream = FakeClock(), Upstream()
    cache = make(clock)
    fetch = cache(upstream)
    fetch("a")
    clock.advance(60)
    problem = ConnectionError("down")
    upstream.error = problem
    with pytest.raises(ConnectionError) as info:
        fetch("a")
    assert info.value is problem
    assert not served_stale()
    assert cache.statistics().entries == 0  # useless now: dropped


def test_with_nothing_cached_the_original_error_propagates() -> None:
    clock, upstream = FakeClock(), Upstream()
    fetch = make(clock)(upstream)
    upstream.error = TimeoutError("slow")
    with pytest.raises(TimeoutError, match="slow"):
        fetch("a")
    fetch_b = make(clock)(Upstream())
    fetch_b("b")
    with pytest.raises(TimeoutError):
        fetch("b")  # another cache's key is not this one's


def test_errors_outside_on_are_never_answered_stale() -> None:
    clock, upstream = FakeClock(), Upstream()
    cache = make(clock, on=ConnectionError)
    fetch = cache(upstream)
    fetch("a")
    clock.advance(30)
    upstream.error = ConnectionRefusedError()
    assert fetch("a") == "v1:a"
    assert served_stale()
    upstream.error = KeyError("bug")
    with pytest.raises(KeyError):
        fetch("a")
    assert not served_stale()  # the latest call was not served stale: it failed
    assert cache.statistics().errors == 1


def test_ttl_zero_only_covers_failures() -> None:
    clock, upstream = FakeClock(), Upstream()
    fetch = make(clock, ttl=0, max_stale=5)(upstream)
    fetch()
    fetch()
    assert upstream.calls == 2
    upstream.error = OSError()
    assert fetch() == "v1:k"
    assert served_stale()


def test_keys_separate_results_and_kwargs_order_does_not_matter() -> None:
    clock = FakeClock()
    calls: list[tuple[int, str]] = []

    @make(clock)
    def lookup(n: int, *, unit: str = "m", scale: int = 1) -> str:
        calls.append((n, unit))
        return f"{n * scale}{unit}"

    assert lookup(1, unit="m", scale=2) == "2m"
    assert lookup(1, scale=2, unit="m") == "2m"
    assert lookup(2, unit="m", scale=2) == "4m"
    assert calls == [(1, "m"), (2, "m")]


def test_a_key_function_picks_what_identifies_a_call() -> None:
    clock = FakeClock()
    calls: list[str] = []

    @make(clock, key=lambda user, trace_id: user)
    def profile(user: str, trace_id: str) -> str:
        calls.append(trace_id)
        return user.upper()

    assert profile("ann", "t1") == "ANN"
    assert profile("ann", "t2") == "ANN"
    assert calls == ["t1"]


def test_unhashable_arguments_without_a_key_function_are_a_usage_error() -> None:
    fetch = make(FakeClock())(lambda items: len(items))
    with pytest.raises(UsageError, match="not hashable"):
        fetch([1, 2])


def test_the_least_recently_used_entry_is_dropped_first() -> None:
    clock, upstream = FakeClock(), Upstream()
    cache = make(clock, max_entries=2)
    fetch = cache(upstream)
    fetch("a")
    fetch("b")
    fetch("a")  # a is now the most recently used
    fetch("c")  # evicts b
    assert cache.statistics().entries == 2
    assert cache.get(("a",)) is not None
    assert cache.get(("b",)) is None
    assert cache.get(("c",)) is not None
    clock.advance(30)
    upstream.error = ConnectionError()
    with pytest.raises(ConnectionError):
        fetch("b")
    assert fetch("a") == "v1:a"


@given(st.lists(st.integers(0, 20), max_size=60), st.integers(1, 5))
def test_never_more_than_max_entries(keys: list[int], max_entries: int) -> None:
    cache = make(FakeClock(), max_entries=max_entries)

    def double(n: int) -> int:
        return n * 2

    fetch = cache(double)
    for n in keys:
        assert fetch(n) == n * 2
        assert cache.statistics().entries <= max_entries
    stats = cache.statistics()
    assert stats.hits + stats.misses == len(keys)


def test_get_and_put_peek_and_fill_directly() -> None:
    clock = FakeClock()
    cache = make(clock)
    assert cache.get("k") is None
    cache.put("k", "warm")
    clock.advance(15)
    assert cache.get("k") == ("warm", 15.0)  # stale but still kept
    fetch = cache(lambda: "fresh")
    assert fetch() == "fresh"  # after ttl: called; the default key of no arguments is ()
    cache.put((), "seeded")
    assert fetch() == "seeded"
    clock.advance(60)
    assert cache.get("k") is None
    assert cache.statistics().entries == 1


def test_one_cache_guards_one_function() -> None:
    cache = make(FakeClock())
    cache(len)
    with pytest.raises(UsageError, match="one StaleCache per function"):
        cache(abs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ttl": 10, "max_stale": 5}, "at least ttl"),
        ({"ttl": -1, "max_stale": 5}, "ttl"),
        ({"ttl": 1, "max_stale": 5, "max_entries": 0}, "max_entries"),
        ({"ttl": 1, "max_stale": 5, "max_entries": True}, "max_entries"),
        ({"ttl": 1, "max_stale": 5, "key": "id"}, "key"),
        ({"ttl": 1, "max_stale": 5, "clock": 3.0}, "clock"),
        ({"ttl": 1, "max_stale": 5, "on": "oops"}, "on="),
    ],
)
def test_bad_options_are_usage_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        StaleCache(**kwargs)  # type: ignore[arg-type]


def test_timedelta_options() -> None:
    clock, upstream = FakeClock(), Upstream()
    cache = StaleCache(ttl=timedelta(seconds=1), max_stale=timedelta(minutes=1), clock=clock)
    fetch = cache(upstream)
    fetch()
    clock.advance(0.5)
    fetch()
    assert upstream.calls == 1


# -- served_stale is per context -------------------------------------------------------------


def test_served_stale_belongs_to_the_thread_that_made_the_call() -> None:
    clock, upstream = FakeClock(), Upstream()
    fetch = make(clock)(upstream)
    fetch()
    clock.advance(30)
    upstream.error = ConnectionError()
    seen: list[bool] = []

    def in_thread() -> None:
        fetch()
        seen.append(served_stale())

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(5)
    assert seen == [True]
    assert not served_stale()  # this thread made no stale call


# -- async -----------------------------------------------------------------------------------


def test_async_fresh_stale_and_expired_paths() -> None:
    clock = FakeClock()
    cache = make(clock)
    state = {"calls": 0, "fail": False}

    @cache
    async def fetch(key: str) -> str:
        state["calls"] += 1
        await asyncio.sleep(0)
        if state["fail"]:
            raise ConnectionError("down")
        return f"v:{key}"

    async def main() -> None:
        assert await fetch("a") == "v:a"
        assert await fetch("a") == "v:a"  # fresh
        assert state["calls"] == 1
        clock.advance(30)
        state["fail"] = True
        assert await fetch("a") == "v:a"
        assert served_stale()  # awaited directly: same context
        clock.advance(60)
        with pytest.raises(ConnectionError, match="down"):
            await fetch("a")
        assert not served_stale()

    assert inspect.iscoroutinefunction(fetch)
    asyncio.run(main())
    assert cache.statistics() == StaleCacheStats(
        hits=1, misses=3, stale_served=1, errors=2, entries=0
    )


def test_async_cancellation_is_never_answered_stale() -> None:
    clock = FakeClock()
    cache = make(clock, ttl=0, on=BaseException)

    @cache
    async def fetch() -> str:
        await asyncio.sleep(10)
        return "x"

    cache.put((), "stale")

    async def main() -> None:
        task = asyncio.create_task(fetch())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert cache.statistics().stale_served == 0


def test_fallback_behind_a_stale_cache_answers_when_nothing_stale_is_left() -> None:
    clock, upstream = FakeClock(), Upstream()
    fetch = fallback("default")(make(clock)(upstream))
    assert fetch("a") == "v1:a"
    upstream.error = ConnectionError()
    clock.advance(30)
    assert fetch("a") == "v1:a"
    clock.advance(60)
    assert fetch("a") == "default"
