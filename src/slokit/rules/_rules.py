"""The Prometheus rule file: SLI recording rules and multi-window multi-burn-rate alerts.

Per SLO, one group of recording rules (error ratio over 5m, 30m, 1h, 2h, 6h, 1d, 3d and the
SLO's own window; objective; error budget; budget left over the window) and one group of
alerts (the SRE Workbook's): page when 2% of the budget burns in 1 h or 5% in 6 h, each
confirmed by a short window (5m, 30m); ticket when 10% burns in 1 d or in 3 d (confirmed by
2h, 6h); and an alert when the SLI's metrics are absent. The burn-rate factors are scaled to
the SLO's window (14.4 / 6 / 3 / 1 for 30 days), and a condition whose long window is longer
than the SLO's own is left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from slokit.rules._sli import SLIQueries, prom_duration, sli_queries
from slokit.spec import SLO, Alerting, Spec, format_duration

__all__ = [
    "ALERTS",
    "BurnCondition",
    "PlainDumper",
    "RECORDING_WINDOWS",
    "alert_annotations",
    "alerting_of",
    "burn_conditions",
    "describe_slo",
    "error_ratio_metric",
    "render_rules",
    "rule_groups",
]

RECORDING_WINDOWS = (300.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0, 259200.0)
"""5m, 30m, 1h, 2h, 6h, 1d, 3d."""

ALERTS = {"page": "SLOFastBurn", "ticket": "SLOSlowBurn", "absent": "SLOMetricsAbsent"}


@dataclass(frozen=True)
class BurnCondition:
    severity: Literal["page", "ticket"]
    long: float
    short: float
    budget_share: float
    """Share of the window's error budget burnt over ``long`` at this rate."""
    factor: float
    """Burn rate: multiples of the rate that would use the budget exactly over the window."""


# (severity, long window, short window, share of the budget) from the SRE Workbook.
_WORKBOOK = (
    ("page", 3600.0, 300.0, 0.02),
    ("page", 21600.0, 1800.0, 0.05),
    ("ticket", 86400.0, 7200.0, 0.10),
    ("ticket", 259200.0, 21600.0, 0.10),
)


def burn_conditions(window: float) -> list[BurnCondition]:
    """The four conditions, their factors scaled so each still means "this share of the
    budget gone within the long window" for an SLO over ``window`` seconds."""
    out = []
    for severity, long, short, share in _WORKBOOK:
        if long > window:
            continue  # a condition longer than the SLO's window cannot be judged over it
        level: Literal["page", "ticket"] = "page" if severity == "page" else "ticket"
        out.append(BurnCondition(level, long, short, share, share * window / long))
    return out


def error_ratio_metric(window: float) -> str:
    return f"slokit:sli_error:ratio_rate{prom_duration(window)}"


def _number(value: float) -> str:
    return f"{value:.10g}"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _recording(spec: Spec, name: str, slo: SLO, queries: SLIQueries) -> list[dict[str, Any]]:
    labels = {"slo": name, "service": spec.service}
    windows = list(dict.fromkeys([*RECORDING_WINDOWS, slo.window]))
    rules: list[dict[str, Any]] = [
        {
            "record": error_ratio_metric(w),
            "expr": queries.error_ratio(prom_duration(w)),
            "labels": labels,
        }
        for w in windows
    ]
    budget = 1.0 - slo.objective
    selector = f'{{slo="{name}"}}'
    rules += [
        {
            "record": "slokit:slo_objective:ratio",
            "expr": f"vector({_number(slo.objective)})",
            "labels": labels,
        },
        {
            "record": "slokit:slo_error_budget:ratio",
            "expr": f"vector({_number(budget)})",
            "labels": labels,
        },
        {
            # What is left of the budget over the SLO's window: 1 untouched, 0 spent, < 0 overspent.
            "record": "slokit:slo_error_budget_remaining:ratio",
            "expr": f"1 - ({error_ratio_metric(slo.window)}{selector} / {_number(budget)})",
            "labels": labels,
        },
    ]
    return rules


def alerting_of(spec: Spec, slo: SLO) -> Alerting:
    return slo.alerting if slo.alerting is not None else spec.alerting


