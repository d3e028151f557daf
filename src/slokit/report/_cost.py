"""The cost figures of a scenario as lines every report shows the same way."""

from __future__ import annotations

from slokit.results import CostFigures, ScenarioResults

__all__ = ["cost_headline", "cost_lines"]


def _m(amount: float | None) -> str:
    if amount is None:
        return "-"
    return f"{amount:,.2f}" if abs(amount) >= 100 else f"{amount:.4g}"


def cost_headline(cost: CostFigures) -> str:
    """One line: the judged cost per million, its rate, and the month."""
    cur = cost.currency
    if cost.fleet_hourly is None:
        return f"cost: not priced: {cost.missing}"
    parts = []
    if cost.per_million_at_slo is not None:
        parts.append(
            f"{_m(cost.per_million_at_slo)} {cur} per million at SLO "
            f"({cost.sustainable or 0:,.1f}/s sustainable)"
        )
    if cost.per_million is not None:
        parts.append(f"{_m(cost.per_million)} {cur} served ({cost.served_rate:,.1f}/s)")
    else:
        parts.append("nothing served to price")
    text = "cost: " + ", ".join(parts) + f"; fleet {_m(cost.fleet_hourly)} {cur}/h"
    if cost.headroom is not None:
        text += f"; headroom {cost.headroom:.2f}x of {cost.production_rate or 0:,.1f}/s"
    if cost.monthly_needed is not None and cost.replicas_needed is not None:
        text += (
            f"; {cost.replicas_needed} replica{'s' if cost.replicas_needed != 1 else ''} for "
            f"{cost.required_headroom or 1:g}x: {_m(cost.monthly_needed)} {cur}/month"
        )
    else:
        text += f"; {_m(cost.monthly)} {cur}/month as tested"
    return text


def cost_lines(sc: ScenarioResults) -> list[str]:
    """The headline, then the formula of every figure (empty without prices)."""
    if sc.cost is None:
        return []
    return [cost_headline(sc.cost), *sc.cost.formula()]
