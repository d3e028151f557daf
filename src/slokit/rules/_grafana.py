"""A Grafana dashboard for a spec's SLOs, importable with Grafana's "Import dashboard".

The dashboard reads the recording rules of ``slokit rules`` (``slokit:sli_error:ratio_rate*``,
``slokit:slo_error_budget_remaining:ratio``) rather than recomputing every SLI over its
whole window on each refresh: load that rule file into the Prometheus the dashboard queries,
or the SLO panels stay empty. Only the service row and each SLO's traffic or latency panel
read the raw metrics of slokit.asgi (``http_requests_total``, ``http_request_duration_seconds``),
over Grafana's ``$__rate_interval``.

Layout: a service row (request rate by route, 5xx share, latency p50/p95/p99), then one row
per SLO, in spec order: the SLI over the SLO's window against its objective, the error
budget left (gauge and burn-down), the burn rate over 1h, 6h, 1d and 3d with a threshold
line at each alerting factor, and the SLO route's latency (latency SLOs, with the SLO's
threshold as a line) or traffic (availability SLOs; the SLI's own events for ``sli:`` SLOs).
Then one FinOps row per budget: spend this month (to date, projected, the budget, its
thresholds dashed), the cost per hour, the projected month end and the week-over-week change,
from the budget rules.

The Prometheus data source is a dashboard variable (``${datasource}``), so nothing in the
JSON names a particular Grafana; the output depends on the spec alone (same spec, same JSON),
its uid included, so re-importing a regenerated dashboard replaces the previous one.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from slokit.rules._finops import FINOPS_SERIES, currency_of
from slokit.rules._jobs import with_jobs
from slokit.rules._rules import burn_conditions, describe_slo, error_ratio_metric
from slokit.rules._sli import DURATION_METRIC, REQUESTS_METRIC, prom_duration, sli_queries
from slokit.spec import SLO, Budget, Spec, format_duration

__all__ = ["BURN_RATE_WINDOWS", "DATASOURCE", "SCHEMA_VERSION", "dashboard", "render_dashboard"]

SCHEMA_VERSION = 39

DATASOURCE: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}
"""What every panel and query names as its data source: the dashboard's variable."""

BURN_RATE_WINDOWS = (3600.0, 21600.0, 86400.0, 259200.0)
"""1h, 6h, 1d, 3d: the long windows of the burn-rate alerts (all recorded by ``slokit rules``)."""

_RATE = "$__rate_interval"
_QUANTILES = (0.5, 0.95, 0.99)
_WIDTH = 24

_RULES_NOTE = (
    "Reads the recording rules of `slokit rules`: load that rule file into this Prometheus."
)


# -- PromQL ------------------------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _matchers(*parts: str | None) -> str:
    kept = [p for p in parts if p]
    return "{" + ",".join(kept) + "}" if kept else ""


def _number(value: float) -> str:
    return f"{value:.10g}"


def _round(value: float) -> float:
    """``1 - 0.999`` as ``0.001``: no float noise in the JSON."""
    return float(_number(value))


def _rule_selector(spec: Spec, name: str) -> str:
    """Selects one SLO's recording rules (they carry ``slo`` and ``service`` labels)."""
    return _matchers(f'slo="{_escape(name)}"', f'service="{_escape(spec.service)}"')


def _route_matchers(slo: SLO) -> tuple[str | None, str | None]:
    if slo.route is None:
        return None, None
    method = None if slo.route.method == "*" else f'method="{slo.route.method}"'
    return f'route="{_escape(slo.route.path)}"', method


def _request_rate(selector: str | None, *extra: str | None, by: str = "") -> str:
    grouping = f"sum by ({by}) " if by else "sum"
    matchers = _matchers(selector, *extra)
    return f"{grouping}(rate({REQUESTS_METRIC}{matchers}[{_RATE}]))"


def _error_share(selector: str | None, *extra: str | None) -> str:
    # No 5xx series at all is a share of 0, not "no data".
    bad = _request_rate(selector, *extra, 'status=~"5.."')
    return f"({bad} or vector(0)) / {_request_rate(selector, *extra)}"


