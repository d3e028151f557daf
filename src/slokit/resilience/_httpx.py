"""``ResilientTransport``: breaker, retry, timeout and bulkhead for every call an httpx client
makes, per host, configured once::

    client = httpx.AsyncClient(transport=ResilientTransport.for_async(bulkhead=20))

Each request, in order: the request's remaining deadline bounds its timeout (and a passed
deadline fails at once with DeadlineExceeded); the host's bulkhead admits it (or
BulkheadFullError); the host's breaker admits it (or CircuitOpenError); it is sent; a 5xx or a
transport error is a breaker failure. Retries: transport errors and ``retry_statuses`` (502,
503, 504 and 429 by default), with full-jitter backoff, ``Retry-After`` honoured, the retry
budget respected, and only for idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS, or any
method with an ``Idempotency-Key`` header) unless ``retry_non_idempotent=True``; a connection
that could not even be opened is retried for any method, since nothing was sent. The
response is returned as the server gave it: a last 503 is returned, not raised. Guard errors
(``CircuitOpenError`` ...) are raised as they are, never wrapped, so callers can fall back;
a breaker that opens between two attempts ends the retries that way too. The bulkhead slot is
held until the response body is closed (also for streamed responses); the breaker judges a
call by its status, when the headers arrive.

Outgoing requests also carry the current trace context, request id and deadline
(``traceparent``, ``x-request-id``, ``x-request-deadline``) when a slokit service serves them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from slokit.errors import DeadlineExceeded, UsageError
from slokit.resilience._breaker import CircuitBreaker
from slokit.resilience._bulkhead import Bulkhead
from slokit.resilience._clock import asleep, seconds, sleep
from slokit.resilience._deadline import current_deadline
from slokit.resilience._observed import DependencyStats, dependency_stats
from slokit.resilience._propagation import outgoing_headers
from slokit.resilience._retry import RetryBudget, backoff_delays, is_idempotent, parse_retry_after

__all__ = ["AsyncResilientTransport", "ResilientTransport"]

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors that prove the request never left: safe to retry for any method."""


@dataclass
class _Host:
    breaker: CircuitBreaker | None
    bulkhead: Bulkhead | None
    stats: DependencyStats

    # One attempt's bookkeeping, written once for both transports: admit() before sending
    # (a refusal is counted and raised), then failed() or answered() with its outcome.

    def admit(self) -> tuple[float, float]:
        """(the breaker's start mark, the attempt's start time)."""
        started = 0.0
        if self.breaker is not None:
            try:
                started = self.breaker.acquire()
            except BaseException:
                self.stats.rejected()
                raise
        return started, time.perf_counter()

    def failed(self, marks: tuple[float, float], exc: BaseException) -> None:
        self.stats.observe(time.perf_counter() - marks[1], "transport_error")
        if self.breaker is not None:
            self.breaker.on_error(marks[0], exc)

    def answered(self, marks: tuple[float, float], response: httpx.Response) -> None:
        self.stats.observe(time.perf_counter() - marks[1], _outcome(response))
        if self.breaker is not None:
            self.breaker.on_success(marks[0], response)


