"""GCRA rate limiting: the arithmetic, the memory store, and the Redis store on a real Redis."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

import pytest
import redis
import redis.asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from slokit.asgi import _ratelimit
from slokit.asgi._ratelimit import (
    Decision,
    MemoryStore,
    Quota,
    RedisStore,
    StoreUnavailable,
    gcra,
    rate_limit_headers,
)
from tests._support import free_port

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
EPS = _ratelimit._EPSILON
HOURLY = Quota(15, 3600.0)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _admitted_within_bound(arrivals: list[tuple[float, int]], quota: Quota) -> None:
    """No interval [a, a + L] admits more than burst + L / T (plus the documented slack)."""
    for i, (start, _) in enumerate(arrivals):
        total = 0
        for end, cost in arrivals[i:]:
            total += cost
            length = end - start
            bound = quota.burst + (length + EPS) / quota.interval + 1e-9
            assert total <= bound, f"{total} admitted in {length} s, at most {bound} allowed"


# --- Quota ---------------------------------------------------------------------------


def test_quota_derives_interval_burst_and_tolerance() -> None:
    assert (HOURLY.interval, HOURLY.burst, HOURLY.tolerance) == (240.0, 15, 3360.0)
    half = Quota(0.5, 1.0)
    assert (half.interval, half.burst, half.tolerance) == (2.0, 1, 0.0)
    assert Quota(2.5, 1.0).burst == 2


@pytest.mark.parametrize(
    ("count", "window", "field"),
    [
        (0, 1.0, "count"),
        (-1, 1.0, "count"),
        (math.nan, 1.0, "count"),
        (math.inf, 1.0, "count"),
        (1, 0.0, "window"),
        (1, -5.0, "window"),
        (1, math.inf, "window"),
    ],
)
def test_quota_rejects_values_that_are_not_positive_and_finite(
    count: float, window: float, field: str
) -> None:
    with pytest.raises(ValueError, match=f"quota {field} must be a finite number"):
        Quota(count, window)


# --- gcra arithmetic -------------------------------------------------------------------


def test_burst_at_one_instant_then_one_per_interval() -> None:
    now, tat = 1000.0, None
    for expected_remaining in range(14, -1, -1):
        decision, tat = gcra(tat, now, HOURLY)
        assert decision.allowed
        assert decision.remaining == expected_remaining
        # One more request comes back every 240 s, however much of the burst is used.
        assert decision.reset == 240.0
        assert decision.retry_after == 0.0
    assert tat == now + 3600.0

    rejected, unchanged = gcra(tat, now, HOURLY)
    assert rejected == Decision(False, 0, 240.0, 240.0)
    assert unchanged is None

    early, _ = gcra(tat, now + 239.5, HOURLY)
    assert not early.allowed
    assert early.retry_after == pytest.approx(0.5)
    assert early.reset == early.retry_after

    on_time, tat = gcra(tat, now + 240.0, HOURLY)
    assert on_time == Decision(True, 0, 240.0, 0.0)
    again, _ = gcra(tat, now + 240.0, HOURLY)
    assert not again.allowed
    assert again.retry_after == pytest.approx(240.0)


def test_a_full_quota_is_restored_one_window_after_a_burst() -> None:
    tat = None
    for _ in range(15):
        _, tat = gcra(tat, 0.0, HOURLY)
    allowed = []
    for _ in range(16):
        decision, new_tat = gcra(tat, 3600.0, HOURLY)
        allowed.append(decision.allowed)
        tat = new_tat if new_tat is not None else tat
    assert allowed == [True] * 15 + [False]


@pytest.mark.parametrize(
    ("quota", "now"),
    [
        (HOURLY, 1_700_000_000.123),  # epoch seconds: the coarsest floats a caller may use
        (Quota(7, 3600.0), 1_700_000_000.123),  # T is not exact in binary
        (Quota(1000, 1.0), 123_456.789),
        (Quota(3, 1.0), 0.1),
    ],
)
def test_exactly_burst_requests_pass_at_one_instant_whatever_the_rounding(
    quota: Quota, now: float
) -> None:
    tat, admitted = None, 0
    for _ in range(quota.burst + 1):
        decision, new_tat = gcra(tat, now, quota)
        if decision.allowed:
            admitted, tat = admitted + 1, new_tat
    assert admitted == quota.burst


def test_fractional_quota_allows_one_request_per_interval() -> None:
    quota = Quota(0.5, 1.0)  # one request every 2 s, no burst
    first, tat = gcra(None, 10.0, quota)
    assert first == Decision(True, 0, 2.0, 0.0)
    second, _ = gcra(tat, 10.0, quota)
    assert second == Decision(False, 0, 2.0, 2.0)
    early, _ = gcra(tat, 11.9, quota)
    assert not early.allowed
    assert early.retry_after == pytest.approx(0.1)
    assert gcra(tat, 12.0, quota)[0].allowed


def test_fractional_count_above_one_bursts_its_whole_part() -> None:
    quota = Quota(2.5, 1.0)  # burst 2, then one every 0.4 s
    tat = None
    decisions = []
    for _ in range(3):
        decision, new_tat = gcra(tat, 0.0, quota)
        decisions.append(decision)
        tat = new_tat if new_tat is not None else tat
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[2].retry_after == pytest.approx(0.4)


def test_cost_charges_several_requests_at_once() -> None:
    quota = Quota(10, 10.0)  # T = 1 s, burst 10
    first, tat = gcra(None, 0.0, quota, cost=4)
    assert first == Decision(True, 6, 1.0, 0.0)
    second, tat = gcra(tat, 0.0, quota, cost=4)
    assert second == Decision(True, 2, 1.0, 0.0)
    too_big, unchanged = gcra(tat, 0.0, quota, cost=4)
    assert too_big == Decision(False, 0, 2.0, 2.0)  # until all 4 fit, as Retry-After says
    assert unchanged is None
    fits, _ = gcra(tat, 0.0, quota, cost=2)
    assert fits == Decision(True, 0, 1.0, 0.0)


@pytest.mark.parametrize("cost", [0, -1, True, 1.5])
def test_cost_must_be_a_whole_number_of_at_least_one(cost: int) -> None:
    with pytest.raises(ValueError, match="cost must be a whole number"):
        gcra(None, 0.0, HOURLY, cost)


def test_cost_above_the_burst_is_refused_because_it_could_never_pass() -> None:
    with pytest.raises(ValueError, match="more than the quota's burst of 15"):
        gcra(None, 0.0, HOURLY, cost=16)


def test_a_tat_in_the_past_is_the_same_as_an_unseen_key() -> None:
    assert gcra(500.0, 1000.0, HOURLY) == gcra(None, 1000.0, HOURLY)


_quotas = st.builds(
    Quota,
    count=st.floats(min_value=0.2, max_value=60.0),
    window=st.floats(min_value=0.01, max_value=10_000.0),
)


# Gaps between arrivals, in emission intervals. Exact multiples and arrivals a hair
# early are where an off-by-a-little limiter over-admits; random floats rarely land there.
_gaps = st.one_of(
    st.sampled_from([0.0, 0.999, 1.0, 0.5, 2.0]), st.floats(min_value=0.0, max_value=2.0)
)


@st.composite
def _traffic(draw: st.DrawFn) -> tuple[Quota, float, list[tuple[float, int]]]:
    quota = draw(_quotas)
    start = draw(st.floats(min_value=0.0, max_value=1e6))
    steps = draw(
        st.lists(
            st.tuples(
                _gaps,
                st.integers(min_value=1, max_value=quota.burst),
            ),
            max_size=80,
        )
    )
    now, arrivals = start, []
    for gap, cost in steps:
        now += gap * quota.interval
        arrivals.append((now, cost))
    return quota, start, arrivals


@given(_traffic())
@settings(max_examples=300, deadline=None)
def test_gcra_never_admits_more_than_burst_plus_elapsed_over_interval(
    traffic: tuple[Quota, float, list[tuple[float, int]]],
) -> None:
    quota, _, arrivals = traffic
    tat, admitted = None, []
    for now, cost in arrivals:
        decision, new_tat = gcra(tat, now, quota, cost)
        if decision.allowed:
            tat = new_tat
            admitted.append((now, cost))
    _admitted_within_bound(admitted, quota)


@given(_traffic())
@settings(max_examples=200, deadline=None)
def test_remaining_and_retry_after_tell_the_truth(
    traffic: tuple[Quota, float, list[tuple[float, int]]],
) -> None:
    quota, _, arrivals = traffic
    tat = None
    for now, cost in arrivals:
        decision, new_tat = gcra(tat, now, quota, cost)
        if decision.allowed:
            assert decision.retry_after == 0.0
            assert 0 <= decision.remaining < quota.burst
            assert 0 < decision.reset <= quota.interval + EPS
            # exactly `remaining` more requests fit right now...
            probe = new_tat
            for _ in range(decision.remaining):
                more, probe = gcra(probe, now, quota)
                assert more.allowed
            assert not gcra(probe, now, quota)[0].allowed
            # ...and one more once `reset` has passed (the RateLimit field's `t`), not before.
            assert gcra(probe, now + decision.reset, quota)[0].allowed
            if decision.reset > 2 * EPS:
                assert not gcra(probe, now + decision.reset - 2 * EPS, quota)[0].allowed
            tat = new_tat
        else:
            assert new_tat is None
            assert decision.remaining == 0
            assert decision.retry_after > 0
            assert decision.reset == decision.retry_after  # `t` and Retry-After agree
            assert gcra(tat, now + decision.retry_after, quota, cost)[0].allowed


# --- MemoryStore ---------------------------------------------------------------------


def test_memory_store_follows_gcra_on_its_clock() -> None:
    clock = FakeClock(50.0)
    store = MemoryStore(clock=clock)

    async def scenario() -> list[Decision]:
        burst = [await store.hit("client", HOURLY) for _ in range(16)]
        clock.now += 240.0
        return [*burst, await store.hit("client", HOURLY), await store.hit("other", HOURLY)]

    decisions = asyncio.run(scenario())
    assert [d.remaining for d in decisions[:15]] == list(range(14, -1, -1))
    assert decisions[15] == Decision(False, 0, 240.0, 240.0)
    assert decisions[16] == Decision(True, 0, 240.0, 0.0)
    assert decisions[17] == Decision(True, 14, 240.0, 0.0)  # keys are independent


def test_memory_store_forgets_keys_whose_tat_has_passed() -> None:
    clock = FakeClock(0.0)
    store = MemoryStore(clock=clock)

    async def scenario() -> None:
        await store.hit("a", HOURLY)
        await store.hit("b", HOURLY)
        assert len(store) == 2
        clock.now = 240.0  # both TATs are now in the past: they carry no state
        await store.hit("c", HOURLY)

    asyncio.run(scenario())
    assert len(store) == 1


def test_memory_store_evicts_the_key_with_the_least_debt_when_full() -> None:
    clock = FakeClock(0.0)
    store = MemoryStore(clock=clock, max_keys=3)
    quota = Quota(2, 10.0)  # T = 5 s, burst 2

    async def scenario() -> tuple[Decision, Decision]:
        await store.hit("heavy", quota)
        await store.hit("heavy", quota)  # TAT 10: fully limited
        for t, key in [(1.0, "b"), (2.0, "c"), (3.0, "d")]:  # TATs 6, 7, 8
            clock.now = t
            await store.hit(key, quota)
        return await store.hit("heavy", quota), await store.hit("b", quota)

    heavy, b = asyncio.run(scenario())
    assert len(store) == 3
    assert not heavy.allowed  # rotating fresh keys did not wipe a limited client
    assert b == Decision(True, 1, 5.0, 0.0)  # "b" had the soonest TAT and was forgotten


def test_memory_store_stays_bounded_under_many_keys() -> None:
    clock = FakeClock(0.0)
    store = MemoryStore(clock=clock, max_keys=50)

    async def scenario() -> None:
        for i in range(5000):
            clock.now = i * 0.001
            await store.hit(f"key-{i}", HOURLY)
            await store.hit("steady", Quota(1_000_000, 1.0))

    asyncio.run(scenario())
    assert len(store) == 50
    assert len(store._expiry) == 50  # the expiry heap holds one entry per key, no more


def test_memory_store_needs_room_for_one_key() -> None:
    with pytest.raises(ValueError, match="max_keys must be at least 1"):
        MemoryStore(max_keys=0)


@given(
    quota=_quotas,
    ops=st.lists(st.tuples(st.sampled_from("abc"), _gaps), max_size=80),
)
@settings(max_examples=150, deadline=None)
def test_memory_store_agrees_with_gcra_and_never_over_admits(
    quota: Quota, ops: list[tuple[str, float]]
) -> None:
    clock = FakeClock(0.0)
    store = MemoryStore(clock=clock)
    model: dict[str, float | None] = {}
    admitted: dict[str, list[tuple[float, int]]] = {}

    async def scenario() -> None:
        for key, gap in ops:
            clock.now += gap * quota.interval
            decision = await store.hit(key, quota)
            expected, new_tat = gcra(model.get(key), clock.now, quota)
            assert decision == expected
            if new_tat is not None:
                model[key] = new_tat
                admitted.setdefault(key, []).append((clock.now, 1))

    asyncio.run(scenario())
    for arrivals in admitted.values():
        _admitted_within_bound(arrivals, quota)


async def _hammer(
    hit: Callable[[], Awaitable[Decision]], clients: int = 64, hits_each: int = 5
) -> list[Decision]:
    async def client() -> list[Decision]:
        decisions = []
        for _ in range(hits_each):
            decisions.append(await hit())
            await asyncio.sleep(0)  # let the other clients interleave
        return decisions

    results = await asyncio.gather(*(client() for _ in range(clients)))
    return [d for decisions in results for d in decisions]


def _assert_exactly_fifty(decisions: list[Decision]) -> None:
    assert len(decisions) == 320
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 50
    # each admission saw a distinct state: no two read the same TAT
    assert sorted(d.remaining for d in allowed) == list(range(50))
    assert all(d.retry_after > 0 for d in decisions if not d.allowed)


def test_memory_store_admits_exactly_the_quota_under_concurrency() -> None:
    store = MemoryStore()
    quota = Quota(50, 3600.0)
    _assert_exactly_fifty(asyncio.run(_hammer(lambda: store.hit("shared", quota))))


# --- RedisStore ------------------------------------------------------------------------


def _redis_reachable() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own in a real Redis, deleted afterwards."""
    if not _redis_reachable():
        if "CI" in os.environ:
            pytest.fail(f"Redis is not reachable at {REDIS_URL} and CI is set: start Redis")
        pytest.skip(f"Redis is not reachable at {REDIS_URL} (set CI to make this a failure)")
    name = f"slokit-test:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=name + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def test_redis_store_admits_exactly_the_quota_under_concurrency(prefix: str) -> None:
    quota = Quota(50, 3600.0)

    async def scenario() -> list[Decision]:
        store = RedisStore(REDIS_URL, prefix=prefix, timeout=5.0)
        try:
            return await _hammer(lambda: store.hit("shared", quota))
        finally:
            await store.aclose()

    _assert_exactly_fifty(asyncio.run(scenario()))