def _quantile(q: float, selector: str | None, *extra: str | None) -> str:
    matchers = _matchers(selector, *extra)
    buckets = f"rate({DURATION_METRIC}_bucket{matchers}[{_RATE}])"
    return f"histogram_quantile({q:g}, sum by (le) ({buckets}))"


# -- panels ------------------------------------------------------------------------------


class _Layout:
    """Hands out panel ids and grid positions, row after row, never overlapping."""

    def __init__(self) -> None:
        self.next_id = 1
        self.y = 0
        self.x = 0
        self.line_height = 0

    def _id(self) -> int:
        found = self.next_id
        self.next_id += 1
        return found

    def _newline(self) -> None:
        self.y += self.line_height
        self.x = 0
        self.line_height = 0

    def row(self, title: str) -> dict[str, Any]:
        self._newline()
        panel = {
            "id": self._id(),
            "type": "row",
            "title": title,
            "collapsed": False,
            "datasource": dict(DATASOURCE),
            "gridPos": {"h": 1, "w": _WIDTH, "x": 0, "y": self.y},
            "panels": [],
        }
        self.y += 1
        return panel

    def place(self, panel: dict[str, Any], w: int, h: int) -> dict[str, Any]:
        """Give ``panel`` an id and the next ``w`` x ``h`` slot (a new line when full)."""
        if self.x + w > _WIDTH:
            self._newline()
        panel = {"id": self._id(), **panel, "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y}}
        self.x += w
        self.line_height = max(self.line_height, h)
        return panel


def _targets(*queries: tuple[str, str]) -> list[dict[str, Any]]:
    """Prometheus queries ``(expr, legend)`` with ref ids A, B, C..."""
    return [
        {
            "refId": chr(ord("A") + i),
            "datasource": dict(DATASOURCE),
            "editorMode": "code",
            "expr": expr,
            "legendFormat": legend,
            "range": True,
            "instant": False,
        }
        for i, (expr, legend) in enumerate(queries)
    ]


def _steps(*steps: tuple[str, float | None]) -> dict[str, Any]:
    return {
        "mode": "absolute",
        "steps": [
            {"color": color, "value": None if value is None else _round(value)}
            for color, value in steps
        ],
    }


_REDUCE = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def _stat(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    *,
    unit: str,
    thresholds: dict[str, Any],
    decimals: int | None = None,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": unit,
        "thresholds": thresholds,
        "color": {"mode": "thresholds"},
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": dict(DATASOURCE),
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": _REDUCE,
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
    }


def _gauge(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    *,
    unit: str,
    thresholds: dict[str, Any],
    low: float,
    high: float,
) -> dict[str, Any]:
    return {
        "type": "gauge",
        "title": title,
        "description": description,
        "datasource": dict(DATASOURCE),
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "min": low,
                "max": high,
                "decimals": 1,
                "thresholds": thresholds,
                "color": {"mode": "thresholds"},
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": _REDUCE,
            "orientation": "auto",
            "showThresholdLabels": False,
            "showThresholdMarkers": True,
        },
    }


def _timeseries(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    *,
    unit: str,
    thresholds: dict[str, Any] | None = None,
    soft_min: float | None = None,
) -> dict[str, Any]:
    """A time series; with ``thresholds``, each step's value is drawn as a dashed line."""
    custom: dict[str, Any] = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
        "thresholdsStyle": {"mode": "dashed" if thresholds is not None else "off"},
    }
    if soft_min is not None:
        custom["axisSoftMin"] = soft_min
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": dict(DATASOURCE),
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "color": {"mode": "palette-classic"},
                "custom": custom,
                "thresholds": thresholds if thresholds is not None else _steps(("green", None)),
            },
            "overrides": [],
        },
        "options": {
            "legend": {
                "displayMode": "list",
                "placement": "bottom",
                "showLegend": True,
                "calcs": [],
            },
            "tooltip": {"mode": "multi", "sort": "none"},
        },
    }


def _decimals(objective: float) -> int:
    """One digit more than the objective shows: 99.9% -> 2 (``99.95%``), 95% -> 1."""
    _, _, fraction = _number(objective * 100).partition(".")
    return min(4, len(fraction) + 1)