@dataclass
class _Policy:
    timeout: float | None
    attempts: int
    statuses: frozenset[int]
    initial: float
    maximum: float
    budget: RetryBudget | None
    retry_non_idempotent: bool
    max_retry_after: float
    propagate: bool
    breaker_options: dict[str, Any] | None
    bulkhead: int | None
    bulkhead_wait: float
    dependency: str | None = None
    edges: tuple[float, ...] = ()
    hosts: dict[str, _Host] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def host(self, url: httpx.URL) -> _Host:
        key = f"{url.scheme}://{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        found = self.hosts.get(key)
        if found is None:
            with self.lock:  # two threads' first calls to a host must build one _Host
                found = self.hosts.get(key)
                if found is None:
                    breaker = None
                    if self.breaker_options is not None:
                        options = {"failure_result": _server_error, **self.breaker_options}
                        breaker = CircuitBreaker(key, **options)
                    bulkhead = None
                    if self.bulkhead is not None:
                        bulkhead = Bulkhead(
                            key, max_concurrent=self.bulkhead, max_wait=self.bulkhead_wait
                        )
                    # Metrics by the spec's name for the dependency, else by its host.
                    stats = dependency_stats(self.dependency or url.host, self.edges)
                    found = self.hosts[key] = _Host(breaker, bulkhead, stats)
        return found

    def prepare(self, request: httpx.Request) -> float | None:
        """Headers to carry, and the timeout this request may use (None: the client's)."""
        if self.propagate:
            for name, value in outgoing_headers().items():
                if name not in request.headers:
                    request.headers[name] = value
        limit = self.timeout
        left = current_deadline()
        if left is not None:
            if left <= 0:
                raise DeadlineExceeded(
                    f"{request.method} {request.url}: the request's deadline passed "
                    f"{-left:.3g} s ago; not sent"
                )
            limit = left if limit is None else min(limit, left)
        if limit is not None:
            given = request.extensions.get("timeout", {}) if self.timeout is None else {}
            request.extensions["timeout"] = {
                k: limit if given.get(k) is None else min(limit, given[k])
                for k in ("connect", "read", "write", "pool")
            }
        return limit

    def next_delay(
        self, attempt: int, retryable: bool, delays: list[float], retry_after: str | None
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None: no more attempts. The
        budget is asked last, so a retry the deadline forbids does not spend it."""
        if not retryable or attempt + 1 >= self.attempts:
            return None
        delay = self.retry_delay(attempt, delays, retry_after)
        if delay < 0:
            return None
        if self.budget is not None and not self.budget.try_spend():
            return None
        return delay

    def may_retry(self, request: httpx.Request) -> bool:
        return self.retry_non_idempotent or is_idempotent(request.method, request.headers)

    def retry_delay(self, attempt: int, delays: list[float], retry_after: str | None) -> float:
        delay = delays[attempt] if attempt < len(delays) else self.maximum
        waited = parse_retry_after(retry_after)
        if waited is not None:
            delay = min(waited, self.max_retry_after)
        left = current_deadline()
        if left is not None and delay >= left:
            return -1.0  # the wait alone would miss the deadline: stop retrying
        return delay


class _Tries:
    """One request's attempts, written once for both transports: iterating yields the wait
    before each attempt (0 before the first); the transport sleeps, sends inside ``with
    tries:`` (a transport error it may retry is kept, any other propagates) and returns a
    response ``keep()`` accepts, else closes it and goes round again. The last error or the
    last response (a final 503 too) is the outcome; the budget is asked last, so a retry the
    deadline forbids does not spend it."""

    __slots__ = ("_attempt", "_delays", "_next", "_policy", "_request", "_retryable", "host")

    def __init__(self, policy: _Policy, request: httpx.Request) -> None:
        self._policy, self._request = policy, request
        self.host = policy.host(request.url)
        self._retryable = policy.may_retry(request)
        self._delays = list(
            backoff_delays(policy.attempts, initial=policy.initial, maximum=policy.maximum)
        )
        if policy.budget is not None:
            policy.budget.record_request()
        self._attempt = -1
        self._next: float | None = 0.0

    def __iter__(self) -> Iterator[float]:
        while (delay := self._next) is not None:
            self._next = None
            self._attempt += 1
            self._policy.prepare(self._request)
            yield delay

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> bool:
        if not isinstance(exc, httpx.TransportError):
            return False
        if self._next is not None:
            return True  # reading the body of a response keep() refused: retry as decided
        sent = not isinstance(exc, _NOT_SENT)
        self._plan(self._retryable or not sent, None)
        return self._next is not None  # None: no retry left, the error propagates

    def keep(self, response: httpx.Response) -> bool:
        """Whether ``response`` is the answer (else it is to be closed and the call retried)."""
        if response.status_code not in self._policy.statuses:
            return True
        self._plan(self._retryable, response.headers.get("retry-after"))
        return self._next is None

    def _plan(self, retryable: bool, retry_after: str | None) -> None:
        """Decide the next attempt's wait (None: no more), counting a retry when there is one."""
        self._next = self._policy.next_delay(self._attempt, retryable, self._delays, retry_after)
        if self._next is not None:
            self.host.stats.retried()


def _unreachable() -> httpx.Response:  # pragma: no cover - every try returns or raises
    raise AssertionError("the retry loop ended without a response or an error")


class _Releasing(httpx.SyncByteStream):
    """The response body, giving the bulkhead slot back once, when it is closed."""

    def __init__(self, inner: Any, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class _AsyncReleasing(httpx.AsyncByteStream):
    def __init__(self, inner: Any, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


def _server_error(response: object) -> bool:
    return isinstance(response, httpx.Response) and response.status_code >= 500


def _policy(
    *,
    timeout: float | None,
    attempts: int,
    retry_statuses: Collection[int],
    backoff: float,
    max_backoff: float,
    retry_budget: RetryBudget | None,
    retry_non_idempotent: bool,
    max_retry_after: float,
    propagate: bool,
    breaker: dict[str, Any] | bool,
    bulkhead: int | None,
    bulkhead_wait: float,
    dependency: str | None,
    buckets: Collection[float],
) -> _Policy:
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise UsageError(f"attempts must be a whole number >= 1, got {attempts!r}")
    if bulkhead is not None and (
        isinstance(bulkhead, bool) or not isinstance(bulkhead, int) or bulkhead < 1
    ):
        raise UsageError(f"bulkhead must be a number of concurrent calls >= 1, got {bulkhead!r}")
    options: dict[str, Any] | None
    if breaker is True:
        options = {}
    elif breaker is False:
        options = None
    elif isinstance(breaker, dict):
        options = dict(breaker)
        try:  # fail here, not at the first request to each host
            CircuitBreaker("options-check", **{**options, "registry": None})
        except TypeError as exc:
            raise UsageError(f"breaker options must be CircuitBreaker options: {exc}") from None
    else:
        raise UsageError("breaker must be True, False or a dict of CircuitBreaker options")
    return _Policy(
        timeout=None if timeout is None else seconds("timeout", timeout),
        attempts=attempts,
        statuses=frozenset(retry_statuses),
        initial=seconds("backoff", backoff),
        maximum=seconds("max_backoff", max_backoff),
        budget=retry_budget,
        retry_non_idempotent=retry_non_idempotent,
        max_retry_after=seconds("max_retry_after", max_retry_after),
        propagate=propagate,
        breaker_options=options,
        bulkhead=bulkhead,
        bulkhead_wait=seconds("bulkhead_wait", bulkhead_wait),
        dependency=_dependency_name(dependency),
        edges=tuple(seconds("buckets", b) for b in buckets),
    )


_DEFAULTS: dict[str, Any] = {
    "timeout": None,
    "attempts": 3,
    "retry_statuses": (429, 502, 503, 504),
    "backoff": 0.1,
    "max_backoff": 5.0,
    "retry_budget": None,
    "retry_non_idempotent": False,
    "max_retry_after": 30.0,
    "propagate": True,
    "breaker": True,
    "bulkhead": None,
    "bulkhead_wait": 0.0,
    "dependency": None,
    "buckets": (),
}


def _dependency_name(name: object) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"dependency must be the dependency's name (as in the spec), got {name!r}")
    return name.strip()


def _outcome(response: httpx.Response) -> str:
    return "error" if response.status_code >= 500 or response.status_code == 429 else "success"


def _policy_of(options: dict[str, Any]) -> _Policy:
    unknown = set(options) - set(_DEFAULTS)
    if unknown:
        raise UsageError(f"unknown options {sorted(unknown)}; known: {sorted(_DEFAULTS)}")
    return _policy(**{**_DEFAULTS, **options})


class ResilientTransport(httpx.BaseTransport):
    """For ``httpx.Client``. Options (all keyword-only): ``timeout`` (seconds per attempt,
    bounded by the request's deadline), ``attempts`` (3), ``retry_statuses``, ``backoff`` /
    ``max_backoff`` (full jitter), ``retry_budget`` (a shared :class:`RetryBudget`),
    ``retry_non_idempotent``, ``max_retry_after``, ``propagate`` (trace/deadline headers),
    ``breaker`` (True, False, or a dict of :class:`CircuitBreaker` options applied per host),
    ``bulkhead`` (max concurrent calls per host), ``bulkhead_wait``, ``dependency`` (the name
    its metrics carry, as in the spec's ``dependencies:``; default: the host) and ``buckets``
    (extra duration edges, such as the dependency SLO's latency)."""

    def __init__(self, transport: httpx.BaseTransport | None = None, **options: Any) -> None:
        self._inner = transport or httpx.HTTPTransport()
        self._policy = _policy_of(options)

    @classmethod
    def for_async(
        cls, transport: httpx.AsyncBaseTransport | None = None, **options: Any
    ) -> AsyncResilientTransport:
        return AsyncResilientTransport(transport, **options)

    def breaker(self, host_url: str) -> CircuitBreaker | None:
        return self._policy.host(httpx.URL(host_url)).breaker

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        tries = _Tries(self._policy, request)
        for delay in tries:
            if delay:
                sleep(delay)
            with tries:
                response = self._once(tries.host, request)
                if tries.keep(response):
                    return response
                response.read()
                response.close()
        return _unreachable()

    def _once(self, host: _Host, request: httpx.Request) -> httpx.Response:
        bulkhead = host.bulkhead
        if bulkhead is None:
            return self._guarded(host, request)
        try:
            bulkhead.__enter__()
        except BaseException:
            host.stats.rejected()
            raise
        try:
            response = self._guarded(host, request)
        except BaseException:
            bulkhead.__exit__(None, None, None)
            raise
        # The slot is held until the body has been read and closed, not just the headers.
        response.stream = _Releasing(response.stream, lambda: bulkhead.__exit__(None, None, None))
        return response

    def _guarded(self, host: _Host, request: httpx.Request) -> httpx.Response:
        marks = host.admit()
        try:
            response = self._inner.handle_request(request)
        except BaseException as exc:
            host.failed(marks, exc)
            raise
        host.answered(marks, response)
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncResilientTransport(httpx.AsyncBaseTransport):
    """For ``httpx.AsyncClient``; the same options as :class:`ResilientTransport`."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, **options: Any) -> None:
        self._inner = transport or httpx.AsyncHTTPTransport()
        self._policy = _policy_of(options)

    def breaker(self, host_url: str) -> CircuitBreaker | None:
        return self._policy.host(httpx.URL(host_url)).breaker

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        tries = _Tries(self._policy, request)
        for delay in tries:
            if delay:
                await asleep(delay)
            with tries:
                response = await self._once(tries.host, request)
                if tries.keep(response):
                    return response
                await response.aread()
                await response.aclose()
        return _unreachable()

    async def _once(self, host: _Host, request: httpx.Request) -> httpx.Response:
        bulkhead = host.bulkhead
        if bulkhead is None:
            return await self._guarded(host, request)
        try:
            await bulkhead.__aenter__()
        except BaseException:
            host.stats.rejected()
            raise
        try:
            response = await self._guarded(host, request)
        except BaseException:
            await bulkhead.__aexit__(None, None, None)
            raise
        response.stream = _AsyncReleasing(
            response.stream, lambda: bulkhead.__exit__(None, None, None)
        )
        return response

    async def _guarded(self, host: _Host, request: httpx.Request) -> httpx.Response:
        marks = host.admit()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            host.failed(marks, exc)
            raise
        host.answered(marks, response)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
