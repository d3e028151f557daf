"""``cost:``: what serving costs, so a run can say what a million requests cost at its SLO.

One price basis per target, so nothing is counted twice: an instance price per replica
(``instance_hourly``), or per-vCPU and per-GiB prices (``vcpu_hourly``, ``gib_hourly``) that
price the allocated ``vcpus`` / ``memory`` when they are given and else what the target was
sampled using (``resources:``'s ``cpu`` and ``rss``). ``fixed_monthly`` is added either way.
A scenario's own ``cost:`` and the entry of ``targets:`` for the URL it loads override the
spec's field by field (a scenario's wins), so an x86 and an ARM target are priced apart.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from slokit.spec._base import Issue, SpecModel, Url, integer, issue
from slokit.spec._units import PositiveRate, Size

__all__ = ["PRICES", "Cost", "CostPrices", "merge_costs"]

_CURRENCY = re.compile(r"[A-Za-z$€£¥₹]{1,5}\Z")
PRICES = ("instance_hourly", "vcpu_hourly", "gib_hourly", "fixed_monthly")


def _money(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"invalid price {value!r}; expected a number such as 0.0832")
    try:
        amount = float(value)
    except ValueError:
        raise ValueError(
            f"invalid price {value!r}; expected a plain number in the spec's currency, "
            "such as 0.0832 (the unit is in the field's name: _hourly, _monthly)"
        ) from None
    if not math.isfinite(amount) or amount < 0:
        raise ValueError(f"invalid price {value!r}; expected a number >= 0")
    return amount


def _currency(value: Any) -> Any:
    if not isinstance(value, str) or not _CURRENCY.match(value.strip()):
        raise ValueError(f"invalid currency {value!r}; expected a code such as USD or EUR")
    return value.strip()


def _headroom(value: Any) -> float:
    text = value.strip().removesuffix("x") if isinstance(value, str) else value
    amount = _money(text)
    if amount < 1:
        raise ValueError(
            f"invalid headroom {value!r}; expected a factor >= 1 such as 1.5 (capacity 1.5x "
            "the production rate)"
        )
    return amount


Money = Annotated[float, BeforeValidator(_money)]


class CostPrices(SpecModel):
    """The fields a scenario or a target may override; every one optional."""

    currency: Annotated[str | None, BeforeValidator(lambda v: v if v is None else _currency(v))] = (
        None
    )
    instance_hourly: Money | None = None
    """What one replica (instance, pod, VM) costs per hour."""
    replicas: Annotated[int | None, BeforeValidator(lambda v: v if v is None else _replicas(v))] = (
        None
    )
    """How many replicas the tested target is (default 1): the measured rate is theirs."""
    vcpu_hourly: Money | None = None
    gib_hourly: Money | None = None
    vcpus: Annotated[float | None, BeforeValidator(lambda v: v if v is None else _money(v))] = None
    """vCPUs per replica, priced at ``vcpu_hourly``; without it the sampled ``cpu`` is."""
    memory: Size | None = None
    """Memory per replica, priced at ``gib_hourly``; without it the sampled ``rss`` is."""
    fixed_monthly: Money | None = None
    """Costs that do not scale with replicas (a load balancer, a managed database)."""
    production_rate: PositiveRate | None = None
    """The rate production serves (requests/s): gives headroom and the monthly cost."""
    headroom: Annotated[
        float | None, BeforeValidator(lambda v: v if v is None else _headroom(v))
    ] = None
    """The capacity production needs over its rate, e.g. 2x: sizes the replicas needed."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        issues = []
        if data.get("instance_hourly") is not None and (
            data.get("vcpu_hourly") is not None or data.get("gib_hourly") is not None
        ):
            issues.append(
                issue(
                    ("instance_hourly",),
                    "give either instance_hourly or vcpu_hourly/gib_hourly, not both: "
                    "an instance price already pays for its vCPUs and memory",
                    data.get("instance_hourly"),
                )
            )
        for unpriced, price in (("vcpus", "vcpu_hourly"), ("memory", "gib_hourly")):
            if data.get(unpriced) is not None and data.get(price) is None:
                issues.append(
                    issue(
                        (unpriced,),
                        f"{unpriced} is priced by {price}: give {price} too",
                        data.get(unpriced),
                    )
                )
        return data, issues


_replicas = integer(1, "replicas")


class Cost(CostPrices):
    """The spec's ``cost:`` block."""

    targets: Annotated[dict[Url, CostPrices], BeforeValidator(lambda v: {} if v is None else v)] = (
        Field(default_factory=dict)
    )
    """Overrides for the scenarios that load one target URL (x86 vs ARM, say)."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        data, issues = super()._prepare(data)
        if not any(data.get(p) is not None for p in PRICES) and not any(
            isinstance(t, dict) and any(t.get(p) is not None for p in PRICES)
            for t in (data.get("targets") or {}).values()
        ):
            issues.append(
                issue(
                    (),
                    "the cost block prices nothing: give instance_hourly (per replica), "
                    "vcpu_hourly/gib_hourly or fixed_monthly",
                    data,
                )
            )
        return data, issues

    def for_target(self, target: str | None) -> CostPrices:
        """The spec's prices with ``targets:``'s entry for ``target`` laid over them."""
        base = CostPrices.model_validate(self.model_dump(exclude={"targets"}, exclude_none=True))
        wanted = target.rstrip("/") if target else None
        entry = next((v for k, v in self.targets.items() if k.rstrip("/") == wanted), None)
        return base if entry is None else (merge_costs(base, entry) or base)


def merge_costs(base: CostPrices | None, override: CostPrices | None) -> CostPrices | None:
    """``override``'s fields over ``base``'s. A per-vCPU override drops an instance price and
    the other way round: the override changes the basis, it does not add a second one."""
    if base is None or override is None:
        return override if base is None else base
    fields = override.model_dump(exclude_none=True)
    merged = base.model_dump(exclude_none=True)
    if "instance_hourly" in fields:
        for key in ("vcpu_hourly", "gib_hourly", "vcpus", "memory"):
            merged.pop(key, None)
    if "vcpu_hourly" in fields or "gib_hourly" in fields:
        merged.pop("instance_hourly", None)
    merged.update(fields)
    return CostPrices.model_validate(merged)