# -- rows --------------------------------------------------------------------------------


def _service_row(spec: Spec, layout: _Layout) -> list[dict[str, Any]]:
    selector = spec.prometheus.selector
    where = f" ({selector})" if selector else ""
    return [
        layout.row(f"Service {spec.service}"),
        layout.place(
            _timeseries(
                "Request rate by route",
                f"Requests per second, by route template{where}.",
                _targets((_request_rate(selector, by="route"), "{{route}}")),
                unit="reqps",
            ),
            8,
            8,
        ),
        layout.place(
            _timeseries(
                "Error rate (5xx share)",
                f"Share of requests answered with a 5xx{where}.",
                _targets((_error_share(selector), "5xx share")),
                unit="percentunit",
                soft_min=0,
            ),
            8,
            8,
        ),
        layout.place(
            _timeseries(
                "Latency",
                f"Request duration quantiles over all routes{where}, from the histogram.",
                _targets(*((_quantile(q, selector), f"p{q * 100:g}") for q in _QUANTILES)),
                unit="s",
                soft_min=0,
            ),
            8,
            8,
        ),
    ]


def _traffic_panel(spec: Spec, name: str, slo: SLO) -> dict[str, Any]:
    """The fifth panel of an SLO row: what its SLI is made of."""
    selector = spec.prometheus.selector
    route, method = _route_matchers(slo)
    scope = f"to {slo.route}" if slo.route is not None else "to the service"
    if slo.sli is not None:
        queries = sli_queries(spec, name, slo)
        return _timeseries(
            "SLI events",
            "Bad and total events of the SLO's own PromQL, with $window set to "
            "$__rate_interval (a rate or an increase, as that PromQL computes it).",
            _targets(
                (queries.total.replace("$window", _RATE), "total"),
                (queries.bad.replace("$window", _RATE), "bad"),
            ),
            unit="short",
            soft_min=0,
        )
    if slo.latency is not None:
        threshold = format_duration(slo.latency)
        return _timeseries(
            f"Latency {slo.route}" if slo.route is not None else "Latency",
            f"Duration quantiles of requests {scope}; the dashed line is the SLO's "
            f"threshold ({threshold}), which {slo.objective * 100:g}% of requests must beat.",
            _targets(
                *((_quantile(q, selector, route, method), f"p{q * 100:g}") for q in _QUANTILES)
            ),
            unit="s",
            thresholds=_steps(("green", None), ("red", slo.latency)),
            soft_min=0,
        )
    return _timeseries(
        f"Requests {slo.route}" if slo.route is not None else "Requests",
        f"Requests per second {scope}, and those answered with a 5xx.",
        _targets(
            (_request_rate(selector, route, method), "requests"),
            (_request_rate(selector, route, method, 'status=~"5.."'), "5xx"),
        ),
        unit="reqps",
        soft_min=0,
    )


