"""Precise rate limiting with GCRA, with its state in process memory or in Redis.

GCRA (the generic cell rate algorithm, "virtual scheduling") keeps one number per
key: the theoretical arrival time (TAT) of the next request. With a quota of
``count`` requests per ``window`` seconds:

- emission interval ``T = window / count``; burst ``= max(1, floor(count))``;
  tolerance ``tau = (burst - 1) * T``. So ``15/hour`` admits 15 requests at once,
  then one every 240 s, and a full quota is restored 3600 s after a burst.
- A request of ``cost`` arriving at ``now``: ``tat' = max(tat or now, now)``,
  ``new_tat = tat' + cost * T``; it is allowed iff ``new_tat - now <= tau + T``.
- Allowed: store ``new_tat``; ``remaining = floor((tau + T - (new_tat - now)) / T)``;
  ``retry_after = 0``; ``reset = (new_tat - now) - (tau + T) + (remaining + 1) * T``, the
  time until one more request is restored (so with ``remaining == 0``, until the next
  request is allowed).
- Rejected: nothing is stored; ``remaining = 0``;
  ``retry_after = reset = new_tat - (tau + T) - now``.

``reset`` is what the IETF ``RateLimit`` field calls ``t``: the client may send
``remaining`` requests now and must not expect more before ``reset`` seconds, and on a
rejection it is the same point in time as ``Retry-After``. (The time until the whole
burst is back, ``new_tat - now``, is not it: after a 15/hour burst that is 3600 s,
while the next request is allowed after 240 s.)

Comparisons allow ``_EPSILON`` (1 µs) of slack so that float rounding never turns
an exactly-on-time arrival into a rejection: 15 arrivals at one instant all pass
a 15/hour quota and the 16th fails. The price is that a request may be admitted
up to 1 µs early.

A key whose TAT has passed carries no state, so both stores forget it: the memory
store drops it, and Redis expires it (PEXPIRE at the TAT).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import heapq
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slokit.errors import SlokitError

if TYPE_CHECKING:
    import redis.asyncio

__all__ = [
    "Decision",
    "MemoryStore",
    "Quota",
    "RedisStore",
    "StoreUnavailable",
    "gcra",
    "rate_limit_headers",
]

_EPSILON = 1e-6
"""Seconds of slack in every comparison: absorbs float rounding, matches Redis's µs clock."""