def test_two_replicas_share_one_quota(prefix: str) -> None:
    quota = Quota(10, 3600.0)

    async def scenario() -> list[Decision]:
        first = RedisStore(REDIS_URL, prefix=prefix, timeout=1.0)
        second = RedisStore(REDIS_URL, prefix=prefix, timeout=1.0)
        try:
            return [await (first if i % 2 else second).hit("user", quota) for i in range(14)]
        finally:
            await first.aclose()
            await second.aclose()

    decisions = asyncio.run(scenario())
    assert [d.allowed for d in decisions] == [True] * 10 + [False] * 4
    assert [d.remaining for d in decisions[:10]] == list(range(9, -1, -1))


def test_redis_store_reports_gcra_values(prefix: str) -> None:
    async def scenario() -> list[Decision]:
        store = RedisStore(REDIS_URL, prefix=prefix, timeout=1.0)
        try:
            burst = [await store.hit("hourly", HOURLY) for _ in range(16)]
            half = [await store.hit("half", Quota(0.5, 1.0)) for _ in range(2)]
            costly = [await store.hit("costly", Quota(10, 10.0), cost=4) for _ in range(3)]
            return burst + half + costly
        finally:
            await store.aclose()

    decisions = asyncio.run(scenario())
    assert decisions[0] == Decision(True, 14, 240.0, 0.0)  # first hit: exact, no time elapsed
    assert [d.remaining for d in decisions[:15]] == list(range(14, -1, -1))
    rejected = decisions[15]
    assert not rejected.allowed
    assert rejected.remaining == 0
    assert 239.0 < rejected.retry_after <= 240.0
    assert rejected.reset == rejected.retry_after
    assert all(239.0 < d.reset <= 240.0 for d in decisions[1:15])
    assert decisions[16] == Decision(True, 0, 2.0, 0.0)
    assert not decisions[17].allowed
    assert 1.0 < decisions[17].retry_after <= 2.0
    assert decisions[18] == Decision(True, 6, 1.0, 0.0)
    assert [d.allowed for d in decisions[19:]] == [True, False]
    assert decisions[20].remaining == 0
    assert 1.0 < decisions[20].retry_after <= 2.0


