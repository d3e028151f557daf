"""``promtool test rules`` tests for the budget rules: synthetic cost series in four worlds,
with the alerts each must fire worked out from the same arithmetic the rules do.

Time 0 of a promtool test is 1970-01-01 00:00 UTC, a 31-day month, so at day E the month has
24 x E hours gone and 744 - 24 x E left. Each world keeps the cost per hour h constant (or
steps it once) and is read at one evaluation time:

- within: h a half of the lowest threshold's pace; read at day 10: nothing may fire;
- midway: h between two thresholds' pace, read at day 25: the thresholds the month-to-date
  spend (h x 600) and the projection (h x 744) reached fire, the others must not;
- over: h beyond the highest threshold's pace, read at day 25: every threshold fires;
- step: h steps up at day 9 beyond the week-over-week limit, read at day 16: the
  week-over-week alert fires (in the other worlds, steady, it must not).

A budget's source must be a plain selector (``name`` or ``name{a="b"}``) for synthetic series
to match it; a budget reading a larger expression gets no tests, and a note says so.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from slokit.rules._finops import FINOPS_ALERTS, budget_alerts
from slokit.rules._promtool import selector_labels
from slokit.rules._rules import PlainDumper
from slokit.rules._sli import REQUESTS_METRIC
from slokit.spec import Budget, Spec

__all__ = ["render_finops_tests"]

_STEP_MIN = 30
"""Minutes between samples (and between rule evaluations)."""
_MONTH_H = 31 * 24
_SELECTOR = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*\Z")


def _plain(expr: str) -> tuple[str, dict[str, str]] | None:
    found = _SELECTOR.match(expr)
    if found is None:
        return None
    labels = selector_labels(found.group(2))
    return None if labels is None else (found.group(1), labels)


def _series_name(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


def _values(rates: list[tuple[int, float]], days: int, source: str) -> str:
    """promtool's expanding notation for ``days`` of samples every _STEP_MIN minutes at the
    given (from day, cost per hour) pieces: the hourly gauge itself, or a cumulative series
    (month-to-date spend, a request counter) growing at that pace."""
    per_step = 60 // _STEP_MIN
    parts: list[str] = []
    total = 0.0
    bounds = [*(d for d, _ in rates[1:]), days]
    for (start, rate), end in zip(rates, bounds, strict=True):
        steps = (end - start) * 24 * per_step
        if source == "hourly":
            parts.append(f"{rate:.10g}x{steps}" if not parts else f"{rate:.10g}x{steps - 1}")
        else:
            step = rate / per_step
            if not parts:
                parts.append(f"0+{step:.10g}x{steps}")
            else:
                parts.append(f"{total + step:.10g}+{step:.10g}x{steps - 1}")
            total += step * steps
    return " ".join(parts)


def _input(
    spec: Spec, budget: Budget, rates: list[tuple[int, float]], days: int
) -> list[dict[str, str]] | None:
    if budget.source == "per_million":
        labels = selector_labels(spec.prometheus.selector)
        if labels is None:
            return None
        price = (budget.per_million or 0.0) / 1e6
        # Requests per hour that cost h per hour: h / price; the counter grows by that.
        requests = [(d, h / price) for d, h in rates] if price > 0 else None
        if requests is None:
            return None
        labels = {**labels, "route": "/", "method": "GET", "status": "200"}
        return [
            {
                "series": _series_name(REQUESTS_METRIC, labels),
                "values": _values(requests, days, "spend"),
            }
        ]
    expr = budget.hourly if budget.source == "hourly" else budget.spend
    plain = _plain(expr or "")
    if plain is None:
        return None
    return [{"series": _series_name(*plain), "values": _values(rates, days, budget.source)}]


def _worlds(budget: Budget) -> dict[str, tuple[list[tuple[int, float]], int, int]]:
    """world -> (cost-per-hour pieces, days of series, evaluation day)."""
    shares = sorted(t.at for t in budget.thresholds) or [1.0]
    pace = budget.amount / _MONTH_H  # the cost per hour that spends the budget in the month
    # Between the two highest thresholds: some fire on the projection, fewer on the spend.
    mid = (shares[-2] + shares[-1]) / 2 if len(shares) > 1 else shares[0] * 1.1
    worlds = {
        "within": ([(0, pace * shares[0] * 0.5)], 11, 10),
        "midway": ([(0, pace * mid)], 26, 25),
        "over": ([(0, pace * shares[-1] * 1.5)], 26, 25),
    }
    if budget.week_over_week is not None:
        low = pace * shares[0] * 0.1
        worlds["step"] = ([(0, low), (9, low * (1 + budget.week_over_week + 0.3))], 17, 16)
    return worlds


def _expected(
    spec: Spec, name: str, budget: Budget, world: str, rates: list[tuple[int, float]], day: int
) -> dict[str, list[dict[str, Any]]]:
    hour = rates[-1][1]
    spent = sum(
        h * 24 * (min(end, day) - start)
        for (start, h), end in zip(rates, [*(d for d, _ in rates[1:]), day], strict=True)
    )
    # The rules read the month to date from the gauge (spend) or estimate it at the last
    # day's pace (hourly, per_million): the same in a steady world.
    month_to_date = spent if budget.source == "spend" else hour * 24 * day
    projected = month_to_date + hour * (_MONTH_H - 24 * day)
    expected: dict[str, list[dict[str, Any]]] = {alert: [] for alert in FINOPS_ALERTS.values()}
    for rule in budget_alerts(spec, name, budget):
        alert = rule["alert"]
        threshold = rule["labels"].get("threshold")
        fires = False
        if alert == FINOPS_ALERTS["week_over_week"]:
            fires = world == "step"
        elif threshold is not None:
            level = budget.amount * float(threshold.rstrip("%")) / 100
            value = month_to_date if alert == FINOPS_ALERTS["spent"] else projected
            fires = value >= level
        if fires:
            expected[alert].append(
                {"exp_labels": dict(rule["labels"]), "exp_annotations": dict(rule["annotations"])}
            )
    return expected


def render_finops_tests(spec: Spec, rule_file: str) -> tuple[str, list[str]] | None:
    """The promtool test file for the budgets of ``spec`` (None without budgets), and notes on
    budgets it cannot test."""
    if not spec.budgets:
        return None
    notes, tests = [], []
    for name, budget in spec.budgets.items():
        for world, (rates, days, day) in _worlds(budget).items():
            series = _input(spec, budget, rates, days)
            if series is None:
                notes.append(
                    f"budget {name}: its source is not a plain selector (name or "
                    'name{a="b"}), so synthetic series cannot match it: not tested'
                )
                break
            expected = _expected(spec, name, budget, world, rates, day)
            tests.append(
                {
                    "name": f"{spec.service} budget {name}: {world}",
                    "interval": f"{_STEP_MIN}m",
                    "input_series": series,
                    "alert_rule_test": [
                        {"eval_time": f"{day}d", "alertname": alert, "exp_alerts": exp}
                        for alert, exp in expected.items()
                    ],
                }
            )
    document = {"rule_files": [rule_file], "evaluation_interval": f"{_STEP_MIN}m", "tests": tests}
    head = "# Generated by `slokit rules --test`: run `promtool test rules` on this file.\n"
    text = yaml.dump(document, Dumper=PlainDumper, sort_keys=False, width=1000, allow_unicode=True)
    return head + text, notes
