"""The Prometheus rule file: SLI recording rules and multi-window multi-burn-rate alerts.

Per SLO, one group of recording rules (error ratio over 5m, 30m, 1h, 2h, 6h, 1d, 3d, the
alert windows and the SLO's own window; objective; error budget; budget left over the window)
and one group of alerts (the SRE Workbook's multi-window multi-burn-rate ones) and an alert
when the SLI's metrics are absent.

The Workbook defines its tiers for a 30-day SLO: page at burn rate 14.4 over 1h (confirmed
over 5m: 2 % of the budget gone) or 6 over 6h/30m (5 %); ticket at 3 over 1d/2h or 1 over
3d/6h (10 %). For another SLO window the windows scale with it and the factors stay (as
Pyrra does: its windows are 1h/5m... times sloWindow/28d): over a 7d SLO the first page tier
is 14.4 over 14m (confirmed over 5m), still 2 % of the 7-day budget. Keeping the Workbook's
windows and scaling the factors instead (share x window / long window) would give factors
below 1 for short windows (0.02 for 1h), which page inside the budget.

No window is shorter than 5m (a rate over fewer scrapes is noise): a tier whose scaled window
is shorter gets 5m, and at its factor then spends a larger share of the budget before it
fires. A tier that would spend the whole budget before firing is left out, and the alert's
``burn_rates`` annotation says so; an SLO window so short that no tier of a wanted severity
is left (page needs a window above 30m) is refused with an error saying what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from slokit.errors import UsageError
from slokit.rules._finops import finops_groups
from slokit.rules._jobs import with_jobs
from slokit.rules._sli import SLIQueries, prom_duration, sli_queries
from slokit.rules._thresholds import threshold_groups
from slokit.spec import SLO, Alerting, Spec, format_duration

__all__ = [
    "ALERTS",
    "BurnCondition",
    "PlainDumper",
    "RECORDING_WINDOWS",
    "alert_annotations",
    "alerting_of",
    "burn_annotations",
    "burn_conditions",
    "left_out_conditions",
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


_THIRTY_DAYS = 30 * 86400.0
_SHORTEST = 300.0
"""5m: no alert window is shorter (a rate needs several scrapes to mean anything)."""

# (severity, long window, short window, burn factor) of the SRE Workbook, for 30 days.
_WORKBOOK: tuple[tuple[Literal["page", "ticket"], float, float, float], ...] = (
    ("page", 3600.0, 300.0, 14.4),
    ("page", 21600.0, 1800.0, 6.0),
    ("ticket", 86400.0, 7200.0, 3.0),
    ("ticket", 259200.0, 21600.0, 1.0),
)


def _tiers(window: float) -> list[BurnCondition]:
    """Every Workbook tier scaled to ``window``, kept or not."""
    scale = window / _THIRTY_DAYS
    out = []
    for severity, long30, short30, factor in _WORKBOOK:
        # Whole minutes, as people write them and Prometheus evaluates them.
        long = max(_SHORTEST, round(long30 * scale / 60.0) * 60.0)
        short = min(long, max(_SHORTEST, round(short30 * scale / 60.0) * 60.0))
        out.append(BurnCondition(severity, long, short, factor * long / window, factor))
    return out


def burn_conditions(window: float) -> list[BurnCondition]:
    """The burn-rate conditions for an SLO over ``window`` seconds: the Workbook's factors
    (always >= 1: a burn rate below 1 keeps within the budget) over windows scaled to the
    SLO's, leaving out a tier that would fire only after the whole budget is spent."""
    return [c for c in _tiers(window) if c.budget_share < 1.0]


def left_out_conditions(window: float) -> list[BurnCondition]:
    """The tiers :func:`burn_conditions` leaves out for ``window`` (too short for them)."""
    return [c for c in _tiers(window) if c.budget_share >= 1.0]


def _condition_text(c: BurnCondition, window: float) -> str:
    return (
        f"{c.factor:g}x the budget rate over {prom_duration(c.long)} (and {prom_duration(c.short)})"
        f" = {c.budget_share * 100:.3g}% of the {prom_duration(window)} budget"
    )


def burn_annotations(slo: SLO, severity: str) -> dict[str, str]:
    """The ``burn_rates`` annotation of a burn alert: its conditions, and the tiers left out."""
    kept = [c for c in burn_conditions(slo.window) if c.severity == severity]
    text = "fires at " + " or ".join(_condition_text(c, slo.window) for c in kept)
    dropped = [c for c in left_out_conditions(slo.window) if c.severity == severity]
    if dropped:
        text += "; left out, as they would fire only after the whole budget is spent: "
        text += ", ".join(_condition_text(c, slo.window) for c in dropped)
    return {"burn_rates": text}


def _check_window(name: str, slo: SLO, severity: str) -> None:
    if not [c for c in burn_conditions(slo.window) if c.severity == severity]:
        key = "page" if severity == "page" else "ticket"
        shortest = min(f for sev, _, _, f in _WORKBOOK if sev == severity) * _SHORTEST
        raise UsageError(
            f"slos.{name}.window: {format_duration(slo.window)} is too short for a {severity} "
            f"burn-rate alert: over the shortest alert window ({prom_duration(_SHORTEST)}) "
            "every Workbook tier would fire only after the whole error budget is spent. Use a "
            f"window longer than {format_duration(shortest)}, or set "
            f"alerting: {{{key}: false}} for this SLO."
        )


def error_ratio_metric(window: float) -> str:
    return f"slokit:sli_error:ratio_rate{prom_duration(window)}"


def _number(value: float) -> str:
    return f"{value:.10g}"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _recording(spec: Spec, name: str, slo: SLO, queries: SLIQueries) -> list[dict[str, Any]]:
    labels = {"slo": name, "service": spec.service}
    alert_windows = [w for c in burn_conditions(slo.window) for w in (c.long, c.short)]
    windows = sorted(dict.fromkeys([*RECORDING_WINDOWS, *alert_windows, slo.window]))
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
        if not wanted:
            continue
        _check_window(name, slo, severity)
        conditions = [c for c in burn_conditions(slo.window) if c.severity == severity]
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
                "annotations": {
                    **alert_annotations(spec, name, slo, alerting, what),
                    **burn_annotations(slo, severity),
                },
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
    """The rule groups for every SLO of ``spec``, in spec order, then its threshold alerts'
    and its budgets'."""
    spec = with_jobs(spec)
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
    return groups + threshold_groups(spec) + finops_groups(spec)


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