def _slo_row(spec: Spec, name: str, slo: SLO, layout: _Layout) -> list[dict[str, Any]]:
    rules = _rule_selector(spec, name)
    budget = 1.0 - slo.objective
    window = prom_duration(slo.window)
    remaining = f"slokit:slo_error_budget_remaining:ratio{rules}"
    about = f" {slo.description}" if slo.description else ""
    factors = sorted({(_round(c.factor), c.severity) for c in burn_conditions(slo.window)})
    factor_text = ", ".join(f"{f:g} ({severity})" for f, severity in factors) or "none"
    burn_steps = [("green", None), *(("red" if s == "page" else "orange", f) for f, s in factors)]
    return [
        layout.row(f"{name}: {describe_slo(slo)}"),
        layout.place(
            _stat(
                "SLI vs objective",
                f"Good share of requests over the SLO's window ({window}): red below the "
                f"objective ({slo.objective * 100:g}%).{about} {_RULES_NOTE}",
                _targets((f"1 - {error_ratio_metric(slo.window)}{rules}", "SLI")),
                unit="percentunit",
                thresholds=_steps(("red", None), ("green", slo.objective)),
                decimals=_decimals(slo.objective),
            ),
            6,
            7,
        ),
        layout.place(
            _gauge(
                "Error budget remaining",
                f"Share of the {window} error budget ({_number(budget * 100)}% of requests) "
                "not yet spent: 100% untouched, 0 spent, below 0 overspent (the gauge's red "
                f"half reaches -100%, twice the budget spent). {_RULES_NOTE}",
                _targets((remaining, "remaining")),
                unit="percentunit",
                thresholds=_steps(("red", None), ("yellow", 0.0), ("green", 0.25)),
                low=-1.0,
                high=1.0,
            ),
            6,
            7,
        ),
        layout.place(
            _timeseries(
                "Budget burn-down",
                f"Error budget left over the {window} window, over the dashboard's time range; "
                f"below the dashed line the budget is overspent. {_RULES_NOTE}",
                _targets((remaining, "remaining")),
                unit="percentunit",
                thresholds=_steps(("red", None), ("green", 0.0)),
            ),
            12,
            7,
        ),
        layout.place(
            _timeseries(
                "Burn rate",
                "Error ratio over each window divided by the error budget: 1 spends the budget "
                f"exactly over {window}. Dashed lines: the alerting factors, {factor_text}. "
                f"{_RULES_NOTE}",
                _targets(
                    *(
                        (f"{error_ratio_metric(w)}{rules} / {_number(budget)}", prom_duration(w))
                        for w in BURN_RATE_WINDOWS
                    )
                ),
                unit="none",
                thresholds=_steps(*burn_steps),
                soft_min=0,
            ),
            12,
            8,
        ),
        layout.place(_traffic_panel(spec, name, slo), 12, 8),
    ]


# -- the dashboard -----------------------------------------------------------------------


def _dependency_row(spec: Spec, layout: _Layout) -> list[dict[str, Any]]:
    """Seed 000's "OpenAI call latency and error rate" per dependency with an SLO, and the
    hit ratio of every cache with one."""
    selector = spec.prometheus.selector
    panels: list[dict[str, Any]] = []
    watched = {n: d for n, d in spec.dependencies.items() if d.latency or d.errors is not None}
    if watched:
        panels.append(layout.row("Dependencies"))
    for name, dep in watched.items():
        m = _matchers(selector, f'dependency="{_escape(name)}"')
        duration = "slokit_dependency_request_duration_seconds"
        objective = dep.objective if dep.objective is not None else 0.95
        latency = (
            f"histogram_quantile({_number(objective)}, sum by (le) "
            f"(rate({duration}_bucket{m}[$__rate_interval])))"
        )
        panels.append(
            layout.place(
                _timeseries(
                    f"{name}: latency p{objective * 100:g}",
                    f"Calls to {name} through ResilientTransport(dependency={name!r}); the SLO "
                    f"threshold {format_duration(dep.latency) if dep.latency else '-'} dashed.",
                    _targets((latency, f"p{objective * 100:g}")),
                    unit="s",
                    thresholds=_steps(("green", None), ("red", dep.latency))
                    if dep.latency
                    else None,
                    soft_min=0,
                ),
                8,
                8,
            )
        )
        requests = "slokit_dependency_requests_total"
        failed = _matchers(
            selector, f'dependency="{_escape(name)}"', 'outcome=~"error|transport_error"'
        )
        sent = _matchers(selector, f'dependency="{_escape(name)}"', 'outcome!="rejected"')
        errors = (
            f"sum(rate({requests}{failed}[$__rate_interval])) / "
            f"sum(rate({requests}{sent}[$__rate_interval]))"
        )
        panels.append(
            layout.place(
                _timeseries(
                    f"{name}: error rate",
                    f"Share of the attempts at {name} that failed (5xx, 429, no answer).",
                    _targets(
                        (errors, "failed share"),
                        (
                            f"sum(rate(slokit_dependency_retries_total{m}[$__rate_interval]))",
                            "retries/s",
                        ),
                    ),
                    unit="percentunit",
                    thresholds=_steps(("green", None), ("red", dep.errors))
                    if dep.errors is not None
                    else None,
                    soft_min=0,
                ),
                8,
                8,
            )
        )
    if spec.caches:
        panels.append(layout.row("Caches"))
    for name, cache in spec.caches.items():
        m = _matchers(selector, f'cache="{_escape(name)}"')
        hit = _matchers(selector, f'cache="{_escape(name)}"', 'result="hit"')
        lookups = "slokit_cache_requests_total"
        ratio = (
            f"sum(rate({lookups}{hit}[$__rate_interval])) / "
            f"sum(rate({lookups}{m}[$__rate_interval]))"
        )
        panels.append(
            layout.place(
                _timeseries(
                    f"{name}: hit ratio",
                    f"Lookups of cache {name} that hit; the alert fires under "
                    f"{_number(cache.hit_ratio * 100)}% for {format_duration(cache.hold)}.",
                    _targets((ratio, "hit ratio")),
                    unit="percentunit",
                    thresholds=_steps(("red", None), ("green", cache.hit_ratio)),
                    soft_min=0,
                ),
                8,
                8,
            )
        )
    return panels


