"""Deadlines: scoping and nesting, async enforcement, the timeout decorator, the header."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slokit.errors import DeadlineExceeded, ResilienceError, UsageError
from slokit.resilience._deadline import (
    DEADLINE_HEADER,
    current_deadline,
    deadline,
    deadline_from_headers,
    deadline_headers,
    enter_deadline,
    exit_deadline,
    remaining_or,
    timeout,
)


def left() -> float:
    remaining = current_deadline()
    assert remaining is not None
    return remaining


# -- scoping ---------------------------------------------------------------------------------


def test_no_deadline_by_default() -> None:
    assert current_deadline() is None
    assert deadline_headers() == {}
    assert remaining_or(5.0) == 5.0


def test_a_block_sets_the_deadline_and_restores_none_after() -> None:
    with deadline(2.0):
        assert 1.9 < left() <= 2.0
    assert current_deadline() is None


def test_nested_deadlines_the_tighter_wins_and_each_exit_restores() -> None:
    with deadline(2.0):
        with deadline(5.0):
            assert left() <= 2.0  # the outer one is tighter
        with deadline(0.5):
            assert left() <= 0.5
            with deadline(10):
                assert left() <= 0.5
            assert left() <= 0.5
        assert 1.0 < left() <= 2.0
    assert current_deadline() is None


def test_timedelta_and_zero_are_accepted() -> None:
    with deadline(timedelta(milliseconds=1500)):
        assert 1.4 < left() <= 1.5
    with deadline(0):
        assert left() <= 0
        assert remaining_or(3.0) == 0.0  # never a negative timeout


@pytest.mark.parametrize("bad", [-1, float("nan"), "2", None])
def test_bad_durations_are_usage_errors(bad: object) -> None:
    with pytest.raises(UsageError, match="deadline"):
        deadline(bad)  # type: ignore[arg-type]


def test_the_sync_form_never_raises_even_when_exceeded() -> None:
    with deadline(0):
        time.sleep(0.002)
    assert current_deadline() is None


def test_a_scope_object_cannot_be_entered_twice_at_once() -> None:
    scope = deadline(1.0)
    with scope:
        with pytest.raises(UsageError, match="already in use"), scope:
            pass
        assert left() <= 1.0
    with scope:  # but it can be used again afterwards
        assert left() <= 1.0


def test_remaining_or_picks_the_smaller() -> None:
    with deadline(0.5):
        assert remaining_or(5.0) <= 0.5
        assert remaining_or(0.1) == 0.1


def test_threads_start_without_the_deadline_unless_the_context_is_copied() -> None:
    seen: list[float | None] = []
    with deadline(1.0):
        context = contextvars.copy_context()
        _run_in_thread(lambda: seen.append(current_deadline()))
        _run_in_thread(lambda: seen.append(context.run(current_deadline)))
    assert seen[0] is None
    assert seen[1] is not None
    assert 0 < seen[1] <= 1.0


def _run_in_thread(fn: Callable[[], object]) -> None:
    thread = threading.Thread(target=fn)
    thread.start()
    thread.join(5)


# -- async enforcement -----------------------------------------------------------------------


def test_async_deadline_cancels_a_slow_block() -> None:
    async def main() -> None:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match=r"deadline of 0\.05 s exceeded") as info:
            async with deadline(0.05):
                await asyncio.sleep(10)
        assert time.monotonic() - started < 2.0
        assert isinstance(info.value, TimeoutError)
        assert isinstance(info.value, ResilienceError)
        assert current_deadline() is None

    asyncio.run(main())


def test_async_deadline_lets_a_fast_block_finish() -> None:
    async def main() -> str:
        async with deadline(5.0):
            assert left() <= 5.0
            await asyncio.sleep(0)
            result = "ok"
        assert current_deadline() is None
        return result

    assert asyncio.run(main()) == "ok"


def test_async_inner_block_is_cut_short_by_a_tighter_outer_deadline() -> None:
    async def main() -> None:
        seen: list[float] = []

        async def block() -> None:
            async with deadline(0.05), deadline(10):
                seen.append(left())
                await asyncio.sleep(10)

        with pytest.raises(DeadlineExceeded):
            await block()
        assert seen[0] <= 0.05

    asyncio.run(main())


def test_async_inner_deadline_names_the_enclosing_one_when_that_ran_out() -> None:
    async def main() -> None:
        enter_deadline(0.03)  # e.g. the incoming request's deadline, set by a middleware
        with pytest.raises(DeadlineExceeded, match="enclosing deadline"):
            async with deadline(10):
                await asyncio.sleep(10)

    asyncio.run(main())


def test_a_timeout_error_from_the_block_itself_is_not_rewritten() -> None:
    async def main() -> None:
        with pytest.raises(TimeoutError, match="mine") as info:
            async with deadline(5.0):
                raise TimeoutError("mine")
        assert not isinstance(info.value, DeadlineExceeded)

    asyncio.run(main())


def test_other_errors_pass_through_and_the_deadline_is_restored() -> None:
    async def main() -> None:
        with pytest.raises(KeyError):
            async with deadline(5.0):
                raise KeyError("x")
        assert current_deadline() is None

    asyncio.run(main())


def test_tasks_created_inside_inherit_the_deadline_and_siblings_do_not_see_it() -> None:
    async def read() -> float | None:
        return current_deadline()

    async def main() -> tuple[float | None, float | None]:
        async with deadline(1.0):
            inner = await asyncio.create_task(read())
        outer = await asyncio.create_task(read())
        return inner, outer

    inner, outer = asyncio.run(main())
    assert inner is not None
    assert 0 < inner <= 1.0
    assert outer is None


# -- timeout decorator -----------------------------------------------------------------------


def test_timeout_returns_the_result_of_a_fast_call() -> None:
    @timeout(5.0)
    async def fetch(x: int) -> int:
        """Fetches."""
        await asyncio.sleep(0)
        return x * 2

    assert asyncio.run(fetch(21)) == 42
    assert (fetch.__name__, fetch.__doc__) == ("fetch", "Fetches.")


def test_timeout_cancels_a_slow_call_naming_the_function_and_limit() -> None:
    @timeout(timedelta(milliseconds=30))
    async def slow_fetch() -> None:
        await asyncio.sleep(10)

    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"slow_fetch timed out after 0\.03 s"):
        asyncio.run(slow_fetch())
    assert time.monotonic() - started < 2.0


def test_timeout_is_bounded_by_the_current_deadline() -> None:
    @timeout(10.0)
    async def slow_fetch() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        with deadline(0.03):  # only scoped (as a middleware does): the decorator enforces it
            await slow_fetch()

    async def enforced() -> None:
        async with deadline(0.03):
            await slow_fetch()

    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"slow_fetch ran out of the request's deadline"):
        asyncio.run(main())
    with pytest.raises(DeadlineExceeded):  # both limits run out together: either may report
        asyncio.run(enforced())
    assert time.monotonic() - started < 2.0


def test_the_call_sees_the_tighter_of_its_timeout_and_the_deadline() -> None:
    @timeout(0.5)
    async def read() -> float | None:
        return current_deadline()

    async def main() -> tuple[float | None, float | None]:
        alone = await read()
        with deadline(0.2):
            bounded = await read()
            assert left() <= 0.2
        return alone, bounded

    alone, bounded = asyncio.run(main())
    assert alone is not None
    assert 0.3 < alone <= 0.5
    assert bounded is not None
    assert bounded <= 0.2
    assert current_deadline() is None


def test_a_timeout_error_raised_by_the_function_is_not_rewritten() -> None:
    @timeout(5.0)
    async def fails() -> None:
        raise TimeoutError("upstream said so")

    with pytest.raises(TimeoutError, match="upstream said so") as info:
        asyncio.run(fails())
    assert not isinstance(info.value, DeadlineExceeded)


def test_timeout_refuses_sync_functions() -> None:
    def sync() -> None:
        pass

    with pytest.raises(UsageError, match="async functions"):
        timeout(1.0)(sync)  # type: ignore[arg-type]


def test_timeout_checks_its_duration() -> None:
    with pytest.raises(UsageError, match="timeout"):
        timeout(-1)


# -- header ----------------------------------------------------------------------------------


def test_header_round_trip_through_a_mapping_and_asgi_pairs() -> None:
    with deadline(2.0):
        headers = deadline_headers()
    assert list(headers) == [DEADLINE_HEADER]
    whole, _, fraction = headers[DEADLINE_HEADER].partition(".")
    assert whole.isdigit()
    assert len(fraction) == 3
    from_mapping = deadline_from_headers(headers)
    asgi = [(b"host", b"x"), (DEADLINE_HEADER.encode(), headers[DEADLINE_HEADER].encode())]
    from_pairs = deadline_from_headers(asgi)
    for remaining in (from_mapping, from_pairs):
        assert remaining is not None
        assert 1.9 < remaining <= 2.01


def test_header_names_match_case_insensitively() -> None:
    value = f"{time.time() + 3:.3f}"
    remaining = deadline_from_headers({"X-Request-Deadline": value})
    assert remaining is not None
    assert 2.9 < remaining <= 3.01
    assert deadline_from_headers([(b"X-REQUEST-DEADLINE", value.encode())]) is not None


def test_absent_header_is_none() -> None:
    assert deadline_from_headers({}) is None
    assert deadline_from_headers([(b"host", b"example.org")]) is None


def test_a_deadline_already_passed_comes_back_negative() -> None:
    remaining = deadline_from_headers({DEADLINE_HEADER: f"{time.time() - 5:.3f}"})
    assert remaining is not None
    assert -5.1 < remaining < -4.9


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "soon",
        "-1732345678.123",
        "+1732345678",
        "nan",
        "inf",
        "1.7e9",
        "1_732_345_678",
        "1732345678.",
        ".5",
        "0",  # 1970: garbage, not a deadline 55 years ago
        "١٧٣٢٣٤٥٦٧٨",  # non-ASCII digits
    ],
)
def test_garbage_header_values_are_ignored(value: str) -> None:
    assert deadline_from_headers({DEADLINE_HEADER: value}) is None


def test_a_deadline_more_than_a_day_away_is_ignored() -> None:
    far = f"{time.time() + 2 * 86_400:.3f}"
    long_ago = f"{time.time() - 2 * 86_400:.3f}"
    assert deadline_from_headers({DEADLINE_HEADER: far}) is None
    assert deadline_from_headers({DEADLINE_HEADER: long_ago}) is None
    near = f"{time.time() + 3600:.3f}"
    assert deadline_from_headers({DEADLINE_HEADER: near}) is not None


def test_undecodable_bytes_are_ignored() -> None:
    assert deadline_from_headers([(DEADLINE_HEADER.encode(), b"\xff\xfe")]) is None


def test_surrounding_whitespace_is_tolerated() -> None:
    value = f"  {time.time() + 1:.3f} "
    assert deadline_from_headers({DEADLINE_HEADER: value}) is not None


@given(st.text(max_size=30))
def test_any_text_either_parses_to_a_near_deadline_or_is_ignored(value: str) -> None:
    remaining = deadline_from_headers({DEADLINE_HEADER: value})
    assert remaining is None or abs(remaining) <= 86_400


# -- low level, for middlewares --------------------------------------------------------------


def test_enter_and_exit_deadline_set_and_restore() -> None:
    token = enter_deadline(1.5)
    try:
        assert 1.4 < left() <= 1.5
        inner = enter_deadline(60.0)  # looser: the current one stays
        assert left() <= 1.5
        exit_deadline(inner)
        assert left() <= 1.5
    finally:
        exit_deadline(token)
    assert current_deadline() is None


def test_enter_deadline_accepts_a_passed_deadline_and_rejects_nonsense() -> None:
    token = enter_deadline(-0.5)
    try:
        assert left() < 0
        assert remaining_or(1.0) == 0.0
    finally:
        exit_deadline(token)
    with pytest.raises(UsageError):
        enter_deadline(float("nan"))
    with pytest.raises(UsageError):
        enter_deadline("1")  # type: ignore[arg-type]


def test_a_request_deadline_from_headers_flows_into_outgoing_headers() -> None:
    incoming = {DEADLINE_HEADER: f"{time.time() + 4:.3f}"}
    remaining = deadline_from_headers(incoming)
    assert remaining is not None
    token = enter_deadline(remaining)
    try:
        outgoing = deadline_headers()
    finally:
        exit_deadline(token)
    assert abs(float(outgoing[DEADLINE_HEADER]) - float(incoming[DEADLINE_HEADER])) < 0.01