def test_redis_keys_expire_when_their_tat_passes_and_retry_after_is_honest(prefix: str) -> None:
    quota = Quota(2, 0.2)  # T = 100 ms, burst 2
    inspector = redis.Redis.from_url(REDIS_URL)

    async def scenario() -> tuple[list[Decision], int, Decision, bool]:
        store = RedisStore(REDIS_URL, prefix=prefix, timeout=1.0)
        try:
            decisions = [await store.hit("k", quota) for _ in range(3)]
            ttl_ms = int(inspector.pttl(prefix + "k"))
            await asyncio.sleep(decisions[2].retry_after + 0.02)
            after_wait = await store.hit("k", quota)
            await asyncio.sleep(0.25)  # past the TAT: the whole burst is back
            return decisions, ttl_ms, after_wait, bool(inspector.exists(prefix + "k"))
        finally:
            await store.aclose()

    try:
        decisions, ttl_ms, after_wait, still_there = asyncio.run(scenario())
    finally:
        inspector.close()
    assert [d.allowed for d in decisions] == [True, True, False]
    assert 0 < decisions[2].retry_after <= 0.1
    assert 0 < ttl_ms <= 200
    assert after_wait.allowed
    assert not still_there


def test_redis_store_accepts_a_client_it_does_not_close(prefix: str) -> None:
    async def scenario() -> tuple[Decision, bool]:
        client = redis.asyncio.Redis(host=REDIS_HOST, port=REDIS_PORT, decode_responses=True)
        try:
            store = RedisStore(client, prefix=prefix, timeout=1.0)
            decision = await store.hit("k", HOURLY)
            await store.aclose()
            return decision, bool(await client.ping())
        finally:
            await client.aclose()

    decision, still_usable = asyncio.run(scenario())
    assert decision == Decision(True, 14, 240.0, 0.0)
    assert still_usable


