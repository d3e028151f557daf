"""Guards that run before the application: rate limits and the client address they key on.

Every rule whose route matches the request is checked; the request is refused with 429 when
any of them says no. The answer always carries the IETF ``RateLimit`` / ``RateLimit-Policy``
fields of the tightest rule, so well-behaved clients slow down before they are refused.

State is kept under ``{prefix}{rule id}:{client key}``. The prefix defaults to
``slokit:rl:{service}:``, so two services sharing a Redis never share counters while the
replicas of one service do. The rule id is a hash of what the rule means (method and route
template, count, window, kind of key), never its position: reordering rules, or adding one,
keeps every other rule's state, and a rule whose limit changes starts afresh.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slokit.asgi._metrics import Metrics
from slokit.asgi._options import KeyFunction, Network, RateLimitRule
from slokit.asgi._ratelimit import (
    Decision,
    MemoryStore,
    Quota,
    RedisStore,
    StoreUnavailable,
    rate_limit_headers,
)
from slokit.spec import Route

__all__ = ["HTTP_METHODS", "ClientAddress", "RateLimiter", "Refusal", "several_workers"]

HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
"""Method labels as sent; anything else is counted as ``OTHER`` (a client cannot choose
label values)."""

log = logging.getLogger("slokit.asgi")
_WARN_EVERY = 60.0


class ClientAddress:
    """The client's address, taking ``X-Forwarded-For`` only from trusted proxies.

    The list is read right to left and the first address that is not a trusted proxy is the
    client: entries further left were written by the client itself and prove nothing.
    """

    def __init__(self, trusted: Sequence[Network]) -> None:
        self._trusted = tuple(trusted)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._trusted)

    def resolve(self, scope: Any, forwarded: bytes | None) -> str | None:
        client = scope.get("client")
        peer: str | None = client[0] if client else None
        if not self._trusted or forwarded is None or peer is None or not self._is_trusted(peer):
            return peer
        hops = [h.strip().decode("latin-1") for h in forwarded.split(b",") if h.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer  # garbage in the header: fall back to what we can see
        return hops[0] if hops else peer


@dataclass(frozen=True, slots=True)
class _Rule:
    route: Route
    quota: Quota
    key: str | KeyFunction
    header: bytes | None
    policy: str
    id: str
    """Names the rule's state: a hash of what it means, not where it stands in the list."""


def _rule_id(route: Route, quota: Quota, key: str | KeyFunction) -> str:
    if callable(key):
        name = getattr(key, "__qualname__", type(key).__qualname__)
        kind = f"fn:{getattr(key, '__module__', '')}.{name}"
    elif key.startswith("header:"):
        kind = "header:" + key[7:].strip().lower()  # header names are case-insensitive
    else:
        kind = key
    text = f"{route.method} {route.path}\n{quota.count!r}\n{quota.window!r}\n{kind}"
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    reason: str
    headers: list[tuple[bytes, bytes]]
    message: str


