"""The spec's top level: SLOs, dependencies, guards, and :class:`Spec` itself."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from slokit.errors import UsageError
from slokit.spec._alertmanager import AlertRouting
from slokit.spec._alerts import DEFAULT_SEVERITIES, Priority, ThresholdAlert
from slokit.spec._base import Issue, SpecModel, Text, Url, describe, integer, issue, suggest
from slokit.spec._budgets import Budget
from slokit.spec._cost import PRICES, Cost, CostPrices, merge_costs
from slokit.spec._gates import Gate
from slokit.spec._jobs import JobSLO, QueueSLO
from slokit.spec._resources import Resources
from slokit.spec._route import Route
from slokit.spec._scenarios import Scenario
from slokit.spec._units import (
    Duration,
    Objective,
    Percent,
    PositiveDuration,
    PositiveRate,
    Size,
    parse_quota,
)

__all__ = [
    "SLO",
    "Alerting",
    "Cache",
    "Dependency",
    "Guards",
    "Prometheus",
    "RateLimit",
    "SLIQuery",
    "Spec",
]

_THIRTY_DAYS = 30 * 86400.0


_WINDOW_HELP = "write $window where the range goes, e.g. sum(rate(x_total[$window]))"


class SLIQuery(SpecModel):
    """An SLI in your own PromQL, for services whose metrics slokit.asgi does not export:
    ``good`` (or ``bad``) and ``total`` events, with ``$window`` where the range goes."""

    good: str | None = None
    bad: str | None = None
    total: str

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        problems = []
        given = [k for k in ("good", "bad") if data.get(k) is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "neither"
            problems.append(issue((), f"an SLI needs exactly one of good and bad; got {got}"))
        for key in ("good", "bad", "total"):
            value = data.get(key)
            if isinstance(value, str) and "$window" not in value:
                problems.append(issue((key,), f"the query has no $window; {_WINDOW_HELP}", value))
        return data, problems


class Alerting(SpecModel):
    """How burn-rate alerts are labelled and when they fire (``slokit rules``)."""

    page: bool = True
    """Fast-burn alerts (2% of the budget in 1 h, 5% in 6 h): wake someone up."""
    ticket: bool = True
    """Slow-burn alerts (10% in 1 d, 10% in 3 d): look at it during working hours."""
    page_for: Duration = 120.0
    ticket_for: Duration = 900.0
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    runbook: Url | None = None
    severities: dict[Priority, Literal["page", "ticket", "info"]] = Field(
        default_factory=lambda: dict(DEFAULT_SEVERITIES)
    )
    """A threshold alert's priority -> the severity label its route reads (spec-wide only)."""


class SLO(SpecModel):
    """A promise: ``objective`` of requests are good over ``window``.

    With ``latency`` set, good means "answered within ``latency``" (a latency SLO);
    otherwise good means "not a 5xx or a failed connection" (an availability SLO).
    ``sli`` replaces both with your own PromQL for ``slokit rules`` and ``slokit budget``.
    """

    objective: Objective
    window: PositiveDuration = _THIRTY_DAYS
    route: Route | None = None
    latency: PositiveDuration | None = None
    description: str | None = None
    sli: SLIQuery | None = None
    alerting: Alerting | None = None
    """Overrides the spec's ``alerting`` for this SLO (whole, not merged)."""

    @property
    def kind(self) -> Literal["latency", "availability"]:
        return "latency" if self.latency is not None else "availability"


class Cache(SpecModel):
    """A named cache (``StaleCache(name=...)`` or ``cache_stats(name)``) and its SLO."""

    hit_ratio: Percent
    """Alert when fewer lookups than this hit over ``over`` for ``for``."""
    hold: PositiveDuration = Field(default=900.0, alias="for")
    over: PositiveDuration = 900.0
    severity: Literal["critical", "high", "medium", "low"] = "medium"


