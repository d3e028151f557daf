"""ResilientTransport / AsyncResilientTransport against real servers on 127.0.0.1.

Every behaviour is checked for both transports (``mode`` is "sync" or "async"; async runs
inside ``asyncio.run``). The fault server counts the requests it really saw, per ``key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from slokit.errors import BulkheadFullError, CircuitOpenError, DeadlineExceeded, UsageError
from slokit.resilience import (
    AsyncResilientTransport,
    BreakerRegistry,
    ResilientTransport,
    RetryBudget,
    State,
    _httpx,
    _propagation,
    add_header_source,
    deadline,
    default_registry,
    enter_deadline,
    exit_deadline,
    set_testing,
)
from tests._support import free_port
from tests.servers.fault_server import FaultServer

MODES = ["sync", "async"]
BREAKER = {"minimum_calls": 4, "window": 4, "failure_rate": 0.5, "open_for": 60}
HANG = 10.0  # an upper bound no correct test comes near: only a hang would cross it

Transport = ResilientTransport | AsyncResilientTransport
Outcome = httpx.Response | Exception

_keys = itertools.count()


def new_key() -> str:
    return f"k{next(_keys)}"


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_globals() -> Iterator[None]:
    """Test mode on; afterwards: test mode off, no new header sources, no breakers this test
    registered left in the default registry, no thread left running."""
    threads = set(threading.enumerate())
    sources = list(_propagation._SOURCES)
    names = {breaker.name for breaker in default_registry}
    set_testing(True)
    try:
        yield
    finally:
        set_testing(False)
        _propagation._SOURCES[:] = sources
        for breaker in list(default_registry):
            if breaker.name not in names:
                default_registry.remove(breaker.name)
    left = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
    assert not left, f"threads left running: {left}"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv


@pytest.fixture
def other_server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off delays the transports ask for (nothing sleeps)."""
    asked: list[float] = []

    def record(delay: float) -> None:
        asked.append(delay)

    async def arecord(delay: float) -> None:
        asked.append(delay)
        await asyncio.sleep(0)

    monkeypatch.setattr(_httpx, "sleep", record)
    monkeypatch.setattr(_httpx, "asleep", arecord)
    return asked


# -- helpers ----------------------------------------------------------------------------------


@dataclass
class Req:
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None


def exchange(
    mode: str,
    requests: Sequence[Req],
    *,
    client_timeout: float = 5.0,
    between: Callable[[int], None] | None = None,
    **options: Any,
) -> tuple[list[Outcome], Transport]:
    """Send ``requests`` one after the other through one client with a fresh transport;
    each outcome is the response (body read) or the exception raised. ``between(i)`` runs
    after request ``i``."""
    outcomes: list[Outcome] = []
    if mode == "sync":
        transport = ResilientTransport(**options)
        with httpx.Client(transport=transport, timeout=client_timeout) as client:
            for i, r in enumerate(requests):
                try:
                    outcomes.append(
                        client.request(r.method, r.url, headers=r.headers, content=r.content)
                    )
                except Exception as exc:
                    outcomes.append(exc)
                if between is not None:
                    between(i)
        return outcomes, transport

    async def main() -> AsyncResilientTransport:
        transport = AsyncResilientTransport(**options)
        async with httpx.AsyncClient(transport=transport, timeout=client_timeout) as client:
            for i, r in enumerate(requests):
                try:
                    outcomes.append(
                        await client.request(r.method, r.url, headers=r.headers, content=r.content)
                    )
                except Exception as exc:
                    outcomes.append(exc)
                if between is not None:
                    between(i)
        return transport

    return outcomes, asyncio.run(main())


def one(mode: str, request: Req | str, **options: Any) -> Outcome:
    outcomes, _ = exchange(mode, [Req(request) if isinstance(request, str) else request], **options)
    return outcomes[0]


def response(outcome: Outcome) -> httpx.Response:
    if isinstance(outcome, Exception):
        raise AssertionError(f"expected a response, got {outcome!r}") from outcome
    return outcome


