"""Numbers for people: one way to write a latency, a share and a rate everywhere; and text
that any UTF-8 writer accepts.

:func:`format_percent` is the one percent formatter of slokit: the terminal, summary.md,
report.html, the dashboard and ``slokit budget`` all call it, on ratios computed from exact
counts at display time (never on a ratio that was already rounded), so one run reads the same
everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = [
    "encodable",
    "encodable_text",
    "format_time",
    "format_bytes",
    "format_count",
    "format_ms",
    "format_percent",
    "format_resource",
    "parse_time",
]


def format_time(value: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, as results.json, the journal and the store write times."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """The inverse of :func:`format_time`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_ms(ms: float) -> str:
    """``0.4213`` -> ``"0.421ms"``, ``312.4`` -> ``"312ms"``, ``2500`` -> ``"2.50s"``."""
    if ms >= 10_000:
        return f"{ms / 1000:,.1f}s"
    if ms >= 1000:
        return f"{ms / 1000:.2f}s"
    if ms >= 100:
        return f"{ms:.0f}ms"
    if ms >= 10:
        return f"{ms:.1f}ms"
    return f"{ms:.3g}ms"


def format_percent(ratio: float) -> str:
    """A share with enough digits to tell 99.9 % from 99.95 %: ``0.99951`` -> ``"99.95%"``;
    negative shares (an overspent error budget) keep their sign: ``-0.5`` -> ``"-50%"``."""
    if ratio < 0:
        return "-" + format_percent(-ratio)
    pct = ratio * 100.0
    if pct in (0.0, 100.0):
        return f"{pct:.0f}%"
    if 99.0 <= pct < 100.0 or 0.0 < pct < 1.0:
        text = f"{pct:.3f}".rstrip("0").rstrip(".")
        # Never round a failing 99.9996 % up to "100%", or 0.0004 % down to "0%".
        if text in ("100", "0"):
            text = f"{pct:.4g}"
        return text + "%"
    return f"{pct:.1f}%".replace(".0%", "%")


def format_count(n: float) -> str:
    """``1234567`` -> ``"1,234,567"``; rates keep one decimal below 100."""
    if float(n).is_integer():
        return f"{int(n):,}"
    return f"{n:,.1f}" if n < 100 else f"{n:,.0f}"


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5KiB"``, ``812 * 2**20`` -> ``"812MiB"``; negative keeps its sign."""
    if n < 0:
        return "-" + format_bytes(-n)
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            value = n / size
            return (
                f"{value:.1f}{unit}".replace(".0" + unit, unit)
                if value < 100
                else (f"{value:,.0f}{unit}")
            )
    return f"{n:.0f}B"


def format_resource(unit: str, value: float) -> str:
    """A sampled value in its unit: bytes as KiB/MiB/GiB, ``cores`` as a percentage of one
    core (``1.5`` -> ``"150%"``), counts and series as numbers."""
    if unit == "bytes":
        return format_bytes(value)
    if unit == "cores":
        return f"{value * 100:,.0f}%" if abs(value) >= 0.1 or value == 0 else f"{value * 100:.2g}%"
    return format_count(round(value, 2))


def encodable_text(text: str) -> str:
    """``text`` as UTF-8 can write it: a lone surrogate (``"\\ud800"``, which a Python journey
    may put in a request name) becomes the visible escape ``\\ud800`` instead of making every
    writer raise UnicodeEncodeError."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def encodable(value: Any) -> Any:
    """A JSON-like document (dicts, lists, strings, numbers) with every string, keys
    included, passed through :func:`encodable_text`."""
    if isinstance(value, str):
        return encodable_text(value)
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encodable(v) for v in value]
    return value