class Dependency(SpecModel):
    """Something the service needs to be ready, checked by ``/readyz``."""

    kind: Literal["postgres", "redis", "http", "tcp", "alembic"]
    url: Text
    timeout: PositiveDuration = 1.0
    critical: bool = True
    """False: a failing check is reported but does not make the service unready."""
    config: Text | None = None
    """``kind: alembic``: the project's alembic.ini (relative to the spec); the database at
    ``url`` must be at its scripts' heads."""
    probe: bool = True
    """False: not checked by ``/readyz`` at all (a third-party API whose outage must not make
    the service unready); its SLO below still becomes alerts."""
    latency: PositiveDuration | None = None
    """Dependency SLO: ``objective`` of the calls (95 %) within this (ResilientTransport's
    ``slokit_dependency_request_duration_seconds``); an alert when more are slower."""
    objective: Objective | None = None
    errors: Percent | None = None
    """Dependency SLO: at most this share of the calls fail (5xx, 429, no answer)."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        if data.get("objective") is not None and data.get("latency") is None:
            message = "objective is the share of calls within latency: give latency too"
            return data, [issue(("objective",), message, data.get("objective"))]
        url = data.get("url")
        kind = data.get("kind")
        if kind == "alembic":
            if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
                message = (
                    f"invalid URL {url!r} for an alembic dependency: the database whose "
                    "alembic_version is checked, postgresql://user@host:port/db"
                )
                return data, [issue(("url",), message, url)]
            if data.get("config") is None:
                message = "an alembic dependency needs config: the project's alembic.ini"
                return data, [issue(("config",), message, data)]
        elif data.get("config") is not None:
            message = f"config is for kind: alembic (its alembic.ini), not kind: {kind}"
            return data, [issue(("config",), message, data.get("config"))]
        if (
            data.get("kind") == "http"
            and isinstance(url, str)
            and not url.startswith(("http://", "https://"))
        ):
            message = f"invalid URL {url!r} for an http dependency; expected http:// or https://"
            return data, [issue(("url",), message, url)]
        return data, []


def _rate_limit_key(value: Any) -> Any:
    if isinstance(value, str):
        kind, _, name = value.partition(":")
        if value == "ip" or (kind == "header" and name.strip()):
            return value
    raise ValueError(
        f"invalid key {describe(value)}; expected 'ip' or 'header:<Name>' such as header:X-User-Id"
    )


class RateLimit(SpecModel):
    """At most ``limit`` requests per second on ``route`` for each client ``key``."""

    _hidden_keys: ClassVar[frozenset[str]] = frozenset({"limit_text"})

    route: Route
    limit: PositiveRate
    limit_text: str = ""
    """The limit as written, e.g. ``15/hour`` (for headers and messages)."""
    key: Annotated[str, BeforeValidator(_rate_limit_key)] = "ip"

    @property
    def quota(self) -> tuple[float, float]:
        """``(count, window_seconds)`` as written: ``15/hour`` -> ``(15.0, 3600.0)``."""
        return parse_quota(self.limit_text) if self.limit_text else (self.limit, 1.0)

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        limit = data.get("limit")
        if "limit_text" not in data and limit is not None:
            numeric = isinstance(limit, int | float) and not isinstance(limit, bool)
            data = {**data, "limit_text": f"{limit}/s" if numeric else str(limit).strip()}
        return data, []


def _concurrency(value: Any) -> Any:
    if value is False:  # YAML reads a bare `off` as false
        return "off"
    if isinstance(value, str) and value.strip().lower() in ("adaptive", "off"):
        return value.strip().lower()
    try:
        return integer(1, "the concurrency limit")(value)
    except ValueError:
        raise ValueError(
            f"invalid concurrency {describe(value)}; expected a number of concurrent requests "
            "(at least 1), 'adaptive' or 'off'"
        ) from None


Concurrency = Annotated[
    int | Literal["adaptive", "off"],
    BeforeValidator(_concurrency),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer", "minimum": 1}, {"enum": ["adaptive", "off"]}],
            "description": "At most this many requests at once; 'adaptive' sheds load by "
            "latency; 'off' never sheds.",
        }
    ),
]


class Guards(SpecModel):
    """How the service defends itself (applied by the ASGI middleware)."""

    max_body: Size | None = None
    rate_limits: list[RateLimit] = Field(default_factory=list)
    concurrency: Concurrency = "off"
    latency_target: PositiveDuration | None = None
    """What ``concurrency: adaptive`` defends; None: the tightest latency SLO's threshold."""
    body_timeout: PositiveDuration = 30.0
    """How long a request body may take to arrive before the concurrency limit is asked."""


def _empty_as(default: Any) -> BeforeValidator:
    # `slos:` with nothing under it is YAML null: read it as "none".
    return BeforeValidator(lambda value: default() if value is None else value)


