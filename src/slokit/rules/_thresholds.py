"""The spec's ``alerts:`` as Prometheus alerting rules, and their promtool tests.

PromQL per kind (``W`` is the alert's ``over``, 5m; the spec's selector on the service's own
series):

- ``p95(ROUTE) > 300ms``: more than 5 % of the route's requests slower than 300 ms over W,
  read from the duration histogram's 300 ms bucket (slokit.asgi makes every alert threshold
  an edge, so the share is exact, never interpolated as ``histogram_quantile`` would);
- ``error_rate(ROUTE) > 1%``: the 5xx share over W; ``rate_limited(ROUTE) > 1/s``: 429s per
  second over W;
- ``breaker_open(NAME) > 1m``: the breaker's ``slokit_circuit_breaker_state{state="open"}``
  is 1, held for that long;
- ``rss``, ``cpu``: ``process_resident_memory_bytes`` and the rate of
  ``process_cpu_seconds_total`` (the busiest process); ``disk_free(MOUNT)``: node exporter's
  available / size bytes of that mount point; ``value(SELECTOR)``: the series as given.

Each rule carries ``severity`` (the ``alerting.severities`` mapping of its priority: what the
Alertmanager routes read) and ``priority`` labels.
"""

from __future__ import annotations

import re
from typing import Any

from slokit.rules._sli import DURATION_METRIC, REQUESTS_METRIC, le_pattern, prom_duration
from slokit.spec import Spec, ThresholdAlert, Watch, format_duration

__all__ = [
    "all_threshold_alerts",
    "render_threshold_tests",
    "threshold_groups",
    "threshold_rule",
]

_BREAKER = "slokit_circuit_breaker_state"
_DEP_DURATION = "slokit_dependency_request_duration_seconds"
_DEP_REQUESTS = "slokit_dependency_requests_total"
_CACHE = "slokit_cache_requests_total"
_DEP_FAILED = 'outcome=~"error|transport_error"'
_DEP_SENT = 'outcome!="rejected"'
_HIT = 'result="hit"'
_SERVER_ERROR = 'status=~"5.."'
_LIMITED = 'status="429"'
_OPEN = 'state="open"'
_SHARES: dict[str, tuple[str, str | None, str, str | None]] = {
    # kind: (counter, the label naming what it is about (None: the route), part, whole)
    "error_rate": (REQUESTS_METRIC, None, _SERVER_ERROR, None),
    "dependency_error_rate": (_DEP_REQUESTS, "dependency", _DEP_FAILED, _DEP_SENT),
    "cache_hit_ratio": (_CACHE, "cache", _HIT, None),
}
"""The kinds that are a share of one counter's events: part / whole."""
_SELECTOR = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*\Z")