def test_redis_error_replies_become_store_unavailable(prefix: str) -> None:
    setup = redis.Redis.from_url(REDIS_URL)
    try:
        setup.hset(prefix + "k", "not", "a tat")
    finally:
        setup.close()

    async def scenario() -> None:
        store = RedisStore(REDIS_URL, prefix=prefix, timeout=1.0)
        try:
            await store.hit("k", HOURLY)
        finally:
            await store.aclose()

    with pytest.raises(StoreUnavailable, match=r"failed the rate-limit check.*WRONGTYPE"):
        asyncio.run(scenario())


async def _two_failures(store: RedisStore) -> list[str]:
    messages = []
    try:
        async with asyncio.timeout(5):
            for _ in range(2):
                with pytest.raises(StoreUnavailable) as caught:
                    await store.hit("k", HOURLY)
                messages.append(str(caught.value))
    finally:
        await store.aclose()
    return messages


def test_redis_store_on_a_closed_port_raises_store_unavailable() -> None:
    port = free_port()  # nothing listens there
    messages = asyncio.run(_two_failures(RedisStore(f"redis://127.0.0.1:{port}/0")))
    for message in messages:
        assert f"Redis at 127.0.0.1:{port} (db 0) could not be reached" in message


def test_redis_store_on_a_silent_server_gives_up_after_its_connect_timeout() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        store = RedisStore(f"redis://127.0.0.1:{port}/0", timeout=0.1, connect_timeout=0.1)
        messages = asyncio.run(_two_failures(store))
        elapsed = time.monotonic() - started
    for message in messages:
        assert f"Redis at 127.0.0.1:{port} (db 0) did not answer within 100 ms of connecting" in (
            message
        )
    # The second request did not wait again: the store failed fast during its back-off.
    assert "not asked again for 1 s" in messages[1]
    assert elapsed < 3.0


