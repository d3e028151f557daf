"""Numbers and times for people, as Jinja filters: the same wording as the terminal report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from slokit.results import format_count, format_ms, format_percent
from slokit.rules import BudgetReport, format_span
from slokit.spec import format_duration
from slokit.store import MetricChange, RequestSummary

__all__ = ["FILTERS"]


def when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(value: datetime, now: datetime | None = None) -> str:
    """``"3 min ago"``: coarse, for scanning a page."""
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    if seconds < 0:
        return "just now"
    for size, unit in ((86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def latency(stats: RequestSummary, key: str) -> str:
    """A latency of a summary (``p95``), or ``-`` when nothing was answered."""
    return format_ms(getattr(stats, f"{key}_ms")) if stats.max_ms > 0 else "-"


def error_rate(stats: RequestSummary) -> str:
    """From the exact counts, as the terminal does: the stored ``error_rate`` of older runs
    was rounded, and rounding it again read 0.092% where the terminal read 0.093%."""
    return format_percent(stats.failed / stats.count) if stats.count else "-"


def rps(value: float) -> str:
    return format_count(round(value, 1))


def part(value: str) -> str:
    """One URL path segment: every ``/``, ``?``, ``#`` and ``%`` quoted."""
    return quote(value, safe="")


def compare_value(m: MetricChange, side: str) -> str:
    return m.shown(side)


def compare_change(m: MetricChange) -> str:
    return m.shown_change()


def compare_class(m: MetricChange) -> str:
    """``worse`` / ``better`` for changes the comparison's own wording calls out."""
    if m.change is None or m.change == 0:
        return ""
    if m.metric == "error_rate":
        if m.reading != "likely a real change":
            return ""
        return "worse" if m.change > 0 else "better"
    up_is_bad = m.metric not in ("rps", "capacity")
    return "worse" if (m.change > 0) == up_is_bad else "better"


def share(ratio: float | None) -> str:
    """``0.99512`` -> ``99.512%`` (as ``slokit budget`` words it), ``-`` for unknown."""
    return "-" if ratio is None else format_percent(ratio)


def budget_left(r: BudgetReport) -> str:
    if r.budget_remaining is None or r.budget_remaining_minutes is None:
        return "no traffic"
    minutes = f"{r.budget_remaining_minutes:,.1f}".removesuffix(".0")
    return f"{share(r.budget_remaining)} ({minutes} min)"


def budget_class(r: BudgetReport) -> str:
    if r.budget_remaining is None:
        return "none"
    if r.exhausted:
        return "fail"
    return "soft" if r.budget_remaining < 0.25 else "pass"


def burn(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.2f}"


def runs_out(r: BudgetReport) -> str:
    if r.exhausted:
        return "exhausted"
    if r.exhaustion_s is None:
        return "-" if r.sli is None else "not burning"
    return f"in {format_span(r.exhaustion_s)}"


FILTERS: dict[str, Callable[..., Any]] = {
    "ago": ago,
    "budget_class": budget_class,
    "budget_left": budget_left,
    "burn": burn,
    "compare_change": compare_change,
    "compare_class": compare_class,
    "compare_value": compare_value,
    "count": format_count,
    "duration": format_duration,
    "error_rate": error_rate,
    "latency": latency,
    "ms": format_ms,
    "part": part,
    "percent": format_percent,
    "rps": rps,
    "runs_out": runs_out,
    "share": share,
    "when": when,
}