def _jobs_row(spec: Spec, layout: _Layout) -> list[dict[str, Any]]:
    """Seed 004's job backlog, retry rate and SLA countdown: per job its duration and
    failures, per queue its depth, oldest job and time to drain."""
    if not spec.jobs and not spec.queues:
        return []
    selector = spec.prometheus.selector
    panels = [layout.row("Jobs and queues")]
    rate = "[$__rate_interval]"
    for name, job in spec.jobs.items():
        m = _matchers(selector, f'job_name="{_escape(name)}"')
        quantiles = [
            (
                f"histogram_quantile({q}, sum by (le) "
                f"(rate(slokit_job_duration_seconds_bucket{m}{rate})))",
                f"p{q * 100:g}",
            )
            for q in (0.5, 0.95, 0.99)
        ]
        panels.append(
            layout.place(
                _timeseries(
                    f"{name}: duration",
                    f"Run time of job {name}; its SLO threshold dashed.",
                    _targets(*quantiles),
                    unit="s",
                    thresholds=_steps(("green", None), ("red", job.duration))
                    if job.duration
                    else None,
                    soft_min=0,
                ),
                8,
                8,
            )
        )
        failed = _matchers(selector, f'job_name="{_escape(name)}"', 'outcome="failure"')
        panels.append(
            layout.place(
                _timeseries(
                    f"{name}: failures and retries",
                    f"Failed runs and retries of job {name} per second, and since its last "
                    "success.",
                    _targets(
                        (f"sum(rate(slokit_job_runs_total{failed}{rate}))", "failed/s"),
                        (f"sum(rate(slokit_job_retries_total{m}{rate}))", "retries/s"),
                    ),
                    unit="reqps",
                    soft_min=0,
                ),
                8,
                8,
            )
        )
    for name, queue in spec.queues.items():
        m = _matchers(selector, f'queue="{_escape(name)}"')
        drain = f"max(slokit_queue_depth{m}) / sum(rate(slokit_job_runs_total{m}{rate}))"
        panels.append(
            layout.place(
                _timeseries(
                    f"queue {name}",
                    f"Jobs waiting in {name}, the oldest one's age and the time to drain at "
                    "the current pace (the SLA countdown).",
                    _targets(
                        (f"max(slokit_queue_depth{m})", "waiting"),
                        (f"max(slokit_queue_oldest_age_seconds{m})", "oldest (s)"),
                        (drain, "time to drain (s)"),
                    ),
                    unit="short",
                    thresholds=_steps(("green", None), ("red", queue.drain))
                    if queue.drain
                    else None,
                    soft_min=0,
                ),
                8,
                8,
            )
        )
    return panels