def _header(scope: Any, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


class RateLimiter:
    def __init__(
        self,
        rules: Sequence[RateLimitRule],
        *,
        redis_url: str | None,
        on_store_error: str,
        clients: ClientAddress,
        metrics: Metrics | None,
        service: str = "service",
        prefix: str | None = None,
    ) -> None:
        compiled = []
        seen: dict[str, int] = {}
        for rule in rules:
            route, count, window = rule.parsed()
            quota = Quota(count, window)
            header = None
            if isinstance(rule.key, str) and rule.key.startswith("header:"):
                header = rule.key[7:].strip().lower().encode("latin-1")
            policy = f"{route}"
            rule_id = _rule_id(route, quota, rule.key)
            # The same rule written twice is still two rules (each charges the request), so
            # the second copy gets state of its own rather than charging the first one twice.
            copies = seen[rule_id] = seen.get(rule_id, 0) + 1
            if copies > 1:
                rule_id = f"{rule_id}~{copies}"
            compiled.append(_Rule(route, quota, rule.key, header, policy, rule_id))
        self._rules = tuple(compiled)
        self._by_method: dict[str, tuple[_Rule, ...]] = {}
        route_methods = {r.route.method for r in compiled}
        self.methods: frozenset[str] = frozenset(
            HTTP_METHODS if "*" in route_methods else route_methods
        )
        """Methods some rule may apply to: any other request skips rate limiting at once."""
        self.prefix = prefix if prefix is not None else f"slokit:rl:{service}:"
        """What every key in the store starts with (Redis only: memory is this process's)."""
        self._store: MemoryStore | RedisStore = (
            RedisStore(redis_url, prefix=self.prefix) if redis_url else MemoryStore()
        )
        self._fail_open = on_store_error == "open"
        self._clients = clients
        self._metrics = metrics
        self._last_warning = -_WARN_EVERY

    def matching(self, method: str, path: str) -> list[_Rule]:
        # Rules grouped by method up front: a GET never pays for the POST rules' regexes.
        rules = self._by_method.get(method)
        if rules is None:
            rules = self._by_method[method] = tuple(
                r for r in self._rules if r.route.method in ("*", method)
            )
        return [r for r in rules if r.route.matches(method, path)] if rules else []

    def _key(self, rule: _Rule, scope: Any) -> str | None:
        if callable(rule.key):
            return rule.key(scope)
        if rule.header is not None:
            value = _header(scope, rule.header)
            if value:
                return "h:" + value.decode("latin-1")
        address = self._clients.resolve(scope, _header(scope, b"x-forwarded-for"))
        return "ip:" + (address or "unknown")

    async def check(
        self, rules: Sequence[_Rule], scope: Any
    ) -> tuple[Refusal | None, list[tuple[bytes, bytes]]]:
        """A refusal, or None and the headers to add to the response."""
        tightest: tuple[_Rule, Decision] | None = None
        for rule in rules:
            key = self._key(rule, scope)
            if key is None:
                continue
            try:
                decision = await self._store.hit(f"{rule.id}:{key}", rule.quota)
            except StoreUnavailable as exc:
                refusal = self._store_failed(exc)
                if refusal is not None:
                    return refusal, []
                continue
            if not decision.allowed:
                headers = rate_limit_headers(rule.policy, rule.quota, decision)
                return (
                    Refusal(429, "rate_limit", headers, f"rate limit exceeded for {rule.policy}"),
                    [],
                )
            if tightest is None or decision.remaining < tightest[1].remaining:
                tightest = (rule, decision)
        if tightest is None:
            return None, []
        rule, decision = tightest
        return None, rate_limit_headers(rule.policy, rule.quota, decision)

    def _store_failed(self, exc: StoreUnavailable) -> Refusal | None:
        if self._metrics is not None:
            self._metrics.store_error()
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY:
            self._last_warning = now
            action = "letting requests through" if self._fail_open else "refusing requests"
            log.warning("rate-limit store unavailable (%s); %s", exc, action)
        if self._fail_open:
            return None
        return Refusal(
            503,
            "store_unavailable",
            [(b"retry-after", b"1")],
            "rate-limit state is unavailable; try again shortly",
        )

    def started(self) -> None:
        """At start-up: warn when limits kept in memory are one worker's among several."""
        global _warned_workers
        if not isinstance(self._store, MemoryStore) or _warned_workers:
            return
        reason = several_workers()
        if reason is None:
            return
        _warned_workers = True
        log.warning(
            "rate limits are kept in this process's memory, but it is one of several worker "
            "processes (%s): each worker counts on its own, so together they admit up to the "
            "number of workers times each limit; pass redis_url= to share one quota between "
            "workers and replicas",
            reason,
        )

    async def aclose(self) -> None:
        if isinstance(self._store, RedisStore):
            await self._store.aclose()


_warned_workers = False
"""Once per process, however many limiters it builds."""

_SERVERS = ("uvicorn", "gunicorn", "hypercorn", "granian")


def several_workers(
    environ: Mapping[str, str] = os.environ, proc: Path = Path("/proc")
) -> str | None:
    """Why this process looks like one worker of several, or None when nothing says so.

    Reads what can be read without asking the server: ``WEB_CONCURRENCY`` above 1 (uvicorn
    and gunicorn take their worker count from it), ``PROMETHEUS_MULTIPROC_DIR`` (set for
    multi-process metrics), and the parent process's command line (Linux ``/proc``), where
    uvicorn, gunicorn, hypercorn or granian was started with ``--workers N`` or ``-w N``.
    A worker count only in a gunicorn config file is not seen.
    """
    concurrency = environ.get("WEB_CONCURRENCY", "").strip()
    if concurrency.isdigit() and int(concurrency) > 1:
        return f"WEB_CONCURRENCY={concurrency}"
    if environ.get("PROMETHEUS_MULTIPROC_DIR") or environ.get("prometheus_multiproc_dir"):
        return "PROMETHEUS_MULTIPROC_DIR is set"
    try:
        raw = (proc / str(os.getppid()) / "cmdline").read_bytes()
    except OSError:
        return None
    args = [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
    server = next((s for s in _SERVERS if any(s in Path(a).name for a in args)), None)
    if server is None:
        return None
    workers = _workers_flag(args)
    if workers is not None and workers > 1:
        return f"the parent process runs {server} with {workers} workers"
    return None


def _workers_flag(args: Sequence[str]) -> int | None:
    for i, arg in enumerate(args):
        value: str | None = None
        if arg in ("--workers", "-w") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--workers="):
            value = arg.partition("=")[2]
        elif arg.startswith("-w") and arg[2:].isdigit():
            value = arg[2:]
        if value is not None and value.strip().isdigit():
            return int(value)
    return None
