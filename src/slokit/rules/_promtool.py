"""Unit tests for the rule file, in ``promtool test rules`` format.

Three synthetic worlds, each 40 minutes of series shaped like slokit.asgi's metrics for every
route the SLOs name (100 requests a minute each):

- healthy: every request answered 200 within every threshold: no alert may fire;
- burning: every request a slow 500: every burn alert whose threshold a 100 % error ratio
  exceeds must fire (with the labels and annotations the rule file gives it), once its
  ``for`` has passed;
- silent: no series at all: the "metrics absent" alert of every SLO fires.

SLOs with their own PromQL (``sli:``) get no synthetic series: in every world their metrics
are absent, and that is what the tests expect of them.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from slokit.rules._rules import ALERTS, PlainDumper, alert_annotations, alerting_of, burn_conditions
from slokit.rules._sli import DURATION_METRIC, REQUESTS_METRIC, sli_queries
from slokit.spec import Spec

__all__ = ["render_tests"]

_MINUTES = 40
_EVAL_MINUTES = 30
_PER_MINUTE = 100
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*')


def _selector_labels(selector: str | None) -> dict[str, str] | None:
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
    for path, method in sorted(routes):
        labels = {**base, "route": path, "method": method}
        healthy.append(_series(REQUESTS_METRIC, {**labels, "status": "200"}, _PER_MINUTE))
        burning.append(_series(REQUESTS_METRIC, {**labels, "status": "500"}, _PER_MINUTE))
        for world, in_time in ((healthy, _PER_MINUTE), (burning, 0)):
            world.append(_series(f"{DURATION_METRIC}_count", labels, _PER_MINUTE))
            for threshold in thresholds:
                le = {**labels, "le": repr(float(threshold))}
                world.append(_series(f"{DURATION_METRIC}_bucket", le, in_time))
    return {"healthy": healthy, "burning": burning, "silent": []}


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
        if world != "burning" or slo.sli is not None:
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
                        "exp_annotations": alert_annotations(spec, name, slo, alerting, what),
                    }
                )
    return expected


def render_tests(spec: Spec, rule_file: str) -> tuple[str, list[str]]:
    """The test file (YAML) for ``promtool test rules``, and notes on what it cannot test."""
    notes = []
    base = _selector_labels(spec.prometheus.selector)
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
