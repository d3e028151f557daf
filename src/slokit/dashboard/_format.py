"""Numbers and times for people, as Jinja filters: the same wording as the terminal report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from slokit.results import format_count, format_ms, format_percent
from slokit.rules import BudgetReport
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
    return format_percent(stats.error_rate) if stats.count else "-"


def rps(value: float) -> str:
    return format_count(round(value, 1))


def part(value: str) -> str:
    """One URL path segment: every ``/``, ``?``, ``#`` and ``%`` quoted."""
    return quote(value, safe="")


def compare_value(m: MetricChange, side: str) -> str:
    value: float | None = getattr(m, side)
    if value is None:
        return "-"
    if m.metric == "error_rate":
        return format_percent(value)
    if m.metric == "rps":
        return rps(value)
    return format_ms(value)


def compare_change(m: MetricChange) -> str:
    if m.change is None:
        return "-"
    if m.metric == "error_rate":
        return f"{m.change * 100:+.2f} pts"
    if m.metric == "rps":
        absolute = f"{m.change:+,.1f}"
    else:
        absolute = ("+" if m.change >= 0 else "-") + format_ms(abs(m.change))
    return absolute + (f" ({m.relative:+.1%})" if m.relative is not None else "")


def compare_class(m: MetricChange) -> str:
    """``worse`` / ``better`` for changes the comparison's own wording calls out."""
    if m.change is None or m.change == 0:
        return ""
    if m.metric == "error_rate":
        if m.reading != "likely a real change":
            return ""
        return "worse" if m.change > 0 else "better"
    up_is_bad = m.metric != "rps"
    return "worse" if (m.change > 0) == up_is_bad else "better"


def share(ratio: float | None) -> str:
    """``0.99512`` -> ``99.512%`` (three decimals at most), ``-`` for unknown."""
    if ratio is None:
        return "-"
    text = f"{ratio * 100:.3f}".rstrip("0").rstrip(".")
    return ("0" if text == "-0" else text) + "%"


def human_seconds(seconds: float) -> str:
    """Two units at most: ``45s``, ``12m``, ``5h 12m``, ``12d 3h``; ``> 1y`` beyond a year."""
    if seconds >= 365 * 86400:
        return "> 1y"
    if seconds < 59.5:
        return f"{seconds:.0f}s"
    if seconds < 3570:
        return f"{round(seconds / 60)}m"
    if seconds < 84600:
        hours, minutes = divmod(round(seconds / 60), 60)
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(round(seconds / 3600), 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


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
    return f"in {human_seconds(r.exhaustion_s)}"


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