_MICROS = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Quota:
    """``count`` requests per ``window`` seconds; ``count`` may be fractional (0.5/s)."""

    count: float
    window: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.count) and self.count > 0):
            raise ValueError(
                f"rate-limit quota count must be a finite number above 0, got {self.count!r}; "
                "write e.g. 15 for 15 requests per window"
            )
        if not (math.isfinite(self.window) and self.window > 0):
            raise ValueError(
                f"rate-limit quota window must be a finite number of seconds above 0, "
                f"got {self.window!r}; write e.g. 3600 for one hour"
            )

    @property
    def interval(self) -> float:
        """Emission interval T: seconds between requests at the sustained rate."""
        return self.window / self.count

    @property
    def burst(self) -> int:
        """Requests admitted at one instant by an idle key."""
        return max(1, math.floor(self.count))

    @property
    def tolerance(self) -> float:
        """GCRA tolerance tau: how far ahead of ``now`` the TAT may run before a request."""
        return (self.burst - 1) * self.interval


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request against a quota. Times are seconds from now."""

    allowed: bool
    remaining: int
    """Requests (of cost 1) still allowed right now, after this one."""
    reset: float
    """Seconds until the quota next grows for this client: when allowed, until one more
    request is restored; when rejected, until this request would be allowed."""
    retry_after: float
    """Seconds until this request would be allowed; 0.0 when it was."""


class StoreUnavailable(SlokitError):
    """The rate-limit store could not answer (Redis down, unreachable or too slow)."""


def gcra(
    tat: float | None, now: float, quota: Quota, cost: int = 1
) -> tuple[Decision, float | None]:
    """Decide one request by GCRA (see the module docstring for the exact rules).

    ``tat`` is the stored theoretical arrival time, ``None`` for an unseen key.
    Returns the decision and the TAT to store: ``None`` when the request is
    rejected, because a rejection changes nothing.
    """
    _check_cost(quota, cost)
    wait = 0.0 if tat is None else max(tat - now, 0.0)
    # Work with offsets from `now`: they stay small, so rounding stays small.
    ahead = wait + cost * quota.interval
    limit = quota.tolerance + quota.interval
    allowed = ahead <= limit + _EPSILON
    decision = _decision(allowed, wait, ahead, quota.interval, limit, _EPSILON, 1.0)
    return decision, (now + ahead if allowed else None)


def _check_cost(quota: Quota, cost: int) -> None:
    if isinstance(cost, bool) or not isinstance(cost, int) or cost < 1:
        raise ValueError(f"rate-limit cost must be a whole number of at least 1, got {cost!r}")
    if cost > quota.burst:
        raise ValueError(
            f"rate-limit cost {cost} is more than the quota's burst of {quota.burst} "
            f"({quota.count:g} per {quota.window:g} s), so the request could never be "
            "allowed; lower the cost or raise the quota's count"
        )


def _decision(
    allowed: bool,
    wait: float,
    ahead: float,
    interval: float,
    limit: float,
    epsilon: float,
    seconds_per_unit: float,
) -> Decision:
    """Build a decision from offsets in any time unit (seconds here, µs from Redis).

    ``wait`` is ``tat' - now``, ``ahead`` is ``new_tat - now``, ``limit`` is ``tau + T``.
    """
    if not allowed:
        retry_after = max(ahead - limit, 0.0) * seconds_per_unit
        return Decision(False, 0, retry_after, retry_after)
    remaining = max(math.floor((limit - ahead + epsilon) / interval), 0)
    # Positive by construction: `remaining` is the floor of (limit - ahead + epsilon) / T.
    next_unit = ahead - limit + (remaining + 1) * interval
    return Decision(True, remaining, next_unit * seconds_per_unit, 0.0)


class MemoryStore:
    """GCRA state in this process: for a single replica, or tests.

    Atomic per event loop because ``hit`` never awaits between reading and writing
    the TAT. Memory is bounded: keys whose TAT has passed are dropped, and past
    ``max_keys`` the key whose TAT comes soonest is evicted, which forgives the
    least debt and means rotating through fresh keys cannot flush the state of
    clients that are being limited.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys!r}")
        self._clock = clock
        self._max_keys = max_keys
        self._tats: dict[str, float] = {}
        # One (tat, key) entry per stored key. An entry may be older than the key's
        # real TAT (TATs only grow); it is refreshed when it reaches the top.
        self._expiry: list[tuple[float, str]] = []

    def __len__(self) -> int:
        """Keys currently holding state."""
        return len(self._tats)

    async def hit(self, key: str, quota: Quota, cost: int = 1) -> Decision:
        """Charge ``cost`` requests to ``key`` and say whether they are allowed."""
        now = self._clock()
        decision, new_tat = gcra(self._tats.get(key), now, quota, cost)
        if new_tat is not None:
            if key not in self._tats:
                heapq.heappush(self._expiry, (new_tat, key))
            self._tats[key] = new_tat
        self._drop_expired(now)
        self._evict_over_capacity()
        return decision

    async def aclose(self) -> None:
        """Nothing to release; here so both stores close the same way."""

    def _drop_expired(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] <= now:
            _, key = heapq.heappop(self._expiry)
            tat = self._tats[key]
            if tat <= now:
                del self._tats[key]
            else:
                heapq.heappush(self._expiry, (tat, key))

    def _evict_over_capacity(self) -> None:
        while len(self._tats) > self._max_keys:
            queued, key = heapq.heappop(self._expiry)
            tat = self._tats[key]
            if tat == queued:
                del self._tats[key]
            else:
                heapq.heappush(self._expiry, (tat, key))


# Atomic GCRA step in µs, on Redis's clock. Offsets from `now` keep rounding small.
# Numbers are formatted with 17 significant digits so they round-trip exactly, and
# the reply carries them as strings because Redis truncates Lua numbers to integers.
# Calling TIME before a write needs effects replication: Redis 5 or later.
_SCRIPT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local epsilon = tonumber(ARGV[4])
local wait = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  wait = math.max(tonumber(stored) - now, 0)
end
local ahead = wait + cost * interval
local allowed = 0
if ahead <= limit + epsilon then
  allowed = 1
  redis.call('SET', KEYS[1], string.format('%.17g', now + ahead),
             'PX', math.max(math.ceil(ahead / 1000), 1))
end
return {allowed, string.format('%.17g', wait), string.format('%.17g', ahead)}
"""


class _Hit:
    """One request waiting for the dispatcher: its key, the script's arguments, its answer."""

    __slots__ = ("args", "future", "key")

    def __init__(self, key: str, args: tuple[str, ...], future: asyncio.Future[Any]) -> None:
        self.key = key
        self.args = args
        self.future = future


