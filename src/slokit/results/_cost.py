"""What a million requests cost, from the spec's prices and what the run measured.

Pure arithmetic, every figure kept with its inputs so a report can show the formula:

- fleet per hour = replicas x per-replica price (an instance price; or allocated vCPUs and
  GiB at their prices; or, without sizes, the ``cpu`` and ``rss`` sampled on the whole
  tested target, so the fleet figure is the sample's price) + fixed_monthly / 730 h;
- cost per million = fleet per hour / (rate x 3600) x 1,000,000, at the served rate (answered
  requests that did not fail, per measured second) and at the sustainable rate at SLO a
  capacity search found;
- headroom = sustainable rate / production rate; replicas needed = ceil(production rate x
  required headroom / (sustainable rate / replicas)); a month is 730 hours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from slokit.results._capacity import CapacityResult
from slokit.results._soak import NotJudged, Reading
from slokit.spec import CostPrices

__all__ = ["HOURS_PER_MONTH", "CostFigures", "Usage", "price", "read_cost_gate"]

HOURS_PER_MONTH = 730.0
"""365 x 24 / 12, the month cloud price lists use."""

_GIB = float(1 << 30)

Basis = Literal["instance", "allocated", "sampled", "fixed"]


@dataclass(frozen=True, slots=True)
class Usage:
    """What the tested target used: mean cores and mean resident bytes (None: not sampled)."""

    cpu: float | None = None
    rss: float | None = None


@dataclass(frozen=True, slots=True)
class CostFigures:
    """One scenario priced. Rates are requests per second; money is in ``currency``."""

    currency: str
    basis: Basis
    replicas: int
    per_replica_hourly: float | None
    """None when the basis is ``sampled`` and nothing was sampled: then nothing is priced."""
    fixed_monthly: float
    served_rate: float
    sustainable: float | None = None
    production_rate: float | None = None
    required_headroom: float | None = None
    inputs: dict[str, float] = field(default_factory=dict)
    """Every number the figures came from (prices, sizes, sampled usage)."""
    missing: str | None = None
    """Why the figures are incomplete (a price needs a sample that is not there)."""

    @property
    def fleet_hourly(self) -> float | None:
        """The tested target's cost per hour, fixed costs spread over the month included."""
        if self.per_replica_hourly is None:
            return None
        return self.replicas * self.per_replica_hourly + self.fixed_monthly / HOURS_PER_MONTH

    def per_million_at(self, rate: float | None) -> float | None:
        hourly = self.fleet_hourly
        if hourly is None or rate is None or rate <= 0:
            return None
        return hourly / (rate * 3600.0) * 1e6

    @property
    def per_million(self) -> float | None:
        """At the served rate of the run."""
        return self.per_million_at(self.served_rate)

    @property
    def per_million_at_slo(self) -> float | None:
        """At the sustainable rate at SLO (a capacity search's result)."""
        return self.per_million_at(self.sustainable)

    @property
    def judged_per_million(self) -> float | None:
        """What ``cost_per_million`` gates and comparisons read: at SLO when a capacity search
        found the rate, else at the served rate."""
        at_slo = self.per_million_at_slo
        return at_slo if at_slo is not None else self.per_million

    @property
    def judged_rate(self) -> float | None:
        return self.sustainable if self.per_million_at_slo is not None else self.served_rate

    @property
    def monthly(self) -> float | None:
        """The tested fleet for a month."""
        hourly = self.fleet_hourly
        return None if hourly is None else hourly * HOURS_PER_MONTH

    @property
    def headroom(self) -> float | None:
        if self.sustainable is None or not self.production_rate:
            return None
        return self.sustainable / self.production_rate

    @property
    def replicas_needed(self) -> int | None:
        """Replicas that serve the production rate with the required headroom (1x if none)."""
        if self.sustainable is None or self.sustainable <= 0 or not self.production_rate:
            return None
        per_replica = self.sustainable / self.replicas
        wanted = self.production_rate * (self.required_headroom or 1.0)
        # A hair under a whole number is that number: 2.0000000001 replicas are 2.
        return max(1, math.ceil(wanted / per_replica - 1e-9))

    @property
    def monthly_needed(self) -> float | None:
        needed = self.replicas_needed
        if needed is None or self.per_replica_hourly is None:
            return None
        return (needed * self.per_replica_hourly) * HOURS_PER_MONTH + self.fixed_monthly

    @property
    def per_million_in_production(self) -> float | None:
        """The monthly cost of the replicas needed over the production rate's month."""
        monthly = self.monthly_needed
        if monthly is None or not self.production_rate:
            return None
        return monthly / (self.production_rate * HOURS_PER_MONTH * 3600.0) * 1e6

    def formula(self) -> list[str]:
        """Each figure as the arithmetic that gave it, for reports."""
        cur, lines = self.currency, []
        if self.per_replica_hourly is None:
            return [f"not priced: {self.missing}"] if self.missing else []
        i = self.inputs
        if self.basis == "instance":
            lines.append(f"per replica {_m(self.per_replica_hourly)} {cur}/h (instance_hourly)")
        elif self.basis == "allocated":
            lines.append(
                f"per replica {_m(self.per_replica_hourly)} {cur}/h = "
                + " + ".join(_parts(i, "vcpus", "memory_gib"))
            )
        elif self.basis == "sampled":
            lines.append(
                f"target {_m(self.per_replica_hourly * self.replicas)} {cur}/h = "
                + " + ".join(_parts(i, "cpu_cores", "rss_gib"))
                + " (sampled means)"
            )
        hourly = self.fleet_hourly or 0.0
        lines.append(
            f"fleet {_m(hourly)} {cur}/h = {self.replicas} x {_m(self.per_replica_hourly)}"
            f" + {_m(self.fixed_monthly)} fixed / {HOURS_PER_MONTH:g} h"
        )
        for label, rate, value in (
            ("served", self.served_rate, self.per_million),
            ("at SLO", self.sustainable, self.per_million_at_slo),
        ):
            if value is not None and rate is not None:
                lines.append(
                    f"per million {label} {_m(value)} {cur} = {_m(hourly)} / "
                    f"({rate:,.2f}/s x 3600) x 1e6"
                )
        if self.headroom is not None and self.production_rate:
            lines.append(
                f"headroom {self.headroom:.2f}x = {self.sustainable:,.2f}/s sustainable / "
                f"{self.production_rate:,.2f}/s production"
            )
        needed = self.replicas_needed
        if needed is not None and self.monthly_needed is not None:
            lines.append(
                f"month {_m(self.monthly_needed)} {cur} = {needed} replicas x "
                f"{_m(self.per_replica_hourly)} x {HOURS_PER_MONTH:g} h + "
                f"{_m(self.fixed_monthly)} fixed (production "
                f"{self.production_rate:,.2f}/s x {self.required_headroom or 1:g} headroom)"
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "basis": self.basis,
            "replicas": self.replicas,
            "per_replica_hourly": self.per_replica_hourly,
            "fixed_monthly": self.fixed_monthly,
            "fleet_hourly": _r(self.fleet_hourly),
            "served_rate": round(self.served_rate, 3),
            "per_million": _r(self.per_million),
            "sustainable": self.sustainable,
            "per_million_at_slo": _r(self.per_million_at_slo),
            "cost_per_million": _r(self.judged_per_million),
            "production_rate": self.production_rate,
            "required_headroom": self.required_headroom,
            "headroom": _r(self.headroom),
            "replicas_needed": self.replicas_needed,
            "monthly": _r(self.monthly),
            "monthly_needed": _r(self.monthly_needed),
            "per_million_in_production": _r(self.per_million_in_production),
            "inputs": dict(self.inputs),
            "missing": self.missing,
            "formula": self.formula(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostFigures:
        basis = data.get("basis", "instance")
        return cls(
            currency=str(data.get("currency", "USD")),
            basis=basis if basis in ("instance", "allocated", "sampled", "fixed") else "instance",
            replicas=int(data.get("replicas", 1)),
            per_replica_hourly=_f(data.get("per_replica_hourly")),
            fixed_monthly=float(data.get("fixed_monthly", 0.0)),
            served_rate=float(data.get("served_rate", 0.0)),
            sustainable=_f(data.get("sustainable")),
            production_rate=_f(data.get("production_rate")),
            required_headroom=_f(data.get("required_headroom")),
            inputs={str(k): float(v) for k, v in (data.get("inputs") or {}).items()},
            missing=data.get("missing"),
        )


def price(
    prices: CostPrices,
    *,
    served_rate: float,
    sustainable: float | None = None,
    usage: Usage = Usage(),
) -> CostFigures:
    """The figures for one scenario priced at ``prices``."""
    replicas = prices.replicas or 1
    inputs: dict[str, float] = {"replicas": float(replicas)}
    fixed = prices.fixed_monthly or 0.0
    if fixed:
        inputs["fixed_monthly"] = fixed
    per_replica: float | None
    missing = None
    basis: Basis
    if prices.instance_hourly is not None:
        basis, per_replica = "instance", prices.instance_hourly
        inputs["instance_hourly"] = per_replica
    elif prices.vcpu_hourly is not None or prices.gib_hourly is not None:
        basis, per_replica, missing = _by_resource(prices, usage, inputs, replicas)
    else:
        basis, per_replica = "fixed", 0.0
    return CostFigures(
        currency=prices.currency or "USD",
        basis=basis,
        replicas=replicas,
        per_replica_hourly=None if per_replica is None else round(per_replica, 9),
        fixed_monthly=fixed,
        served_rate=served_rate,
        sustainable=sustainable,
        production_rate=prices.production_rate,
        required_headroom=prices.headroom,
        inputs=inputs,
        missing=missing,
    )


def _by_resource(
    prices: CostPrices, usage: Usage, inputs: dict[str, float], replicas: int
) -> tuple[Basis, float | None, str | None]:
    vcpu, gib = prices.vcpu_hourly, prices.gib_hourly
    allocated = (vcpu is None or prices.vcpus is not None) and (
        gib is None or prices.memory is not None
    )
    if vcpu is not None:
        inputs["vcpu_hourly"] = vcpu
    if gib is not None:
        inputs["gib_hourly"] = gib
    if allocated:
        total = 0.0
        if vcpu is not None and prices.vcpus is not None:
            inputs["vcpus"] = prices.vcpus
            total += prices.vcpus * vcpu
        if gib is not None and prices.memory is not None:
            inputs["memory_gib"] = prices.memory / _GIB
            total += prices.memory / _GIB * gib
        return "allocated", total, None
    wanted = []
    total = 0.0
    if vcpu is not None:
        if usage.cpu is None:
            wanted.append("cpu")
        else:
            inputs["cpu_cores"] = round(usage.cpu, 6)
            total += usage.cpu * vcpu
    if gib is not None:
        if usage.rss is None:
            wanted.append("rss")
        else:
            inputs["rss_gib"] = round(usage.rss / _GIB, 9)
            total += usage.rss / _GIB * gib
    if wanted:
        why = (
            f"vcpu_hourly/gib_hourly without vcpus/memory price what the target used, but "
            f"{' and '.join(wanted)} was not sampled: add a resources: block (pid, process "
            "or metrics) or give the allocated vcpus and memory"
        )
        return "sampled", None, why
    return "sampled", total / replicas, None


def _parts(inputs: Mapping[str, float], size: str, mem: str) -> list[str]:
    parts = []
    if size in inputs and "vcpu_hourly" in inputs:
        parts.append(f"{inputs[size]:g} vCPU x {_m(inputs['vcpu_hourly'])}")
    if mem in inputs and "gib_hourly" in inputs:
        parts.append(f"{inputs[mem]:.4g} GiB x {_m(inputs['gib_hourly'])}")
    return parts or ["0"]


def _m(amount: float) -> str:
    """Money as shown: enough digits for a fraction of a cent."""
    if amount == 0:
        return "0"
    if abs(amount) >= 100:
        return f"{amount:,.2f}"
    return f"{amount:.4g}" if abs(amount) < 1 else f"{amount:,.4f}".rstrip("0").rstrip(".")


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def read_cost_gate(
    figures: CostFigures | None, capacity: CapacityResult | None
) -> Reading | NotJudged:
    """``cost_per_million < 0.40``: at SLO after a capacity search, else at the served rate."""
    if figures is None:
        return NotJudged("no prices for this scenario (a cost: block)")
    value = figures.judged_per_million
    if value is None:
        return NotJudged(figures.missing or "nothing was served, so no request was priced")
    at = "at SLO" if figures.per_million_at_slo is not None else "served"
    text = (
        f"{_m(value)} {figures.currency} per million {at} "
        f"({_m(figures.fleet_hourly or 0.0)} {figures.currency}/h at "
        f"{figures.judged_rate or 0:,.2f}/s)"
    )
    if capacity is not None and capacity.limit == "generator":
        # The generator, not the target, stopped the search: the target's cost at SLO is
        # lower than this by an unknown amount, so a pass or a fail would both be guesses.
        return NotJudged(f"{text} at most; {capacity.limit_detail}")
    return Reading(value, text)