def _name(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("a name here is empty; give each entry a name")
    if isinstance(value, str) and "\0" in value:
        raise ValueError(f"the name {value!r} contains a NUL character (\\0); remove it")
    return value


Name = Annotated[str, BeforeValidator(_name)]
"""The name of an SLO, dependency or scenario (a mapping key)."""


def _version(value: Any) -> int:
    version = integer(1, "the spec version")(value)
    if version != 1:
        raise ValueError(f"unsupported spec version {version}; this slokit reads version 1")
    return version


class Prometheus(SpecModel):
    """Where the service's metrics are in Prometheus."""

    selector: str | None = None
    """Label matchers added to every slokit query, e.g. ``job="orders-api"``."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        selector = data.get("selector")
        if isinstance(selector, str) and (selector.strip().startswith("{") or "}" in selector):
            message = (
                f"invalid selector {selector!r}: give the matchers without braces, "
                'e.g. job="orders-api",env="prod"'
            )
            return data, [issue(("selector",), message, selector)]
        return data, []


_K6_STAGE = re.compile(r"\d+(\.\d+)?[a-z]*:\d+")
"""k6's ``--stage 30s:50`` (its short flag is ``-s``, ours picks a scenario)."""


_UNPRICED = (
    "a cost_per_million gate needs prices: add a cost: block (instance_hourly: 0.0832, "
    "replicas: 2, currency: USD) to the spec or to this scenario"
)


def _is_cost_gate(gate: Any) -> bool:
    text = gate.get("gate") if isinstance(gate, dict) else gate
    return isinstance(text, str) and text.strip().lower().startswith("cost_per_million")


class Spec(SpecModel):
    """A whole ``slokit.yaml``: what the service promises, needs, and how to load it."""

    _hidden_keys: ClassVar[frozenset[str]] = frozenset({"base_dir"})

    version: Annotated[int, BeforeValidator(_version), WithJsonSchema({"const": 1})] = 1
    service: Text
    target: Url | None = None
    """Default base URL for the scenarios."""
    warmup: Duration = 0.0
    """Default warm-up of every scenario: measured but left out of verdicts."""
    slos: Annotated[dict[Name, SLO], _empty_as(dict)] = Field(default_factory=dict)
    gates: Annotated[list[Gate], _empty_as(list)] = Field(default_factory=list)
    dependencies: Annotated[dict[Name, Dependency], _empty_as(dict)] = Field(default_factory=dict)
    guards: Annotated[Guards, _empty_as(Guards)] = Field(default_factory=Guards)
    scenarios: Annotated[dict[Name, Scenario], _empty_as(dict)] = Field(default_factory=dict)
    prometheus: Annotated[Prometheus, _empty_as(Prometheus)] = Field(default_factory=Prometheus)
    alerting: Annotated[Alerting, _empty_as(Alerting)] = Field(default_factory=Alerting)
    resources: Resources | None = None
    """What to sample on the system under test while each scenario runs."""
    cost: Cost | None = None
    """What serving costs: prices a million requests at the rates the runs measure."""
    budgets: Annotated[dict[Name, Budget], _empty_as(dict)] = Field(default_factory=dict)
    """Monthly cost budgets: ``slokit rules`` alerts on their spend."""
    jobs: Annotated[dict[Name, JobSLO], _empty_as(dict)] = Field(default_factory=dict)
    """Background jobs' SLOs (duration, success, freshness) over :mod:`slokit.jobs` metrics."""
    queues: Annotated[dict[Name, QueueSLO], _empty_as(dict)] = Field(default_factory=dict)
    """Queues' time-to-drain and oldest-job age."""
    caches: Annotated[dict[Name, Cache], _empty_as(dict)] = Field(default_factory=dict)
    """Named caches and their hit-ratio SLOs (``cache hit ratio < 70% for 15m``)."""
    alerts: Annotated[dict[Text, ThresholdAlert], _empty_as(dict)] = Field(default_factory=dict)
    """Threshold alerts (``p95(GET /x) > 300ms for 5m``) beside the burn-rate ones."""
    alertmanager: AlertRouting | None = None
    """Where the alerts go by severity: ``slokit rules --alertmanager`` writes the config."""
    base_dir: SkipJsonSchema[str] = Field(default=".", exclude=True)
    """Directory of the spec file; scripts and data files are relative to it."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        # A cost gate without prices would never be judged: refused here, where it is written.
        issues = []
        priced = data.get("cost") is not None
        for i, gate in enumerate(data.get("gates") or []):
            if _is_cost_gate(gate) and not priced:
                issues.append(issue(("gates", i), _UNPRICED, gate))
        scenarios = data.get("scenarios")
        for name, sc in scenarios.items() if isinstance(scenarios, dict) else []:
            if not isinstance(sc, dict):
                continue
            own = sc.get("cost")
            if not priced and isinstance(own, dict) and all(own.get(p) is None for p in PRICES):
                message = (
                    "this cost block prices nothing and the spec has no cost: block: give "
                    "instance_hourly, vcpu_hourly/gib_hourly or fixed_monthly"
                )
                issues.append(issue(("scenarios", name, "cost"), message, own))
            if priced or own is not None:
                continue
            for i, gate in enumerate(sc.get("gates") or []):
                if _is_cost_gate(gate):
                    issues.append(issue(("scenarios", name, "gates", i), _UNPRICED, gate))
        return data, issues

    def resources_for(self, scenario: Scenario) -> Resources | None:
        """What to sample while ``scenario`` runs: its own block, else the spec's."""
        return scenario.resources if scenario.resources is not None else self.resources

    def cost_for(self, scenario: Scenario, target: str | None) -> CostPrices | None:
        """The prices of ``scenario`` loading ``target``: the spec's, its ``targets:`` entry
        for that URL, then the scenario's own, each laid over the one before."""
        base = None if self.cost is None else self.cost.for_target(target)
        return merge_costs(base, scenario.cost)

    def scenario(self, name: str) -> Scenario:
        """The scenario called ``name``; UsageError listing the known names otherwise."""
        try:
            return self.scenarios[name]
        except KeyError:
            pass
        if not self.scenarios:
            raise UsageError(f"unknown scenario {name!r}: the spec has no scenarios")
        names = list(self.scenarios)
        hint = suggest(name, names)
        extra = f"did you mean {hint!r}? " if hint else ""
        if _K6_STAGE.fullmatch(name):
            extra = (
                "-s picks a scenario here (k6's -s is a stage): write stages in a ramping-vus "
                "scenario, stages: [{to: 50, over: 30s}], and --duration scales them; "
            )
        raise UsageError(f"unknown scenario {name!r}; {extra}scenarios: {', '.join(names)}")