class RedisStore:
    """GCRA state in Redis, shared by every replica that uses the same Redis and prefix.

    Each hit is one atomic script timed by Redis's own clock, so replicas never disagree
    about time. Hits are not sent one by one: a single dispatcher per store sends every
    hit waiting at that moment as one pipeline of ``EVALSHA`` calls on one connection,
    with one batch in flight at a time, so 256 concurrent requests cost a handful of round
    trips instead of 256 connections fighting for the event loop.

    ``timeout`` bounds the round trip of a batch (send to last reply), measured by the
    dispatcher, and never the time a request waits for its turn: a busy event loop is not
    a Redis outage. Connecting is bounded separately by ``connect_timeout``. After Redis
    is found unreachable or too slow, every hit fails at once for ``backoff`` seconds (so a
    dead Redis costs nothing per request), then the next hit probes it again. Any failure
    raises :class:`StoreUnavailable`, and the caller decides whether to fail open.

    A store belongs to the event loop that first used it.
    """

    def __init__(
        self,
        client_or_url: redis.asyncio.Redis | str,
        *,
        prefix: str = "slokit:rl:",
        timeout: float = 0.05,
        connect_timeout: float = 0.5,
        backoff: float = 1.0,
        max_batch: int = 512,
    ) -> None:
        for name, value in (
            ("timeout", timeout),
            ("connect_timeout", connect_timeout),
            ("backoff", backoff),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a number of seconds above 0, got {value!r}")
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a whole number of at least 1, got {max_batch!r}")
        self._timeouts, self._unreachable, self._failed = _redis_errors()
        from redis.exceptions import NoScriptError, ResponseError

        self._no_script: type[Exception] = NoScriptError
        self._response_error: type[Exception] = ResponseError
        if isinstance(client_or_url, str):
            self._client = _client_from_url(client_or_url)
            self._owns_client = True
        else:
            self._client = client_or_url
            self._owns_client = False
        self._prefix = prefix
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._backoff = backoff
        self._max_batch = max_batch
        self._sha = hashlib.sha1(_SCRIPT.encode("utf-8")).hexdigest()
        self._pending: collections.deque[_Hit] = collections.deque()
        self._dispatcher: asyncio.Task[None] | None = None
        self._connection: Any = None
        self._down_until = 0.0
        self._down: StoreUnavailable | None = None
        self._closed = False
        self.address = _address(self._client)
        """Where Redis is, for messages: ``host:port (db n)``, never the password."""

    async def hit(self, key: str, quota: Quota, cost: int = 1) -> Decision:
        """Charge ``cost`` requests to ``key``; raises :class:`StoreUnavailable` on failure."""
        _check_cost(quota, cost)
        interval = quota.interval * _MICROS
        limit = (quota.tolerance + quota.interval) * _MICROS
        args = (repr(interval), repr(limit), str(cost), repr(_EPSILON * _MICROS))
        self._raise_if_down()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Hit(self._prefix + key, args, future))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = loop.create_task(self._dispatch(), name="slokit-ratelimit-redis")
        reply = await future
        allowed, wait, ahead = _parse_reply(reply)
        return _decision(allowed, wait, ahead, interval, limit, _EPSILON * _MICROS, 1 / _MICROS)

    async def aclose(self) -> None:
        """Stop the dispatcher, return its connection, and close the client if this store
        created it from a URL; a given client is yours."""
        self._closed = True
        closed = StoreUnavailable(f"the rate-limit store for Redis at {self.address} is closed")
        dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None and not dispatcher.done():
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await dispatcher
        self._settle_pending(closed)
        await self._drop_connection()
        if self._owns_client:
            await self._client.aclose()

    # --- the dispatcher -----------------------------------------------------------------

    def _raise_if_down(self) -> None:
        if self._closed:
            raise StoreUnavailable(f"the rate-limit store for Redis at {self.address} is closed")
        if self._down is not None and time.monotonic() < self._down_until:
            raise self._down

    async def _dispatch(self) -> None:
        batch: list[_Hit] = []
        try:
            while self._pending:
                try:
                    self._raise_if_down()
                except StoreUnavailable as exc:
                    self._settle_pending(exc)
                    return
                batch = []
                while self._pending and len(batch) < self._max_batch:
                    hit = self._pending.popleft()
                    if not hit.future.done():  # its request gave up: nothing to charge
                        batch.append(hit)
                if not batch:
                    continue
                try:
                    replies = await self._send(batch)
                except StoreUnavailable as exc:
                    _settle(batch, exc)
                    continue
                for hit, reply in zip(batch, replies, strict=True):
                    _settle([hit], reply)
                batch = []
        finally:
            # Only a cancellation (the store closing, the loop ending) or a bug gets here with
            # hits left: answer them, so that no request waits forever.
            gone = StoreUnavailable(f"the rate-limit store for Redis at {self.address} stopped")
            _settle(batch, gone)
            self._settle_pending(gone)

    def _settle_pending(self, error: StoreUnavailable) -> None:
        while self._pending:
            _settle([self._pending.popleft()], error)

    async def _send(self, batch: list[_Hit]) -> list[Any]:
        """One pipeline for the whole batch; replies (or the exception for one hit) in order."""
        commands = [("EVALSHA", self._sha, 1, hit.key, *hit.args) for hit in batch]
        connection = await self._connect()
        try:
            replies = await self._exchange(connection, commands)
            missing = [i for i, reply in enumerate(replies) if isinstance(reply, self._no_script)]
            if missing:
                # Redis restarted or its script cache was flushed: load the script once and
                # run again only what failed (a NOSCRIPT reply changed nothing).
                loaded = await self._exchange(
                    connection, [("SCRIPT", "LOAD", _SCRIPT), *(commands[i] for i in missing)]
                )
                for i, reply in zip(missing, loaded[1:], strict=True):
                    replies[i] = reply
        except self._timeouts as exc:
            await self._drop_connection()
            raise self._went_down(
                f"Redis at {self.address} did not answer within {self._timeout * 1000:g} ms; "
                "check that it is up and not overloaded, or raise the store's timeout",
                exc,
            ) from exc
        except self._unreachable as exc:
            await self._drop_connection()
            raise self._unreachable_error(exc) from exc
        except self._failed as exc:  # a reply that makes no sense: not an outage
            await self._drop_connection()
            raise StoreUnavailable(
                f"Redis at {self.address} failed the rate-limit check ({_describe(exc)}); "
                "check the Redis logs and that this really is a Redis server"
            ) from exc
        except BaseException:
            await self._drop_connection()  # the replies of a cut-off batch are still on the wire
            raise
        return [self._per_hit(reply) for reply in replies]

    async def _exchange(self, connection: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
        async with _round_trip(self._timeout):
            await connection.send_packed_command(
                connection.pack_commands(commands), check_health=False
            )
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await connection.read_response())
                except self._response_error as exc:  # one command's error: the rest still came
                    replies.append(exc)
            return replies

    def _per_hit(self, reply: Any) -> Any:
        if isinstance(reply, self._no_script):
            return StoreUnavailable(
                f"Redis at {self.address} lost the rate-limit script again right after loading "
                f"it ({_describe(reply)}); check whether something runs SCRIPT FLUSH"
            )
        if isinstance(reply, self._failed):
            return StoreUnavailable(
                f"Redis at {self.address} failed the rate-limit check ({_describe(reply)}); "
                "check the Redis logs, and that nothing else writes to the rate-limit keys"
            )
        return reply

    async def _connect(self) -> Any:
        if self._connection is not None:
            return self._connection
        try:
            pool: Any = self._client.connection_pool  # its methods are untyped
            async with _round_trip(self._connect_timeout):
                self._connection = await pool.get_connection()
        except self._timeouts as exc:
            raise self._went_down(
                f"Redis at {self.address} did not answer within "
                f"{self._connect_timeout * 1000:g} ms of connecting; check that it is up and "
                "reachable from here, or raise the store's connect_timeout",
                exc,
            ) from exc
        except self._unreachable as exc:
            raise self._unreachable_error(exc) from exc
        return self._connection

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        # Best effort: the connection is already broken, or belongs to a loop that ended.
        with contextlib.suppress(Exception):
            await connection.disconnect(nowait=True)
        with contextlib.suppress(Exception):
            await self._client.connection_pool.release(connection)

    def _unreachable_error(self, exc: BaseException) -> StoreUnavailable:
        return self._went_down(
            f"Redis at {self.address} could not be reached ({_describe(exc)}); "
            "check that Redis is running and that this address is right",
            exc,
        )

    def _went_down(self, message: str, exc: BaseException) -> StoreUnavailable:
        """Remember an outage: hits fail at once until the back-off has passed."""
        self._down_until = time.monotonic() + self._backoff
        self._down = StoreUnavailable(f"{message} (not asked again for {self._backoff:g} s)")
        self._down.__cause__ = exc
        return StoreUnavailable(message)


