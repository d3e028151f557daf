"""Every option of the middleware in one frozen object, from the spec and keyword arguments.

The spec (``slokit.yaml``, a path or a :class:`~slokit.spec.Spec`) gives the defaults: the
service name, SLOs (histogram buckets and live SLOs), dependencies (readiness checks) and
guards. Keyword arguments override it. Validation happens here, once, at start-up: a wrong
option is a :class:`~slokit.errors.UsageError` that says what is accepted.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, Literal, TextIO

from slokit.asgi._checks import CheckSpec, checks_from_spec, merge_checks
from slokit.asgi._faults import DEFAULT_PATH as DEFAULT_FAULTS_PATH
from slokit.asgi._faults import check_token, resolve_token
from slokit.asgi._logs import DEFAULT_MASK
from slokit.asgi._slo import SLOTarget
from slokit.errors import UsageError
from slokit.spec import RateLimit, Route, Spec, load_spec, parse_duration, parse_quota, parse_size

__all__ = ["Options", "RateLimitRule", "build_options"]

KeyFunction = Callable[[Mapping[str, Any]], "str | None"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RateLimitRule:
    """At most ``limit`` (``"15/hour"``) requests on ``route`` per client ``key``.

    ``key`` is ``"ip"`` (the client address, proxies resolved), ``"header:X-User-Id"`` (a
    request header; requests without it are keyed by address) or a function of the ASGI scope
    returning the key (``None``: the request is not limited).
    """

    route: str | Route
    limit: str | float
    key: str | KeyFunction = "ip"

    def parsed(self) -> tuple[Route, float, float]:
        route = self.route if isinstance(self.route, Route) else Route.parse(self.route)
        count, window = parse_quota(self.limit)
        return route, count, window


@dataclass(frozen=True)
class Options:
    service: str = "service"
    metrics: bool = True
    metrics_path: str = "/metrics"
    registry: Any = None
    """A prometheus_client CollectorRegistry; None means the default REGISTRY."""
    buckets: tuple[float, ...] = ()
    """Extra latency bucket edges (seconds); every SLO threshold is always added."""
    alert_latencies: tuple[float, ...] = ()
    """The latency thresholds of the spec's alerts: bucket edges too, so they count exactly."""
    probes: bool = True
    livez_path: str = "/livez"
    readyz_path: str = "/readyz"
    startupz_path: str = "/startupz"
    healthz_path: str = "/healthz"
    checks: tuple[CheckSpec, ...] = ()
    check_ttl: float = 2.0
    warmup: tuple[tuple[str, Callable[[], object]], ...] = ()
    """Start-up work run after lifespan start-up; /startupz passes once all of it returned."""
    access_log: bool | TextIO | Literal["logging"] = True
    user_header: str | None = None
    log_headers: tuple[str, ...] = ()
    mask: frozenset[str] = DEFAULT_MASK
    log_context: bool = True
    request_id_header: str = "x-request-id"
    tracing: bool | Literal["auto"] = "auto"
    max_body: int | None = None
    rate_limits: tuple[RateLimitRule, ...] = ()
    redis_url: str | None = None
    on_store_error: Literal["open", "closed"] = "open"
    rate_limit_prefix: str | None = None
    """Start of every rate-limit key in Redis; None means ``slokit:rl:{service}:``."""
    trusted_proxies: tuple[Network, ...] = ()
    concurrency: int | Literal["adaptive", "off"] = "off"
    queue_timeout: float = 0.05
    latency_target: float | None = None
    """Seconds ``concurrency="adaptive"`` keeps requests within; None: the tightest latency
    SLO's threshold (and its objective as the share), or Gradient2 when there is none."""
    body_timeout: float = 30.0
    """With a concurrency limit, bodies are read before a slot is taken; this bounds the wait."""
    slo: bool = True
    slos: tuple[SLOTarget, ...] = ()
    ops_path: str = "/ops/slo"
    ops_token: str | None = None
    drain_delay: float = 0.0
    drain_timeout: float = 30.0
    exclude_paths: frozenset[str] = field(default_factory=frozenset)
    faults: bool = False
    """Fault injection (chaos experiments); it stays off unless a fault token is configured."""
    fault_token: str | None = field(default=None, repr=False)
    """The token of the faults endpoint: given, or from $SLOKIT_FAULT_TOKEN when faults=True."""
    faults_path: str = DEFAULT_FAULTS_PATH
    fault_seed: int | None = None

    def log_stream(self) -> TextIO | None:
        """Where access-log lines go: a stream, or None for the ``logging`` module."""
        if self.access_log == "logging":
            return None
        if self.access_log is True:
            return sys.stdout
        assert not isinstance(self.access_log, bool | str)
        return self.access_log


