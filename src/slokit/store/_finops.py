"""The monthly FinOps report: what a million requests cost per service, scenario and target
in a month of recorded runs, against the month before.

Every row keeps its inputs: the median and latest cost per million come with the run ids they
were read from and the latest run's formula, so a figure in the report can be traced to a run
(``slokit runs show ID``) and to the prices of its spec.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slokit.errors import UsageError
from slokit.store._store import RunStore

__all__ = ["FinopsRow", "finops_markdown", "finops_rows", "month_range"]

_MONTH = re.compile(r"(\d{4})-(\d{2})\Z")
_MAX_RUNS = 100_000


def month_range(month: str) -> tuple[datetime, datetime]:
    """``2026-11`` as ``[2026-11-01, 2026-12-01)`` in UTC; UsageError otherwise."""
    found = _MONTH.match(month.strip())
    if found is None or not 1 <= int(found.group(2)) <= 12:
        raise UsageError(f"--month {month!r}: expected YYYY-MM, e.g. 2026-11")
    year, number = int(found.group(1)), int(found.group(2))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _previous(month: str) -> str:
    start, _ = month_range(month)
    year, number = (start.year, start.month - 1) if start.month > 1 else (start.year - 1, 12)
    return f"{year:04d}-{number:02d}"


@dataclass
class FinopsRow:
    """One service, scenario and target in one month."""

    service: str
    scenario: str
    target: str
    currency: str
    costs: list[tuple[int, float]] = field(default_factory=list)
    """(run id, cost per million) of each priced run, oldest first."""
    formula: list[str] = field(default_factory=list)
    """The latest run's arithmetic."""
    monthly: float | None = None
    """The latest run's monthly cost to serve the production rate (or the tested fleet's)."""
    previous: float | None = None
    """The previous month's median cost per million."""

    @property
    def median(self) -> float:
        return statistics.median(c for _, c in self.costs)

    @property
    def latest(self) -> tuple[int, float]:
        return self.costs[-1]

    @property
    def delta(self) -> float | None:
        if self.previous is None or self.previous <= 0:
            return None
        return self.median / self.previous - 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "scenario": self.scenario,
            "target": self.target,
            "currency": self.currency,
            "runs": [run for run, _ in self.costs],
            "median_cost_per_million": self.median,
            "latest_cost_per_million": self.latest[1],
            "previous_median_cost_per_million": self.previous,
            "delta": self.delta,
            "monthly": self.monthly,
            "formula": list(self.formula),
        }


def _collect(store: RunStore, month: str, service: str | None) -> dict[tuple[str, ...], FinopsRow]:
    found: dict[tuple[str, ...], FinopsRow] = {}
    runs = store.list(service, limit=_MAX_RUNS, complete=True, started=month_range(month))
    for run in reversed(runs):  # oldest first
        document = store.get(run.id).document
        for name, data in (document.get("scenarios") or {}).items():
            cost = data.get("cost") if isinstance(data, dict) else None
            if not isinstance(cost, dict) or cost.get("cost_per_million") is None:
                continue
            currency = str(cost.get("currency") or "")
            key = (run.service, str(name), run.target or "-", currency)
            row = found.setdefault(
                key, FinopsRow(run.service, str(name), run.target or "-", currency)
            )
            row.costs.append((run.id, float(cost["cost_per_million"])))
            row.formula = [str(line) for line in cost.get("formula") or []]
            monthly = cost.get("monthly_needed") or cost.get("monthly")
            row.monthly = None if monthly is None else float(monthly)
    return found


def finops_rows(store: RunStore, month: str, *, service: str | None = None) -> list[FinopsRow]:
    """The priced scenarios of ``month``'s complete runs, each with the previous month's
    median for its delta."""
    rows = _collect(store, month, service)
    before = _collect(store, _previous(month), service)
    for key, row in rows.items():
        prior = before.get(key)
        row.previous = None if prior is None else prior.median
    return sorted(rows.values(), key=lambda r: (r.service, r.scenario, r.target))


def _money(amount: float | None) -> str:
    if amount is None:
        return "-"
    return f"{amount:,.2f}" if abs(amount) >= 100 else f"{amount:.4g}"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def finops_markdown(store: RunStore, month: str, *, service: str | None = None) -> str:
    """``docs/reports/finops/YYYY-MM.md``: the month's cost per million and its deltas."""
    rows = finops_rows(store, month, service=service)
    previous = _previous(month)
    lines = [f"# FinOps report {month}", ""]
    if not rows:
        lines += [
            f"No priced run in {month}: give the spec a cost: block and record runs "
            "(slokit run records them unless --no-store).",
            "",
        ]
        return "\n".join(lines)
    lines += [
        f"Cost per million requests from {sum(len(r.costs) for r in rows)} priced run(s) "
        f"recorded in {month} (UTC), against {previous}: at SLO where a capacity search found "
        "the sustainable rate, else at the served rate.",
        "",
        "| service | scenario | target | runs | median per million | latest (run) "
        f"| {previous} median | change | monthly |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        run, latest = r.latest
        delta = "-" if r.delta is None else f"{r.delta:+.1%}"
        lines.append(
            f"| {_md(r.service)} | {_md(r.scenario)} | {_md(r.target)} | {len(r.costs)} "
            f"| {_money(r.median)} {r.currency} | {_money(latest)} (run {run}) "
            f"| {_money(r.previous)} | {delta} | {_money(r.monthly)} |"
        )
    lines += ["", "## Inputs", ""]
    for r in rows:
        run, _ = r.latest
        lines.append(f"### {_md(r.service)} / {_md(r.scenario)} (run {run})")
        lines.append("")
        lines += [f"- `{line}`" for line in r.formula] or ["- (no formula recorded)"]
        lines.append("- runs: " + ", ".join(f"{rid} ({_money(c)})" for rid, c in r.costs))
        lines.append("")
    return "\n".join(lines)