def _settle(hits: list[_Hit], outcome: Any) -> None:
    for hit in hits:
        if hit.future.done():
            continue
        if isinstance(outcome, BaseException):
            hit.future.set_exception(outcome)
        else:
            hit.future.set_result(outcome)


_SETTLE_HOPS = 3
"""Loop iterations a deadline waits before it cancels: see :func:`_round_trip`."""


@contextlib.asynccontextmanager
async def _round_trip(seconds: float) -> AsyncIterator[None]:
    """Like ``asyncio.timeout(seconds)``, but never fooled by a busy event loop.

    When loop iterations run long (hundreds of requests starting at once), a reply that
    arrived in time sits unread until the loop polls its socket again, and by then the
    timer is due too; the timer may well run first, and a plain timeout cancels a round
    trip whose answer is already here. So the deadline, once passed, lets the loop go
    round a few more times before it cancels: a reply that was already there is read
    first. (With the stock asyncio loop two extra iterations were needed in a test with
    80 ms iterations; uvloop needed none; three leave a margin.) The deadline comes from
    ``time.monotonic()``, not the loop's clock, which uvloop caches per iteration.
    """
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + seconds
    handle: asyncio.Handle | None = None
    async with asyncio.timeout(None) as budget:

        def check(hops: int) -> None:
            nonlocal handle
            left = deadline - time.monotonic()
            if left > 0:
                handle = loop.call_later(left, check, hops)
            elif hops > 0:
                handle = loop.call_soon(check, hops - 1)
            else:
                handle = None
                budget.reschedule(-math.inf)

        handle = loop.call_later(seconds, check, _SETTLE_HOPS)
        try:
            yield
        finally:
            if handle is not None:
                handle.cancel()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