_CURRENCY_UNITS = {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR", "SEK", "NOK", "DKK"}


def _finops_row(spec: Spec, name: str, budget: Budget, layout: _Layout) -> list[dict[str, Any]]:
    """Seed 004's FinOps panels for one budget, from the rules of ``slokit rules``."""
    m = _matchers(f'service="{_escape(spec.service)}"', f'budget="{_escape(name)}"')
    series = FINOPS_SERIES
    currency = currency_of(spec, budget)
    unit = f"currency{currency}" if currency in _CURRENCY_UNITS else "none"
    levels = [("green", None)] + [
        ("orange" if t.at < 1 else "red", budget.amount * t.at)
        for t in sorted(budget.thresholds, key=lambda t: t.at)
    ]
    where = f"{name} budget, {_number(budget.amount)} {currency} a month"
    panels = [
        layout.row(f"FinOps: {name}"),
        layout.place(
            _timeseries(
                "Spend this month",
                f"Month-to-date and projected month-end spend against the {where}; "
                "thresholds dashed. Without a spend series the month to date is estimated "
                "at the last day's pace.",
                _targets(
                    (f"{series['month_to_date']}{m}", "month to date"),
                    (f"{series['projected']}{m}", "projected month end"),
                    (f"{series['amount']}{m}", "budget"),
                ),
                unit=unit,
                thresholds=_steps(*levels),
                soft_min=0,
            ),
            10,
            8,
        ),
        layout.place(
            _timeseries(
                "Cost per hour",
                f"What the service costs per hour now and over the last day ({where}).",
                _targets(
                    (f"{series['hourly']}{m}", "now"),
                    (f"{series['avg1d']}{m}", "1-day mean"),
                ),
                unit=unit,
                soft_min=0,
            ),
            6,
            8,
        ),
        layout.place(
            _stat(
                "Projected month end",
                f"At the last day's pace, the month ends at this spend ({where}).",
                _targets((f"{series['projected']}{m}", "projected")),
                unit=unit,
                thresholds=_steps(*levels),
                decimals=2,
            ),
            4,
            8,
        ),
    ]
    if budget.week_over_week is not None:
        panels.append(
            layout.place(
                _stat(
                    "Cost week over week",
                    "The last 7 days' cost per hour against the 7 days before; the alert "
                    f"fires above +{_number(budget.week_over_week * 100)}%.",
                    _targets((f"{series['week_over_week']}{m}", "week over week")),
                    unit="percentunit",
                    thresholds=_steps(("green", None), ("red", budget.week_over_week)),
                    decimals=1,
                ),
                4,
                8,
            )
        )
    return panels


def _uid(service: str) -> str:
    """Stable and at most 40 characters (Grafana's limit): readable slug, then a hash."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", service.lower()).strip("-")[:24].strip("-")
    digest = hashlib.sha256(service.encode()).hexdigest()[:8]
    return f"slokit-{slug}-{digest}" if slug else f"slokit-{digest}"


def dashboard(spec: Spec, *, title: str | None = None, uid: str | None = None) -> dict[str, Any]:
    """The Grafana dashboard model (schema version 39) for ``spec``'s service and SLOs.

    ``title`` defaults to ``"<service> SLOs"``, ``uid`` to one derived from the service
    name. The SLO panels read the recording rules of ``slokit rules``: load them first.
    """
    spec = with_jobs(spec)
    layout = _Layout()
    panels = _service_row(spec, layout)
    for name, slo in spec.slos.items():
        panels += _slo_row(spec, name, slo, layout)
    panels += _dependency_row(spec, layout)
    panels += _jobs_row(spec, layout)
    for name, budget in spec.budgets.items():
        panels += _finops_row(spec, name, budget, layout)
    return {
        "id": None,
        "uid": uid if uid is not None else _uid(spec.service),
        "title": title if title is not None else f"{spec.service} SLOs",
        "description": f"SLOs of {spec.service}, generated by slokit from its spec; regenerate "
        "instead of editing. The SLO panels read the recording rules of `slokit rules`: "
        "load that rule file into Prometheus.",
        "tags": ["slokit", "slo"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "refresh": "1m",
        "links": [],
        "annotations": {"list": []},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "includeAll": False,
                    "multi": False,
                    "options": [],
                    "refresh": 1,
                    "regex": "",
                    "skipUrlSync": False,
                }
            ]
        },
        "panels": panels,
    }


def render_dashboard(spec: Spec, *, title: str | None = None, uid: str | None = None) -> str:
    """:func:`dashboard` as JSON text (indented by 2), ready for Grafana's import."""
    model = dashboard(spec, title=title, uid=uid)
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"