def _q(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _m(*parts: str | None) -> str:
    kept = [p for p in parts if p]
    return "{" + ",".join(kept) + "}" if kept else ""


def _route(watch: Watch) -> list[str]:
    if watch.route is None:
        return []
    found = [f'route="{_q(watch.route.path)}"']
    if watch.route.method != "*":
        found.append(f'method="{watch.route.method}"')
    return found


def _num(value: float) -> str:
    return f"{value:.10g}"


def _expr(spec: Spec, alert: ThresholdAlert) -> str:
    w, sel = alert.watch, spec.prometheus.selector
    window = prom_duration(alert.over)
    route = _route(w)
    than = f"{w.op} {_num(w.threshold)}"
    if w.kind in ("latency", "dependency_latency"):
        metric, of = (
            (DURATION_METRIC, route)
            if w.kind == "latency"
            else (_DEP_DURATION, [f'dependency="{_q(w.arg or "")}"'])
        )
        le = f'le=~"{le_pattern(w.threshold)}"'
        fast = f"sum(rate({metric}_bucket{_m(sel, *of, le)}[{window}]))"
        total = f"sum(rate({metric}_count{_m(sel, *of)}[{window}]))"
        # pNN above t <=> more than (1 - NN %) of the requests slower than t.
        return f"(1 - {fast} / {total}) {w.op} {_num(1 - (w.quantile or 0.0))}"
    if w.kind in _SHARES:
        metric, label, part, whole = _SHARES[w.kind]
        of = route if label is None else [f'{label}="{_q(w.arg or "")}"']
        some = f"sum(rate({metric}{_m(sel, *of, part)}[{window}]))"
        every = f"sum(rate({metric}{_m(sel, *of, whole)}[{window}]))"
        # No series of the part at all is a share of 0, not "no data".
        return f"(({some}) or vector(0)) / {every} {than}"
    if w.kind == "rate_limited":
        limited = f"sum(rate({REQUESTS_METRIC}{_m(sel, *route, _LIMITED)}[{window}]))"
        return f"(({limited}) or vector(0)) {than}"
    if w.kind == "breaker_open":
        name = f'breaker="{_q(w.arg or "")}"'
        return f"max({_BREAKER}{_m(sel, name, _OPEN)}) == 1"
    if w.kind == "rss":
        return f"max(process_resident_memory_bytes{_m(sel)}) {than}"
    if w.kind == "cpu":
        return f"max(rate(process_cpu_seconds_total{_m(sel)}[{window}])) {than}"
    if w.kind == "job_freshness":
        job = f'job_name="{_q(w.arg or "")}"'
        return f"time() - max(slokit_job_last_success_timestamp_seconds{_m(sel, job)}) {than}"
    if w.kind == "queue_drain":
        queue = f'queue="{_q(w.arg or "")}"'
        depth = f"max(slokit_queue_depth{_m(sel, queue)})"
        done = f"sum(rate(slokit_job_runs_total{_m(sel, queue)}[{window}]))"
        # Nothing done while jobs wait divides by 0: +Inf, past any limit, as it should be.
        return f"{depth} / {done} {than}"
    if w.kind == "queue_age":
        queue = f'queue="{_q(w.arg or "")}"'
        return f"max(slokit_queue_oldest_age_seconds{_m(sel, queue)}) {than}"
    if w.kind == "disk_free":
        mount = f'mountpoint="{_q(w.arg or "/")}"'
        avail, size = (
            f"node_filesystem_avail_bytes{{{mount}}}",
            f"node_filesystem_size_bytes{{{mount}}}",
        )
        return f"min({avail} / {size}) {than}"
    return f"max({w.arg}) {than}"


def _hold(alert: ThresholdAlert) -> float:
    w = alert.watch
    return float(w.threshold if w.kind == "breaker_open" else alert.hold)


def threshold_rule(spec: Spec, name: str, alert: ThresholdAlert) -> dict[str, Any]:
    """The alerting rule of one ``alerts:`` entry."""
    severity = spec.alerting.severities.get(alert.severity, "ticket")
    hold = _hold(alert)
    summary = alert.summary or f"{spec.service}: {alert.when} for {format_duration(hold)}"
    annotations = {
        "summary": summary,
        "description": alert.description
        or f"{alert.when} has held for {format_duration(hold)} ({alert.severity}).",
        **spec.alerting.annotations,
    }
    if spec.alerting.runbook is not None:
        annotations["runbook_url"] = spec.alerting.runbook
    return {
        "alert": name,
        "expr": _expr(spec, alert),
        "for": prom_duration(hold),
        "labels": {
            "severity": severity,
            "priority": alert.severity,
            "service": spec.service,
            **spec.alerting.labels,
            **alert.labels,
        },
        "annotations": annotations,
    }


def _implied(spec: Spec) -> list[tuple[str, ThresholdAlert]]:
    """The alerts the spec's dependency and cache SLOs stand for, named by kind and labelled
    with the dependency or cache (one alert name per kind, so Alertmanager groups them)."""
    found = []
    for name, dep in spec.dependencies.items():
        if dep.latency is not None:
            objective = dep.objective if dep.objective is not None else 0.95
            when = f"dependency_p{objective * 100:g}({name}) > {format_duration(dep.latency)}"
            found.append(("DependencyLatency", name, "dependency", when, 300.0, "medium"))
        if dep.errors is not None:
            when = f"dependency_error_rate({name}) > {dep.errors * 100:g}%"
            found.append(("DependencyErrors", name, "dependency", when, 300.0, "medium"))
    for name, cache in spec.caches.items():
        when = f"cache_hit_ratio({name}) < {cache.hit_ratio * 100:g}%"
        found.append(("CacheHitRatioLow", name, "cache", when, cache.hold, cache.severity))
    for name, job in spec.jobs.items():
        if job.freshness is not None:
            when = f"job_freshness({name}) > {format_duration(job.freshness)}"
            found.append(("JobStale", name, "job_name", when, 300.0, job.severity))
    for name, queue in spec.queues.items():
        if queue.drain is not None:
            when = f"queue_drain({name}) > {format_duration(queue.drain)}"
            found.append(("QueueDrainSlow", name, "queue", when, queue.hold, queue.severity))
        if queue.max_age is not None:
            when = f"queue_age({name}) > {format_duration(queue.max_age)}"
            found.append(("QueueJobTooOld", name, "queue", when, queue.hold, queue.severity))
    alerts = []
    for alert, name, key, when, hold, severity in found:
        over = spec.caches[name].over if key == "cache" else 300.0
        fields = {"when": when, "for": hold, "over": over, "severity": severity}
        alerts.append((alert, ThresholdAlert.model_validate({**fields, "labels": {key: name}})))
    return alerts


def all_threshold_alerts(spec: Spec) -> list[tuple[str, ThresholdAlert]]:
    """``alerts:`` and the alerts of the dependency and cache SLOs, as (alert name, alert)."""
    return [*spec.alerts.items(), *_implied(spec)]


def threshold_groups(spec: Spec) -> list[dict[str, Any]]:
    """One group with every threshold alert of the spec (none without any)."""
    alerts = all_threshold_alerts(spec)
    if not alerts:
        return []
    slug = re.sub(r"[^a-z0-9]+", "-", spec.service.lower()).strip("-") or "service"
    rules = [threshold_rule(spec, name, alert) for name, alert in alerts]
    return [{"name": f"slokit-{slug}-threshold-alerts", "rules": rules}]


# --- promtool tests ---------------------------------------------------------------------

_PER_MIN = 600
"""Requests a minute in the synthetic traffic."""


def _beyond(w: Watch, breached: bool, scale: float = 1.0) -> float:
    """A value on the firing side of the threshold (``breached``) or well inside it."""
    t = w.threshold * scale
    high = w.op in (">", ">=")
    if breached == high:
        return t * 2 if t > 0 else 1.0
    return t / 2


def _counter(rate_per_min: float, minutes: int) -> str:
    return f"0+{_num(rate_per_min)}x{minutes}"


def _series(
    spec: Spec, alert: ThresholdAlert, breached: bool, minutes: int
) -> list[dict[str, str]] | None:
    from slokit.rules._promtool import selector_labels  # _promtool imports the rule file

    w = alert.watch
    base = selector_labels(spec.prometheus.selector)
    if base is None:
        return None
    route = {}
    if w.route is not None:
        route = {
            "route": w.route.path,
            "method": "GET" if w.route.method == "*" else w.route.method,
        }

    def named(metric: str, labels: dict[str, str]) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return f"{metric}{{{inner}}}"

    def one(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
        return {"series": named(metric, labels), "values": values}

    if w.kind in ("latency", "dependency_latency"):
        slow = min(1.0, _beyond(Watch("value", w.op, 1 - (w.quantile or 0.0)), breached))
        if w.kind == "latency":
            metric, labels = DURATION_METRIC, {**base, **route, "status_class": "2xx"}
        else:
            metric, labels = _DEP_DURATION, {**base, "dependency": w.arg or ""}
        edge = {**labels, "le": repr(float(w.threshold))}
        return [
            one(f"{metric}_count", labels, _counter(_PER_MIN, minutes)),
            one(f"{metric}_bucket", edge, _counter(_PER_MIN * (1 - slow), minutes)),
        ]
    if w.kind == "error_rate":
        bad = min(1.0, _beyond(w, breached)) * _PER_MIN
        labels = {**base, **route}
        return [
            one(REQUESTS_METRIC, {**labels, "status": "500"}, _counter(bad, minutes)),
            one(REQUESTS_METRIC, {**labels, "status": "200"}, _counter(_PER_MIN - bad, minutes)),
        ]
    if w.kind == "rate_limited":
        labels = {**base, **route, "status": "429"}
        return [one(REQUESTS_METRIC, labels, _counter(_beyond(w, breached) * 60, minutes))]
    if w.kind == "breaker_open":
        labels = {**base, "breaker": w.arg or "", "state": "open"}
        return [one(_BREAKER, labels, f"{1 if breached else 0}x{minutes}")]
    if w.kind == "rss":
        value = _num(_beyond(w, breached))
        return [one("process_resident_memory_bytes", base, f"{value}x{minutes}")]
    if w.kind == "cpu":
        per_min = _beyond(w, breached) * 60
        return [one("process_cpu_seconds_total", base, _counter(per_min, minutes))]
    if w.kind == "disk_free":
        size = 1e11
        mount = {"mountpoint": w.arg or "/"}
        avail = _num(size * min(1.0, _beyond(w, breached)))
        return [
            one("node_filesystem_size_bytes", mount, f"{_num(size)}x{minutes}"),
            one("node_filesystem_avail_bytes", mount, f"{avail}x{minutes}"),
        ]
    if w.kind in ("dependency_error_rate", "cache_hit_ratio"):
        share = min(1.0, _beyond(w, breached)) * _PER_MIN
        if w.kind == "dependency_error_rate":
            metric, labels = _DEP_REQUESTS, {**base, "dependency": w.arg or ""}
            key, named_share, rest = "outcome", "error", "success"
        else:
            metric, labels = _CACHE, {**base, "cache": w.arg or ""}
            key, named_share, rest = "result", "hit", "miss"
        return [
            one(metric, {**labels, key: named_share}, _counter(share, minutes)),
            one(metric, {**labels, key: rest}, _counter(_PER_MIN - share, minutes)),
        ]
    if w.kind == "job_freshness":
        # A constant last-success time: 2x the limit before the test's start, or its end.
        at = -2 * w.threshold if breached else (minutes + 1) * 60
        labels = {**base, "job_name": w.arg or ""}
        return [one("slokit_job_last_success_timestamp_seconds", labels, f"{_num(at)}x{minutes}")]
    if w.kind == "queue_drain":
        waiting = _beyond(w, breached)  # jobs waiting, done at 1 a second: that many seconds
        labels = {**base, "queue": w.arg or ""}
        return [
            one("slokit_queue_depth", labels, f"{_num(waiting)}x{minutes}"),
            one("slokit_job_runs_total", {**labels, "job_name": "j", "outcome": "success"},
                _counter(60, minutes)),
        ]  # fmt: skip
    if w.kind == "queue_age":
        labels = {**base, "queue": w.arg or ""}
        return [
            one(
                "slokit_queue_oldest_age_seconds", labels, f"{_num(_beyond(w, breached))}x{minutes}"
            )
        ]
    found = _SELECTOR.match(w.arg or "")
    own = selector_labels(found.group(2)) if found else None
    if found is None or own is None:
        return None
    labels = own
    return [
        {
            "series": named(found.group(1), labels),
            "values": f"{_num(_beyond(w, breached))}x{minutes}",
        }
    ]


def _which(alert: ThresholdAlert) -> str:
    own = [
        f"{k}={v}"
        for k, v in alert.labels.items()
        if k in ("dependency", "cache", "job_name", "queue")
    ]
    return f" ({', '.join(own)})" if own else ""


def render_threshold_tests(spec: Spec, rule_file: str) -> tuple[str, list[str]] | None:
    """promtool tests for the spec's threshold alerts: per alert, a world past its threshold
    (it fires once its ``for`` has passed, with its exact labels and annotations) and one
    well inside it (it must not). None without ``alerts:``."""
    alerts = all_threshold_alerts(spec)
    if not alerts:
        return None
    import yaml

    from slokit.rules._rules import PlainDumper

    notes, tests = [], []
    for name, alert in alerts:
        hold = _hold(alert)
        eval_min = int((hold + alert.over) // 60) + 10
        rule = threshold_rule(spec, name, alert)
        for world, breached in (("breached", True), ("normal", False)):
            series = _series(spec, alert, breached, eval_min + 5)
            if series is None:
                notes.append(
                    f'alert {name}: its series use more than plain label="value" matchers, so '
                    "synthetic series cannot match them: not tested"
                )
                break
            expected = (
                [{"exp_labels": dict(rule["labels"]), "exp_annotations": dict(rule["annotations"])}]
                if breached
                else []
            )
            tests.append(
                {
                    "name": f"{spec.service} alert {name}{_which(alert)}: {world}",
                    "interval": "1m",
                    "input_series": series,
                    "alert_rule_test": [
                        {"eval_time": f"{eval_min}m", "alertname": name, "exp_alerts": expected}
                    ],
                }
            )
    document = {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}
    head = "# Generated by `slokit rules --test`: run `promtool test rules` on this file.\n"
    text = yaml.dump(document, Dumper=PlainDumper, sort_keys=False, width=1000, allow_unicode=True)
    return head + text, notes