def test_redis_store_checks_arguments_before_calling_redis() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(ValueError, match="more than the quota's burst"):
            asyncio.run(store.hit("k", HOURLY, cost=20))
    finally:
        asyncio.run(store.aclose())
    with pytest.raises(ValueError, match="timeout must be a number of seconds above 0"):
        RedisStore(REDIS_URL, timeout=0)
    with pytest.raises(ValueError, match="connect_timeout must be a number of seconds"):
        RedisStore(REDIS_URL, connect_timeout=math.inf)
    with pytest.raises(ValueError, match="backoff must be a number of seconds above 0"):
        RedisStore(REDIS_URL, backoff=-1)
    with pytest.raises(ValueError, match="max_batch must be a whole number of at least 1"):
        RedisStore(REDIS_URL, max_batch=0)


# --- headers ---------------------------------------------------------------------------


def test_headers_when_allowed() -> None:
    headers = rate_limit_headers("hourly", HOURLY, Decision(True, 14, 240.0, 0.0))
    assert headers == [
        (b"ratelimit-policy", b'"hourly";q=15;w=3600'),
        (b"ratelimit", b'"hourly";r=14;t=240'),
    ]


def test_headers_when_rejected_round_up_and_t_is_retry_after() -> None:
    headers = rate_limit_headers("hourly", HOURLY, Decision(False, 0, 239.2, 239.2))
    assert headers == [
        (b"ratelimit-policy", b'"hourly";q=15;w=3600'),
        (b"ratelimit", b'"hourly";r=0;t=240'),
        (b"retry-after", b"240"),
    ]


