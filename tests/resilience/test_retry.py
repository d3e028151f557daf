"""Retries: attempts, back-off, timeout, Retry-After, budget and idempotency, without waiting.

The whole module runs in test mode (``set_testing(True)``): nothing really sleeps. Time is
moved by a fake clock, usually from the ``on_retry`` hook, which stands in for the back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import random
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slokit.errors import UsageError
from slokit.resilience._clock import is_testing, set_testing
from slokit.resilience._retry import (
    RetryBudget,
    RetryBudgetStatistics,
    RetryEvent,
    backoff_delays,
    is_idempotent,
    parse_retry_after,
    retry,
)

DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
DATE_TS = 1445412480.0  # DATE as a Unix timestamp


class Boom(Exception):
    pass


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True, scope="module")
def _testing_mode() -> Iterator[None]:
    before = is_testing()
    set_testing(True)
    try:
        yield
    finally:
        set_testing(before)


@contextlib.contextmanager
def real_sleeping() -> Iterator[None]:
    set_testing(False)
    try:
        yield
    finally:
        set_testing(True)


class Flaky:
    """Raises a fresh ``Boom`` for the first ``failures`` calls, then returns ``value``."""

    def __init__(self, failures: int, value: object = "ok") -> None:
        self.failures = failures
        self.value = value
        self.calls = 0
        self.raised: list[BaseException] = []

    def __call__(self) -> object:
        self.calls += 1
        if self.calls <= self.failures:
            error = Boom(f"failure {self.calls}")
            self.raised.append(error)
            raise error
        return self.value


class Status:
    def __init__(self, code: int, attr: str = "status_code") -> None:
        setattr(self, attr, code)


def sequence(*values: object) -> Callable[[], object]:
    """A function returning the given values one per call (then the last one forever)."""
    items = list(values)

    def fn() -> object:
        return items.pop(0) if len(items) > 1 else items[0]

    return fn


def as_async(fn: Callable[[], object]) -> Callable[[], Coroutine[Any, Any, object]]:
    async def call() -> object:
        await asyncio.sleep(0)
        return fn()

    return call


# --------------------------------------------------------------------------- attempts


@pytest.mark.parametrize("attempts", [1, 2, 3, 7])
def test_attempts_are_counted_exactly_and_the_last_error_is_raised_as_is(attempts: int) -> None:
    flaky = Flaky(failures=100)
    with pytest.raises(Boom) as caught:
        retry(attempts=attempts).call(flaky)
    assert flaky.calls == attempts
    assert caught.value is flaky.raised[-1]


def test_success_after_failures_returns_the_value() -> None:
    flaky = Flaky(failures=2, value=42)
    assert retry(attempts=3).call(flaky) == 42
    assert flaky.calls == 3


def test_first_try_success_calls_once_and_passes_arguments() -> None:
    seen: list[tuple[Any, ...]] = []

    def add(a: int, b: int, *, c: int = 0) -> int:
        seen.append((a, b, c))
        return a + b + c

    assert retry().call(add, 1, 2, c=3) == 6
    assert seen == [(1, 2, 3)]


def test_cause_and_context_are_left_untouched() -> None:
    cause = KeyError("root")
    first, last = Boom("first"), Boom("last")
    last.__cause__ = cause
    errors = [first, last]

    def fn() -> None:
        raise errors.pop(0)

    with pytest.raises(Boom) as caught:
        retry(attempts=2).call(fn)
    assert caught.value is last
    assert last.__cause__ is cause
    assert last.__context__ is None  # not chained to the earlier attempt's error
    assert first.__context__ is None
    assert last.__suppress_context__  # as setting __cause__ left it


def test_errors_not_retried_propagate_at_once() -> None:
    calls = 0

    def fn() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("not retried")

    with pytest.raises(KeyError):
        retry(on=Boom, attempts=5).call(fn)
    assert calls == 1


def test_a_later_error_not_retried_propagates_too() -> None:
    errors: list[Exception] = [Boom(), KeyError("stop"), Boom()]

    def fn() -> None:
        raise errors.pop(0)

    with pytest.raises(KeyError, match="stop"):
        retry(on=Boom, attempts=5).call(fn)
    assert len(errors) == 1


def test_on_accepts_a_tuple_of_types() -> None:
    flaky = Flaky(failures=2)
    assert retry(on=(KeyError, Boom), attempts=3).call(flaky) == "ok"


def test_on_accepts_a_predicate() -> None:
    flaky = Flaky(failures=5)
    retryable = {"failure 1", "failure 2"}
    with pytest.raises(Boom, match="failure 3"):
        retry(on=lambda e: str(e) in retryable, attempts=10).call(flaky)
    assert flaky.calls == 3


def test_base_exceptions_are_never_retried() -> None:
    class Stop(BaseException):
        pass

    calls = 0

    def fn() -> None:
        nonlocal calls
        calls += 1
        raise Stop

    with pytest.raises(Stop):
        retry(attempts=3).call(fn)
    assert calls == 1
    with pytest.raises(UsageError, match="Exception subclasses"):
        retry(on=(Boom, asyncio.CancelledError))  # type: ignore[arg-type]


def test_on_result_retries_then_returns_the_last_result() -> None:
    fn = sequence(None, None, "late", "never")
    assert retry(on_result=lambda r: r is None, attempts=5).call(fn) == "late"
    stubborn = sequence(None)
    assert retry(on_result=lambda r: r is None, attempts=3).call(stubborn) is None


def test_exhausted_result_retries_return_the_last_result_not_an_error() -> None:
    results = [Status(503), Status(503), Status(502)]
    last = results[-1]
    fn = sequence(*results)
    assert retry(on_status={502, 503}, attempts=3).call(fn) is last


@pytest.mark.parametrize("attr", ["status_code", "status"])
def test_on_status_reads_status_code_or_status(attr: str) -> None:
    fn = sequence(Status(503, attr), Status(200, attr))
    result = retry(on_status=[503], attempts=3).call(fn)
    assert getattr(result, attr) == 200


def test_on_status_ignores_results_without_a_status() -> None:
    calls = 0

    def fn() -> object:
        nonlocal calls
        calls += 1
        return object()

    retry(on_status=[503]).call(fn)
    assert calls == 1


def test_on_status_with_httpx_responses() -> None:
    fn = sequence(httpx.Response(503), httpx.Response(500), httpx.Response(201))
    assert retry(on_status={500, 503}, attempts=3).call(fn).status_code == 201  # type: ignore[attr-defined]


def test_mixed_outcomes_end_with_what_the_last_attempt_did() -> None:
    outcomes: list[object] = [Boom("e"), Status(503)]

    def fn() -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = retry(on_status={503}, attempts=2).call(fn)
    assert isinstance(result, Status)


# --------------------------------------------------------------------------- back-off


@given(
    attempts=st.integers(1, 30),
    initial=st.floats(0, 100),
    maximum=st.floats(0, 1000),
    multiplier=st.floats(1, 10),
    seed=st.integers(0, 2**32),
)
def test_full_jitter_delays_stay_under_the_exponential_ceiling(
    attempts: int, initial: float, maximum: float, multiplier: float, seed: int
) -> None:
    delays = list(
        backoff_delays(
            attempts,
            initial=initial,
            maximum=maximum,
            multiplier=multiplier,
            rng=random.Random(seed),
        )
    )
    assert len(delays) == attempts - 1
    for n, delay in enumerate(delays):
        assert 0.0 <= delay <= min(maximum, initial * multiplier**n)


@given(
    attempts=st.integers(1, 30),
    initial=st.floats(0, 100),
    maximum=st.floats(0, 1000),
    multiplier=st.floats(1, 10),
)
def test_no_jitter_delays_are_exactly_the_ceiling(
    attempts: int, initial: float, maximum: float, multiplier: float
) -> None:
    delays = list(
        backoff_delays(
            attempts, initial=initial, maximum=maximum, multiplier=multiplier, jitter="none"
        )
    )
    assert delays == [min(maximum, initial * multiplier**n) for n in range(attempts - 1)]


def test_backoff_survives_exponents_that_overflow() -> None:
    delays = list(backoff_delays(3000, initial=1.0, maximum=5.0, multiplier=10.0, jitter="none"))
    assert delays[:2] == [1.0, 5.0]
    assert set(delays[1:]) == {5.0}


def test_retry_waits_the_backoff_between_attempts() -> None:
    events: list[RetryEvent] = []
    flaky = Flaky(failures=3)
    result = retry(
        attempts=4, initial=0.5, maximum=1.5, jitter="none", on_retry=events.append
    ).call(flaky)
    assert result == "ok"
    assert [e.delay for e in events] == [0.5, 1.0, 1.5]
    assert [e.attempt for e in events] == [1, 2, 3]
    assert [e.exception for e in events] == flaky.raised
    assert all(e.result is None for e in events)


def test_retry_events_carry_the_name_and_the_result() -> None:
    events: list[RetryEvent] = []
    status = Status(503)
    retry(on_status={503}, attempts=2, name="payments", on_retry=events.append).call(
        sequence(status, Status(200))
    )
    assert events == [RetryEvent("payments", 1, events[0].delay, None, status)]

    events.clear()

    def fetch() -> None:
        raise Boom

    with pytest.raises(Boom):
        retry(attempts=2, on_retry=events.append).call(fetch)
    assert events[0].name.endswith("fetch")


# --------------------------------------------------------------------------- timeout


def test_timeout_stops_new_attempts_after_the_deadline() -> None:
    clock = FakeClock()
    calls = 0

    def slow() -> None:
        nonlocal calls
        calls += 1
        clock.advance(1.0)
        raise Boom(calls)

    with pytest.raises(Boom) as caught:
        retry(attempts=10, initial=0, timeout=2.5, clock=clock).call(slow)
    assert calls == 3  # attempts start at t=0, 1, 2; t=3 is past the 2.5 s deadline
    assert caught.value.args == (3,)


def test_a_backoff_that_would_cross_the_deadline_is_cut_short() -> None:
    clock = FakeClock()
    flaky = Flaky(failures=100)
    events: list[RetryEvent] = []

    def slept(event: RetryEvent) -> None:
        events.append(event)
        clock.advance(event.delay)

    with pytest.raises(Boom) as caught:
        retry(
            attempts=10,
            initial=1,
            jitter="none",
            timeout=timedelta(seconds=5),
            clock=clock,
            on_retry=slept,
        ).call(flaky)
    # t=0 fails, waits 1; t=1 fails, waits 2; t=3 fails, a 4 s wait would end past t=5
    assert flaky.calls == 3
    assert [e.delay for e in events] == [1.0, 2.0]
    assert clock.now == 1003.0  # no time wasted waiting for an attempt that cannot run
    assert caught.value is flaky.raised[-1]


def test_timeout_returns_the_last_result_when_retrying_on_results() -> None:
    clock = FakeClock()
    status = Status(503)

    def fn() -> Status:
        clock.advance(10)
        return status

    assert retry(on_status={503}, timeout=5, clock=clock).call(fn) is status


def test_zero_timeout_allows_only_the_first_attempt() -> None:
    flaky = Flaky(failures=1)
    with pytest.raises(Boom):
        retry(timeout=0, initial=0, clock=FakeClock()).call(flaky)
    assert flaky.calls == 1


# --------------------------------------------------------------------------- Retry-After


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (b"120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (DATE, 120.0),  # IMF-fixdate
        ("Wednesday, 21-Oct-15 07:28:00 GMT", 120.0),  # obsolete RFC 850
        ("Wed Oct 21 07:28:00 2015", 120.0),  # asctime, no zone: UTC
        (b"Wed, 21 Oct 2015 07:28:00 GMT", 120.0),
    ],
)
def test_parse_retry_after(value: str | bytes, expected: float) -> None:
    assert parse_retry_after(value, now=DATE_TS - 120) == expected


def test_asctime_single_digit_day() -> None:
    later = parse_retry_after("Wed Oct  7 07:28:00 2015", now=DATE_TS - 14 * 86400 - 60)
    assert later == 60.0


@pytest.mark.parametrize(
    "value",
    [
        DATE,
        "Wednesday, 21-Oct-15 07:28:00 GMT",
        "Wed Oct 21 07:28:00 2015",
        "Thu, 01 Jan 1970 00:00:00 GMT",
    ],
)
def test_retry_after_dates_in_the_past_mean_now(value: str) -> None:
    assert parse_retry_after(value, now=DATE_TS + 3600) == 0.0


def test_retry_after_dates_default_to_the_wall_clock() -> None:
    assert parse_retry_after(DATE) == 0.0
    future = parse_retry_after("Fri, 01 Jan 9999 00:00:00 GMT")
    assert future is not None
    assert future > 1e11


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "soon",
        "-5",
        "+5",
        "1e3",
        "12abc",
        "0x10",
        "Wed, 32 Oct 2015 07:28:00 GMT",
        "Wed, 21 Foo 2015 07:28:00 GMT",
        b"\xff\xfe",
    ],
)
def test_garbage_retry_after_is_none(value: str | bytes | None) -> None:
    assert parse_retry_after(value, now=DATE_TS) is None


def test_retry_after_on_a_result_replaces_the_backoff() -> None:
    events: list[RetryEvent] = []
    fn = sequence(httpx.Response(503, headers={"Retry-After": "7"}), httpx.Response(200))
    retry(on_status={503}, initial=0.1, on_retry=events.append).call(fn)
    assert [e.delay for e in events] == [7.0]


def test_retry_after_on_an_error_response_replaces_the_backoff() -> None:
    request = httpx.Request("GET", "http://service.test/")
    response = httpx.Response(429, headers={"retry-after": DATE}, request=request)
    error = httpx.HTTPStatusError("slow down", request=request, response=response)
    events: list[RetryEvent] = []
    errors = [error]

    def fn() -> str:
        if errors:
            raise errors.pop()
        return "ok"

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(time, "time", lambda: DATE_TS - 3)
        assert retry(on=httpx.HTTPStatusError, on_retry=events.append).call(fn) == "ok"
    assert [e.delay for e in events] == [3.0]


def test_retry_after_on_an_error_with_headers_of_its_own() -> None:
    class HTTPError(Exception):
        def __init__(self) -> None:
            self.headers = {"RETRY-AFTER": "4"}  # a plain dict: looked up case-insensitively

    errors = [HTTPError()]
    events: list[RetryEvent] = []

    def fn() -> str:
        if errors:
            raise errors.pop()
        return "ok"

    retry(on_retry=events.append).call(fn)
    assert [e.delay for e in events] == [4.0]


def test_retry_after_is_capped() -> None:
    events: list[RetryEvent] = []
    fn = sequence(httpx.Response(503, headers={"Retry-After": "3600"}), httpx.Response(200))
    retry(on_status={503}, max_retry_after=timedelta(seconds=30), on_retry=events.append).call(fn)
    assert [e.delay for e in events] == [30.0]


def test_retry_after_can_be_ignored() -> None:
    events: list[RetryEvent] = []
    fn = sequence(httpx.Response(503, headers={"Retry-After": "7"}), httpx.Response(200))
    retry(
        on_status={503},
        initial=0.25,
        jitter="none",
        respect_retry_after=False,
        on_retry=events.append,
    ).call(fn)
    assert [e.delay for e in events] == [0.25]


def test_garbage_retry_after_falls_back_to_the_backoff() -> None:
    events: list[RetryEvent] = []
    fn = sequence(httpx.Response(503, headers={"Retry-After": "later"}), httpx.Response(200))
    retry(on_status={503}, initial=0.25, jitter="none", on_retry=events.append).call(fn)
    assert [e.delay for e in events] == [0.25]


def test_retry_after_still_respects_the_timeout() -> None:
    unavailable = httpx.Response(503, headers={"Retry-After": "20"})
    fn = sequence(unavailable, httpx.Response(200))
    assert retry(on_status={503}, timeout=10, clock=FakeClock()).call(fn) is unavailable


def test_retry_after_is_really_slept_outside_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    fn = sequence(httpx.Response(503, headers={"Retry-After": "7"}), httpx.Response(200))
    with real_sleeping():
        retry(on_status={503}).call(fn)
    assert slept == [7.0]


# --------------------------------------------------------------------------- budget


def test_budget_ratio_limits_retries_to_a_share_of_requests() -> None:
    budget = RetryBudget(ratio=0.2, min_retries_per_second=0, clock=FakeClock())
    for _ in range(100):
        budget.record_request()
    assert [budget.try_spend() for _ in range(21)] == [True] * 20 + [False]
    assert budget.statistics() == RetryBudgetStatistics(
        requests=100, retries=20, rejected=1, ratio=0.2
    )


def test_budget_minimum_lets_a_quiet_service_retry() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.2, min_retries_per_second=3, window=10, clock=clock)
    assert [budget.try_spend() for _ in range(31)] == [True] * 30 + [False]
    clock.advance(9.5)  # 1009.5: the retries at second 1000 are still in the window
    assert not budget.try_spend()
    clock.advance(0.5)  # 1010: second 1000 left the window
    assert budget.try_spend()
    assert budget.statistics().retries == 1


def test_budget_window_slides_second_by_second() -> None:
    clock = FakeClock(0.0)
    budget = RetryBudget(ratio=1.0, min_retries_per_second=0, window=3, clock=clock)
    budget.record_request()  # second 0
    clock.advance(1.0)
    budget.record_request()  # second 1
    clock.advance(1.9)  # 2.9: seconds 0, 1, 2 in the window
    assert budget.statistics().requests == 2
    clock.advance(0.1)  # 3.0: second 0 left
    assert budget.statistics().requests == 1
    clock.advance(100)
    assert budget.statistics() == RetryBudgetStatistics(0, 0, 0, 0.0)


def test_budget_tolerates_a_clock_stepping_back() -> None:
    clock = FakeClock(10.0)
    budget = RetryBudget(clock=clock)
    budget.record_request()
    clock.now = 5.0
    budget.record_request()
    assert budget.statistics().requests == 2


def _reference_budget(
    ops: list[tuple[float, str]], ratio: float, per_second: float, span: int
) -> tuple[list[bool | None], tuple[int, int, int]]:
    """The budget by brute force: every event kept with its second, counted on demand."""
    events: list[tuple[int, str]] = []
    answers: list[bool | None] = []

    def count(kind: str, second: int) -> int:
        return sum(1 for s, k in events if k == kind and second - span < s <= second)

    second = 0
    for now, op in ops:
        second = math.floor(now)
        if op == "request":
            events.append((second, "request"))
            answers.append(None)
        else:
            allowance = max(ratio * count("request", second), per_second * span)
            allowed = count("retry", second) + 1 <= allowance + 1e-9
            events.append((second, "retry" if allowed else "rejected"))
            answers.append(allowed)
    totals = (count("request", second), count("retry", second), count("rejected", second))
    return answers, totals


@given(
    start=st.floats(0, 1e6),
    steps=st.lists(
        st.tuples(
            st.one_of(st.just(0.0), st.floats(0, 1.5), st.floats(0, 12)),
            st.sampled_from(["request", "request", "request", "spend"]),
        ),
        max_size=200,
    ),
    ratio=st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.0, 1 / 3]),
    per_second=st.sampled_from([0.0, 0.1, 0.5, 1.0, 3.0]),
    window=st.one_of(st.integers(1, 10).map(float), st.floats(0.1, 10)),
)
def test_budget_matches_a_naive_reference(
    start: float,
    steps: list[tuple[float, str]],
    ratio: float,
    per_second: float,
    window: float,
) -> None:
    clock = FakeClock(start)
    budget = RetryBudget(ratio=ratio, min_retries_per_second=per_second, window=window, clock=clock)
    ops: list[tuple[float, str]] = []
    answers: list[bool | None] = []
    for gap, op in steps:
        clock.advance(gap)
        ops.append((clock.now, op))
        if op == "request":
            budget.record_request()
            answers.append(None)
        else:
            answers.append(budget.try_spend())
    expected, (requests, retries, rejected) = _reference_budget(
        ops, ratio, per_second, math.ceil(window)
    )
    assert answers == expected
    if ops:
        stats = budget.statistics()
        assert (stats.requests, stats.retries, stats.rejected) == (requests, retries, rejected)


def test_budget_is_thread_safe() -> None:
    budget = RetryBudget(ratio=0.5, min_retries_per_second=0, clock=FakeClock())
    granted: list[bool] = []
    lock = threading.Lock()

    def work() -> None:
        mine = []
        for _ in range(500):
            budget.record_request()
            mine.append(budget.try_spend())
        with lock:
            granted.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = budget.statistics()
    assert stats.requests == 4000
    assert stats.retries == sum(granted) == 2000
    assert stats.rejected == 2000


def test_retry_records_first_attempts_and_spends_on_retries() -> None:
    budget = RetryBudget(ratio=0, min_retries_per_second=0.1, window=10, clock=FakeClock())
    assert retry(budget=budget, attempts=3).call(Flaky(failures=1)) == "ok"
    assert budget.statistics() == RetryBudgetStatistics(1, 1, 0, 1.0)


def test_a_retry_denied_by_the_budget_raises_the_original_error_at_once() -> None:
    budget = RetryBudget(ratio=0, min_retries_per_second=0, clock=FakeClock())
    flaky = Flaky(failures=100)
    events: list[RetryEvent] = []
    with pytest.raises(Boom) as caught:
        retry(budget=budget, attempts=5, on_retry=events.append).call(flaky)
    assert flaky.calls == 1
    assert caught.value is flaky.raised[0]
    assert events == []
    assert budget.statistics() == RetryBudgetStatistics(1, 0, 1, 0.0)


def test_budget_options_are_checked() -> None:
    with pytest.raises(UsageError, match="window"):
        RetryBudget(window=0)
    with pytest.raises(UsageError, match="ratio"):
        RetryBudget(ratio=-0.1)
    with pytest.raises(UsageError, match="min_retries_per_second"):
        RetryBudget(min_retries_per_second=math.nan)
    assert "window=10" in repr(RetryBudget(window=timedelta(seconds=10)))


# --------------------------------------------------------------------------- idempotency


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("GET", None, True),
        ("get", None, True),
        ("HEAD", None, True),
        ("OPTIONS", None, True),
        ("PUT", None, True),
        ("DELETE", None, True),
        ("TRACE", None, True),
        ("POST", None, False),
        ("PATCH", {}, False),
        ("POST", {"Content-Type": "application/json"}, False),
        ("POST", {"Idempotency-Key": "8e03978e"}, True),
        ("PATCH", {"idempotency-key": "8e03978e"}, True),
        ("POST", {"IDEMPOTENCY-KEY": "8e03978e"}, True),
        ("POST", {"Idempotency-Key": "  "}, False),
        ("CONNECT", None, False),
    ],
)
def test_idempotency_rule(method: str, headers: dict[str, str] | None, expected: bool) -> None:
    assert is_idempotent(method, headers) is expected


def test_idempotency_with_httpx_headers_and_a_custom_header() -> None:
    assert is_idempotent("POST", httpx.Headers({"idempotency-key": "k"}))
    assert is_idempotent("POST", {"X-Request-Id": "k"}, idempotency_header="x-request-id")
    assert not is_idempotent("POST", {"Idempotency-Key": "k"}, idempotency_header="X-Other")


# --------------------------------------------------------------------------- decorator


def test_decorator_keeps_metadata_and_retries() -> None:
    calls = 0

    @retry(attempts=3)
    def fetch(x: int) -> int:
        """Fetch x."""
        nonlocal calls
        calls += 1
        if calls < 3:
            raise Boom
        return x * 2

    assert fetch(21) == 42
    assert calls == 3
    assert fetch.__name__ == "fetch"
    assert fetch.__doc__ == "Fetch x."
    assert fetch.__qualname__.endswith("fetch")
    assert inspect.signature(fetch) == inspect.signature(fetch.__wrapped__)  # type: ignore[attr-defined]


def test_decorator_works_on_methods() -> None:
    class Client:
        def __init__(self) -> None:
            self.calls = 0

        @retry(attempts=2)
        def get(self, path: str) -> str:
            self.calls += 1
            if self.calls == 1:
                raise Boom
            return path

    client = Client()
    assert client.get("/x") == "/x"
    assert client.calls == 2


def test_decorator_on_async_functions() -> None:
    calls = 0

    @retry(attempts=3)
    async def fetch(x: int) -> int:
        """Fetch x asynchronously."""
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls < 3:
            raise Boom
        return x

    assert inspect.iscoroutinefunction(fetch)
    assert fetch.__name__ == "fetch"
    assert fetch.__doc__ == "Fetch x asynchronously."
    assert asyncio.run(fetch(7)) == 7
    assert calls == 3


def test_async_exhaustion_raises_the_original_error_and_non_retryable_propagate() -> None:
    raised: list[Exception] = []

    async def failing() -> None:
        raised.append(Boom(len(raised)))
        raise raised[-1]

    with pytest.raises(Boom) as caught:
        asyncio.run(retry(attempts=4).acall(failing))
    assert len(raised) == 4
    assert caught.value is raised[-1]
    assert caught.value.__context__ is None

    async def wrong() -> None:
        raised.append(KeyError())
        raise raised[-1]

    raised.clear()
    with pytest.raises(KeyError):
        asyncio.run(retry(on=Boom, attempts=4).acall(wrong))
    assert len(raised) == 1


def test_async_results_budget_and_timeout() -> None:
    clock = FakeClock()
    budget = RetryBudget(clock=clock)
    responses = [httpx.Response(503), httpx.Response(503), httpx.Response(200)]

    async def fetch() -> httpx.Response:
        clock.advance(1)
        return responses.pop(0)

    policy = retry(on_status={503}, attempts=5, budget=budget, timeout=10, clock=clock)
    assert asyncio.run(policy.acall(fetch)).status_code == 200
    assert budget.statistics().retries == 2

    slow_clock = FakeClock()

    async def slow() -> None:
        slow_clock.advance(4)
        raise Boom

    with pytest.raises(Boom):
        asyncio.run(retry(attempts=10, initial=0, timeout=10, clock=slow_clock).acall(slow))
    assert slow_clock.now == 1012.0  # attempts at 0, 4 and 8 s; 12 s is past the deadline


def test_test_mode_skips_every_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    real_async_sleep = asyncio.sleep

    async def fake_async_sleep(delay: float, *args: Any) -> None:
        slept.append(delay)
        await real_async_sleep(0)

    monkeypatch.setattr(time, "sleep", slept.append)
    monkeypatch.setattr(asyncio, "sleep", fake_async_sleep)
    policy = retry(attempts=3, initial=5, jitter="none")

    assert policy.call(Flaky(failures=2)) == "ok"

    async_flaky = Flaky(failures=2)
    assert asyncio.run(policy.acall(as_async(async_flaky))) == "ok"
    assert async_flaky.calls == 3
    assert all(delay <= 0 for delay in slept)  # only asyncio.sleep(0) scheduling points

    slept.clear()
    with real_sleeping():
        policy.call(Flaky(failures=2))
        asyncio.run(policy.acall(as_async(Flaky(failures=2))))
    assert [delay for delay in slept if delay > 0] == [5.0, 10.0, 5.0, 10.0]


def test_call_and_acall_take_positional_only_callables() -> None:
    def echo(*args: object, **kwargs: object) -> tuple[object, ...]:
        return (args, kwargs)

    assert retry().call(echo, 1, fn=2) == ((1,), {"fn": 2})


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"attempts": 0}, "attempts"),
        ({"attempts": True}, "attempts"),
        ({"attempts": 2.0}, "attempts"),
        ({"jitter": "equal"}, "jitter"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"initial": -1}, "initial"),
        ({"maximum": math.inf}, "finite"),
        ({"on": "Boom"}, "on must"),
        ({"on_status": ["503"]}, "on_status"),
        ({"on_result": 3}, "on_result"),
        ({"timeout": -1}, "timeout"),
        ({"budget": object()}, "budget"),
        ({"max_retry_after": "60"}, "max_retry_after"),
    ],
)
def test_retry_options_are_checked(options: dict[str, Any], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        retry(**options)


def test_backoff_options_are_checked() -> None:
    with pytest.raises(UsageError, match="attempts"):
        backoff_delays(0, initial=1, maximum=2)
    with pytest.raises(UsageError, match="jitter"):
        backoff_delays(2, initial=1, maximum=2, jitter="half")  # type: ignore[arg-type]


def test_repr_names_the_policy() -> None:
    assert repr(retry(name="db", attempts=4)).startswith("retry(name='db', attempts=4")


def test_guard_refusals_are_not_retried_by_default_but_can_be_named() -> None:
    from slokit.errors import BulkheadFullError, CircuitOpenError
    from slokit.resilience._retry import retry as retry_

    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise CircuitOpenError("b", 5.0)

    with pytest.raises(CircuitOpenError):
        retry_(attempts=3, initial=0)(refused)()
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(CircuitOpenError):
        retry_(attempts=3, initial=0, on=(CircuitOpenError, BulkheadFullError))(refused)()
    assert len(calls) == 3