def describe_slo(slo: SLO) -> str:
    """``99.9% of requests to GET /x answered within 300ms, over 30d`` and the like."""
    where = f" to {slo.route}" if slo.route is not None else ""
    if slo.sli is not None:
        good = "good by its own SLI"
    elif slo.latency is not None:
        good = f"answered within {format_duration(slo.latency)}"
    else:
        good = "answered without a server error"
    return f"{slo.objective * 100:g}% of requests{where} {good}, over {format_duration(slo.window)}"


def alert_annotations(
    spec: Spec, name: str, slo: SLO, alerting: Alerting, what: str
) -> dict[str, str]:
    description = f"SLO {name} ({describe_slo(slo)}) {what}."
    if slo.description:
        description += f" {slo.description}"
    description += " slokit:slo_error_budget_remaining:ratio shows what is left of the budget."
    found = {"summary": f"{spec.service}: SLO {name} {what}", "description": description}
    if alerting.runbook:
        found["runbook_url"] = str(alerting.runbook)
    found.update(alerting.annotations)
    return found


def _burn_alerts(spec: Spec, name: str, slo: SLO) -> list[dict[str, Any]]:
    alerting = alerting_of(spec, slo)
    budget = 1.0 - slo.objective
    selector = f'{{slo="{name}"}}'
    rules = []
    for severity, wanted, hold, what in (
        ("page", alerting.page, alerting.page_for, "is burning its error budget fast"),
        ("ticket", alerting.ticket, alerting.ticket_for, "is burning its error budget"),
    ):
        conditions = [c for c in burn_conditions(slo.window) if c.severity == severity]
        if not wanted or not conditions:
            continue
        parts = [
            f"({error_ratio_metric(c.long)}{selector} > {_number(c.factor * budget)}"
            f" and {error_ratio_metric(c.short)}{selector} > {_number(c.factor * budget)})"
            for c in conditions
        ]
        rules.append(
            {
                "alert": ALERTS[severity],
                "expr": " or ".join(parts),
                "for": prom_duration(hold) if hold > 0 else "0s",
                # slo and service also come with the expression; naming them here keeps
                # every alert rule distinct (promtool's duplicate check) and routable.
                "labels": {
                    "severity": severity,
                    "slo": name,
                    "service": spec.service,
                    **alerting.labels,
                },
                "annotations": alert_annotations(spec, name, slo, alerting, what),
            }
        )
    return rules


def _absent_alert(spec: Spec, name: str, slo: SLO, queries: SLIQueries) -> dict[str, Any]:
    alerting = alerting_of(spec, slo)
    return {
        "alert": ALERTS["absent"],
        "expr": f"absent({queries.presence})",
        "for": "10m",
        "labels": {
            "severity": "ticket",
            "slo": name,
            "service": spec.service,
            **alerting.labels,
        },
        "annotations": alert_annotations(
            spec, name, slo, alerting, "has no metrics: its SLI cannot be computed"
        ),
    }


def rule_groups(spec: Spec, buckets: Iterable[float] | None = None) -> list[dict[str, Any]]:
    """The rule groups for every SLO of ``spec``, in spec order."""
    groups = []
    edges = list(buckets) if buckets is not None else None
    for name, slo in spec.slos.items():
        queries = sli_queries(spec, name, slo, edges)
        slug = _slug(name)
        groups.append(
            {
                "name": f"slokit-{_slug(spec.service)}-{slug}-sli",
                "rules": _recording(spec, name, slo, queries),
            }
        )
        groups.append(
            {
                "name": f"slokit-{_slug(spec.service)}-{slug}-alerts",
                "rules": [*_burn_alerts(spec, name, slo), _absent_alert(spec, name, slo, queries)],
            }
        )
    return groups


class PlainDumper(yaml.SafeDumper):
    """YAML without anchors and aliases: people read and diff rule files."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_rules(spec: Spec, buckets: Iterable[float] | None = None, source: str = "") -> str:
    """The rule file as YAML text, ready for ``promtool check rules``."""
    head = f"# Generated by `slokit rules` from {source or 'the spec'} for {spec.service}; "
    head += "regenerate instead of editing.\n"
    body = yaml.dump(
        {"groups": rule_groups(spec, buckets)},
        Dumper=PlainDumper,
        sort_keys=False,
        width=1000,
        allow_unicode=True,
    )
    return head + body
