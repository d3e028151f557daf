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
  ``reset = new_tat - now``; ``retry_after = 0``.
- Rejected: nothing is stored; ``remaining = 0``; ``reset = tat' - now``;
  ``retry_after = new_tat - (tau + T) - now``.

Comparisons allow ``_EPSILON`` (1 µs) of slack so that float rounding never turns
an exactly-on-time arrival into a rejection: 15 arrivals at one instant all pass
a 15/hour quota and the 16th fails. The price is that a request may be admitted
up to 1 µs early.

A key whose TAT has passed carries no state, so both stores forget it: the memory
store drops it, and Redis expires it (PEXPIRE at the TAT).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import Callable
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
    """Seconds until the quota is fully restored."""
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
        return Decision(False, 0, wait * seconds_per_unit, retry_after)
    remaining = max(math.floor((limit - ahead + epsilon) / interval), 0)
    return Decision(True, remaining, ahead * seconds_per_unit, 0.0)


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


class RedisStore:
    """GCRA state in Redis, shared by every replica that uses the same Redis and prefix.

    Each hit is one atomic script timed by Redis's own clock, so replicas never
    disagree about time. Every call is bounded by ``timeout`` seconds, connecting
    included, so the timeout must cover a connection set-up (TLS to a remote Redis may
    need more than the default). Any failure raises :class:`StoreUnavailable`, and the
    caller decides whether to fail open.
    """

    def __init__(
        self,
        client_or_url: redis.asyncio.Redis | str,
        *,
        prefix: str = "slokit:rl:",
        timeout: float = 0.05,
    ) -> None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a number of seconds above 0, got {timeout!r}")
        self._timeouts, self._unreachable, self._failed = _redis_errors()
        if isinstance(client_or_url, str):
            self._client = _client_from_url(client_or_url)
            self._owns_client = True
        else:
            self._client = client_or_url
            self._owns_client = False
        self._prefix = prefix
        self._timeout = timeout
        self._script = self._client.register_script(_SCRIPT)
        self.address = _address(self._client)
        """Where Redis is, for messages: ``host:port (db n)``, never the password."""

    async def hit(self, key: str, quota: Quota, cost: int = 1) -> Decision:
        """Charge ``cost`` requests to ``key``; raises :class:`StoreUnavailable` on failure."""
        _check_cost(quota, cost)
        interval = quota.interval * _MICROS
        limit = (quota.tolerance + quota.interval) * _MICROS
        args = (repr(interval), repr(limit), str(cost), repr(_EPSILON * _MICROS))
        reply = await self._run(self._prefix + key, args)
        allowed, wait, ahead = _parse_reply(reply)
        return _decision(allowed, wait, ahead, interval, limit, _EPSILON * _MICROS, 1 / _MICROS)

    async def aclose(self) -> None:
        """Close the client if this store created it from a URL; a given client is yours."""
        if self._owns_client:
            await self._client.aclose()

    async def _run(self, key: str, args: tuple[str, ...]) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._script(keys=[key], args=args)
        except self._timeouts as exc:
            raise StoreUnavailable(
                f"Redis at {self.address} did not answer within {self._timeout * 1000:g} ms; "
                "check that it is up and not overloaded, or raise the store's timeout"
            ) from exc
        except self._unreachable as exc:
            raise StoreUnavailable(
                f"Redis at {self.address} could not be reached ({_describe(exc)}); "
                "check that Redis is running and that this address is right"
            ) from exc
        except self._failed as exc:
            raise StoreUnavailable(
                f"Redis at {self.address} failed the rate-limit check ({_describe(exc)}); "
                "check the Redis logs, and that nothing else writes to the rate-limit keys"
            ) from exc


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
    Names are lower-case bytes, as ASGI wants them.
    """
    name = _sf_string(policy)
    # The window the advertised quota really refills over: for 15/hour that is the hour,
    # for 0.5/s (one request per two seconds) it is two seconds, not the one the text says.
    window = max(1, _ceil_seconds(quota.burst * quota.interval))
    headers = [
        (b"ratelimit-policy", f"{name};q={quota.burst};w={window}".encode("ascii")),
        (
            b"ratelimit",
            f"{name};r={decision.remaining};t={_ceil_seconds(decision.reset)}".encode("ascii"),
        ),
    ]
    if not decision.allowed:
        retry_after = max(1, _ceil_seconds(decision.retry_after))
        headers.append((b"retry-after", str(retry_after).encode("ascii")))
    return headers


def _ceil_seconds(seconds: float) -> int:
    # Rounding noise (3600.0000000001) must not add a whole second.
    return max(0, math.ceil(seconds - _EPSILON))


def _sf_string(text: str) -> str:
    """``text`` as a structured-field string (RFC 8941): printable ASCII, quoted."""
    kept = (ch for ch in text if " " <= ch <= "~")
    escaped = "".join("\\" + ch if ch in '"\\' else ch for ch in kept)
    return f'"{escaped}"'
