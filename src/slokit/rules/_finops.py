"""Budget rules: the cost per hour, month-to-date and projected month-end spend of each of the
spec's ``budgets:``, and alerts at each threshold and on a week-over-week increase.

Recorded per budget (labels ``service`` and ``budget``):

- ``slokit:finops_cost:hourly``: the cost per hour now. From ``hourly`` as given; from
  ``per_million`` as the request rate x 3600 x price / 1e6; from ``spend`` as the hourly
  rate of the month-to-date gauge (``rate`` reads its restart at the month's start as a
  counter reset, so the first hour of a month is not a negative cost).
- ``slokit:finops_cost:hourly_avg1d``: its mean over the last day, the rate projected on.
- ``slokit:finops_spend:month_to_date``: the ``spend`` gauge itself; without one, an estimate:
  the last day's mean hourly cost x the hours gone in the month (UTC). PromQL has no "since
  the first of the month" range, and Prometheus keeps no running total a rule could restart;
  give a ``spend`` series when the month-to-date figure has to be exact.
- ``slokit:finops_spend:projected_month_end``: month to date + the last day's mean hourly cost
  x the hours left in the month: a linear projection at today's rate.
- ``slokit:finops_cost:week_over_week``: the last 7 days' mean hourly cost over the 7 days
  before, minus 1 (0.25 is 25 % more).
- ``slokit:finops_budget:amount``: the budget, for dashboards.
"""

from __future__ import annotations

import re
from typing import Any

from slokit.rules._sli import REQUESTS_METRIC
from slokit.spec import Budget, Spec, format_duration

__all__ = [
    "FINOPS_ALERTS",
    "FINOPS_SERIES",
    "budget_alerts",
    "currency_of",
    "finops_groups",
]

FINOPS_ALERTS = {
    "spent": "FinOpsBudgetSpent",
    "projected": "FinOpsBudgetProjected",
    "week_over_week": "FinOpsCostWeekOverWeek",
}
FINOPS_SERIES = {
    "hourly": "slokit:finops_cost:hourly",
    "avg1d": "slokit:finops_cost:hourly_avg1d",
    "month_to_date": "slokit:finops_spend:month_to_date",
    "projected": "slokit:finops_spend:projected_month_end",
    "week_over_week": "slokit:finops_cost:week_over_week",
    "amount": "slokit:finops_budget:amount",
}

_ELAPSED = "scalar((day_of_month() - 1) * 24 + hour() + minute() / 60)"
_LEFT = f"(scalar(days_in_month() * 24) - {_ELAPSED})"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "service"


def _number(value: float) -> str:
    return f"{value:.10g}"


def _matchers(spec: Spec, name: str) -> str:
    service = spec.service.replace("\\", "\\\\").replace('"', '\\"')
    budget = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'{{service="{service}",budget="{budget}"}}'


def _hourly_source(spec: Spec, budget: Budget) -> str:
    if budget.hourly is not None:
        return f"sum({budget.hourly})"
    if budget.spend is not None:
        return f"rate((sum({budget.spend}))[1h:5m]) * 3600"
    selector = spec.prometheus.selector
    requests = f"{REQUESTS_METRIC}{{{selector}}}" if selector else REQUESTS_METRIC
    price = _number((budget.per_million or 0.0) / 1e6)
    return f"sum(rate({requests}[1h])) * 3600 * {price}"


def currency_of(spec: Spec, budget: Budget) -> str:
    if budget.currency:
        return budget.currency
    return (spec.cost.currency if spec.cost is not None else None) or "USD"


