"""Circuit state shared through the machine's real Redis, by real processes."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import socket
import time
import uuid
from typing import Any

import pytest

from slokit.errors import CircuitOpenError
from slokit.resilience import CircuitBreaker, SharedBreakers, State
from tests._support import free_port

REDIS = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def redis_up() -> None:
    if not _redis_up() and not os.environ.get("CI"):
        pytest.skip("Redis not running on 127.0.0.1:6379")


def breaker(name: str) -> CircuitBreaker:
    return CircuitBreaker(
        name, window=10, minimum_calls=5, failure_rate=0.5, open_for=30, registry=None
    )


def _fail() -> None:
    raise ConnectionError("dependency down")


def worker(name: str, prefix: str, role: str, results: Any, go: Any) -> None:
    """One process: 'breaker' fails until its breaker opens; 'watcher' keeps calling and
    reports when its own breaker refused, having never seen a failure itself."""
    shared = SharedBreakers(REDIS, interval=0.05, prefix=prefix)
    cb = breaker(name)
    shared.add(cb)
    go.wait(10)
    try:
        if role == "breaker":
            for _ in range(5):
                with contextlib.suppress(ConnectionError):
                    cb.call(_fail)
            results.put(("breaker", cb.state.value))
            return
        limit = time.monotonic() + 10
        calls = 0
        while time.monotonic() < limit:
            try:
                cb.call(lambda: None)
                calls += 1
            except CircuitOpenError as exc:
                results.put(("watcher", calls, round(exc.retry_after)))
                return
            time.sleep(0.01)
        results.put(("watcher", calls, None))
    finally:
        shared.close()


def test_one_process_opening_opens_every_process() -> None:
    ctx = mp.get_context("spawn")
    results: Any = ctx.Queue()
    go = ctx.Event()
    name, prefix = f"shared-{uuid.uuid4().hex[:8]}", f"slokit-test:{uuid.uuid4().hex}:"
    roles = ["breaker", "watcher", "watcher", "watcher"]
    procs = [ctx.Process(target=worker, args=(name, prefix, r, results, go)) for r in roles]
    for p in procs:
        p.start()
    try:
        time.sleep(1.0)  # every process attached to Redis
        go.set()
        got = [results.get(timeout=20) for _ in roles]
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert ("breaker", "open") in got
    watchers = [g for g in got if g[0] == "watcher"]
    assert len(watchers) == 3
    # Each watcher only ever succeeded, yet its breaker refused: the state came from Redis,
    # with about the 30 s the opening process decided on.
    for _, _calls, retry_after in watchers:
        assert retry_after is not None
        assert 25 <= retry_after <= 30


def test_a_trial_that_closes_the_breaker_clears_the_shared_state() -> None:
    import redis

    name, prefix = f"close-{uuid.uuid4().hex[:8]}", f"slokit-test:{uuid.uuid4().hex}:"
    now = [100.0]
    cb = CircuitBreaker(
        name, window=4, minimum_calls=2, open_for=5, half_open_calls=1, clock=lambda: now[0],
        registry=None,
    )  # fmt: skip
    shared = SharedBreakers(REDIS, interval=60, prefix=prefix)
    shared.add(cb)
    client = redis.Redis.from_url(REDIS)
    try:
        for _ in range(2):
            with pytest.raises(ConnectionError):
                cb.call(_fail)
        assert cb.state is State.OPEN
        limit = time.monotonic() + 5
        while client.get(prefix + name) is None:
            assert time.monotonic() < limit, "the opening never reached Redis"
            time.sleep(0.02)
        now[0] += 6  # half-open; the trial succeeds and closes it
        cb.call(lambda: None)
        assert cb.state is State.CLOSED
        while client.get(prefix + name) is not None:
            assert time.monotonic() < limit, "closing did not clear the shared state"
            time.sleep(0.02)
    finally:
        shared.close()
        client.delete(prefix + name)
        client.close()


def test_redis_down_keeps_local_state_and_counts_errors() -> None:
    shared = SharedBreakers(f"redis://127.0.0.1:{free_port()}/0", interval=0.05, timeout=0.1)
    cb = breaker(f"down-{uuid.uuid4().hex[:8]}")
    shared.add(cb)
    try:
        for _ in range(5):
            with pytest.raises(ConnectionError):
                cb.call(_fail)
        assert cb.state is State.OPEN  # decided locally
        limit = time.monotonic() + 5
        while not shared.errors().get(cb.name):
            assert time.monotonic() < limit, "errors reaching Redis were not counted"
            time.sleep(0.05)
    finally:
        shared.close()


def test_metrics_show_state_outcomes_and_openings() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from slokit.resilience import BreakerRegistry, install_metrics

    breakers = BreakerRegistry()
    cb = CircuitBreaker("metered", window=4, minimum_calls=2, open_for=60, registry=breakers)
    registry = CollectorRegistry()
    install_metrics(registry, breakers)
    install_metrics(registry, breakers)  # idempotent
    for _ in range(2):
        with pytest.raises(ConnectionError):
            cb.call(_fail)
    with pytest.raises(CircuitOpenError):
        cb.call(lambda: None)
    text = generate_latest(registry).decode()
    assert 'slokit_circuit_breaker_calls_total{breaker="metered",outcome="successful"} 0.0' in text
    assert 'slokit_circuit_breaker_state{breaker="metered",state="open"} 1.0' in text
    assert 'slokit_circuit_breaker_state{breaker="metered",state="closed"} 0.0' in text
    assert 'slokit_circuit_breaker_calls_total{breaker="metered",outcome="failed"} 2.0' in text
    assert (
        'slokit_circuit_breaker_calls_total{breaker="metered",outcome="not_permitted"} 1.0' in text
    )
    assert 'slokit_circuit_breaker_opened_total{breaker="metered"} 1.0' in text
