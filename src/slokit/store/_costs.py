"""Cost comparisons: does run B serve the same p95 for less per request than run A?

Seed 004's rule, "switch if >= 15 % cost reduction at equal p95", answered per pair of priced
scenarios: B's cost per million (at SLO when a capacity search found the rate, else served)
against A's, refused when B's p95 is worse than A's beyond a tolerance ("not equal p95") or
when the two are priced in different currencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from slokit.results import RunResults, ScenarioResults, format_ms, merge_stats

__all__ = ["CostDecision", "compare_costs", "judged_p95", "money"]

Decision = Literal["switch", "stay", "not comparable"]


@dataclass(frozen=True)
class CostDecision:
    """One scenario of B against its match in A."""

    base_scenario: str
    new_scenario: str
    decision: Decision
    reason: str
    currency: str
    base_cost: float | None
    new_cost: float | None
    saving: float | None
    """1 - new / base: 0.17 is 17 % cheaper, negative is dearer."""
    base_p95_ms: float | None
    new_p95_ms: float | None
    threshold: float
    p95_tolerance: float

    @property
    def text(self) -> str:
        return f"{self.new_scenario} vs {self.base_scenario}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_scenario": self.base_scenario,
            "new_scenario": self.new_scenario,
            "decision": self.decision,
            "reason": self.reason,
            "currency": self.currency,
            "base_cost_per_million": self.base_cost,
            "new_cost_per_million": self.new_cost,
            "saving": None if self.saving is None else round(self.saving, 6),
            "base_p95_ms": self.base_p95_ms,
            "new_p95_ms": self.new_p95_ms,
            "threshold": self.threshold,
            "p95_tolerance": self.p95_tolerance,
        }


def judged_p95(sc: ScenarioResults) -> float | None:
    """The p95 (ms) that goes with the judged cost: the sustainable step's after a capacity
    search, else every HTTP request's of the scenario."""
    cost, capacity = sc.cost, sc.capacity
    if cost is not None and cost.per_million_at_slo is not None and capacity is not None:
        step = capacity.sustainable_step
        if step is not None:
            return step.p95_ms
    total = merge_stats("total", (s for s in sc.requests.values() if s.method != "-"))
    if not total.latency.count:
        return None
    return total.latency.percentile(95.0) / 1000.0


def _pairs(base: RunResults, new: RunResults) -> list[tuple[ScenarioResults, ScenarioResults]]:
    a = [sc for sc in base.scenarios if sc.cost is not None]
    b = [sc for sc in new.scenarios if sc.cost is not None]
    names = {sc.name: sc for sc in a}
    matched = [(names[sc.name], sc) for sc in b if sc.name in names]
    if not matched and len(a) == 1 and len(b) == 1:
        return [(a[0], b[0])]  # x86 in one run, arm in the other: the only priced pair
    return matched


def money(amount: float | None, currency: str) -> str:
    """An amount as comparisons show it: ``0.1867 USD``."""
    if amount is None:
        return "-"
    return f"{amount:.4g} {currency}"


def _decide(
    a: ScenarioResults, b: ScenarioResults, threshold: float, tolerance: float
) -> CostDecision:
    ca, cb = a.cost, b.cost
    if ca is None or cb is None:
        raise ValueError("only priced scenarios are compared")
    base_cost, new_cost = ca.judged_per_million, cb.judged_per_million
    pa, pb = judged_p95(a), judged_p95(b)

    def made(decision: Decision, reason: str, saving: float | None = None) -> CostDecision:
        return CostDecision(
            base_scenario=a.name,
            new_scenario=b.name,
            decision=decision,
            reason=reason,
            currency=cb.currency,
            base_cost=base_cost,
            new_cost=new_cost,
            saving=saving,
            base_p95_ms=pa,
            new_p95_ms=pb,
            threshold=threshold,
            p95_tolerance=tolerance,
        )

    def refuse(why: str) -> CostDecision:
        return made("not comparable", why)

    if ca.currency != cb.currency:
        return refuse(f"priced in {ca.currency} and {cb.currency}: convert one block's prices")
    if base_cost is None or new_cost is None or base_cost <= 0:
        missing = ca.missing if base_cost is None else cb.missing
        return refuse(f"not both priced ({missing or 'nothing served'})")
    if pa is None or pb is None:
        return refuse("no response in one of them, so no p95 to hold equal")
    worse = pb / pa - 1.0 if pa > 0 else 0.0
    p95_text = f"{format_ms(pb)} vs {format_ms(pa)}, {worse:+.1%}"
    if worse > tolerance:
        return refuse(
            f"not equal p95: p95 {p95_text}, beyond the {tolerance:.0%} tolerance, so the "
            "cost is not compared"
        )
    saving = 1.0 - new_cost / base_cost
    costs = f"{money(new_cost, cb.currency)} vs {money(base_cost, ca.currency)} per million"
    if saving >= threshold:
        verdict: Decision = "switch"
        reason = (
            f"serves the same p95 ({p95_text}; tolerance {tolerance:.0%}) at {saving:.1%} lower "
            f"cost per request ({costs}) -> switch (threshold {threshold:.0%})"
        )
    elif saving > 0:
        verdict = "stay"
        reason = (
            f"{saving:.1%} cheaper at the same p95 ({costs}; p95 {p95_text}), below the "
            f"{threshold:.0%} threshold -> stay"
        )
    else:
        verdict = "stay"
        reason = f"{-saving:.1%} dearer per request ({costs}; p95 {p95_text}) -> stay"
    return made(verdict, reason, saving)


def compare_costs(
    base: RunResults, new: RunResults, *, threshold: float = 0.15, p95_tolerance: float = 0.05
) -> list[CostDecision]:
    """Each priced scenario of ``new`` against the same-named one of ``base`` (or the only
    priced one of each): switch, stay, or not comparable, with the reason."""
    return [_decide(a, b, threshold, p95_tolerance) for a, b in _pairs(base, new)]