def _recording(spec: Spec, name: str, budget: Budget) -> list[dict[str, Any]]:
    labels = {"service": spec.service, "budget": name}
    m = _matchers(spec, name)
    hourly, avg = FINOPS_SERIES["hourly"], FINOPS_SERIES["avg1d"]
    # The gauge when there is one; else the estimate at the last day's pace (module docstring).
    estimate = f"{avg}{m} * {_ELAPSED}"
    month_to_date = f"sum({budget.spend})" if budget.spend is not None else estimate
    week = f"avg_over_time({hourly}{m}[7d]) / avg_over_time({hourly}{m}[7d] offset 7d) - 1"
    rules = [
        (hourly, _hourly_source(spec, budget)),
        (avg, f"avg_over_time({hourly}{m}[1d])"),
        (FINOPS_SERIES["month_to_date"], month_to_date),
        (
            FINOPS_SERIES["projected"],
            f"{FINOPS_SERIES['month_to_date']}{m} + {avg}{m} * {_LEFT}",
        ),
        (FINOPS_SERIES["week_over_week"], week),
        (FINOPS_SERIES["amount"], f"vector({_number(budget.amount)})"),
    ]
    return [{"record": r, "expr": e, "labels": dict(labels)} for r, e in rules]


def _alert(
    spec: Spec,
    name: str,
    budget: Budget,
    alert: str,
    expr: str,
    labels: dict[str, str],
    summary: str,
    description: str,
) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": format_duration(budget.alert_for),
        "labels": {"service": spec.service, "budget": name, **labels},
        "annotations": {"summary": summary, "description": description},
    }


def _share(value: float) -> str:
    return f"{value * 100:g}%"


def budget_alerts(spec: Spec, name: str, budget: Budget) -> list[dict[str, Any]]:
    """The alerting rules of one budget: spent and projected per threshold, week over week."""
    m = _matchers(spec, name)
    cur = currency_of(spec, budget)
    amount = f"{_number(budget.amount)} {cur}"
    alerts = []
    for t in budget.thresholds:
        level = _number(budget.amount * t.at)
        labels = {"severity": t.severity, "threshold": _share(t.at)}
        alerts.append(
            _alert(
                spec,
                name,
                budget,
                FINOPS_ALERTS["spent"],
                f"{FINOPS_SERIES['month_to_date']}{m} >= {level}",
                labels,
                f"{spec.service}: {name} budget {_share(t.at)} spent this month",
                f"Month-to-date spend has reached {_share(t.at)} of the {amount} monthly "
                f"budget ({FINOPS_SERIES['month_to_date']}{m}).",
            )
        )
        alerts.append(
            _alert(
                spec,
                name,
                budget,
                FINOPS_ALERTS["projected"],
                f"{FINOPS_SERIES['projected']}{m} >= {level}",
                labels,
                f"{spec.service}: {name} budget projected past {_share(t.at)} by month end",
                f"At the last day's rate the month ends at {_share(t.at)} or more of the "
                f"{amount} monthly budget ({FINOPS_SERIES['projected']}{m}).",
            )
        )
    if budget.week_over_week is not None:
        alerts.append(
            _alert(
                spec,
                name,
                budget,
                FINOPS_ALERTS["week_over_week"],
                f"{FINOPS_SERIES['week_over_week']}{m} > {_number(budget.week_over_week)}",
                {"severity": "ticket"},
                f"{spec.service}: {name} cost up more than {_share(budget.week_over_week)} "
                "week over week",
                f"The last 7 days cost more than {_share(budget.week_over_week)} more per hour "
                f"than the 7 days before ({FINOPS_SERIES['week_over_week']}{m}).",
            )
        )
    return alerts


def finops_groups(spec: Spec) -> list[dict[str, Any]]:
    """One group per budget: its recording rules, then its alerts. One group, because
    Prometheus runs the rules of a group in order but groups side by side: an alert in another
    group could read the month-to-date series before this evaluation wrote it, find it stale
    and restart its ``for``."""
    return [
        {
            "name": f"slokit-{_slug(spec.service)}-budget-{_slug(name)}",
            "rules": [*_recording(spec, name, budget), *budget_alerts(spec, name, budget)],
        }
        for name, budget in spec.budgets.items()
    ]