_Errors = tuple[type[Exception], ...]


def _redis_errors() -> tuple[_Errors, _Errors, _Errors]:
    """(too slow, could not connect, answered with an error); checks redis is installed."""
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import RedisError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError as exc:
        raise ImportError(
            "RedisStore needs the redis package; install it with: pip install 'slokit[redis]'"
        ) from exc
    # Order matters: the builtin TimeoutError is an OSError.
    return (TimeoutError, RedisTimeoutError), (RedisConnectionError, OSError), (RedisError,)


def _client_from_url(url: str) -> redis.asyncio.Redis:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # A rate limit sits on the request path: retrying a dead Redis only delays the
    # answer, so fail at once and let the caller decide.
    return Redis.from_url(url, retry=Retry(NoBackoff(), 0))


def _address(client: redis.asyncio.Redis) -> str:
    kwargs: dict[str, Any] = getattr(client.connection_pool, "connection_kwargs", {})
    db = kwargs.get("db", 0)
    if "path" in kwargs:
        return f"{kwargs['path']} (db {db})"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)} (db {db})"


def _parse_reply(reply: Any) -> tuple[bool, float, float]:
    allowed, wait, ahead = reply
    # float() takes both bytes and str, whatever the client's decode_responses.
    return int(allowed) == 1, float(wait), float(ahead)


def rate_limit_headers(policy: str, quota: Quota, decision: Decision) -> list[tuple[bytes, bytes]]:
    """Response headers per draft-ietf-httpapi-ratelimit-headers (draft-08 and later).

    ``RateLimit-Policy`` and ``RateLimit`` always; ``Retry-After`` only on rejection.
    ``t`` is the decision's ``reset``, in whole seconds rounded up and never 0: when the
    client may send again once ``r`` is used up, and on a rejection exactly ``Retry-After``,
    as the draft asks ("the reset parameter value SHOULD reference the same point in time
    as the Retry-After field value"). Names are lower-case bytes, as ASGI wants them.
    """
    name = _sf_string(policy)
    # The window the advertised quota really refills over: for 15/hour that is the hour,
    # for 0.5/s (one request per two seconds) it is two seconds, not the one the text says.
    window = max(1, _ceil_seconds(quota.burst * quota.interval))
    # Rounded up and at least 1: a client that waits `t` must find the quota there.
    reset = max(1, _ceil_seconds(decision.retry_after if not decision.allowed else decision.reset))
    headers = [
        (b"ratelimit-policy", f"{name};q={quota.burst};w={window}".encode("ascii")),
        (b"ratelimit", f"{name};r={decision.remaining};t={reset}".encode("ascii")),
    ]
    if not decision.allowed:
        headers.append((b"retry-after", str(reset).encode("ascii")))
    return headers


def _ceil_seconds(seconds: float) -> int:
    # Rounding noise (3600.0000000001) must not add a whole second.
    return max(0, math.ceil(seconds - _EPSILON))


def _sf_string(text: str) -> str:
    """``text`` as a structured-field string (RFC 8941): printable ASCII, quoted."""
    kept = (ch for ch in text if " " <= ch <= "~")
    escaped = "".join("\\" + ch if ch in '"\\' else ch for ch in kept)
    return f'"{escaped}"'