_NAMES = {f.name for f in fields(Options)} - {"slos"}


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise UsageError(f"{name} must not be negative, got {value!r}")
    try:
        seconds = parse_duration(value)
    except (ValueError, TypeError):
        raise UsageError(
            f"{name}={value!r} is not a duration; give seconds (2.5), a timedelta or '250ms'"
        ) from None
    if seconds < 0:
        raise UsageError(f"{name} must not be negative, got {value!r}")
    return seconds


def _positive_seconds(name: str, value: Any) -> float | None:
    if value is None and name == "latency_target":
        return None
    seconds = _seconds(name, value)
    if not 0.0 < seconds < math.inf:
        raise UsageError(f"{name} must be a finite duration above 0, got {value!r}")
    return seconds


def _path(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise UsageError(f"{name}={value!r} must be a path starting with '/'")
    return value


def _load(spec: Spec | str | os.PathLike[str] | None) -> Spec | None:
    if spec is None or isinstance(spec, Spec):
        return spec
    if isinstance(spec, str | os.PathLike):
        return load_spec(spec)
    raise UsageError(
        f"spec must be a Spec, a path to slokit.yaml or None, got {type(spec).__name__}"
    )


def _from_spec(spec: Spec) -> dict[str, Any]:
    g = spec.guards
    return {
        "service": spec.service,
        "slos": tuple(
            SLOTarget(name, s.objective, s.route, s.latency) for name, s in spec.slos.items()
        ),
        "checks": tuple(checks_from_spec(spec.dependencies, spec.base_dir)),
        "max_body": g.max_body,
        "rate_limits": tuple(
            RateLimitRule(r.route, r.limit_text or r.limit, r.key) for r in g.rate_limits
        ),
        "concurrency": g.concurrency,
        "latency_target": g.latency_target,
        "body_timeout": g.body_timeout,
        "alert_latencies": tuple(
            a.watch.threshold for a in spec.alerts.values() if a.watch.kind == "latency"
        ),
    }


def _rules(value: Any) -> tuple[RateLimitRule, ...]:
    rules = []
    for item in value or ():
        if isinstance(item, RateLimitRule):
            rule = item
        elif isinstance(item, RateLimit):
            rule = RateLimitRule(item.route, item.limit_text or item.limit, item.key)
        elif isinstance(item, Mapping):
            unknown = set(item) - {"route", "limit", "key"}
            if unknown:
                raise UsageError(f"rate limit {dict(item)!r}: unknown keys {sorted(unknown)}")
            rule = RateLimitRule(**item)
        else:
            raise UsageError(
                f"a rate limit is a RateLimitRule or a dict with route, limit and key; got {item!r}"
            )
        try:
            rule.parsed()
        except ValueError as exc:
            raise UsageError(f"rate limit {rule.route!r}: {exc}") from None
        key = rule.key
        if isinstance(key, str) and not (
            key == "ip" or (key.startswith("header:") and key[7:].strip())
        ):
            raise UsageError(
                f"rate limit {rule.route!r}: key {key!r} must be 'ip', 'header:<Name>' "
                "or a function"
            )
        rules.append(rule)
    return tuple(rules)


def _checks(value: Any) -> tuple[CheckSpec, ...]:
    if isinstance(value, Mapping):
        out = []
        for name, check in value.items():
            if isinstance(check, CheckSpec):
                out.append(check)
            elif callable(check):
                out.append(CheckSpec(name=str(name), kind="custom", target=check))
            else:
                raise UsageError(f"check {name!r} must be a callable or a CheckSpec, got {check!r}")
        return tuple(out)
    if isinstance(value, Iterable):
        items = tuple(value)
        if all(isinstance(c, CheckSpec) for c in items):
            return items
    raise UsageError("checks must map names to callables (sync or async) or be CheckSpecs")


def _warmup(value: Any) -> tuple[tuple[str, Callable[[], object]], ...]:
    items: list[tuple[Any, Any]]
    if isinstance(value, Mapping):
        items = list(value.items())
    else:
        if not (callable(value) or isinstance(value, Iterable)):
            raise UsageError(
                f"warmup={value!r}: give a callable, a list of them, or a dict of name: callable"
            )
        hooks = [value] if callable(value) else list(value)
        items = [(getattr(h, "__name__", None) or f"hook{i}", h) for i, h in enumerate(hooks)]
    out = []
    for name, hook in items:
        if not callable(hook):
            raise UsageError(
                f"warm-up hook {name!r} must be a callable (sync or async, no arguments), "
                f"got {hook!r}"
            )
        out.append((str(name), hook))
    return tuple(out)


def _proxies(value: Iterable[str]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(v, strict=False) for v in value)
    except ValueError as exc:
        raise UsageError(
            f"trusted_proxies: {exc}; give addresses or CIDRs such as 10.0.0.0/8"
        ) from None


def _concurrency(value: Any) -> int | Literal["adaptive", "off"]:
    if value in ("adaptive", "off"):
        return value  # type: ignore[no-any-return]
    if value is False or value is None:
        return "off"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise UsageError(
        f"concurrency={value!r}: give a number of requests (>= 1), 'adaptive' or 'off'"
    )


def _normalize(name: str, value: Any) -> Any:
    if name.endswith("_path"):
        return _path(name, value)
    if name in ("check_ttl", "queue_timeout", "drain_delay", "drain_timeout"):
        return _seconds(name, value)
    if name == "max_body":
        return None if value is None else _size(value)
    if name in ("latency_target", "body_timeout"):
        return _positive_seconds(name, value)
    if name == "rate_limits":
        return _rules(value)
    if name == "checks":
        return _checks(value)
    if name == "warmup":
        return _warmup(value)
    if name == "trusted_proxies":
        return _proxies(value)
    if name == "concurrency":
        return _concurrency(value)
    if name in ("mask", "exclude_paths"):
        return frozenset(str(v).lower() if name == "mask" else str(v) for v in value)
    if name in ("log_headers", "buckets"):
        return tuple(value)
    if name == "request_id_header":
        return str(value).lower()
    if name == "on_store_error" and value not in ("open", "closed"):
        raise UsageError(
            f"on_store_error={value!r}: give 'open' (let requests through) or 'closed'"
        )
    if name == "rate_limit_prefix" and value is not None:
        return _key_prefix(value)
    if name == "fault_token":
        return None if value is None else check_token(value)
    if name == "faults" and not isinstance(value, bool):
        raise UsageError(f"faults={value!r}: give True (with a fault token) or False")
    if name == "fault_seed" and not (
        value is None or (isinstance(value, int) and not isinstance(value, bool))
    ):
        raise UsageError(f"fault_seed={value!r}: give an integer, or None for a random seed")
    if name == "tracing" and value not in (True, False, "auto"):
        raise UsageError(f"tracing={value!r}: give True, False or 'auto'")
    return value


def _key_prefix(value: Any) -> str:
    # Printable ASCII only: the prefix is typed into redis-cli and SCAN patterns.
    if not (isinstance(value, str) and 0 < len(value) <= 200 and value.isascii()):
        raise UsageError(
            f"rate_limit_prefix={value!r}: give 1 to 200 ASCII characters such as "
            "'slokit:rl:orders:', or None for slokit:rl:<service>:"
        )
    if not value.isprintable() or " " in value:
        raise UsageError(
            f"rate_limit_prefix={value!r} contains spaces or control characters; "
            "use letters, digits and punctuation such as 'slokit:rl:orders:'"
        )
    return value


def _size(value: Any) -> int:
    try:
        size = (
            value if isinstance(value, int) and not isinstance(value, bool) else parse_size(value)
        )
    except ValueError as exc:
        raise UsageError(f"max_body: {exc}") from None
    if size < 1:
        raise UsageError(f"max_body must be at least 1 byte, got {value!r}")
    return int(size)


def build_options(
    spec: Spec | str | os.PathLike[str] | None, overrides: Mapping[str, Any]
) -> Options:
    """Defaults, then the spec, then the keyword arguments; every value checked."""
    unknown = [k for k in overrides if k not in _NAMES]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, sorted(_NAMES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"unknown option {name!r}{hint} (options: {', '.join(sorted(_NAMES))})")
    values: dict[str, Any] = {}
    loaded = _load(spec)
    if loaded is not None:
        values.update(_from_spec(loaded))
    spec_checks = values.get("checks", ())
    for name, value in overrides.items():
        values[name] = _normalize(name, value)
    if "checks" in overrides:  # added to the spec's dependencies, never replacing them
        values["checks"] = merge_checks(spec_checks, values["checks"])
    if values.get("faults"):
        values["fault_token"] = resolve_token(values.get("fault_token"))
    elif values.get("fault_token") is not None:
        raise UsageError("fault_token= is given but faults is off; pass faults=True as well")
    return Options(**values)
