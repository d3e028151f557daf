"""Bulkhead: one bound shared by threads and asyncio tasks, FIFO hand-off, no leaked slots."""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slokit.errors import BulkheadFullError, UsageError
from slokit.resilience._bulkhead import Bulkhead, BulkheadStats

LONG = 10.0  # a max wait no test reaches: waiters are always released explicitly


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    until = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < until, "condition not reached in time"
        time.sleep(0.001)


async def await_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    until = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < until, "condition not reached in time"
        await asyncio.sleep(0.001)


class Peak:
    """Counts calls inside the bulkhead from any thread and remembers the most at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def enter(self) -> None:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)

    def leave(self) -> None:
        with self._lock:
            self.active -= 1


def start_thread(target: Callable[..., object], *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def waiting(bulkhead: Bulkhead, count: int) -> Callable[[], bool]:
    return lambda: bulkhead.statistics().waiting == count


# -- the bound -------------------------------------------------------------------------------


def test_threads_never_exceed_max_concurrent() -> None:
    bulkhead = Bulkhead("db", max_concurrent=3, max_wait=LONG)
    gate = threading.Event()
    peak = Peak()

    def work() -> None:
        peak.enter()
        gate.wait(LONG)
        peak.leave()

    threads = [start_thread(lambda: bulkhead.call(work)) for _ in range(10)]
    wait_until(lambda: bulkhead.statistics().waiting == 7)
    assert bulkhead.statistics().in_flight == 3
    assert peak.active == 3
    gate.set()
    for thread in threads:
        thread.join(LONG)
    assert peak.peak == 3
    assert bulkhead.statistics() == BulkheadStats(
        name="db", max_concurrent=3, in_flight=0, waiting=0, admitted=10, rejected=0
    )


def test_tasks_never_exceed_max_concurrent() -> None:
    bulkhead = Bulkhead("db", max_concurrent=3, max_wait=LONG)
    peak = Peak()

    async def main() -> None:
        gate = asyncio.Event()

        async def work() -> None:
            peak.enter()
            await gate.wait()
            peak.leave()

        tasks = [asyncio.create_task(bulkhead.acall(work)) for _ in range(10)]
        await await_until(lambda: bulkhead.statistics().waiting == 7)
        assert bulkhead.statistics().in_flight == 3
        assert peak.active == 3
        gate.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert peak.peak == 3
    stats = bulkhead.statistics()
    assert (stats.in_flight, stats.waiting, stats.admitted, stats.rejected) == (0, 0, 10, 0)


def test_threads_and_tasks_share_one_bound() -> None:
    bulkhead = Bulkhead("mixed", max_concurrent=2, max_wait=LONG)
    peak = Peak()
    holder_done = threading.Event()

    def hold() -> None:
        peak.enter()
        holder_done.wait(LONG)
        peak.leave()

    def sync_work() -> None:
        peak.enter()
        time.sleep(0.002)
        peak.leave()

    async def async_work() -> None:
        peak.enter()
        await asyncio.sleep(0.002)
        peak.leave()

    async def main() -> None:
        holder = start_thread(lambda: bulkhead.call(hold))
        await await_until(lambda: bulkhead.statistics().in_flight == 1)
        async with bulkhead:
            peak.enter()
            threads = [start_thread(lambda: bulkhead.call(sync_work)) for _ in range(3)]
            tasks = [asyncio.create_task(bulkhead.acall(async_work)) for _ in range(3)]
            await await_until(lambda: bulkhead.statistics().waiting == 6)
            assert bulkhead.statistics().in_flight == 2
            peak.leave()
        holder_done.set()
        await asyncio.gather(*tasks)
        for thread in [holder, *threads]:
            await asyncio.to_thread(thread.join, LONG)

    asyncio.run(main())
    assert peak.peak == 2
    stats = bulkhead.statistics()
    assert (stats.in_flight, stats.waiting, stats.admitted, stats.rejected) == (0, 0, 8, 0)


def test_a_thread_freeing_a_slot_wakes_a_task_without_blocking_its_loop() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1, max_wait=math.inf)
    release = threading.Event()
    holder = start_thread(lambda: bulkhead.call(release.wait, LONG))
    wait_until(lambda: bulkhead.statistics().in_flight == 1)

    async def main() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(tick())
        waiter = asyncio.create_task(bulkhead.acall(asyncio.sleep, 0, "got it"))
        await await_until(lambda: bulkhead.statistics().waiting == 1)
        before = ticks
        await await_until(lambda: ticks > before + 10)  # the loop runs while the task waits
        release.set()
        result = await waiter
        ticker.cancel()
        assert result == "got it"
        return ticks

    assert asyncio.run(main()) > 10
    holder.join(LONG)
    assert bulkhead.statistics().in_flight == 0


def test_a_task_freeing_a_slot_wakes_a_waiting_thread() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1, max_wait=math.inf)
    results: list[str] = []

    async def main() -> None:
        async with bulkhead:
            thread = start_thread(lambda: results.append(bulkhead.call(str, "thread")))
            await await_until(lambda: bulkhead.statistics().waiting == 1)
            assert results == []
        await asyncio.to_thread(thread.join, LONG)

    asyncio.run(main())
    assert results == ["thread"]
    assert bulkhead.statistics().in_flight == 0


# -- max wait --------------------------------------------------------------------------------


def test_no_wait_rejects_at_once_without_calling() -> None:
    bulkhead = Bulkhead("payments", max_concurrent=1)
    called: list[int] = []
    with bulkhead, pytest.raises(BulkheadFullError, match="'payments' is full") as info:
        bulkhead.call(called.append, 1)
    assert info.value.bulkhead == "payments"
    assert called == []
    stats = bulkhead.statistics()
    assert (stats.in_flight, stats.admitted, stats.rejected) == (0, 1, 1)


def test_a_thread_gives_up_after_max_wait() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1, max_wait=timedelta(milliseconds=50))
    assert bulkhead.max_wait == 0.05
    with bulkhead:
        started = time.monotonic()
        with pytest.raises(BulkheadFullError, match=r"within 0\.05 s"):
            bulkhead.call(int)
        assert 0.04 <= time.monotonic() - started < 2.0
        assert bulkhead.statistics().waiting == 0
    stats = bulkhead.statistics()
    assert (stats.in_flight, stats.waiting, stats.admitted, stats.rejected) == (0, 0, 1, 1)


def test_a_task_gives_up_after_max_wait() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1, max_wait=0.05)

    async def main() -> float:
        async with bulkhead:
            started = time.monotonic()
            with pytest.raises(BulkheadFullError):
                await bulkhead.acall(asyncio.sleep, 0)
            assert bulkhead.statistics().waiting == 0
            return time.monotonic() - started

    assert 0.04 <= asyncio.run(main()) < 2.0
    stats = bulkhead.statistics()
    assert (stats.in_flight, stats.waiting, stats.admitted, stats.rejected) == (0, 0, 1, 1)


def test_a_task_with_no_wait_is_rejected_at_once() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1)

    async def main() -> None:
        async with bulkhead:
            with pytest.raises(BulkheadFullError):
                async with bulkhead:
                    pass

    asyncio.run(main())
    assert bulkhead.statistics().rejected == 1


# -- fairness --------------------------------------------------------------------------------


def test_threads_get_slots_in_arrival_order() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1, max_wait=LONG)
    order: list[int] = []
    threads = []
    with bulkhead:
        for i in range(5):
            threads.append(start_thread(bulkhead.call, order.append, i))
            wait_until(waiting(bulkhead, i + 1))
    for thread in threads:
        thread.join(LONG)
    assert order == [0, 1, 2, 3, 4]


def test_tasks_get_slots_in_arrival_order() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1, max_wait=LONG)
    order: list[int] = []

    async def record(i: int) -> None:
        order.append(i)
        await asyncio.sleep(0)

    async def main() -> None:
        tasks = []
        async with bulkhead:
            for i in range(5):
                tasks.append(asyncio.create_task(bulkhead.acall(record, i)))
                await await_until(waiting(bulkhead, i + 1))
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert order == [0, 1, 2, 3, 4]


def test_threads_and_tasks_queue_in_one_line() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1, max_wait=LONG)
    order: list[str] = []
    lock = threading.Lock()

    def note(name: str) -> None:
        with lock:
            order.append(name)

    async def anote(name: str) -> None:
        note(name)

    async def main() -> None:
        threads: list[threading.Thread] = []
        tasks: list[asyncio.Task[None]] = []
        async with bulkhead:
            for i in range(4):
                if i % 2:
                    tasks.append(asyncio.create_task(bulkhead.acall(anote, f"task{i}")))
                else:
                    threads.append(start_thread(bulkhead.call, note, f"thread{i}"))
                await await_until(waiting(bulkhead, i + 1))
        await asyncio.gather(*tasks)
        for thread in threads:
            await asyncio.to_thread(thread.join, LONG)

    asyncio.run(main())
    assert order == ["thread0", "task1", "thread2", "task3"]


def test_a_newcomer_cannot_take_a_slot_freed_for_a_queued_caller() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1, max_wait=LONG)
    order: list[str] = []
    gate = threading.Event()

    def first() -> None:
        order.append("waiter")
        gate.wait(LONG)

    bulkhead.__enter__()
    waiter = start_thread(lambda: bulkhead.call(first))
    wait_until(lambda: bulkhead.statistics().waiting == 1)
    bulkhead.__exit__(None, None, None)
    # The slot went to the waiter there and then, before its thread even ran again.
    stats = bulkhead.statistics()
    assert (stats.in_flight, stats.waiting) == (1, 0)
    opener = threading.Timer(0.02, gate.set)
    opener.start()
    bulkhead.call(order.append, "newcomer")  # queues behind the waiter
    assert order == ["waiter", "newcomer"]
    waiter.join(LONG)
    opener.join(LONG)
    assert bulkhead.statistics().in_flight == 0


# -- cancellation and errors -----------------------------------------------------------------


def test_a_cancelled_waiter_leaves_no_queue_entry_and_no_slot() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1, max_wait=LONG)

    async def main() -> None:
        async with bulkhead:
            waiter = asyncio.create_task(bulkhead.acall(asyncio.sleep, 0))
            await await_until(lambda: bulkhead.statistics().waiting == 1)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            stats = bulkhead.statistics()
            assert (stats.in_flight, stats.waiting) == (1, 0)
        assert bulkhead.statistics().in_flight == 0
        await bulkhead.acall(asyncio.sleep, 0)  # the slot is really free

    asyncio.run(main())
    stats = bulkhead.statistics()
    assert (stats.in_flight, stats.admitted, stats.rejected) == (0, 2, 0)


def test_a_waiter_cancelled_just_after_the_hand_off_passes_the_slot_on() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1, max_wait=LONG)
    ran: list[str] = []

    async def note(name: str) -> None:
        ran.append(name)

    async def main() -> None:
        bulkhead.__enter__()
        first = asyncio.create_task(bulkhead.acall(note, "first"))
        await await_until(lambda: bulkhead.statistics().waiting == 1)
        second = asyncio.create_task(bulkhead.acall(note, "second"))
        await await_until(lambda: bulkhead.statistics().waiting == 2)
        bulkhead.__exit__(None, None, None)  # granted to `first`, which has not resumed yet
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await second

    asyncio.run(main())
    assert ran == ["second"]
    stats = bulkhead.statistics()
    assert (stats.in_flight, stats.waiting) == (0, 0)


def test_cancelling_the_caller_inside_the_slot_frees_it() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1, max_wait=LONG)

    async def main() -> None:
        task = asyncio.create_task(bulkhead.acall(asyncio.sleep, LONG))
        await await_until(lambda: bulkhead.statistics().in_flight == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert bulkhead.statistics().in_flight == 0


def test_an_error_in_the_call_frees_the_slot() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1)

    def boom() -> None:
        raise ValueError("boom")

    async def aboom() -> None:
        raise ValueError("aboom")

    with pytest.raises(ValueError, match="boom"):
        bulkhead.call(boom)
    with pytest.raises(ValueError, match="aboom"):
        asyncio.run(bulkhead.acall(aboom))
    assert bulkhead.statistics().in_flight == 0
    assert bulkhead.statistics().admitted == 2


def test_releasing_more_than_admitted_is_a_bug_and_says_so() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1)
    with pytest.raises(RuntimeError, match="released more slots"):
        bulkhead.__exit__(None, None, None)


# -- ways to use it --------------------------------------------------------------------------


def test_decorates_sync_and_async_functions() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1)

    @bulkhead
    def add(a: int, b: int = 0) -> int:
        """Adds."""
        return a + b

    @bulkhead
    async def aadd(a: int, b: int = 0) -> int:
        """Adds later."""
        await asyncio.sleep(0)
        return a + b

    assert add(1, b=2) == 3
    assert asyncio.run(aadd(2, b=3)) == 5
    assert (add.__name__, add.__doc__) == ("add", "Adds.")
    assert (aadd.__name__, aadd.__doc__) == ("aadd", "Adds later.")
    assert inspect.iscoroutinefunction(aadd)
    assert bulkhead.call(max, 4, 1) == 4
    assert bulkhead.statistics().admitted == 3


def test_decorated_function_is_refused_when_full() -> None:
    bulkhead = Bulkhead("x", max_concurrent=1)

    @bulkhead
    def work() -> str:
        return "done"

    with bulkhead, pytest.raises(BulkheadFullError):
        work()
    assert work() == "done"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_concurrent": 0}, "at least 1"),
        ({"max_concurrent": True}, "whole number"),
        ({"max_concurrent": 1.5}, "whole number"),
        ({"max_concurrent": 1, "max_wait": -1}, "max_wait"),
        ({"max_concurrent": 1, "max_wait": "1s"}, "max_wait"),
    ],
)
def test_bad_options_are_usage_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        Bulkhead("x", **kwargs)  # type: ignore[arg-type]


def test_a_name_is_required() -> None:
    with pytest.raises(UsageError, match="name"):
        Bulkhead("", max_concurrent=1)


def test_repr_and_properties() -> None:
    bulkhead = Bulkhead("db", max_concurrent=4, max_wait=0.5)
    assert (bulkhead.name, bulkhead.max_concurrent, bulkhead.max_wait) == ("db", 4, 0.5)
    assert repr(bulkhead) == "Bulkhead('db', max_concurrent=4, max_wait=0.5)"


# -- properties ------------------------------------------------------------------------------


@given(
    max_concurrent=st.integers(1, 4),
    ops=st.lists(st.sampled_from(["acquire", "release"]), max_size=40),
)
def test_no_wait_acquire_and_release_follow_a_counter(max_concurrent: int, ops: list[str]) -> None:
    bulkhead = Bulkhead("x", max_concurrent=max_concurrent)
    held = admitted = rejected = 0
    for op in ops:
        if op == "acquire":
            if held < max_concurrent:
                bulkhead.__enter__()
                held += 1
                admitted += 1
            else:
                with pytest.raises(BulkheadFullError):
                    bulkhead.__enter__()
                rejected += 1
        elif held:
            bulkhead.__exit__(None, None, None)
            held -= 1
        assert bulkhead.statistics() == BulkheadStats(
            "x", max_concurrent, held, 0, admitted, rejected
        )


Op = tuple[str, int]

ops_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("task"), st.just(0)),
        st.tuples(st.just("hold"), st.just(0)),
        st.tuples(st.just("finish"), st.integers(0, 50)),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
    ),
    max_size=30,
)


@settings(deadline=None, max_examples=75)
@given(max_concurrent=st.integers(1, 3), ops=ops_strategy)
def test_random_waits_releases_and_cancellations_match_a_fifo_model(
    max_concurrent: int, ops: list[Op]
) -> None:
    """Tasks queue, threads-style holders take free slots, holders finish, tasks get
    cancelled (waiting or holding): the bulkhead always matches a FIFO model and never
    leaks a slot."""
    bulkhead = Bulkhead("model", max_concurrent=max_concurrent, max_wait=LONG)

    async def main() -> None:
        holders: list[str] = []  # model: who holds a slot
        queue: deque[str] = deque()  # model: who waits, in order
        inside: set[str] = set()  # reality: tasks that entered the slot
        done: dict[str, asyncio.Event] = {}
        tasks: dict[str, asyncio.Task[None]] = {}

        async def body(name: str) -> None:
            inside.add(name)
            try:
                await done[name].wait()
            finally:
                inside.discard(name)

        def free_one() -> None:
            if queue:
                holders.append(queue.popleft())

        async def settle() -> None:
            for _ in range(10):
                await asyncio.sleep(0)

        for number, (op, index) in enumerate(ops):
            if op == "task":
                name = f"t{number}"
                done[name] = asyncio.Event()
                tasks[name] = asyncio.create_task(bulkhead.acall(body, name))
                if len(holders) < max_concurrent and not queue:
                    holders.append(name)
                else:
                    queue.append(name)
            elif op == "hold" and len(holders) < max_concurrent:
                bulkhead.__enter__()  # never blocks: a slot is free, so nobody waits
                holders.append(f"h{number}")
            elif op == "finish" and holders:
                name = holders.pop(index % len(holders))
                if name.startswith("h"):
                    bulkhead.__exit__(None, None, None)
                else:
                    done[name].set()
                free_one()
            elif op == "cancel":
                live = [name for name in (*holders, *queue) if name.startswith("t")]
                if live:
                    name = live[index % len(live)]
                    tasks[name].cancel()
                    if name in holders:
                        holders.remove(name)
                        free_one()
                    else:
                        queue.remove(name)
            await settle()
            stats = bulkhead.statistics()
            assert stats.in_flight == len(holders) <= max_concurrent
            assert stats.waiting == len(queue)
            assert inside == {name for name in holders if name.startswith("t")}

        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        for name in holders:
            if name.startswith("h"):
                bulkhead.__exit__(None, None, None)

    asyncio.run(main())
    stats = bulkhead.statistics()
    assert (stats.in_flight, stats.waiting) == (0, 0)
