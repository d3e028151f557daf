"""``budgets:``: monthly cost budgets that ``slokit rules`` turns into Prometheus alerts.

Each budget reads one cost source: ``spend``, a month-to-date spend gauge that restarts
each month (billing exporters publish one, e.g. AWS's EstimatedCharges); ``hourly``, the
cost per hour (OpenCost's ``node_total_hourly_cost`` and the like); or ``per_million``, a
price per million requests that slokit multiplies with the service's request rate (a figure
``slokit run`` measures with a ``cost:`` block).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from slokit.spec._base import Issue, SpecModel, issue
from slokit.spec._cost import Money
from slokit.spec._units import parse_duration

__all__ = ["Budget", "BudgetThreshold"]

_SOURCES = ("spend", "hourly", "per_million")


def _share(value: Any) -> float:
    """``80%``, ``120%``: a share that may pass 100 % (parse_percent stops at 100 %)."""
    text = value.strip() if isinstance(value, str) else None
    if text is None or not text.endswith("%"):
        raise ValueError(f"invalid share {value!r}: write it as a percentage, such as 80%")
    try:
        number = float(text[:-1]) / 100
    except ValueError:
        number = float("nan")
    if not 0 < number <= 10:
        raise ValueError(f"invalid share {value!r}; expected a percentage above 0%, such as 80%")
    return number


def _threshold(value: Any) -> Any:
    return {"at": value} if isinstance(value, str | int | float) else value


def _promql(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"invalid PromQL {value!r}; expected an expression such as cost_total")
    if "$" in value:
        raise ValueError("a cost source is an instant expression: it has no $window to fill")
    return value.strip()


PromQL = Annotated[str, BeforeValidator(_promql)]


class BudgetThreshold(SpecModel):
    """``80%`` or ``{at: 120%, severity: page}``: an alert when spend reaches this share."""

    at: Annotated[float, BeforeValidator(_share)]
    severity: Literal["page", "ticket", "info"] = "ticket"


_DEFAULT_THRESHOLDS = ("80%", "100%", "120%")


class Budget(SpecModel):
    """One monthly budget and the cost source it is read from."""

    amount: Money
    """Per calendar month (UTC), in ``currency``."""
    currency: str | None = None
    """For the alerts' text; the spec's cost: currency (or USD) when left out."""
    thresholds: Annotated[
        list[Annotated[BudgetThreshold, BeforeValidator(_threshold)]],
        BeforeValidator(lambda v: [] if v is None else v),
    ] = Field(
        default_factory=lambda: [
            BudgetThreshold.model_validate({"at": t}) for t in _DEFAULT_THRESHOLDS
        ]
    )
    """Each alerts on the month-to-date spend and on the projected month-end spend."""
    week_over_week: Annotated[
        float | None, BeforeValidator(lambda v: None if v is None else _share(v))
    ] = 0.2
    """Alert when the last 7 days cost this much more than the 7 before (null: no alert)."""
    spend: PromQL | None = None
    hourly: PromQL | None = None
    per_million: Money | None = None
    alert_for: Annotated[float, BeforeValidator(lambda v: _duration(v))] = 3600.0
    """How long a threshold must hold before its alert fires (``for:``)."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        given = [s for s in _SOURCES if data.get(s) is not None]
        issues = []
        if len(given) != 1:
            got = "none" if not given else ", ".join(given)
            issues.append(
                issue(
                    (),
                    "a budget reads exactly one cost source: spend (a month-to-date spend "
                    "gauge), hourly (a cost-per-hour expression) or per_million (a price per "
                    f"million requests); got {got}",
                    data,
                )
            )
        amount = data.get("amount")
        if isinstance(amount, int | float) and not isinstance(amount, bool) and amount <= 0:
            issues.append(issue(("amount",), "a budget amount must be above 0", amount))
        return data, issues

    @property
    def source(self) -> Literal["spend", "hourly", "per_million"]:
        if self.spend is not None:
            return "spend"
        return "hourly" if self.hourly is not None else "per_million"


def _duration(value: Any) -> float:
    seconds = parse_duration(value) if isinstance(value, str) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 60:
        raise ValueError(f"invalid alert_for {value!r}; expected a duration of 1m or more")
    return float(seconds)