def raised(outcome: Outcome, kind: type[Exception]) -> Exception:
    assert isinstance(outcome, kind), f"expected {kind.__name__}, got {outcome!r}"
    return outcome


def wait_until(predicate: Callable[[], bool], timeout: float = HANG) -> None:
    until = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < until, "condition not reached in time"
        time.sleep(0.005)


async def await_until(predicate: Callable[[], bool], timeout: float = HANG) -> None:
    until = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < until, "condition not reached in time"
        await asyncio.sleep(0.005)


# -- retries on statuses ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_idempotent_request_is_retried_and_last_response_returned(
    server: FaultServer, delays: list[float], mode: str, status: int
) -> None:
    key = new_key()
    got = response(one(mode, f"{server.url}/status/{status}?key={key}", attempts=3))
    assert got.status_code == status  # returned as the server gave it, not raised
    assert got.text == "ok"
    assert server.count(key) == 3
    assert len(delays) == 2


@pytest.mark.parametrize("mode", MODES)
def test_flaky_server_recovers_within_attempts(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    got = response(one(mode, f"{server.url}/flaky?fail=2&key={key}", attempts=3))
    assert got.status_code == 200
    assert got.text == "ok"
    assert server.count(key) == 3


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_attempts_counts_every_try(
    server: FaultServer, delays: list[float], mode: str, attempts: int
) -> None:
    key = new_key()
    got = response(one(mode, f"{server.url}/status/503?key={key}", attempts=attempts))
    assert got.status_code == 503
    assert server.count(key) == attempts


@pytest.mark.parametrize("mode", MODES)
def test_other_statuses_are_not_retried(server: FaultServer, mode: str) -> None:
    key = new_key()
    outcomes, _ = exchange(
        mode,
        [Req(f"{server.url}/status/500?key={key}"), Req(f"{server.url}/status/404?key={key}")],
    )
    assert [response(o).status_code for o in outcomes] == [500, 404]
    assert server.count(key) == 2


@pytest.mark.parametrize("mode", MODES)
def test_retry_statuses_option(server: FaultServer, delays: list[float], mode: str) -> None:
    key = new_key()
    outcomes, _ = exchange(
        mode,
        [Req(f"{server.url}/status/500?key={key}"), Req(f"{server.url}/status/503?key={key}")],
        retry_statuses=[500],
        attempts=2,
    )
    assert [response(o).status_code for o in outcomes] == [500, 503]
    assert server.count(key) == 3  # 500 twice, 503 once


@pytest.mark.parametrize("mode", MODES)
def test_backoff_delays_are_full_jitter_within_bounds(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    got = one(mode, f"{server.url}/status/503?key={key}", attempts=5, backoff=0.1, max_backoff=0.3)
    assert response(got).status_code == 503
    assert len(delays) == 4
    for n, delay in enumerate(delays):
        assert 0 <= delay <= min(0.3, 0.1 * 2**n)


@pytest.mark.parametrize("mode", MODES)
def test_head_put_delete_are_retried(server: FaultServer, delays: list[float], mode: str) -> None:
    key = new_key()
    url = f"{server.url}/status/503?key={key}"
    outcomes, _ = exchange(
        mode,
        [Req(url, "HEAD"), Req(url, "PUT", content=b"x"), Req(url, "DELETE")],
        attempts=2,
    )
    assert [response(o).status_code for o in outcomes] == [503, 503, 503]
    assert server.count(key) == 6


# -- idempotency ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_non_idempotent_request_is_not_retried(
    server: FaultServer, delays: list[float], mode: str, method: str
) -> None:
    key = new_key()
    got = one(mode, Req(f"{server.url}/status/503?key={key}", method, content=b"body"))
    assert response(got).status_code == 503
    assert server.count(key) == 1
    assert delays == []


@pytest.mark.parametrize("mode", MODES)
def test_post_with_idempotency_key_is_retried(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    request = Req(
        f"{server.url}/flaky?fail=2&key={key}",
        "POST",
        headers={"Idempotency-Key": "order-42"},
        content=b'{"order": 42}',
    )
    assert response(one(mode, request, attempts=3)).status_code == 200
    assert server.count(key) == 3


@pytest.mark.parametrize("mode", MODES)
def test_post_is_retried_with_retry_non_idempotent(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    request = Req(f"{server.url}/status/503?key={key}", "POST", content=b"body")
    got = one(mode, request, attempts=3, retry_non_idempotent=True)
    assert response(got).status_code == 503
    assert server.count(key) == 3


@pytest.mark.parametrize("mode", MODES)
def test_blank_idempotency_key_does_not_make_post_retryable(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    request = Req(f"{server.url}/status/503?key={key}", "POST", headers={"Idempotency-Key": ""})
    assert response(one(mode, request)).status_code == 503
    assert server.count(key) == 1


# -- transport errors -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_refused_connection_is_retried_for_any_method_and_raised_unwrapped(
    delays: list[float], mode: str, method: str
) -> None:
    url = f"http://127.0.0.1:{free_port()}/nothing-listens"
    outcomes, transport = exchange(mode, [Req(url, method, content=b"x")], attempts=3)
    error = raised(outcomes[0], httpx.ConnectError)
    assert type(error) is httpx.ConnectError  # httpx's own error, not a slokit wrapper
    assert len(delays) == 2  # two retries: nothing was sent, so POST may be retried too
    breaker = transport.breaker(url)
    assert breaker is not None
    assert breaker.statistics().failed == 3


@pytest.mark.parametrize("mode", MODES)
def test_dropped_connection_is_retried_for_get_only(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    get_key, post_key = new_key(), new_key()
    outcomes, _ = exchange(
        mode,
        [
            Req(f"{server.url}/drop?key={get_key}"),
            Req(f"{server.url}/drop?key={post_key}", "POST", content=b"x"),
        ],
        attempts=3,
    )
    raised(outcomes[0], httpx.RemoteProtocolError)
    raised(outcomes[1], httpx.RemoteProtocolError)
    assert server.count(get_key) == 3
    assert server.count(post_key) == 1  # it may have been processed: not sent again


# -- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_is_honoured(server: FaultServer, delays: list[float], mode: str) -> None:
    key = new_key()
    got = one(mode, f"{server.url}/retry-after?secs=1&key={key}", backoff=0.01, max_backoff=0.01)
    assert response(got).status_code == 200
    assert server.count(key) == 2
    assert delays == [pytest.approx(1.0)]


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_is_capped_by_max_retry_after(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    got = one(mode, f"{server.url}/retry-after?secs=120&key={key}", max_retry_after=2.5)
    assert response(got).status_code == 200
    assert delays == [pytest.approx(2.5)]


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_beyond_the_deadline_returns_the_response_at_once(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    with deadline(5):
        got = one(mode, f"{server.url}/retry-after?secs=30&key={key}")
    assert response(got).status_code == 503
    assert response(got).headers["retry-after"] == "30"
    assert server.count(key) == 1
    assert delays == []


@pytest.mark.parametrize("mode", MODES)
def test_a_retry_the_deadline_forbids_does_not_spend_the_budget(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    budget = RetryBudget(ratio=0.0, min_retries_per_second=1, window=10)
    with deadline(5):
        one(mode, f"{server.url}/retry-after?secs=30&key={new_key()}", retry_budget=budget)
    assert budget.statistics().retries == 0


# -- circuit breaker --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_breaker_opens_per_host_and_stops_requests_reaching_the_server(
    server: FaultServer, other_server: FaultServer, mode: str
) -> None:
    key, other = new_key(), new_key()
    failing = Req(f"{server.url}/status/500?key={key}")
    seen: list[int] = []
    outcomes, transport = exchange(
        mode,
        [*[failing] * 6, Req(f"{other_server.url}/ok?key={other}")],
        between=lambda _: seen.append(server.count(key)),
        breaker=BREAKER,
        attempts=1,
    )
    assert [response(o).status_code for o in outcomes[:4]] == [500] * 4
    for outcome in outcomes[4:6]:
        error = raised(outcome, CircuitOpenError)
        assert isinstance(error, CircuitOpenError)
        assert 0 < error.retry_after <= 60
    assert seen[:6] == [1, 2, 3, 4, 4, 4]  # the counter stops growing once it is open
    assert response(outcomes[6]).status_code == 200  # another host has its own breaker
    assert other_server.count(other) == 1

    breaker = transport.breaker(server.url)
    assert breaker is not None
    assert breaker is transport.breaker(server.url + "/any/path?x=1")
    assert breaker.state is State.OPEN
    assert breaker.statistics().not_permitted == 2
    other_breaker = transport.breaker(other_server.url)
    assert other_breaker is not None
    assert other_breaker is not breaker
    assert other_breaker.state is State.CLOSED


@pytest.mark.parametrize("mode", MODES)
def test_retried_statuses_count_as_breaker_failures(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    outcomes, transport = exchange(
        mode, [Req(f"{server.url}/status/503?key={key}")], breaker=BREAKER, attempts=3
    )
    assert response(outcomes[0]).status_code == 503
    breaker = transport.breaker(server.url)
    assert breaker is not None
    stats = breaker.statistics()
    assert (stats.failed, stats.successful, stats.state) == (3, 0, State.CLOSED)


@pytest.mark.parametrize("mode", MODES)
def test_success_and_client_errors_are_breaker_successes(server: FaultServer, mode: str) -> None:
    outcomes, transport = exchange(
        mode, [Req(f"{server.url}/ok"), Req(f"{server.url}/status/404")], breaker=BREAKER
    )
    assert [response(o).status_code for o in outcomes] == [200, 404]
    breaker = transport.breaker(server.url)
    assert breaker is not None
    assert (breaker.statistics().successful, breaker.statistics().failed) == (2, 0)


def test_breaker_false_means_no_breaker(server: FaultServer) -> None:
    transport = ResilientTransport(breaker=False)
    try:
        assert transport.breaker(server.url) is None
    finally:
        transport.close()


# -- timeouts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_timeout_per_attempt_raises_read_timeout_and_counts_as_failures(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    started = time.monotonic()
    outcomes, transport = exchange(
        mode, [Req(f"{server.url}/slow?ms=500&key={key}")], timeout=0.1, attempts=3
    )
    assert time.monotonic() - started < HANG
    raised(outcomes[0], httpx.ReadTimeout)
    assert server.count(key) == 3
    breaker = transport.breaker(server.url)
    assert breaker is not None
    assert breaker.statistics().failed == 3


@pytest.mark.parametrize("mode", MODES)
def test_timeout_option_overrides_a_longer_client_timeout(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    outcomes, _ = exchange(
        mode,
        [Req(f"{server.url}/slow?ms=1000&key={key}")],
        client_timeout=HANG,
        timeout=0.1,
        attempts=1,
    )
    raised(outcomes[0], httpx.ReadTimeout)


# -- deadlines --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("timeout", [None, 5.0])
def test_deadline_bounds_the_timeout(
    server: FaultServer, delays: list[float], mode: str, timeout: float | None
) -> None:
    key = new_key()
    started = time.monotonic()
    with deadline(0.2):
        got = one(mode, f"{server.url}/slow?ms=2000&key={key}", timeout=timeout)
    assert time.monotonic() - started < HANG
    raised(got, httpx.ReadTimeout)
    assert server.count(key) == 1  # no time left for a retry


@pytest.mark.parametrize("mode", MODES)
def test_deadline_does_not_loosen_a_shorter_client_timeout(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    """A deadline only *bounds* the timeout: far away, the client's own 0.1 s still holds."""
    key = new_key()
    with deadline(30):
        got = one(mode, f"{server.url}/slow?ms=1500&key={key}", client_timeout=0.1, attempts=1)
    raised(got, httpx.ReadTimeout)


@pytest.mark.parametrize("mode", MODES)
def test_passed_deadline_raises_before_sending(server: FaultServer, mode: str) -> None:
    key = new_key()
    token = enter_deadline(-1)
    try:
        outcomes, transport = exchange(mode, [Req(f"{server.url}/ok?key={key}")])
    finally:
        exit_deadline(token)
    error = raised(outcomes[0], DeadlineExceeded)
    assert "not sent" in str(error)
    assert server.count(key) == 0
    breaker = transport.breaker(server.url)
    assert breaker is not None
    assert breaker.statistics().calls == 0


# -- propagation ------------------------------------------------------------------------------


@pytest.fixture
def traceparent() -> Iterator[str]:
    value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    def source() -> dict[str, str]:
        return {"traceparent": value}

    add_header_source(source)
    try:
        yield value
    finally:
        if source in _propagation._SOURCES:
            _propagation._SOURCES.remove(source)


def echoed(outcome: Outcome) -> dict[str, str]:
    got = response(outcome)
    assert got.status_code == 200
    headers: dict[str, str] = got.json()
    return headers


@pytest.mark.parametrize("mode", MODES)
def test_deadline_header_is_sent_within_a_deadline(server: FaultServer, mode: str) -> None:
    before = time.time()
    with deadline(5):
        headers = echoed(one(mode, f"{server.url}/echo-headers"))
    assert before + 4 <= float(headers["x-request-deadline"]) <= time.time() + 5.01
    assert "x-request-deadline" not in echoed(one(mode, f"{server.url}/echo-headers"))


@pytest.mark.parametrize("mode", MODES)
def test_header_sources_are_sent(server: FaultServer, traceparent: str, mode: str) -> None:
    assert echoed(one(mode, f"{server.url}/echo-headers"))["traceparent"] == traceparent


@pytest.mark.parametrize("mode", MODES)
def test_caller_headers_are_not_overwritten(
    server: FaultServer, traceparent: str, mode: str
) -> None:
    mine = {"traceparent": "00-mine-01", "X-Request-Deadline": "1.5"}
    with deadline(5):
        headers = echoed(one(mode, Req(f"{server.url}/echo-headers", headers=mine)))
    assert headers["traceparent"] == "00-mine-01"
    assert headers["x-request-deadline"] == "1.5"


@pytest.mark.parametrize("mode", MODES)
def test_propagate_false_sends_nothing(server: FaultServer, traceparent: str, mode: str) -> None:
    with deadline(5):
        headers = echoed(one(mode, f"{server.url}/echo-headers", propagate=False))
    assert "traceparent" not in headers
    assert "x-request-deadline" not in headers


# -- bulkhead ---------------------------------------------------------------------------------


def test_bulkhead_async_admits_max_concurrent_and_rejects_the_rest(server: FaultServer) -> None:
    key = new_key()

    async def main() -> list[httpx.Response | BaseException]:
        transport = AsyncResilientTransport(bulkhead=2, bulkhead_wait=0)
        async with httpx.AsyncClient(transport=transport, timeout=HANG) as client:
            tasks = [
                asyncio.create_task(client.get(f"{server.url}/hold?key={key}")) for _ in range(5)
            ]
            try:
                await await_until(
                    lambda: sum(t.done() for t in tasks) == 3 and server.count(key) == 2
                )
            finally:
                server.release(key)
            return await asyncio.gather(*tasks, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert (
        sorted(type(o).__name__ for o in outcomes) == ["BulkheadFullError"] * 3 + ["Response"] * 2
    )
    assert all(o.status_code == 200 for o in outcomes if isinstance(o, httpx.Response))
    assert server.count(key) == 2  # the rejected ones never reached the server


def test_bulkhead_threads_admits_max_concurrent_and_rejects_the_rest(server: FaultServer) -> None:
    key = new_key()
    transport = ResilientTransport(bulkhead=2, bulkhead_wait=0)
    # Create the host's bulkhead before the threads race for it (see the race test below).
    transport.breaker(server.url)
    outcomes: list[Outcome | None] = [None] * 5
    with httpx.Client(transport=transport, timeout=HANG) as client:

        def get(i: int) -> None:
            try:
                outcomes[i] = client.get(f"{server.url}/hold?key={key}")
            except Exception as exc:
                outcomes[i] = exc

        threads = [threading.Thread(target=get, args=(i,)) for i in range(5)]
        for thread in threads:
            thread.start()
        try:
            wait_until(
                lambda: (
                    sum(isinstance(o, BulkheadFullError) for o in outcomes) == 3
                    and server.count(key) == 2
                )
            )
        finally:
            server.release(key)
            for thread in threads:
                thread.join(HANG)
    assert (
        sorted(type(o).__name__ for o in outcomes) == ["BulkheadFullError"] * 3 + ["Response"] * 2
    )
    assert server.count(key) == 2


def test_bulkhead_of_a_new_host_is_one_even_when_threads_arrive_together(
    server: FaultServer,
) -> None:
    """Two threads making the first calls to a host at the same moment must share one
    bulkhead (and one breaker). The registry below holds each breaker's creation until
    both threads are inside it, the interleaving a thread switch can produce anyway."""
    both_inside = threading.Barrier(2)

    class SlowRegistry(BreakerRegistry):
        def add(self, breaker: Any) -> None:
            # Broken barrier: only one thread got here, the host is created once, as it should.
            with contextlib.suppress(threading.BrokenBarrierError):
                both_inside.wait(timeout=1.0)
            super().add(breaker)

    key = new_key()
    transport = ResilientTransport(
        bulkhead=1, bulkhead_wait=0, breaker={"registry": SlowRegistry()}
    )
    outcomes: list[Outcome | None] = [None] * 2
    with httpx.Client(transport=transport, timeout=HANG) as client:

        def get(i: int) -> None:
            try:
                outcomes[i] = client.get(f"{server.url}/hold?key={key}")
            except Exception as exc:
                outcomes[i] = exc

        threads = [threading.Thread(target=get, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        try:
            wait_until(
                lambda: server.count(key) + sum(isinstance(o, Exception) for o in outcomes) == 2
            )
        finally:
            server.release(key)
            for thread in threads:
                thread.join(HANG)
    assert sorted(type(o).__name__ for o in outcomes) == ["BulkheadFullError", "Response"]
    assert server.count(key) == 1


@pytest.mark.parametrize("mode", MODES)
def test_bulkhead_slot_is_freed_after_each_request(server: FaultServer, mode: str) -> None:
    key = new_key()
    outcomes, _ = exchange(mode, [Req(f"{server.url}/ok?key={key}")] * 3, bulkhead=1)
    assert [response(o).status_code for o in outcomes] == [200] * 3
    assert server.count(key) == 3


def test_bulkhead_slot_is_held_until_a_streamed_body_is_closed(server: FaultServer) -> None:
    with httpx.Client(transport=ResilientTransport(bulkhead=1, attempts=1)) as client:
        with client.stream("GET", f"{server.url}/ok?key={new_key()}") as streamed:
            assert streamed.status_code == 200
            # The body is still open: the only slot is taken.
            with pytest.raises(BulkheadFullError):
                client.get(f"{server.url}/ok?key={new_key()}")
        assert client.get(f"{server.url}/ok?key={new_key()}").status_code == 200


def test_async_bulkhead_slot_is_held_until_a_streamed_body_is_closed(server: FaultServer) -> None:
    async def main() -> None:
        transport = AsyncResilientTransport(bulkhead=1, attempts=1)
        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", f"{server.url}/ok?key={new_key()}") as streamed:
                assert streamed.status_code == 200
                with pytest.raises(BulkheadFullError):
                    await client.get(f"{server.url}/ok?key={new_key()}")
            assert (await client.get(f"{server.url}/ok?key={new_key()}")).status_code == 200

    asyncio.run(main())


# -- retry budget -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_empty_retry_budget_allows_no_retry(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    refused = f"http://127.0.0.1:{free_port()}/"
    outcomes, _ = exchange(
        mode,
        [Req(f"{server.url}/status/503?key={key}"), Req(refused)],
        retry_budget=RetryBudget(ratio=0.0, min_retries_per_second=0),
        attempts=3,
    )
    assert response(outcomes[0]).status_code == 503
    raised(outcomes[1], httpx.ConnectError)
    assert server.count(key) == 1
    assert delays == []


@pytest.mark.parametrize("mode", MODES)
def test_retry_budget_is_shared_across_requests(
    server: FaultServer, delays: list[float], mode: str
) -> None:
    key = new_key()
    budget = RetryBudget(ratio=0.0, min_retries_per_second=0.1, window=10)  # one retry
    outcomes, _ = exchange(
        mode, [Req(f"{server.url}/status/503?key={key}")] * 2, retry_budget=budget, attempts=3
    )
    assert [response(o).status_code for o in outcomes] == [503, 503]
    assert server.count(key) == 3  # 2 tries, then 1
    assert budget.statistics().retries == 1


# -- options ----------------------------------------------------------------------------------

TRANSPORTS = [ResilientTransport, AsyncResilientTransport]


@pytest.mark.parametrize("cls", TRANSPORTS)
def test_unknown_option_names_the_known_ones(cls: type[Transport]) -> None:
    with pytest.raises(UsageError) as info:
        cls(retries=3)
    message = str(info.value)
    assert "retries" in message
    for known in ("attempts", "bulkhead", "breaker", "timeout", "retry_budget"):
        assert known in message


@pytest.mark.parametrize("cls", TRANSPORTS)
@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("attempts", 0, "attempts"),
        ("attempts", -1, "attempts"),
        ("attempts", True, "attempts"),
        ("attempts", 2.0, "attempts"),
        ("bulkhead", 0, "bulkhead"),
        ("bulkhead", True, "bulkhead"),
        ("bulkhead", 1.5, "bulkhead"),
        ("timeout", -1, "timeout"),
        ("backoff", -0.1, "backoff"),
        ("bulkhead_wait", "1", "bulkhead_wait"),
        ("breaker", "yes", "breaker"),
        # CircuitBreaker options are checked when the transport is made, not at the first
        # request to each host (where a bad one would fail every request, as a TypeError).
        ("breaker", {"minimum_calls": 0}, "minimum_calls"),
        ("breaker", {"no_such_option": 1}, "no_such_option"),
    ],
)
def test_invalid_options_raise_usage_error_at_construction(
    cls: type[Transport], option: str, value: object, named: str
) -> None:
    options: dict[str, Any] = {option: value}
    with pytest.raises(UsageError, match=named):
        cls(**options)


def test_for_async_builds_an_async_transport() -> None:
    transport = ResilientTransport.for_async(bulkhead=3)
    assert isinstance(transport, AsyncResilientTransport)
    asyncio.run(transport.aclose())


@pytest.mark.parametrize("mode", MODES)
def test_given_inner_transport_is_used_and_closed(server: FaultServer, mode: str) -> None:
    if mode == "sync":
        inner = httpx.HTTPTransport()
        transport = ResilientTransport(inner)
        with httpx.Client(transport=transport) as client:
            assert client.get(f"{server.url}/ok").status_code == 200
        assert inner._pool.connections == []
        return

    async def main() -> None:
        inner = httpx.AsyncHTTPTransport()
        transport = AsyncResilientTransport(inner)
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get(f"{server.url}/ok")).status_code == 200
        assert inner._pool.connections == []

    asyncio.run(main())