def test_headers_for_an_hourly_burst_tell_the_client_when_it_may_send_again() -> None:
    """15/hour: the 15th request says r=0;t=240, the 16th is refused with t = Retry-After."""
    now, tat = 0.0, None
    answers = []
    for _ in range(16):
        decision, new_tat = gcra(tat, now, HOURLY)
        tat = new_tat if new_tat is not None else tat
        answers.append(dict(rate_limit_headers("POST /api/orders", HOURLY, decision)))
    assert answers[0][b"ratelimit"] == b'"POST /api/orders";r=14;t=240'
    assert answers[14][b"ratelimit"] == b'"POST /api/orders";r=0;t=240'
    assert b"retry-after" not in answers[14]
    assert answers[15] == {
        b"ratelimit-policy": b'"POST /api/orders";q=15;w=3600',
        b"ratelimit": b'"POST /api/orders";r=0;t=240',
        b"retry-after": b"240",
    }


@given(_traffic())
@settings(max_examples=150, deadline=None)
def test_t_equals_retry_after_on_every_refusal(
    traffic: tuple[Quota, float, list[tuple[float, int]]],
) -> None:
    quota, _, arrivals = traffic
    tat = None
    for now, cost in arrivals:
        decision, new_tat = gcra(tat, now, quota, cost)
        fields = dict(rate_limit_headers("p", quota, decision))
        t = int(fields[b"ratelimit"].rsplit(b";t=", 1)[1])
        assert t >= 1
        if decision.allowed:
            tat = new_tat
            assert b"retry-after" not in fields
        else:
            assert t == int(fields[b"retry-after"])


def test_headers_never_say_zero_seconds_and_ignore_rounding_noise() -> None:
    quota = Quota(0.5, 0.5)
    refused = rate_limit_headers("p", quota, Decision(False, 0, 0.0001, 0.0001))
    assert refused == [
        (b"ratelimit-policy", b'"p";q=1;w=1'),
        (b"ratelimit", b'"p";r=0;t=1'),
        (b"retry-after", b"1"),
    ]
    allowed = rate_limit_headers("p", HOURLY, Decision(True, 3, 240.0000000001, 0.0))
    assert allowed[1] == (b"ratelimit", b'"p";r=3;t=240')


def test_fractional_quota_advertises_the_window_it_really_refills_over() -> None:
    # 0.5/s is one request every two seconds: q=1 over w=2, not over the one second written.
    headers = rate_limit_headers("half", Quota(0.5, 1.0), Decision(True, 0, 2.0, 0.0))
    assert headers[0] == (b"ratelimit-policy", b'"half";q=1;w=2')


def test_policy_name_is_a_valid_structured_field_string() -> None:
    headers = rate_limit_headers('a"b\\c\n\tdé', HOURLY, Decision(True, 1, 1.0, 0.0))
    assert headers[0] == (b"ratelimit-policy", b'"a\\"b\\\\cd";q=15;w=3600')


def test_all_is_sorted_and_complete() -> None:
    assert _ratelimit.__all__ == sorted(_ratelimit.__all__)
    assert set(_ratelimit.__all__) == {
        "Decision",
        "MemoryStore",
        "Quota",
        "RedisStore",
        "StoreUnavailable",
        "gcra",
        "rate_limit_headers",
    }
