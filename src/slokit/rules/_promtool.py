"""Unit tests for the rule file, in ``promtool test rules`` format.

Four synthetic worlds, each 40 minutes of series shaped like slokit.asgi's metrics for every
route the SLOs name (100 requests a minute each):

- healthy: every request answered 200 within every threshold: no alert may fire;
- burning: every request a slow 500: every burn alert whose threshold a 100 % error ratio
  exceeds must fire (with the labels and annotations the rule file gives it), once its
  ``for`` has passed;
- fast-5xx: every request a 503 within every threshold: the same alerts fire, latency SLOs'
  too (a fast server error is not a good request);
- silent: no series at all: the "metrics absent" alert of every SLO fires.

:func:`render_burn_tests` writes a second kind of test for one SLO: its burn alerts over time,
at a burn rate inside the budget (nothing may fire) and at twice the fastest page factor (the
page must fire within the time that burns the tier's share of the budget).

SLOs with their own PromQL (``sli:``) get no synthetic series: in every world their metrics
are absent, and that is what the tests expect of them.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from slokit.rules._jobs import with_jobs
from slokit.rules._rules import (
    ALERTS,
    PlainDumper,
    alert_annotations,
    alerting_of,
    burn_annotations,
    burn_conditions,
    render_rules,
)
from slokit.rules._sli import DURATION_METRIC, REQUESTS_METRIC, sli_queries
from slokit.spec import Spec

__all__ = ["render_burn_tests", "render_tests", "selector_labels"]

_MINUTES = 40
_EVAL_MINUTES = 30
_PER_MINUTE = 100
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*')


def selector_labels(selector: str | None) -> dict[str, str] | None:
    """Labels to put on synthetic series; None when the selector is not plain ``a="b"``."""
    if not selector:
        return {}
    labels = {}
    for part in selector.split(","):
        match = _MATCHER.fullmatch(part)
        if match is None:
            return None
        labels[match.group(1)] = match.group(2)
    return labels


def _series(name: str, labels: dict[str, str], per_minute: int) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": f"0+{per_minute}x{_MINUTES}"}


def _worlds(spec: Spec, base: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    routes = {
        (slo.route.path, "GET" if slo.route.method == "*" else slo.route.method)
        for slo in spec.slos.values()
        if slo.route is not None and slo.sli is None
    } or {("/", "GET")}
    thresholds = sorted({slo.latency for slo in spec.slos.values() if slo.latency is not None})
    healthy: list[dict[str, str]] = []
    burning: list[dict[str, str]] = []
    fast_5xx: list[dict[str, str]] = []
    for path, method in sorted(routes):
        labels = {**base, "route": path, "method": method}
        for world, status, in_time in (
            (healthy, "200", _PER_MINUTE),
            (burning, "500", 0),
            (fast_5xx, "503", _PER_MINUTE),
        ):
            world.append(_series(REQUESTS_METRIC, {**labels, "status": status}, _PER_MINUTE))
            classed = {**labels, "status_class": f"{status[0]}xx"}
            world.append(_series(f"{DURATION_METRIC}_count", classed, _PER_MINUTE))
            for threshold in thresholds:
                le = {**classed, "le": repr(float(threshold))}
                world.append(_series(f"{DURATION_METRIC}_bucket", le, in_time))
    return {"healthy": healthy, "burning": burning, "fast-5xx": fast_5xx, "silent": []}


def _expected(spec: Spec, world: str) -> dict[str, list[dict[str, Any]]]:
    """Firing alerts per alert name at the evaluation time, for one world."""
    expected: dict[str, list[dict[str, Any]]] = {name: [] for name in ALERTS.values()}
    elapsed = (_EVAL_MINUTES - 1) * 60.0  # the first ratios exist after one minute
    for name, slo in spec.slos.items():
        alerting = alerting_of(spec, slo)
        labels = {"slo": name, "service": spec.service, **alerting.labels}
        no_metrics = world == "silent" or slo.sli is not None
        if no_metrics and elapsed >= 600:
            what = "has no metrics: its SLI cannot be computed"
            absent = sli_queries(spec, name, slo).absent_labels
            expected[ALERTS["absent"]].append(
                {
                    "exp_labels": {"severity": "ticket", **absent, **labels},
                    "exp_annotations": alert_annotations(spec, name, slo, alerting, what),
                }
            )
        if world not in ("burning", "fast-5xx") or slo.sli is not None:
            continue
        budget = 1.0 - slo.objective
        for severity, wanted, hold, what in (
            ("page", alerting.page, alerting.page_for, "is burning its error budget fast"),
            ("ticket", alerting.ticket, alerting.ticket_for, "is burning its error budget"),
        ):
            conditions = [c for c in burn_conditions(slo.window) if c.severity == severity]
            # Every request is bad: the error ratio is 1 in every window.
            fires = any(c.factor * budget < 1.0 for c in conditions)
            if wanted and conditions and fires and elapsed >= hold:
                expected[ALERTS[severity]].append(
                    {
                        "exp_labels": {"severity": severity, **labels},
                        "exp_annotations": {
                            **alert_annotations(spec, name, slo, alerting, what),
                            **burn_annotations(slo, severity),
                        },
                    }
                )
    return expected


def render_tests(spec: Spec, rule_file: str) -> tuple[str, list[str]]:
    """The test file (YAML) for ``promtool test rules``, and notes on what it cannot test."""
    spec = with_jobs(spec)
    notes = []
    base = selector_labels(spec.prometheus.selector)
    if base is None:
        notes.append(
            f'the selector {spec.prometheus.selector!r} uses more than plain label="value" '
            "matchers: synthetic series cannot match it, so only the silent world is tested"
        )
    worlds = _worlds(spec, base or {})
    for name, slo in spec.slos.items():
        if slo.sli is not None:
            notes.append(f"SLO {name} has its own PromQL: its burn alerts are not exercised")
    tests = []
    for world, series in worlds.items():
        if base is None and world != "silent":
            continue
        expected = _expected(spec, world)
        tests.append(
            {
                "name": f"{spec.service}: {world}",
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": f"{_EVAL_MINUTES}m", "alertname": alert, "exp_alerts": exp}
                    for alert, exp in expected.items()
                ],
            }
        )
    document = {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}
    head = "# Generated by `slokit rules --test`: run `promtool test rules` on this file.\n"
    return head + _dump(document), notes


def _dump(document: Any) -> str:
    return yaml.dump(document, Dumper=PlainDumper, sort_keys=False, width=1000, allow_unicode=True)


_BURN_PER_MINUTE = 1000
_WITHIN_BUDGET = 0.2
"""The burn rate of the "within budget" world: below 1, so no alert may ever fire."""


def _ramp(before: int, after: int, switch: int, end: int) -> str:
    """A counter growing by ``before`` a minute up to minute ``switch``, then by ``after``
    until minute ``end`` (promtool's expanding notation)."""
    return f"0+{before}x{switch} {before * switch + after}+{after}x{end - switch - 1}"


def _burn_series(
    spec: Spec, name: str, bad_before: int, bad_after: int, switch: int, end: int
) -> list[dict[str, str]]:
    """One route's series: good requests fast 200s, bad ones fast 500s (so a latency SLO
    must see them through ``status_class``)."""
    slo = spec.slos[name]
    path, method = ("/", "GET")
    if slo.route is not None:
        path = slo.route.path
        method = "GET" if slo.route.method == "*" else slo.route.method
    labels = {**(selector_labels(spec.prometheus.selector) or {}), "route": path, "method": method}
    out = []
    for status, before, after in (
        ("200", _BURN_PER_MINUTE - bad_before, _BURN_PER_MINUTE - bad_after),
        ("500", bad_before, bad_after),
    ):
        values = _ramp(before, after, switch, end)
        inner = ",".join(f'{k}="{v}"' for k, v in {**labels, "status": status}.items())
        out.append({"series": f"{REQUESTS_METRIC}{{{inner}}}", "values": values})
        classed = {**labels, "status_class": f"{status[0]}xx"}
        names = [(f"{DURATION_METRIC}_count", classed)]
        if slo.latency is not None:
            names.append((f"{DURATION_METRIC}_bucket", {**classed, "le": repr(slo.latency)}))
        for metric, series_labels in names:
            inner = ",".join(f'{k}="{v}"' for k, v in series_labels.items())
            out.append({"series": f"{metric}{{{inner}}}", "values": values})
    return out


def render_burn_tests(spec: Spec, name: str) -> tuple[str, str]:
    """The rule file of SLO ``name`` alone and its ``promtool test rules`` file (which names
    the rule file ``<name>.rules.yml``): the burn alerts over time.

    The service answers 1000 requests a minute. Within budget, errors burn at 0.2 from the
    start: neither burn alert may fire at any evaluation. Fast burn: good traffic for one
    long window of the fastest page tier and 10 minutes more, then errors at twice that
    tier's factor: no page before the errors, none a quarter window in (the long window has
    seen half the threshold), and a page once three quarters of the window and ``page_for``
    have passed, the time that burns the tier's share of the budget twice over.
    """
    slo = spec.slos[name]
    if slo.sli is not None or selector_labels(spec.prometheus.selector) is None:
        raise ValueError(f"SLO {name}: burn tests need slokit's metrics and a plain selector")
    alone = spec.model_copy(update={"slos": {name: slo}})
    alerting = alerting_of(spec, slo)
    budget = 1.0 - slo.objective
    pages = [c for c in burn_conditions(slo.window) if c.severity == "page"]
    fastest = min(pages, key=lambda c: c.long)
    long_m = round(fastest.long / 60)
    switch = long_m + 10
    hold_m = -(-round(alerting.page_for) // 60)
    quarter = switch + max(1, long_m // 4)
    fires = switch + -(-3 * long_m // 4) + hold_m + 1
    end = fires + 1
    labels = {"slo": name, "service": spec.service, **alerting.labels}
    what = "is burning its error budget fast"
    page = {
        "exp_labels": {"severity": "page", **labels},
        "exp_annotations": {
            **alert_annotations(spec, name, slo, alerting, what),
            **burn_annotations(slo, "page"),
        },
    }
    quiet = round(_BURN_PER_MINUTE * _WITHIN_BUDGET * budget)
    burning = min(_BURN_PER_MINUTE, round(_BURN_PER_MINUTE * 2 * fastest.factor * budget))
    if quiet < 1 or burning <= quiet:
        raise ValueError(f"SLO {name}: objective {slo.objective} leaves no room for burn tests")
    within = {
        "name": f"{spec.service}/{name}: burn rate {_WITHIN_BUDGET:g} never alerts",
        "interval": "1m",
        "input_series": _burn_series(alone, name, quiet, quiet, switch, end),
        "alert_rule_test": [
            {"eval_time": f"{t}m", "alertname": alert, "exp_alerts": []}
            for t in (switch, quarter, fires, end)
            for alert in (ALERTS["page"], ALERTS["ticket"])
        ],
    }
    fast = {
        "name": f"{spec.service}/{name}: burn rate {burning / _BURN_PER_MINUTE / budget:g} pages",
        "interval": "1m",
        "input_series": _burn_series(alone, name, 0, burning, switch, end),
        "alert_rule_test": [
            {"eval_time": f"{switch}m", "alertname": ALERTS["page"], "exp_alerts": []},
            {"eval_time": f"{quarter}m", "alertname": ALERTS["page"], "exp_alerts": []},
            {
                "eval_time": f"{fires}m",
                "alertname": ALERTS["page"],
                "exp_alerts": [page] if alerting.page else [],
            },
        ],
    }
    rule_file = f"{name}.rules.yml"
    document = {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": [within, fast]}
    head = "# Generated by slokit: run `promtool test rules` on this file.\n"
    return render_rules(alone), head + _dump(document)
